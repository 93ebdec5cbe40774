// Image warps: the plan every backend executes.
//
// warp_affine, resize and compose all become a list of *jobs*: one source image drawn into
// a rectangle of the destination with a dst -> src mapping. A job samples in one of five
// ways (bilinear, nearest, nearest through index tables, area through weight tables,
// supersampled bilinear) and knows, per destination row, which span of pixels it writes
// (compose leaves pixels outside every tile alone). The plan is built once on the host by
// the entry points (<polykern/warp.hpp>) after they have checked every argument; the CPU
// backends run detail/warp/traversal.hpp over it, the Vulkan backend a GLSL port.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <utility>
#include <vector>

#include "../simd/diagnostics.hpp"
#include "../../border.hpp"
#include "../../view.hpp"
#include "arithmetic.hpp"
#include "tables.hpp"

POLYKERN_SIMD_DIAGNOSTICS_PUSH
namespace polykern::detail::warp {

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

enum class sampler : std::uint32_t {
  bilinear = 0,       // affine coordinates, 2x2 taps, border map
  nearest = 1,        // affine coordinates, 1 tap, border map
  nearest_table = 2,  // index tables per column and row (resize nearest)
  area_table = 3,     // separable weight tables per column and row (resize area, axis-aligned compose area)
  supersample = 4,    // mean of nx x ny bilinear samples inside each pixel (compose area, rotated tiles)
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

// One call: the jobs drawn in order (later ones on top) into dst. The one argument every
// backend's run() takes.
template <class T>
struct plan {
  std::vector<job<T>> jobs;
  image_view<T> dst;
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

// The inverse of an affine map (row-major 2x3), or false when it is singular or not finite.
inline bool invert(const double (&f)[2][3], double out[2][3]) {
  const double a = f[0][0], b = f[0][1], c = f[0][2], d = f[1][0], e = f[1][1], g = f[1][2];
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

// ---- plans ----

template <class T>
void set_coords(job<T>& j) {
  j.k = make_coords(j.m, j.x0, j.y0, j.x1 - j.x0, j.y1 - j.y0);
}

// warp_affine: kind is bilinear or nearest.
template <class T>
job<T> warp_job(image_view<const T> src, const double inv[2][3], std::size_t dst_w, std::size_t dst_h, sampler kind,
                border_spec border) {
  job<T> j;
  j.src = src;
  j.kind = kind;
  j.mode = border.mode;
  j.value = border_value<T>(border.value);
  std::copy(&inv[0][0], &inv[0][0] + 6, &j.m[0][0]);
  j.x1 = static_cast<std::int32_t>(dst_w), j.y1 = static_cast<std::int32_t>(dst_h);
  set_coords(j);
  return j;
}

// resize: kind is bilinear, nearest_table (INTER_NEAREST) or area_table (INTER_AREA).
template <class T>
job<T> resize_job(image_view<const T> src, std::size_t dst_w, std::size_t dst_h, sampler kind) {
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
  j.kind = kind;
  switch (kind) {
    case sampler::nearest_table:
      j.xt = opencv_nearest_table(dw, sw), j.yt = opencv_nearest_table(dh, sh);
      break;
    case sampler::area_table:
      if (scale_x >= 1 && scale_y >= 1) {
        j.xt = opencv_area_table(dw, sw, scale_x), j.yt = opencv_area_table(dh, sh, scale_y);
      } else {
        j.xt = opencv_area_blend_table(dw, sw, scale_x, inv_x), j.yt = opencv_area_blend_table(dh, sh, scale_y, inv_y);
      }
      j.xt.pad(), j.yt.pad();
      break;
    default: break;  // bilinear: the affine coordinates alone
  }
  set_coords(j);
  return j;
}

// A compose tile as a job drawing only where pixel centres map inside the tile, i.e. into
// [-0.5, w - 0.5) x [-0.5, h - 0.5). Taps beyond the tile's edge repeat its edge pixels.
// Returns false when the tile touches no canvas pixel. kind is bilinear, nearest or
// area_table (which becomes supersample for a rotated or sheared tile).
template <class T>
bool compose_job(image_view<const T> image, const double (&to_canvas)[2][3], const double inv[2][3],
                 std::size_t canvas_w, std::size_t canvas_h, sampler kind, job<T>& j) {
  j = job<T>{};
  j.src = image;
  j.mode = border::replicate;
  std::copy(&inv[0][0], &inv[0][0] + 6, &j.m[0][0]);
  const double w = static_cast<double>(image.width), h = static_cast<double>(image.height);
  double lx = std::numeric_limits<double>::infinity(), hx = -lx, ly = lx, hy = -lx;
  for (double u : {-0.5, w - 0.5})
    for (double v : {-0.5, h - 0.5}) {
      const double x = to_canvas[0][0] * u + to_canvas[0][1] * v + to_canvas[0][2];
      const double y = to_canvas[1][0] * u + to_canvas[1][1] * v + to_canvas[1][2];
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
  // Axis-aligned (a scaled tile): span_of's x interval is the same on every row, found once,
  // and its y test is the row's alone, the comparisons span_of makes (serial per call).
  const bool aligned = j.m[0][1] == 0 && j.m[1][0] == 0;
  constexpr double inf = std::numeric_limits<double>::infinity();
  const auto columns = aligned ? span_of(j.m, j.y0, static_cast<std::int32_t>(canvas_w), -0.5, w - 0.5, -inf, inf)
                               : std::pair<std::int32_t, std::int32_t>{0, 0};
  for (std::int32_t y = j.y0; y < j.y1; ++y) {
    const double sy = j.m[1][1] * y + j.m[1][2];
    auto [a, b] = !aligned ? span_of(j.m, y, static_cast<std::int32_t>(canvas_w), -0.5, w - 0.5, -0.5, h - 0.5)
                  : -0.5 <= sy && sy < h - 0.5 ? columns
                                               : std::pair<std::int32_t, std::int32_t>{0, 0};
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
  j.kind = kind;
  if (kind == sampler::area_table) {
    if (axis_aligned) {
      j.xt = box_table(j.x0, j.x1, j.m[0][0], j.m[0][2], static_cast<std::int32_t>(image.width));
      j.yt = box_table(j.y0, j.y1, j.m[1][1], j.m[1][2], static_cast<std::int32_t>(image.height));
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
  }
  set_coords(j);
  return true;
}

}  // namespace polykern::detail::warp
POLYKERN_SIMD_DIAGNOSTICS_POP
