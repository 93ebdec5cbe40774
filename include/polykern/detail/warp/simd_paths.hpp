// Image warps: the SIMD fast paths that plug into the one traversal (traversal.hpp). The
// same per-pixel arithmetic as the scalar reference (arithmetic.hpp, pixel.hpp) over
// xsimd batches of pixels, so the results are bitwise those of the scalar policy:
// - interior pixels (the 2x2 footprint inside the source) gather their taps directly;
//   uint8 pixels are fetched as 32-bit words at byte offsets, two neighbours at a time;
// - pure translations read contiguous elements (and integer ones copy rows);
// - axis-aligned bilinear jobs take each column's tap and weight from a table, and their
//   interior rows are separable: a float row of vertical lerps, then the columns; uint8
//   rows shrinking 2x or more pick their taps from byte windows first (picked_lerp);
// - pixels near or beyond the border map their taps through per-job tables of the
//   border index map (border.hpp), then gather;
// - area rows resample columns through fixed-length element tables;
// - tails shorter than a batch, and rare cases (32-bit offsets overflowing, reads that
//   could pass the end of the source) use the scalar body for those pixels.
// Intrinsics live in detail/simd/ (gather.hpp, stream.hpp).
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "../simd/diagnostics.hpp"
#include "../simd/gather.hpp"
#include "../simd/stream.hpp"
#include "../simd/window.hpp"
#include "pixel.hpp"
#include "plan.hpp"
#include "traversal.hpp"

POLYKERN_SIMD_DIAGNOSTICS_PUSH
namespace polykern::detail::warp {

namespace vec {
using VF = simd::f32;
using VI = simd::i32;
inline constexpr std::size_t N = simd::f32_lanes;
using simd::byte_of;
using simd::gather;
using simd::gather_words;
inline VF iota_f() { return simd::iota_f32(); }
template <class T>
inline VF load_n(const T* p) {
  return simd::load_floats(p);
}
template <class T>
inline void store_n(T* p, const VF& v) {
  simd::store_floats(p, v);
}

// Stores N pixels of C channels (interleaved) from one batch per channel.
template <int C>
inline void store_pixels(float* out, const VF* v) {
  if constexpr (C == 1) {
    v[0].store_unaligned(out);
  } else {
    alignas(64) float lanes[C][N];
    for (int c = 0; c < C; ++c) v[c].store_aligned(lanes[c]);
    for (std::size_t i = 0; i < N; ++i)
      for (int c = 0; c < C; ++c) out[i * C + c] = lanes[c][i];
  }
}
template <int C>
inline void store_pixels(std::uint8_t* out, const VF* v) {
  if constexpr (C == 1) {
    store_n(out, v[0]);
  } else {
    VI word = simd::to_bytes(v[0]);
    for (int c = 1; c < C; ++c) word = word | (simd::to_bytes(v[c]) << (8 * c));
    simd::store_low_bytes<C>(out, word);
  }
}

// The taps (x0, y) and (x0 + 1, y) of C channels for N pixels whose byte/element offsets of
// (x0, y) are `off`: t0[c], t1[c].
template <int C>
inline void fetch_pair(const std::uint8_t* base, const VI& off, VF* t0, VF* t1) {
  if constexpr (C == 1) {
    const VI w = gather_words(base, off);  // x0, x0+1, (two more bytes, in bounds by the interior rule)
    t0[0] = byte_of(w, 0), t1[0] = byte_of(w, 1);
  } else if constexpr (C == 2) {
    const VI w = gather_words(base, off);
    t0[0] = byte_of(w, 0), t0[1] = byte_of(w, 1), t1[0] = byte_of(w, 2), t1[1] = byte_of(w, 3);
  } else if constexpr (C == 3) {
    const VI a = gather_words(base, off);             // R0 G0 B0 R1
    const VI b = gather_words(base, off + VI(2));     // B0 R1 G1 B1
    t0[0] = byte_of(a, 0), t0[1] = byte_of(a, 1), t0[2] = byte_of(a, 2);
    t1[0] = byte_of(a, 3), t1[1] = byte_of(b, 2), t1[2] = byte_of(b, 3);
  } else {
    const VI a = gather_words(base, off), b = gather_words(base, off + VI(4));
    for (int c = 0; c < 4; ++c) t0[c] = byte_of(a, c), t1[c] = byte_of(b, c);
  }
}
template <int C>
inline void fetch_pair(const float* base, const VI& off, VF* t0, VF* t1) {
  for (int c = 0; c < C; ++c) {
    t0[c] = gather(base, off + VI(c));
    t1[c] = gather(base, off + VI(C + c));
  }
}
// One tap of C channels (reads 4 bytes at `off` for uint8: the caller keeps that in bounds).
template <int C>
inline void fetch_one(const std::uint8_t* base, const VI& off, VF* t) {
  const VI w = gather_words(base, off);
  for (int c = 0; c < C; ++c) t[c] = byte_of(w, c);
}
template <int C>
inline void fetch_one(const float* base, const VI& off, VF* t) {
  for (int c = 0; c < C; ++c) t[c] = gather(base, off + VI(c));
}

}  // namespace vec

// Where the horizontal pass of a separable row finds its taps: for every full batch of N
// output elements and tap k, the first source element of a window (`start`, in source-row
// elements) and each lane's index in it (bytes). `reach` is the widest window any batch
// needs (32 or 64 floats: vec::pick's permutes), or gather when some batch spans more.
struct window_table {
  simd::window reach = simd::window::gather;
  std::int32_t taps = 0;
  std::size_t batches = 0;
  std::vector<std::int32_t> start;  // [b * taps + k]
  std::vector<std::uint8_t> local;  // [(b * taps + k) * N + lane]
};

// offset(k, e): the source element tap k of output element e reads, e in [0, n).
template <class F>
window_table make_window(std::size_t n, std::int32_t taps, F offset) {
  constexpr std::size_t N = vec::N;
  window_table w;
  w.taps = taps, w.batches = n / N;
  // Written through indices, not push_back: this runs per job and call.
  w.start.resize(w.batches * static_cast<std::size_t>(taps)), w.local.resize(w.batches * static_cast<std::size_t>(taps) * N);
  std::int32_t widest = 0;
  for (std::size_t b = 0; b < w.batches; ++b)
    for (std::int32_t k = 0; k < taps; ++k) {
      std::int32_t o[N];
      for (std::size_t i = 0; i < N; ++i) o[i] = offset(k, b * N + i);
      std::int32_t lo = o[0], hi = lo;
      for (std::size_t i = 1; i < N; ++i) lo = std::min(lo, o[i]), hi = std::max(hi, o[i]);
      widest = std::max(widest, hi - lo);
      const std::size_t q = b * static_cast<std::size_t>(taps) + static_cast<std::size_t>(k);
      w.start[q] = lo;
      for (std::size_t i = 0; i < N; ++i) w.local[q * N + i] = static_cast<std::uint8_t>(std::min<std::int32_t>(o[i] - lo, 255));
    }
  w.reach = widest < 32 ? simd::window::w32 : widest < 64 ? simd::window::w64 : simd::window::gather;
  if (w.reach == simd::window::gather) w.start.clear(), w.local.clear();
  return w;
}

// The byte windows of a shrinking uint8 separable row: for every full batch of N elements
// of `off` (left-tap source elements; the right tap is `right` elements further), the first
// byte of a 128-byte window holding both taps of every lane, at most `limit` so that the
// window ends inside the source row, and each lane's left tap's index in it. False (tables
// cleared) when some batch's taps span 128 bytes or more. Indices carry
// simd::byte_index_bits (simd::pick_biased).
inline bool make_byte_windows(const std::vector<std::int32_t>& off, std::int32_t right, std::int32_t limit,
                              std::vector<std::int32_t>& start, std::vector<std::int32_t>& local) {
  constexpr std::size_t N = vec::N;
  constexpr std::int32_t reach = 128;
  start.clear(), local.clear();
  if (limit < 0) return false;
  start.resize(off.size() / N), local.resize(off.size() / N * N);
  for (std::size_t b = 0; b < off.size() / N; ++b) {
    std::int32_t lo = off[b * N], hi = lo;
    for (std::size_t i = 1; i < N; ++i) lo = std::min(lo, off[b * N + i]), hi = std::max(hi, off[b * N + i]);
    const std::int32_t first = std::min(lo, limit);
    if (hi + right - first >= reach) {
      start.clear(), local.clear();
      return false;
    }
    start[b] = first;
    for (std::size_t i = 0; i < N; ++i) local[b * N + i] = (off[b * N + i] - first) | simd::byte_index_bits;
  }
  return true;
}

// What the SIMD backend adds to a job: border tables and which fast paths apply.
struct simd_aux {
  bool vector = false;       // 32-bit offsets suffice and the source is at least 4 bytes
  bool translation = false;  // dst -> src is x + tx, y + ty
  bool tables = false;       // border tables built
  std::int32_t xlo = 0, ylo = 0, xhi = 0, yhi = 0;  // raw tap index ranges the tables cover [lo, hi]
  std::vector<std::int32_t> xmap, ymap;              // border_index of raw index lo + i
  std::int64_t limit = 0;    // largest offset a 4-byte word read may start at (uint8)
  double ilx = 0, ihx = 0, ily = 0, ihy = 0;  // interior bounds for span_of
  // Axis-aligned bilinear: per region column, the element offset x0 * C of its left tap in
  // a source row and its weight fx (the x coordinate does not depend on the row).
  bool aligned = false;
  std::int32_t ix0 = 0, ix1 = 0;  // the interior columns of every row whose y taps are inside
  std::vector<std::int32_t> col_off;
  std::vector<float> col_fx;
  // Separable axis-aligned bilinear (the interior columns [sep_x0, sep_x1)): each row blends
  // its two source rows over the source elements [sep_e0, sep_e0 + sep_n) into scratch, then
  // resamples columns from there. Per interior element: its left tap's source element and fx.
  bool separable = false;
  std::int32_t sep_x0 = 0, sep_x1 = 0, sep_e0 = 0, sep_n = 0;
  std::vector<std::int32_t> e_off;
  std::vector<float> e_fx;
  window_table sep;
  // Shrinking uint8 separable rows (simd::byte_windows): the horizontal taps are picked
  // first from 128-byte windows of the two source rows, and only those are blended
  // vertically (picked_lerp). Per full batch of interior elements: the window's first
  // byte in a source row, and each lane's left tap as an index into it (an int32 lane
  // carrying simd::byte_index_bits above the index).
  bool picked = false;
  std::int32_t pick_row = 0;  // elements of a source row (width * C)
  std::vector<std::int32_t> pick_start;
  std::vector<std::int32_t> pick_local;  // index | simd::byte_index_bits
  // area_table: per tap k and region element e, source element offset and weight; and the
  // windows of the horizontal pass over all region columns.
  std::int32_t taps = 0;
  std::vector<std::int32_t> a_off;
  std::vector<float> a_w;
  window_table area;
};

template <class T, int C>
simd_aux prepare_simd(const job<T>& j) {
  simd_aux a;
  const auto& s = j.src;
  const std::int64_t span = static_cast<std::int64_t>(s.end() - s.data);
  a.vector = span < (std::int64_t{1} << 31) - 64 && span * static_cast<std::int64_t>(sizeof(T)) >= 4;
  a.limit = span - 4;
  a.translation = j.m[0][0] == 1 && j.m[0][1] == 0 && j.m[1][0] == 0 && j.m[1][1] == 1;
  const double w = static_cast<double>(s.width), h = static_cast<double>(s.height);
  // Interior: every tap inside the source, and for uint8 the word reads too (see vec::fetch_*).
  constexpr double d = 1e-3;  // far above the float/double coordinate difference
  if (j.kind == sampler::bilinear) {
    const double pad = std::is_same_v<T, std::uint8_t> && C == 1 ? 2 : 0;
    a.ilx = d, a.ihx = w - 1 - d - pad, a.ily = d, a.ihy = h - 1 - d;
  } else {
    const double pad = std::is_same_v<T, std::uint8_t> && C != 4 ? (C == 1 ? 3 : 1) : 0;
    a.ilx = -0.5 + d, a.ihx = w - 0.5 - d - pad, a.ily = -0.5 + d, a.ihy = h - 0.5 - d;
  }
  if (j.kind == sampler::bilinear && j.m[0][1] == 0 && j.m[1][0] == 0 && !a.translation && a.vector) {
    a.aligned = true;
    const row_base rb = row_of(j.k, j.y0);  // the x coordinate does not depend on the row
    a.col_off.resize(static_cast<std::size_t>(j.x1 - j.x0)), a.col_fx.resize(static_cast<std::size_t>(j.x1 - j.x0));
    for (std::int32_t x = j.x0; x < j.x1; ++x) {
      const auto [x0, fx] = bilinear_tap(coordinate_of(j.k.x.a, static_cast<float>(x - j.k.ox), rb.hx, rb.lx));
      a.col_off[static_cast<std::size_t>(x - j.x0)] = x0 * C, a.col_fx[static_cast<std::size_t>(x - j.x0)] = fx;
    }
    // The interior columns (the x half of interior(): the y test is the same for a whole row).
    constexpr double inf = std::numeric_limits<double>::infinity();
    auto [sx0, sx1] = span_of(j.m, j.y0, j.x1, a.ilx, a.ihx, -inf, inf);
    sx0 = std::max(sx0, j.x0), sx1 = std::min(sx1, j.x1);
    a.ix0 = sx0, a.ix1 = sx1;
    if (sx0 < sx1) {
      std::int32_t lo = a.col_off[static_cast<std::size_t>(sx0 - j.x0)], hi = lo;
      for (std::int32_t x = sx0; x < sx1; ++x)
        lo = std::min(lo, a.col_off[static_cast<std::size_t>(x - j.x0)]), hi = std::max(hi, a.col_off[static_cast<std::size_t>(x - j.x0)]);
      a.separable = true;
      a.sep_x0 = sx0, a.sep_x1 = sx1, a.sep_e0 = lo, a.sep_n = hi + 2 * C - lo;
      a.e_off.resize(static_cast<std::size_t>(sx1 - sx0) * C), a.e_fx.resize(static_cast<std::size_t>(sx1 - sx0) * C);
      for (std::int32_t x = sx0; x < sx1; ++x)
        for (int c = 0; c < C; ++c) {
          const std::size_t e = static_cast<std::size_t>(x - sx0) * C + static_cast<std::size_t>(c);
          a.e_off[e] = a.col_off[static_cast<std::size_t>(x - j.x0)] + c, a.e_fx[e] = a.col_fx[static_cast<std::size_t>(x - j.x0)];
        }
      a.sep = make_window(a.e_off.size(), 1, [&](std::int32_t, std::size_t e) { return a.e_off[e]; });
      // Picking first pays when the vertical pass would blend at least twice as many source
      // elements as the row has taps to pick (a shrink by 2x or more).
      a.pick_row = static_cast<std::int32_t>(s.width * C);
      if constexpr (std::is_same_v<T, std::uint8_t> && simd::byte_windows)
        a.picked = a.sep_n >= 2 * static_cast<std::int32_t>(a.e_off.size()) &&
                   make_byte_windows(a.e_off, C, a.pick_row - 128, a.pick_start, a.pick_local);
    }
  }
  if (j.kind == sampler::area_table && a.vector) {
    a.taps = j.xt.taps(0);
    const std::size_t n = j.xt.size() * C;
    a.a_off.resize(n * static_cast<std::size_t>(a.taps)), a.a_w.resize(n * static_cast<std::size_t>(a.taps));
    for (std::size_t i = 0; i < j.xt.size(); ++i)
      for (std::int32_t k = 0; k < a.taps; ++k)
        for (int c = 0; c < C; ++c) {
          const std::size_t t = static_cast<std::size_t>(j.xt.offset[i] + k), at = k * n + i * C + c;
          a.a_off[at] = j.xt.index[t] * C + c, a.a_w[at] = j.xt.weight[t];
        }
    a.area = make_window(n, a.taps, [&](std::int32_t k, std::size_t e) { return a.a_off[static_cast<std::size_t>(k) * n + e]; });
  }
  if (j.kind == sampler::bilinear || j.kind == sampler::nearest) {
    // Raw tap ranges over the region (extremes of an affine map are at the corners).
    double lx = 1e300, hx = -1e300, ly = 1e300, hy = -1e300;
    for (double x : {double(j.x0), double(j.x1)})
      for (double y : {double(j.y0), double(j.y1)}) {
        const double sx = j.m[0][0] * x + j.m[0][1] * y + j.m[0][2], sy = j.m[1][0] * x + j.m[1][1] * y + j.m[1][2];
        lx = std::min(lx, sx), hx = std::max(hx, sx), ly = std::min(ly, sy), hy = std::max(hy, sy);
      }
    a.xlo = static_cast<std::int32_t>(std::floor(lx)) - 2, a.xhi = static_cast<std::int32_t>(std::ceil(hx)) + 2;
    a.ylo = static_cast<std::int32_t>(std::floor(ly)) - 2, a.yhi = static_cast<std::int32_t>(std::ceil(hy)) + 2;
    const std::int64_t entries = std::int64_t(a.xhi) - a.xlo + 1 + std::int64_t(a.yhi) - a.ylo + 1;
    a.tables = a.vector && entries <= (std::int64_t{1} << 21);
    if (a.tables) {
      a.xmap.resize(static_cast<std::size_t>(a.xhi - a.xlo + 1)), a.ymap.resize(static_cast<std::size_t>(a.yhi - a.ylo + 1));
      for (std::int32_t i = a.xlo; i <= a.xhi; ++i)
        a.xmap[static_cast<std::size_t>(i - a.xlo)] = static_cast<std::int32_t>(border_index(i, static_cast<std::ptrdiff_t>(s.width), j.mode));
      for (std::int32_t i = a.ylo; i <= a.yhi; ++i)
        a.ymap[static_cast<std::size_t>(i - a.ylo)] = static_cast<std::int32_t>(border_index(i, static_cast<std::ptrdiff_t>(s.height), j.mode));
    }
  }
  return a;
}

// N pixels from x of a bilinear/nearest job. interior: every tap inside (no border map).
// Returns false (nothing written) when the batch must go through the scalar body.
template <class T, int C, bool Interior>
inline bool warp_batch(const job<T>& j, const simd_aux& a, const row_base& rb, std::int32_t x, T* out) {
  using namespace vec;
  const VF xr = VF(static_cast<float>(x - j.k.ox)) + iota_f();
  const auto cx = coordinate_of(j.k.x.a, xr, rb.hx, rb.lx);
  const auto cy = coordinate_of(j.k.y.a, xr, rb.hy, rb.ly);
  const VI stride(static_cast<std::int32_t>(j.src.row_stride)), channels(C);
  const T* base = j.src.data;
  VF v[C];
  if (j.kind == sampler::nearest) {
    VI ix = nearest_tap(cx), iy = nearest_tap(cy);
    if constexpr (Interior) {
      fetch_one<C>(base, iy * stride + ix * channels, v);
    } else {
      ix = xsimd::min(xsimd::max(ix, VI(a.xlo)), VI(a.xhi)) - VI(a.xlo);
      iy = xsimd::min(xsimd::max(iy, VI(a.ylo)), VI(a.yhi)) - VI(a.ylo);
      const VI mx = gather(a.xmap.data(), ix), my = gather(a.ymap.data(), iy);
      const auto valid = (mx >= VI(0)) & (my >= VI(0));
      const VI off = xsimd::select(valid, my * stride + mx * channels, VI(0));
      if constexpr (std::is_same_v<T, std::uint8_t>)
        if (xsimd::any(off > VI(static_cast<std::int32_t>(a.limit)))) return false;
      fetch_one<C>(base, off, v);
      if (j.mode == border::constant) {
        const auto fvalid = xsimd::bool_cast(valid);
        for (int c = 0; c < C; ++c) v[c] = xsimd::select(fvalid, v[c], VF(j.value));
      }
    }
  } else {
    auto [x0, fx] = bilinear_tap(cx);
    auto [y0, fy] = bilinear_tap(cy);
    VF p00[C], p01[C], p10[C], p11[C];
    if constexpr (Interior) {
      const VI off = y0 * stride + x0 * channels;
      fetch_pair<C>(base, off, p00, p01);
      fetch_pair<C>(base, off + stride, p10, p11);
    } else {
      const VI ix0 = xsimd::min(xsimd::max(x0, VI(a.xlo)), VI(a.xhi - 1)) - VI(a.xlo);
      const VI iy0 = xsimd::min(xsimd::max(y0, VI(a.ylo)), VI(a.yhi - 1)) - VI(a.ylo);
      const VI mx0 = gather(a.xmap.data(), ix0), mx1 = gather(a.xmap.data(), ix0 + VI(1));
      const VI my0 = gather(a.ymap.data(), iy0), my1 = gather(a.ymap.data(), iy0 + VI(1));
      const VI zero(0);
      const auto vx0 = mx0 >= zero, vx1 = mx1 >= zero, vy0 = my0 >= zero, vy1 = my1 >= zero;
      const bool constant = j.mode == border::constant;
      if (constant && xsimd::none((vx0 | vx1) & (vy0 | vy1))) {
        for (int c = 0; c < C; ++c) p00[c] = p01[c] = p10[c] = p11[c] = VF(j.value);
      } else {
        const VI r0 = xsimd::max(my0, zero) * stride, r1 = xsimd::max(my1, zero) * stride;
        const VI c0 = xsimd::max(mx0, zero) * channels, c1 = xsimd::max(mx1, zero) * channels;
        const VI o00 = r0 + c0, o01 = r0 + c1, o10 = r1 + c0, o11 = r1 + c1;
        if constexpr (std::is_same_v<T, std::uint8_t>)
          if (xsimd::any(xsimd::max(xsimd::max(o00, o01), xsimd::max(o10, o11)) > VI(static_cast<std::int32_t>(a.limit))))
            return false;
        fetch_one<C>(base, o00, p00), fetch_one<C>(base, o01, p01);
        fetch_one<C>(base, o10, p10), fetch_one<C>(base, o11, p11);
        if (constant) {
          const VF value(j.value);
          const auto f00 = xsimd::bool_cast(vx0 & vy0), f01 = xsimd::bool_cast(vx1 & vy0);
          const auto f10 = xsimd::bool_cast(vx0 & vy1), f11 = xsimd::bool_cast(vx1 & vy1);
          for (int c = 0; c < C; ++c) {
            p00[c] = xsimd::select(f00, p00[c], value), p01[c] = xsimd::select(f01, p01[c], value);
            p10[c] = xsimd::select(f10, p10[c], value), p11[c] = xsimd::select(f11, p11[c], value);
          }
        }
      }
    }
    for (int c = 0; c < C; ++c) v[c] = bilerp<T>(p00[c], p01[c], p10[c], p11[c], fx, fy);
  }
  store_pixels<C>(out + static_cast<std::size_t>(x) * C, v);
  return true;
}

// A pure translation on interior pixels: constant weights, contiguous taps. Integer
// offsets copy. Bitwise the same as the gathering path (same blend of the same values).
template <class T, int C>
inline void translate_run(const job<T>& j, const row_base& rb, std::int32_t xa, std::int32_t xb, T* out) {
  using namespace vec;
  const float xr = static_cast<float>(xa - j.k.ox);
  const auto [x0, fx] = bilinear_tap(coordinate_of(j.k.x.a, xr, rb.hx, rb.lx));
  const auto [y0, fy] = bilinear_tap(coordinate_of(j.k.y.a, xr, rb.hy, rb.ly));
  const std::ptrdiff_t dx = static_cast<std::ptrdiff_t>(x0) - xa;
  const T* s0 = j.src.row(static_cast<std::size_t>(y0)) + dx * C;
  const T* s1 = s0 + j.src.row_stride;
  T* d = out;
  std::size_t e = static_cast<std::size_t>(xa) * C;
  const std::size_t end = static_cast<std::size_t>(xb) * C;
  if (j.kind == sampler::nearest || (fx == 0 && fy == 0)) {
    // Nearest on a translation, or an integer translation: a copy of the rounded position.
    const T* src = j.kind == sampler::nearest
                       ? j.src.row(static_cast<std::size_t>(nearest_tap(coordinate_of(j.k.y.a, xr, rb.hy, rb.ly)))) +
                             (static_cast<std::ptrdiff_t>(nearest_tap(coordinate_of(j.k.x.a, xr, rb.hx, rb.lx))) - xa) * C
                       : s0;
    std::memcpy(d + e, src + e, (end - e) * sizeof(T));
    return;
  }
  const VF vfx(fx), vfy(fy);
  // A zero weight makes its lerp return its first operand exactly (uint8 values are finite,
  // float lerps select it), so one-axis shifts skip the other axis's taps bit for bit.
  if (fy == 0) {
    for (; e + N <= end; e += N) store_n(d + e, vlerp<T>(load_n(s0 + e), load_n(s0 + e + C), vfx));
  } else if (fx == 0) {
    for (; e + N <= end; e += N) store_n(d + e, vlerp<T>(load_n(s0 + e), load_n(s1 + e), vfy));
  } else {
    for (; e + N <= end; e += N)
      store_n(d + e, bilerp<T>(load_n(s0 + e), load_n(s0 + e + C), load_n(s1 + e), load_n(s1 + e + C), vfx, vfy));
  }
  for (; e < end; ++e)
    d[e] = to_element<T>(bilerp<T>(float(s0[e]), float(s0[e + C]), float(s1[e]), float(s1[e + C]), fx, fy));
}

// Asks for source rows [r0, r1] x columns [c0, c1] to be brought into cache: the taps of
// the next destination row, which start short streams the hardware prefetcher misses.
template <class T, int C>
inline void prefetch_rows(const job<T>& j, std::int64_t r0, std::int64_t r1, std::int64_t c0, std::int64_t c1) {
  r0 = std::max<std::int64_t>(r0, 0), r1 = std::min<std::int64_t>(r1, static_cast<std::int64_t>(j.src.height) - 1);
  c0 = std::max<std::int64_t>(c0, 0), c1 = std::min<std::int64_t>(c1, static_cast<std::int64_t>(j.src.width) - 1);
  for (std::int64_t r = r0; r <= r1; ++r) {
    const char* p = reinterpret_cast<const char*>(j.src.row(static_cast<std::size_t>(r)) + c0 * C);
    const char* e = reinterpret_cast<const char*>(j.src.row(static_cast<std::size_t>(r)) + (c1 + 1) * C);
    for (; p < e; p += 64) simd::prefetch(p);
  }
}

// Axis-aligned bilinear on interior pixels: the row's taps and weight are constant, the
// columns' come from tables. The same values and blend as warp_batch.
template <class T, int C>
inline void aligned_run(const job<T>& j, const simd_aux& a, const row_base& rb, std::int32_t xa, std::int32_t xb, T* out,
                        std::int32_t y) {
  using namespace vec;
  const auto [y0, fy] = bilinear_tap(coordinate_of(j.k.y.a, static_cast<float>(xa - j.k.ox), rb.hy, rb.ly));
  if (y + 1 < j.y1) {
    const row_base next = row_of(j.k, y + 1);
    const auto y1 = bilinear_tap(coordinate_of(j.k.y.a, static_cast<float>(xa - j.k.ox), next.hy, next.ly)).first;
    const std::int32_t c0 = a.col_off[static_cast<std::size_t>(xa - j.x0)] / C, c1 = a.col_off[static_cast<std::size_t>(xb - 1 - j.x0)] / C;
    prefetch_rows<T, C>(j, y1, y1 + 1, std::min(c0, c1), std::max(c0, c1) + 1);
  }
  const VI row0(y0 * static_cast<std::int32_t>(j.src.row_stride)), stride(static_cast<std::int32_t>(j.src.row_stride));
  const VF vfy(fy);
  std::int32_t x = xa;
  for (; x + static_cast<std::int32_t>(N) <= xb; x += static_cast<std::int32_t>(N)) {
    const std::size_t t = static_cast<std::size_t>(x - j.x0);
    const VI off = row0 + VI::load_unaligned(a.col_off.data() + t);
    const VF fx = VF::load_unaligned(a.col_fx.data() + t);
    VF p00[C], p01[C], p10[C], p11[C], v[C];
    fetch_pair<C>(j.src.data, off, p00, p01);
    fetch_pair<C>(j.src.data, off + stride, p10, p11);
    for (int c = 0; c < C; ++c) v[c] = bilerp<T>(p00[c], p01[c], p10[c], p11[c], fx, vfy);
    store_pixels<C>(out + static_cast<std::size_t>(x) * C, v);
  }
  for (; x < xb; ++x) warp_pixel<T, C>(j, rb, x, out + static_cast<std::size_t>(x) * C);
}

// The vertical pass of a separable bilinear row: acc[e] = vlerp(r0[e], r1[e], fy) for
// e < n, two batches per step. fy = 0 is the first row itself (vlerp returns it exactly).
// p0, p1 (or null): the next row's source rows, prefetched as this one is read — loads of
// rows that start short streams otherwise wait on memory (docs/warp.md, "What costs").
template <bool Ahead, class T>
inline void vertical_lerp_rows(const T* r0, const T* r1, float fy, std::size_t n, float* acc, const T* p0, const T* p1) {
  using namespace vec;
  static_assert(2 * N * sizeof(T) <= 128, "at most two cache lines of each row per step");
  constexpr std::size_t step_bytes = 2 * N * sizeof(T);
  std::size_t e = 0;
  const VF f(fy);
  for (; e + 2 * N <= n; e += 2 * N) {
    if constexpr (Ahead) {
      simd::prefetch(p0 + e), simd::prefetch(p1 + e);
      if constexpr (step_bytes > 64) simd::prefetch(p0 + e + 64 / sizeof(T)), simd::prefetch(p1 + e + 64 / sizeof(T));
    }
    const VF a = vlerp<T>(load_n(r0 + e), load_n(r1 + e), f), b = vlerp<T>(load_n(r0 + e + N), load_n(r1 + e + N), f);
    a.store_unaligned(acc + e), b.store_unaligned(acc + e + N);
  }
  for (; e + N <= n; e += N) vlerp<T>(load_n(r0 + e), load_n(r1 + e), f).store_unaligned(acc + e);
  for (; e < n; ++e) acc[e] = vlerp<T>(static_cast<float>(r0[e]), static_cast<float>(r1[e]), fy);
}
template <class T>
inline void vertical_lerp(const T* r0, const T* r1, float fy, std::size_t n, float* acc, const T* p0, const T* p1) {
  using namespace vec;
  if (fy == 0) {
    std::size_t e = 0;
    for (; e + N <= n; e += N) {
      if (p0) simd::prefetch(p0 + e);
      load_n(r0 + e).store_unaligned(acc + e);
    }
    for (; e < n; ++e) acc[e] = static_cast<float>(r0[e]);
    return;
  }
  if (p0)
    vertical_lerp_rows<true>(r0, r1, fy, n, acc, p0, p1);
  else
    vertical_lerp_rows<false>(r0, r1, fy, n, acc, p0, p1);
}

// The horizontal pass: output element i of the interior blends acc's left and right taps
// (C elements apart) with its column's fx, exactly as bilerp's last lerp.
template <class T, int C, simd::window W>
inline void horizontal_lerp(const simd_aux& a, const float* acc, T* d) {
  using namespace vec;
  const float* base = acc - a.sep_e0;  // acc indexed by source element
  const std::size_t n = a.e_off.size();
  std::size_t i = 0;
  for (std::size_t b = 0; b < a.sep.batches; ++b, i += N) {
    VF p0, p1;
    if constexpr (W == simd::window::gather) {
      const VI off = VI::load_unaligned(a.e_off.data() + i);
      p0 = gather(base, off), p1 = gather(base, off + VI(C));
    } else {
      const VI local = simd::load_index_bytes(a.sep.local.data() + b * N);
      const float* w = base + a.sep.start[b];
      p0 = simd::pick<W>(w, local), p1 = simd::pick<W>(w + C, local);
    }
    store_n(d + i, vlerp<T>(p0, p1, VF::load_unaligned(a.e_fx.data() + i)));
  }
  for (; i < n; ++i) d[i] = to_element<T>(vlerp<T>(base[a.e_off[i]], base[a.e_off[i] + C], a.e_fx[i]));
}

// One batch of a picked row: the left and right taps of N elements picked from the byte
// windows at r0 + start (and r1 + start), blended vertically, then horizontally. The picks
// are 2^23 + byte (simd::pick_biased): a difference of two is the difference of the bytes
// as floats exactly, and pick - 2^23 the byte, so fused(fy, b10 - b00, b00 - 2^23) is
// vlerp<uint8>(p00, p10, fy) bit for bit. OneRow (fy = 0): the first row's taps
// themselves, as vlerp returns them for a zero weight. Stored rounded and saturated as
// store_n does.
template <int C, bool OneRow>
POLYKERN_SIMD_INLINE void picked_batch(const std::uint8_t* r0, const std::uint8_t* r1, std::int32_t start,
                                       const std::int32_t* local, const float* fx, const vec::VF& fy, std::uint8_t* d) {
  using namespace vec;
  const VF bias(simd::byte_bias);
  const VI left = VI::load_unaligned(local), right = left + VI(C);
  const simd::byte_window w0 = simd::load_byte_window(r0 + start);
  const VF b00 = simd::pick_biased(w0, left), b01 = simd::pick_biased(w0, right);
  VF p0 = b00 - bias, p1 = b01 - bias;
  if constexpr (!OneRow) {
    const simd::byte_window w1 = simd::load_byte_window(r1 + start);
    p0 = fused(fy, simd::pick_biased(w1, left) - b00, p0);
    p1 = fused(fy, simd::pick_biased(w1, right) - b01, p1);
  }
  simd::store_rounded_bytes(d, vlerp<std::uint8_t>(p0, p1, VF::load_unaligned(fx)));
}

// A shrinking uint8 row picked first (a.picked): per batch of N interior elements the taps
// from byte windows of the two source rows r0, r1 (row starts), then the very lerps of
// vertical_lerp and horizontal_lerp on those taps only, two batches per step. p0, p1 (Ahead):
// the next row's source rows, prefetched as far as this row's windows reach (plus two lines).
template <int C, bool OneRow, bool Ahead>
inline void picked_lerp(const simd_aux& a, const std::uint8_t* r0, const std::uint8_t* r1, float fy, std::uint8_t* d,
                        const std::uint8_t* p0, const std::uint8_t* p1) {
  using namespace vec;
  const std::int32_t* start = a.pick_start.data();
  const std::int32_t* local = a.pick_local.data();
  const float* fx = a.e_fx.data();
  const std::size_t batches = a.pick_start.size(), n = a.e_off.size();
  const std::int32_t row_end = a.pick_row;  // a local: stores through d may alias a's fields
  const VF vfy(fy);
  std::int32_t ahead = batches > 0 ? start[0] : 0;  // the next rows' bytes below it are prefetched
  std::size_t b = 0;
  for (; b + 2 <= batches; b += 2) {
    if constexpr (Ahead)
      for (const std::int32_t to = std::min(std::max(start[b], start[b + 1]) + 128 + 64, row_end); ahead < to; ahead += 64)
        simd::prefetch(p0 + ahead), simd::prefetch(p1 + ahead);
    picked_batch<C, OneRow>(r0, r1, start[b], local + b * N, fx + b * N, vfy, d + b * N);
    picked_batch<C, OneRow>(r0, r1, start[b + 1], local + (b + 1) * N, fx + (b + 1) * N, vfy, d + (b + 1) * N);
  }
  if (b < batches) picked_batch<C, OneRow>(r0, r1, start[b], local + b * N, fx + b * N, vfy, d + b * N);
  for (std::size_t i = batches * N; i < n; ++i) {
    const std::int32_t o = a.e_off[i];
    const float t0 = vlerp<std::uint8_t>(static_cast<float>(r0[o]), static_cast<float>(r1[o]), fy);
    const float t1 = vlerp<std::uint8_t>(static_cast<float>(r0[o + C]), static_cast<float>(r1[o + C]), fy);
    d[i] = to_element<std::uint8_t>(vlerp<std::uint8_t>(t0, t1, a.e_fx[i]));
  }
}

// Axis-aligned bilinear, the interior columns of row y, separably: the row's two source rows
// blended over the columns the taps read (contiguous loads), then the columns resampled from
// that float row in L1 through window permutes. Bitwise aligned_run's values: the same
// vertical lerps of the same taps, then the same horizontal lerp.
template <class T, int C>
inline void separable_run(const job<T>& j, const simd_aux& a, const row_base& rb, T* out, std::int32_t y, scratch& s) {
  const auto [y0, fy] = bilinear_tap(coordinate_of(j.k.y.a, static_cast<float>(a.sep_x0 - j.k.ox), rb.hy, rb.ly));
  const T* next = nullptr;  // the next row's first source row, when it is another one
  if (y + 1 < j.y1) {
    const row_base nb = row_of(j.k, y + 1);
    const auto y1 = bilinear_tap(coordinate_of(j.k.y.a, static_cast<float>(a.sep_x0 - j.k.ox), nb.hy, nb.ly)).first;
    if (y1 != y0 && y1 >= 0 && y1 + 1 < static_cast<std::int32_t>(j.src.height)) next = j.src.row(static_cast<std::size_t>(y1));
  }
  const T* row0 = j.src.row(static_cast<std::size_t>(y0));
  T* d = out + static_cast<std::size_t>(a.sep_x0) * C;
  if constexpr (std::is_same_v<T, std::uint8_t>)
    if (a.picked) {
      const T* row1 = row0 + j.src.row_stride;
      const T* next1 = next ? next + j.src.row_stride : nullptr;
      if (fy == 0)
        next ? picked_lerp<C, true, true>(a, row0, row1, fy, d, next, next1) : picked_lerp<C, true, false>(a, row0, row1, fy, d, next, next1);
      else
        next ? picked_lerp<C, false, true>(a, row0, row1, fy, d, next, next1) : picked_lerp<C, false, false>(a, row0, row1, fy, d, next, next1);
      return;
    }
  const std::size_t n = static_cast<std::size_t>(a.sep_n);
  float* acc = s.floats(n + scratch_slack);
  const T* r0 = row0 + a.sep_e0;
  const T* p0 = next ? next + a.sep_e0 : nullptr;
  vertical_lerp<T>(r0, r0 + j.src.row_stride, fy, n, acc, p0, p0 ? p0 + j.src.row_stride : nullptr);
  switch (a.sep.reach) {
    case simd::window::w32: horizontal_lerp<T, C, simd::window::w32>(a, acc, d); break;
    case simd::window::w64: horizontal_lerp<T, C, simd::window::w64>(a, acc, d); break;
    default: horizontal_lerp<T, C, simd::window::gather>(a, acc, d); break;
  }
}

// Bilinear/nearest pixels [xa, xb) of row y through the border path (tables) or the scalar body.
template <class T, int C>
inline void border_run(const job<T>& j, const simd_aux& a, const row_base& rb, std::int32_t xa, std::int32_t xb, T* out) {
  std::int32_t x = xa;
  if (a.tables)
    for (; x + static_cast<std::int32_t>(vec::N) <= xb; x += static_cast<std::int32_t>(vec::N))
      if (!warp_batch<T, C, false>(j, a, rb, x, out))
        for (std::int32_t i = 0; i < static_cast<std::int32_t>(vec::N); ++i)
          warp_pixel<T, C>(j, rb, x + i, out + static_cast<std::size_t>(x + i) * C);
  for (; x < xb; ++x) warp_pixel<T, C>(j, rb, x, out + static_cast<std::size_t>(x) * C);
}

template <class T, int C>
inline void interior_run(const job<T>& j, const simd_aux& a, const row_base& rb, std::int32_t xa, std::int32_t xb, T* out,
                         std::int32_t y, scratch& s) {
  if (a.translation) {
    if (xa < xb) translate_run<T, C>(j, rb, xa, xb, out);
    return;
  }
  if (a.aligned) {
    if (a.separable && xa == a.sep_x0 && xb == a.sep_x1)
      separable_run<T, C>(j, a, rb, out, y, s);
    else if (xa < xb)
      aligned_run<T, C>(j, a, rb, xa, xb, out, y);
    return;
  }
  std::int32_t x = xa;
  // The taps of a general warp follow a slanted line through the source: ask for the lines
  // a few batches ahead (the hardware prefetcher does not follow gathers).
  constexpr std::int32_t ahead = 8 * static_cast<std::int32_t>(vec::N);
  for (; x + static_cast<std::int32_t>(vec::N) <= xb; x += static_cast<std::int32_t>(vec::N)) {
    if (x + ahead < xb) {
      const float xr = static_cast<float>(x + ahead - j.k.ox);
      const auto cx = coordinate_of(j.k.x.a, xr, rb.hx, rb.lx), cy = coordinate_of(j.k.y.a, xr, rb.hy, rb.ly);
      const auto px = static_cast<std::ptrdiff_t>(cx.whole + cx.part), py = static_cast<std::ptrdiff_t>(cy.whole + cy.part);
      if (px >= 0 && py >= 0 && px < static_cast<std::ptrdiff_t>(j.src.width) && py + 1 < static_cast<std::ptrdiff_t>(j.src.height)) {
        const T* p = j.src.data + py * j.src.row_stride + px * C;
        for (int line = 0; line < 2; ++line)
          simd::prefetch(p + line * 64 / sizeof(T)), simd::prefetch(p + j.src.row_stride + line * 64 / sizeof(T));
      }
    }
    warp_batch<T, C, true>(j, a, rb, x, out);
  }
  for (; x < xb; ++x) warp_pixel<T, C>(j, rb, x, out + static_cast<std::size_t>(x) * C);
}

// The area horizontal pass over all region columns through window permutes: the very
// operations of area_horizontal_simd below, with each gather replaced by a pick.
template <class T, int C, simd::window W>
inline void area_horizontal_window(const job<T>& j, const simd_aux& a, const float* acc, std::int32_t lo, T* out) {
  using namespace vec;
  const std::size_t n = j.xt.size() * C;
  const std::size_t taps = static_cast<std::size_t>(a.taps);
  T* d = out + static_cast<std::size_t>(j.x0) * C;
  const float* base = acc - static_cast<std::ptrdiff_t>(lo) * C;  // acc indexed by source element
  std::size_t i = 0;
  for (std::size_t b = 0; b < a.area.batches; ++b, i += N) {
    VF v(0.0f);
    for (std::size_t k = 0; k < taps; ++k) {
      const std::size_t q = b * taps + k;
      v = fused(VF::load_unaligned(a.a_w.data() + k * n + i),
                simd::pick<W>(base + a.area.start[q], simd::load_index_bytes(a.area.local.data() + q * N)), v);
    }
    store_n(d + i, v);
  }
  for (; i < n; ++i) {
    float v = 0.0f;
    for (std::size_t k = 0; k < taps; ++k) v = fused(a.a_w[k * n + i], base[a.a_off[k * n + i]], v);
    d[i] = to_element<T>(v);
  }
}

// The area horizontal pass over element batches: per element the same fma sequence (from
// zero, taps in table order, padding included) as area_horizontal().
template <class T, int C>
inline void area_horizontal_simd(const job<T>& j, const simd_aux& a, const float* acc, std::int32_t lo, std::int32_t xa,
                                 std::int32_t xb, T* out) {
  using namespace vec;
  const std::size_t n = j.xt.size() * C;
  const std::size_t ea = static_cast<std::size_t>(xa - j.x0) * C, eb = static_cast<std::size_t>(xb - j.x0) * C;
  T* d = out + static_cast<std::size_t>(j.x0) * C;
  const VI base(lo * C);
  std::size_t i = ea;
  for (; i + N <= eb; i += N) {
    VF v(0.0f);
    for (std::int32_t k = 0; k < a.taps; ++k) {
      const std::size_t at = k * n + i;
      v = fused(VF::load_unaligned(a.a_w.data() + at), gather(acc, VI::load_unaligned(a.a_off.data() + at) - base), v);
    }
    store_n(d + i, v);
  }
  for (; i < eb; ++i) {
    float v = 0.0f;
    for (std::int32_t k = 0; k < a.taps; ++k) {
      const std::size_t at = k * n + i;
      v = fused(a.a_w[at], acc[a.a_off[at] - lo * C], v);
    }
    d[i] = to_element<T>(v);
  }
}

// The fast paths as the traversal calls them.
struct simd_paths {
  using V = vec::VF;
  using extras = simd_aux;
  template <class T, int C>
  static extras prepare(const job<T>& j) {
    return prepare_simd<T, C>(j);
  }
  // The interior of the span [xa, xb): bilinear / nearest pixels whose taps (and word reads)
  // are all inside the source. Empty when the source is too large for 32-bit offsets.
  template <class T, int C>
  static std::pair<std::int32_t, std::int32_t> interior(const job<T>& j, const extras& a, std::int32_t y, std::int32_t xa,
                                                        std::int32_t xb) {
    if (!a.vector) return {xb, xb};
    // Axis-aligned: span_of's x interval is the same on every row (found once by prepare),
    // and its y test the row's alone.
    std::int32_t ia = a.ix0, ib = a.ix1;
    if (a.aligned) {
      const double sy = j.m[1][1] * y + j.m[1][2];
      if (!(a.ily <= sy && sy < a.ihy)) ia = ib = xb;
    } else {
      std::tie(ia, ib) = span_of(j.m, y, xb, a.ilx, a.ihx, a.ily, a.ihy);
    }
    ia = std::max(ia, xa), ib = std::min(ib, xb);
    if (ia >= ib) ia = ib = xb;
    return {ia, ib};
  }
  template <class T, int C>
  static void border_pixels(const job<T>& j, const extras& a, const row_base& rb, std::int32_t xa, std::int32_t xb, T* out) {
    border_run<T, C>(j, a, rb, xa, xb, out);
  }
  template <class T, int C>
  static void interior_pixels(const job<T>& j, const extras& a, const row_base& rb, std::int32_t y, std::int32_t xa,
                              std::int32_t xb, T* out, scratch& s) {
    interior_run<T, C>(j, a, rb, xa, xb, out, y, s);
  }
  template <class T, int C>
  static void area_horizontal(const job<T>& j, const extras& a, const float* acc, std::int32_t lo, std::int32_t xa,
                              std::int32_t xb, T* out) {
    const bool whole = xa == j.x0 && xb == j.x1;  // the windows cover all region columns
    if (a.taps > 0 && whole && a.area.reach == simd::window::w32)
      area_horizontal_window<T, C, simd::window::w32>(j, a, acc, lo, out);
    else if (a.taps > 0 && whole && a.area.reach == simd::window::w64)
      area_horizontal_window<T, C, simd::window::w64>(j, a, acc, lo, out);
    else if (a.taps > 0)
      area_horizontal_simd<T, C>(j, a, acc, lo, xa, xb, out);
    else
      warp::area_horizontal<T, C>(j, acc, lo, xa, xb, out);
  }
};

}  // namespace polykern::detail::warp
POLYKERN_SIMD_DIAGNOSTICS_POP
