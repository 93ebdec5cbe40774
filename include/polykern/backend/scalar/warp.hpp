// Image warps, part 1 (api.md §6): the public vocabulary (interpolation, tile), the plan
// every backend executes, and the scalar reference.
//
// How a call becomes work. warp_affine, resize and compose all become a list of *jobs*:
// one source image drawn into a rectangle of the destination with a dst -> src mapping.
// A job samples in one of five ways (bilinear, nearest, nearest through index tables,
// area through weight tables, supersampled bilinear) and knows, per destination row,
// which span of pixels it writes (compose leaves pixels outside every tile alone). The
// plan is built once on the host; the scalar, SIMD and OpenMP backends run the same
// per-pixel arithmetic over it, the Vulkan backend a GLSL port of it.
//
// Coordinates. Source coordinates are computed in float, but exactly: every dst -> src
// coefficient is split into a part on a grid of 2^-k (so `hi * x + hi * y + hi` is exact
// in float) and a small remainder. The integer part of a coordinate is then exact and its
// fraction accurate to about 1e-7 pixel for images up to 2^22 pixels a side; OpenCV rounds
// coordinates to 1/32 pixel. The same arithmetic runs in every backend.
#pragma once
#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "../../detail/fma.hpp"
#include "../../affine.hpp"
#include "../../border.hpp"
#include "../../execution.hpp"
#include "../../view.hpp"

namespace polykern {

// How a destination pixel is computed from the source.
enum class interpolation {
  bilinear,  // 2x2 taps, OpenCV INTER_LINEAR
  nearest,   // 1 tap, OpenCV INTER_NEAREST
  area,      // pixel-area average, OpenCV INTER_AREA (resize, compose)
};

constexpr std::string_view name(interpolation i) {
  switch (i) {
    case interpolation::bilinear: return "bilinear";
    case interpolation::nearest: return "nearest";
    case interpolation::area: return "area";
  }
  return "?";
}

// One image of a compose() call and where it goes: to_canvas maps tile pixel coordinates
// (centres at integers) to canvas pixel coordinates, as warp_affine's src_to_dst does.
template <class T>
struct tile {
  image_view<const T> image;
  affine2<double> to_canvas;
};

namespace detail::warp {

// The largest source coordinate (in pixels) a warp may reach; beyond it the float
// coordinate arithmetic above is no longer exact. Checked by the entry points.
inline constexpr double max_coordinate = 4194304.0;  // 2^22

// ---- scalar arithmetic; the SIMD backend finds the xsimd overloads of the same names by ADL ----
inline float floor(float v) { return std::floor(v); }
// a * b + c rounded once, for float and batches (detail/fma.hpp).
template <class V>
inline V fused(const V& a, const V& b, const V& c) {
  return fused_multiply_add(a, b, c);
}
inline float nearbyint(float v) { return std::nearbyint(v); }
inline float min(float a, float b) { return b < a ? b : a; }
inline float max(float a, float b) { return a < b ? b : a; }
inline std::int32_t to_int(float v) { return static_cast<std::int32_t>(v); }
inline float to_float(std::int32_t v) { return static_cast<float>(v); }
inline float select(bool m, float a, float b) { return m ? a : b; }

// Converts a computed value to the element type: uint8 rounds half to even and saturates
// (OpenCV's saturate_cast); float is stored as is.
template <class T>
inline T to_element(float v) {
  if constexpr (std::is_same_v<T, std::uint8_t>) {
    return static_cast<std::uint8_t>(to_int(min(max(nearbyint(v), 0.0f), 255.0f)));
  } else {
    return v;
  }
}

// The border value as the image type sees it (OpenCV converts the Scalar to the depth).
template <class T>
inline float border_value(double v) {
  if constexpr (std::is_same_v<T, std::uint8_t>) {
    if (std::isnan(v)) return 0.0f;
    return static_cast<float>(std::clamp(std::nearbyint(v), 0.0, 255.0));
  } else {
    return static_cast<float>(v);
  }
}

// ---- exact split coordinates ----

struct split {
  float hi = 0, lo = 0;
};
// s = a * xr + b * yr + c with xr, yr relative to the job's origin.
struct axis_coefs {
  split a, b, c;
};
struct coords {
  axis_coefs x, y;
  std::int32_t ox = 0, oy = 0;
};

// Splits v into hi (a multiple of 2^-k) and lo = v - hi.
inline split split_on_grid(double v, int k) {
  const double unit = std::ldexp(1.0, -k);
  const double hi = std::nearbyint(v / unit) * unit;
  return {static_cast<float>(hi), static_cast<float>(v - hi)};
}

// The split form of m (dst -> src) for dst pixels in [ox, ox+w) x [oy, oy+h).
inline coords make_coords(const double m[2][3], std::int32_t ox, std::int32_t oy, std::int32_t w, std::int32_t h) {
  coords k;
  k.ox = ox, k.oy = oy;
  axis_coefs* axes[2] = {&k.x, &k.y};
  for (int r = 0; r < 2; ++r) {
    const double c = m[r][0] * ox + m[r][1] * oy + m[r][2];
    // Bound on every partial sum of the exact part: |a| w + |b| h + |c|, plus rounding slack.
    const double bound = std::abs(m[r][0]) * (w + 1.0) + std::abs(m[r][1]) * (h + 1.0) + std::abs(c) + 2.0;
    // A bound past 2^64 (or inf/NaN from a near-singular map) is rejected later by the
    // reach check; it must not reach the int conversion, which would be undefined.
    const int e = bound < 0x1p64 ? static_cast<int>(std::ceil(std::log2(bound))) : 64;
    const int grid = std::clamp(22 - e, 0, 24);
    *axes[r] = {split_on_grid(m[r][0], grid), split_on_grid(m[r][1], grid), split_on_grid(c, grid)};
  }
  return k;
}

// Per-row part of the coordinates: h* exact on the grid, l* the small remainders.
struct row_base {
  float hx, lx, hy, ly;
};
inline row_base row_of(const coords& k, std::int32_t y) {
  const float yr = static_cast<float>(y - k.oy);
  return {fused(k.x.b.hi, yr, k.x.c.hi), fused(k.x.b.lo, yr, k.x.c.lo), fused(k.y.b.hi, yr, k.y.c.hi),
          fused(k.y.b.lo, yr, k.y.c.lo)};
}

// A coordinate as integral part `whole` plus a small float `part` (|part| < a few pixels).
template <class V>
struct coordinate {
  V whole, part;
};
template <class V>
inline coordinate<V> coordinate_of(const split& a, const V& xr, float h, float l) {
  const V big = fused(V(a.hi), xr, V(h));  // exact
  const V whole = floor(big);
  return {whole, (big - whole) + fused(V(a.lo), xr, V(l))};
}

// Bilinear: index of the left/top tap and the weight of the right/bottom one.
template <class V>
inline auto bilinear_tap(const coordinate<V>& c) {
  const V f = floor(c.part);
  return std::pair{to_int(c.whole + f), c.part - f};
}
// Nearest: round half up, floor(s + 0.5), as OpenCV's INTER_NEAREST warps.
template <class V>
inline auto nearest_tap(const coordinate<V>& c) {
  return to_int(c.whole + floor(c.part + V(0.5f)));
}

// The bilinear blend of four taps: two vertical lerps p0 + fy * (p1 - p0), then one
// horizontal lerp between them. Written so that no product is ever added to anything
// outside an explicit fused multiply-add: with -ffp-contract=fast (GCC's default) the compiler may
// otherwise fuse `a*b + c*d` either way round, and the scalar and SIMD instantiations
// would differ in the last bit. Vertical first, so that axis-aligned warps can blend whole
// source rows once and then resample columns (backend/simd) with the same arithmetic.
// For float images a tap whose weight is exactly zero is not used, so NaN there does not
// leak into neighbours (identity warps and integer translations reproduce the source
// exactly, NaN included).
template <class T, class V>
inline V vlerp(const V& p0, const V& p1, const V& f) {
  V v = fused(f, p1 - p0, p0);
  if constexpr (std::is_same_v<T, float>) v = select(f == V(0.0f), p0, v);
  return v;
}
template <class T, class V>
inline V bilerp(const V& p00, const V& p01, const V& p10, const V& p11, const V& fx, const V& fy) {
  return vlerp<T>(vlerp<T>(p00, p10, fy), vlerp<T>(p01, p11, fy), fx);
}

// ---- the plan ----

enum class sampler : std::uint32_t {
  bilinear = 0,       // affine coordinates, 2x2 taps, border map
  nearest = 1,        // affine coordinates, 1 tap, border map
  nearest_table = 2,  // index tables per column and row (resize nearest)
  area_table = 3,     // separable weight tables per column and row (resize area, axis-aligned compose area)
  supersample = 4,    // mean of nx x ny bilinear samples inside each pixel (compose area, rotated tiles)
};

// For each destination index i of one axis: the source taps index[offset[i] .. offset[i+1])
// with their weights (area) or a single index (nearest).
struct axis_table {
  std::vector<std::int32_t> offset{0};
  std::vector<std::int32_t> index;
  std::vector<float> weight;
  std::int32_t lowest = std::numeric_limits<std::int32_t>::max(), highest = -1;

  std::size_t size() const { return offset.size() - 1; }
  std::int32_t taps(std::size_t i) const { return offset[i + 1] - offset[i]; }
  void add(std::int32_t src, float w) {
    index.push_back(src), weight.push_back(w);
    lowest = std::min(lowest, src), highest = std::max(highest, src);
  }
  void next() { offset.push_back(static_cast<std::int32_t>(index.size())); }
  // Gives every index the same number of taps, padding with weight 0 on its first tap
  // (a value it already reads), so vector backends can run fixed-length tap loops and
  // every backend still adds the very same terms in the same order.
  void pad() {
    std::int32_t k = 0;
    for (std::size_t i = 0; i < size(); ++i) k = std::max(k, taps(i));
    axis_table t;
    for (std::size_t i = 0; i < size(); ++i) {
      for (std::int32_t q = 0; q < k; ++q) {
        const bool real = q < taps(i);
        t.add(index[static_cast<std::size_t>(offset[i] + (real ? q : 0))], real ? weight[static_cast<std::size_t>(offset[i] + q)] : 0.0f);
      }
      t.next();
    }
    *this = std::move(t);
  }
};

template <class T>
struct job {
  image_view<const T> src;
  sampler kind = sampler::bilinear;
  border mode = border::constant;  // how taps outside the source are mapped
  float value = 0;                 // border::constant's value, in the element's range
  double m[2][3] = {};             // dst -> src
  coords k;                        // m split for exact float coordinates (origin x0, y0)
  std::int32_t x0 = 0, y0 = 0, x1 = 0, y1 = 0;  // destination region [x0, x1) x [y0, y1)
  // Two entries per region row: the written span [begin, end). Empty: every row is [x0, x1).
  std::vector<std::int32_t> spans;
  axis_table xt, yt;         // nearest_table, area_table: per region column / row
  std::int32_t nx = 1, ny = 1;  // supersample counts
  std::vector<float> sub;       // supersample: source offsets (dx, dy) of the ny x nx samples

  std::pair<std::int32_t, std::int32_t> span(std::int32_t y) const {
    if (y < y0 || y >= y1) return {0, 0};
    if (spans.empty()) return {x0, x1};
    const std::size_t r = static_cast<std::size_t>(y - y0);
    return {spans[2 * r], spans[2 * r + 1]};
  }
};

// Integers x in [0, width) with lo_x <= sx(x) < hi_x and lo_y <= sy(x) < hi_y for row y,
// evaluated in double exactly as written here; the set is an interval (an intersection of
// half-planes). The analytic bounds are refined by evaluating the predicate itself.
inline std::pair<std::int32_t, std::int32_t> span_of(const double m[2][3], std::int32_t y, std::int32_t width,
                                                     double lo_x, double hi_x, double lo_y, double hi_y) {
  const double kx = m[0][1] * y + m[0][2], ky = m[1][1] * y + m[1][2];
  const auto inside = [&](std::int32_t x) {
    const double sx = m[0][0] * x + kx, sy = m[1][0] * x + ky;
    return lo_x <= sx && sx < hi_x && lo_y <= sy && sy < hi_y;
  };
  double l = 0, r = width;
  const auto restrict_to = [&](double a, double k, double lo, double hi) {
    if (a == 0) {
      if (!(lo <= k && k < hi)) r = -1;
      return;
    }
    double t1 = (lo - k) / a, t2 = (hi - k) / a;
    if (a < 0) std::swap(t1, t2);
    l = std::max(l, t1), r = std::min(r, t2);
  };
  restrict_to(m[0][0], kx, lo_x, hi_x);
  restrict_to(m[1][0], ky, lo_y, hi_y);
  if (!(r >= l - 2)) return {0, 0};
  std::int32_t a = static_cast<std::int32_t>(std::clamp(std::floor(l) - 2, 0.0, double(width)));
  std::int32_t b = static_cast<std::int32_t>(std::clamp(std::ceil(r) + 2, 0.0, double(width)));
  while (a < b && !inside(a)) ++a;
  while (b > a && !inside(b - 1)) --b;
  return {a, b};
}

// The inverse of an affine map, or false when it is singular or not finite.
inline bool invert(const affine2<double>& f, double out[2][3]) {
  const double a = f.m[0][0], b = f.m[0][1], c = f.m[0][2], d = f.m[1][0], e = f.m[1][1], g = f.m[1][2];
  const double det = a * e - b * d;
  if (!(det != 0) || !std::isfinite(det)) return false;
  const double ia = e / det, ib = -b / det, id = -d / det, ie = a / det;
  out[0][0] = ia, out[0][1] = ib, out[0][2] = -(ia * c + ib * g);
  out[1][0] = id, out[1][1] = ie, out[1][2] = -(id * c + ie * g);
  for (int r = 0; r < 2; ++r)
    for (int q = 0; q < 3; ++q)
      if (!std::isfinite(out[r][q])) return false;
  return true;
}

// Largest |source coordinate| over the corners of the dst rectangle [x0,x1) x [y0,y1).
inline double reach(const double m[2][3], double x0, double y0, double x1, double y1) {
  double most = 0;
  for (double x : {x0, x1})
    for (double y : {y0, y1})
      for (int r = 0; r < 2; ++r) most = std::max(most, std::abs(m[r][0] * x + m[r][1] * y + m[r][2]));
  return most;
}

// ---- tables ----

// OpenCV INTER_AREA along one axis, downscaling (scale = src/dst >= 1): exact pixel-area
// coverage, the source pixel i covering [i, i+1), with OpenCV's 1e-3 tolerance for slivers.
inline axis_table opencv_area_table(std::int32_t dst_n, std::int32_t src_n, double scale) {
  axis_table t;
  for (std::int32_t d = 0; d < dst_n; ++d) {
    const double f1 = d * scale, f2 = f1 + scale;
    const double cell = std::min(scale, src_n - f1);
    std::int32_t s1 = static_cast<std::int32_t>(std::ceil(f1)), s2 = static_cast<std::int32_t>(std::floor(f2));
    s2 = std::min(s2, src_n - 1);
    s1 = std::min(s1, s2);
    if (s1 - f1 > 1e-3) t.add(s1 - 1, static_cast<float>((s1 - f1) / cell));
    for (std::int32_t s = s1; s < s2; ++s) t.add(s, static_cast<float>(1.0 / cell));
    if (f2 - s2 > 1e-3) t.add(s2, static_cast<float>(std::min(std::min(f2 - s2, 1.0), cell) / cell));
    t.next();
  }
  return t;
}

// OpenCV INTER_AREA along one axis when the other axis (or this one) enlarges: a two-tap
// blend weighted by how much of the destination pixel falls on each source pixel.
inline axis_table opencv_area_blend_table(std::int32_t dst_n, std::int32_t src_n, double scale, double inv_scale) {
  axis_table t;
  for (std::int32_t d = 0; d < dst_n; ++d) {
    std::int32_t s = static_cast<std::int32_t>(std::floor(d * scale));
    float f = static_cast<float>((d + 1) - (s + 1) * inv_scale);
    f = f <= 0 ? 0.0f : f - std::floor(f);
    if (s >= src_n - 1) f = 0, s = src_n - 1;
    t.add(s, 1.0f - f);
    if (f != 0) t.add(s + 1, f);
    t.next();
  }
  return t;
}

// Box coverage along one axis: destination pixel i covers [c - s/2, c + s/2) in source
// pixels (c = a*i + b, s = |a|), clipped to the source [-0.5, n - 0.5); source pixel j
// covers [j - 0.5, j + 0.5). Weights are the covered lengths over the clipped length.
inline axis_table box_table(std::int32_t from, std::int32_t to, double a, double b, std::int32_t src_n) {
  axis_table t;
  const double half = std::abs(a) / 2;
  for (std::int32_t i = from; i < to; ++i) {
    const double c = a * i + b;
    const double lo = std::max(c - half, -0.5), hi = std::min(c + half, src_n - 0.5);
    if (!(hi > lo)) {  // outside the source (not drawn): one tap keeps the table well formed
      t.add(static_cast<std::int32_t>(std::clamp(std::floor(c + 0.5), 0.0, src_n - 1.0)), 1.0f);
      t.next();
      continue;
    }
    const std::int32_t j0 = static_cast<std::int32_t>(std::floor(lo + 0.5));
    const std::int32_t j1 = std::min<std::int32_t>(static_cast<std::int32_t>(std::ceil(hi + 0.5)), src_n);
    for (std::int32_t j = std::max(j0, 0); j < j1; ++j) {
      const double cover = std::min(hi, j + 0.5) - std::max(lo, j - 0.5);
      if (cover > 1e-9 * (hi - lo)) t.add(j, static_cast<float>(cover / (hi - lo)));
    }
    t.next();
  }
  return t;
}

// OpenCV INTER_NEAREST resize: floor(d * (1 / (dst/src))), clamped to the last pixel.
inline axis_table opencv_nearest_table(std::int32_t dst_n, std::int32_t src_n) {
  axis_table t;
  const double inv = 1.0 / (static_cast<double>(dst_n) / src_n);
  for (std::int32_t d = 0; d < dst_n; ++d) {
    t.add(std::min(static_cast<std::int32_t>(std::floor(d * inv)), src_n - 1), 1.0f);
    t.next();
  }
  return t;
}

// ---- plans ----

template <class T>
void set_coords(job<T>& j) {
  j.k = make_coords(j.m, j.x0, j.y0, j.x1 - j.x0, j.y1 - j.y0);
}

template <class T>
job<T> warp_job(image_view<const T> src, const double inv[2][3], std::size_t dst_w, std::size_t dst_h, interpolation interp,
                border_spec border) {
  job<T> j;
  j.src = src;
  j.kind = interp == interpolation::nearest ? sampler::nearest : sampler::bilinear;
  j.mode = border.mode;
  j.value = border_value<T>(border.value);
  std::copy(&inv[0][0], &inv[0][0] + 6, &j.m[0][0]);
  j.x1 = static_cast<std::int32_t>(dst_w), j.y1 = static_cast<std::int32_t>(dst_h);
  set_coords(j);
  return j;
}

template <class T>
job<T> resize_job(image_view<const T> src, std::size_t dst_w, std::size_t dst_h, interpolation interp) {
  job<T> j;
  j.src = src;
  j.mode = border::replicate;  // OpenCV clamps resize taps to the image
  const auto sw = static_cast<std::int32_t>(src.width), sh = static_cast<std::int32_t>(src.height);
  const auto dw = static_cast<std::int32_t>(dst_w), dh = static_cast<std::int32_t>(dst_h);
  j.x1 = dw, j.y1 = dh;
  // OpenCV: inv_scale = dst/src, scale = 1/inv_scale.
  const double inv_x = static_cast<double>(dw) / sw, inv_y = static_cast<double>(dh) / sh;
  const double scale_x = 1.0 / inv_x, scale_y = 1.0 / inv_y;
  j.m[0][0] = scale_x, j.m[0][2] = 0.5 * scale_x - 0.5;
  j.m[1][1] = scale_y, j.m[1][2] = 0.5 * scale_y - 0.5;
  switch (interp) {
    case interpolation::bilinear: j.kind = sampler::bilinear; break;
    case interpolation::nearest:
      j.kind = sampler::nearest_table;
      j.xt = opencv_nearest_table(dw, sw), j.yt = opencv_nearest_table(dh, sh);
      break;
    case interpolation::area:
      j.kind = sampler::area_table;
      if (scale_x >= 1 && scale_y >= 1) {
        j.xt = opencv_area_table(dw, sw, scale_x), j.yt = opencv_area_table(dh, sh, scale_y);
      } else {
        j.xt = opencv_area_blend_table(dw, sw, scale_x, inv_x), j.yt = opencv_area_blend_table(dh, sh, scale_y, inv_y);
      }
      j.xt.pad(), j.yt.pad();
      break;
  }
  set_coords(j);
  return j;
}

// A compose tile as a job drawing only where pixel centres map inside the tile, i.e. into
// [-0.5, w - 0.5) x [-0.5, h - 0.5). Taps beyond the tile's edge repeat its edge pixels.
// Returns false when the tile touches no canvas pixel.
template <class T>
bool compose_job(const tile<T>& t, const double inv[2][3], std::size_t canvas_w, std::size_t canvas_h,
                 interpolation interp, job<T>& j) {
  j = job<T>{};
  j.src = t.image;
  j.mode = border::replicate;
  std::copy(&inv[0][0], &inv[0][0] + 6, &j.m[0][0]);
  const double w = static_cast<double>(t.image.width), h = static_cast<double>(t.image.height);
  double lx = std::numeric_limits<double>::infinity(), hx = -lx, ly = lx, hy = -lx;
  for (double u : {-0.5, w - 0.5})
    for (double v : {-0.5, h - 0.5}) {
      const double x = t.to_canvas.m[0][0] * u + t.to_canvas.m[0][1] * v + t.to_canvas.m[0][2];
      const double y = t.to_canvas.m[1][0] * u + t.to_canvas.m[1][1] * v + t.to_canvas.m[1][2];
      lx = std::min(lx, x), hx = std::max(hx, x), ly = std::min(ly, y), hy = std::max(hy, y);
    }
  const double cw = static_cast<double>(canvas_w), ch = static_cast<double>(canvas_h);
  j.x0 = static_cast<std::int32_t>(std::clamp(std::floor(lx) - 1, 0.0, cw));
  j.x1 = static_cast<std::int32_t>(std::clamp(std::ceil(hx) + 2, 0.0, cw));
  j.y0 = static_cast<std::int32_t>(std::clamp(std::floor(ly) - 1, 0.0, ch));
  j.y1 = static_cast<std::int32_t>(std::clamp(std::ceil(hy) + 2, 0.0, ch));
  if (j.x0 >= j.x1 || j.y0 >= j.y1) return false;
  // Exact spans, then shrink the region to the rows and columns actually written.
  std::vector<std::int32_t> spans;
  std::int32_t first = -1, last = -1, left = j.x1, right = j.x0;
  for (std::int32_t y = j.y0; y < j.y1; ++y) {
    auto [a, b] = span_of(j.m, y, static_cast<std::int32_t>(canvas_w), -0.5, w - 0.5, -0.5, h - 0.5);
    if (a >= b) a = b = 0;
    else {
      if (first < 0) first = y;
      last = y;
      left = std::min(left, a), right = std::max(right, b);
    }
    spans.push_back(a), spans.push_back(b);
  }
  if (first < 0) return false;
  j.spans.assign(spans.begin() + 2 * (first - j.y0), spans.begin() + 2 * (last + 1 - j.y0));
  j.y0 = first, j.y1 = last + 1, j.x0 = left, j.x1 = right;
  const bool axis_aligned = j.m[0][1] == 0 && j.m[1][0] == 0;
  switch (interp) {
    case interpolation::bilinear: j.kind = sampler::bilinear; break;
    case interpolation::nearest: j.kind = sampler::nearest; break;
    case interpolation::area:
      if (axis_aligned) {
        j.kind = sampler::area_table;
        j.xt = box_table(j.x0, j.x1, j.m[0][0], j.m[0][2], static_cast<std::int32_t>(t.image.width));
        j.yt = box_table(j.y0, j.y1, j.m[1][1], j.m[1][2], static_cast<std::int32_t>(t.image.height));
        j.xt.pad(), j.yt.pad();
      } else {
        j.kind = sampler::supersample;
        // One bilinear sample per source pixel the destination pixel's edges span.
        j.nx = static_cast<std::int32_t>(std::clamp(std::ceil(std::hypot(j.m[0][0], j.m[1][0]) - 1e-6), 1.0, 16.0));
        j.ny = static_cast<std::int32_t>(std::clamp(std::ceil(std::hypot(j.m[0][1], j.m[1][1]) - 1e-6), 1.0, 16.0));
        for (std::int32_t q = 0; q < j.ny; ++q)
          for (std::int32_t p = 0; p < j.nx; ++p) {
            const double dx = (p + 0.5) / j.nx - 0.5, dy = (q + 0.5) / j.ny - 0.5;
            j.sub.push_back(static_cast<float>(j.m[0][0] * dx + j.m[0][1] * dy));
            j.sub.push_back(static_cast<float>(j.m[1][0] * dx + j.m[1][1] * dy));
          }
      }
      break;
  }
  set_coords(j);
  return true;
}

// ---- the per-pixel reference ----

template <class T>
inline float load(const image_view<const T>& s, std::ptrdiff_t x, std::ptrdiff_t y, std::size_t c) {
  return static_cast<float>(s.data[y * s.row_stride + x * static_cast<std::ptrdiff_t>(s.channels) + static_cast<std::ptrdiff_t>(c)]);
}

// Bilinear sample of channel values at taps (x0, y0)..(x0+1, y0+1) through the job's border map.
template <class T, int C>
inline void sample_bilinear(const job<T>& j, std::int32_t x0, std::int32_t y0, float fx, float fy, float* out) {
  const auto w = static_cast<std::ptrdiff_t>(j.src.width), h = static_cast<std::ptrdiff_t>(j.src.height);
  const std::ptrdiff_t ix[2] = {border_index(x0, w, j.mode), border_index(std::ptrdiff_t(x0) + 1, w, j.mode)};
  const std::ptrdiff_t iy[2] = {border_index(y0, h, j.mode), border_index(std::ptrdiff_t(y0) + 1, h, j.mode)};
  for (int c = 0; c < C; ++c) {
    float p[2][2];
    for (int r = 0; r < 2; ++r)
      for (int q = 0; q < 2; ++q) p[r][q] = ix[q] < 0 || iy[r] < 0 ? j.value : load(j.src, ix[q], iy[r], c);
    out[c] = bilerp<T>(p[0][0], p[0][1], p[1][0], p[1][1], fx, fy);
  }
}

template <class T, int C>
inline void sample_nearest(const job<T>& j, std::int32_t x0, std::int32_t y0, float* out) {
  const std::ptrdiff_t ix = border_index(x0, static_cast<std::ptrdiff_t>(j.src.width), j.mode);
  const std::ptrdiff_t iy = border_index(y0, static_cast<std::ptrdiff_t>(j.src.height), j.mode);
  for (int c = 0; c < C; ++c) out[c] = ix < 0 || iy < 0 ? j.value : load(j.src, ix, iy, c);
}

// One pixel of a bilinear or nearest job, with the coordinates of the shared arithmetic.
template <class T, int C>
inline void warp_pixel(const job<T>& j, const row_base& rb, std::int32_t x, T* out) {
  const float xr = static_cast<float>(x - j.k.ox);
  const auto cx = coordinate_of(j.k.x.a, xr, rb.hx, rb.lx);
  const auto cy = coordinate_of(j.k.y.a, xr, rb.hy, rb.ly);
  float v[C];
  if (j.kind == sampler::nearest) {
    sample_nearest<T, C>(j, nearest_tap(cx), nearest_tap(cy), v);
  } else {
    const auto [x0, fx] = bilinear_tap(cx);
    const auto [y0, fy] = bilinear_tap(cy);
    sample_bilinear<T, C>(j, x0, y0, fx, fy, v);
  }
  for (int c = 0; c < C; ++c) out[c] = to_element<T>(v[c]);
}

// One pixel of a supersampled job: the mean of nx x ny bilinear samples placed at the
// centres of an nx x ny grid inside the destination pixel.
template <class T, int C>
inline void supersample_pixel(const job<T>& j, const row_base& rb, std::int32_t x, T* out) {
  const float xr = static_cast<float>(x - j.k.ox);
  const auto cx = coordinate_of(j.k.x.a, xr, rb.hx, rb.lx);
  const auto cy = coordinate_of(j.k.y.a, xr, rb.hy, rb.ly);
  float sum[C] = {};
  for (std::size_t i = 0; i < j.sub.size(); i += 2) {
    const auto [x0, fx] = bilinear_tap(coordinate<float>{cx.whole, cx.part + j.sub[i]});
    const auto [y0, fy] = bilinear_tap(coordinate<float>{cy.whole, cy.part + j.sub[i + 1]});
    float v[C];
    sample_bilinear<T, C>(j, x0, y0, fx, fy, v);
    for (int c = 0; c < C; ++c) sum[c] += v[c];
  }
  const float inv = 1.0f / static_cast<float>(j.nx * j.ny);
  for (int c = 0; c < C; ++c) out[c] = to_element<T>(sum[c] * inv);
}

// Area rows: the vertical pass sums the row's source rows over the source columns
// [lo, hi] into acc (an fma per tap, in order, from zero), then each pixel sums its
// horizontal taps of acc the same way. Both passes are shared by all CPU
// backends except that the SIMD one vectorises the vertical pass with identical operations.
template <class T, int C>
inline void area_horizontal(const job<T>& j, const float* acc, std::int32_t lo, std::int32_t xa, std::int32_t xb, T* out) {
  for (std::int32_t x = xa; x < xb; ++x) {
    const std::size_t i = static_cast<std::size_t>(x - j.x0);
    const std::int32_t begin = j.xt.offset[i], end = j.xt.offset[i + 1];
    float v[C] = {};
    for (std::int32_t t = begin; t < end; ++t) {
      const float w = j.xt.weight[t];
      const float* p = acc + static_cast<std::ptrdiff_t>(j.xt.index[t] - lo) * C;
      for (int c = 0; c < C; ++c) v[c] = fused(w, p[c], v[c]);
    }
    for (int c = 0; c < C; ++c) out[static_cast<std::size_t>(x) * C + c] = to_element<T>(v[c]);
  }
}

template <class T, int C>
inline void area_vertical_scalar(const job<T>& j, std::int32_t y, std::int32_t lo, std::int32_t hi, float* acc) {
  const std::size_t r = static_cast<std::size_t>(y - j.y0);
  const std::int32_t begin = j.yt.offset[r], end = j.yt.offset[r + 1];
  const std::size_t n = static_cast<std::size_t>(hi - lo + 1) * C;
  for (std::int32_t t = begin; t < end; ++t) {
    const float w = j.yt.weight[t];
    const T* row = j.src.row(static_cast<std::size_t>(j.yt.index[t])) + static_cast<std::ptrdiff_t>(lo) * C;
    for (std::size_t e = 0; e < n; ++e) acc[e] = fused(w, static_cast<float>(row[e]), t == begin ? 0.0f : acc[e]);
  }
}

// The source column range [lo, hi] the horizontal taps of columns [xa, xb) read. Area
// tables are monotonic (increasing, or decreasing for a mirrored tile), so the extremes
// are among the taps of the end columns.
template <class T>
inline std::pair<std::int32_t, std::int32_t> table_columns(const job<T>& j, std::int32_t xa, std::int32_t xb) {
  std::int32_t lo = std::numeric_limits<std::int32_t>::max(), hi = -1;
  for (std::int32_t x : {xa, xb - 1}) {
    const std::size_t i = static_cast<std::size_t>(x - j.x0);
    for (std::int32_t t = j.xt.offset[i]; t < j.xt.offset[i + 1]; ++t)
      lo = std::min(lo, j.xt.index[t]), hi = std::max(hi, j.xt.index[t]);
  }
  return {lo, hi};
}

template <class T, int C>
inline void nearest_table_row(const job<T>& j, std::int32_t y, std::int32_t xa, std::int32_t xb, T* out) {
  const T* row = j.src.row(static_cast<std::size_t>(j.yt.index[static_cast<std::size_t>(y - j.y0)]));
  for (std::int32_t x = xa; x < xb; ++x) {
    const T* p = row + static_cast<std::ptrdiff_t>(j.xt.index[static_cast<std::size_t>(x - j.x0)]) * C;
    for (int c = 0; c < C; ++c) out[static_cast<std::size_t>(x) * C + c] = p[c];
  }
}

// Scratch memory of one thread (the area accumulator).
struct scratch {
  std::vector<float> acc;
  float* floats(std::size_t n) {
    if (acc.size() < n) acc.resize(n);
    return acc.data();
  }
};

// The scalar reference for one row segment [xa, xb) of row y.
template <class T, int C>
void segment(scalar_tag, const job<T>& j, T* out, std::int32_t y, std::int32_t xa, std::int32_t xb, scratch& s) {
  switch (j.kind) {
    case sampler::bilinear:
    case sampler::nearest: {
      const row_base rb = row_of(j.k, y);
      for (std::int32_t x = xa; x < xb; ++x) warp_pixel<T, C>(j, rb, x, out + static_cast<std::size_t>(x) * C);
      break;
    }
    case sampler::supersample: {
      const row_base rb = row_of(j.k, y);
      for (std::int32_t x = xa; x < xb; ++x) supersample_pixel<T, C>(j, rb, x, out + static_cast<std::size_t>(x) * C);
      break;
    }
    case sampler::nearest_table: nearest_table_row<T, C>(j, y, xa, xb, out); break;
    case sampler::area_table: {
      const auto [lo, hi] = table_columns(j, xa, xb);
      float* acc = s.floats(static_cast<std::size_t>(hi - lo + 1) * C);
      area_vertical_scalar<T, C>(j, y, lo, hi, acc);
      area_horizontal<T, C>(j, acc, lo, xa, xb, out);
      break;
    }
  }
}

// Calls f.template operator()<C>() for the runtime channel count (1..4, checked by the entry points).
template <class F>
decltype(auto) with_channels(std::size_t channels, F&& f) {
  switch (channels) {
    case 1: return f.template operator()<1>();
    case 2: return f.template operator()<2>();
    case 3: return f.template operator()<3>();
    default: return f.template operator()<4>();
  }
}

// Draws rows [ya, yb) of dst: every job in order (later ones on top), each on its span.
template <class Tag, class T>
void draw_rows(Tag tag, const std::vector<job<T>>& jobs, image_view<T> dst, std::size_t ya, std::size_t yb, scratch& s) {
  with_channels(dst.channels, [&]<int C>() {
    for (std::size_t y = ya; y < yb; ++y) {
      T* out = dst.row(y);
      for (const job<T>& j : jobs) {
        const auto [xa, xb] = j.span(static_cast<std::int32_t>(y));
        if (xa < xb) segment<T, C>(tag, j, out, static_cast<std::int32_t>(y), xa, xb, s);
      }
    }
  });
}

template <class T>
void run(scalar_tag tag, const exec::scalar_policy&, const std::vector<job<T>>& jobs, image_view<T> dst) {
  scratch s;
  draw_rows(tag, jobs, dst, 0, dst.height, s);
}

}  // namespace detail::warp
}  // namespace polykern
