// Image warps: the per-pixel body of every sampler (the scalar reference, also the tail and
// rare-case path of the SIMD fast paths), and the two passes of area rows written once
// over V = float or a batch.
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <utility>

#include "../simd/diagnostics.hpp"
#include "../simd/gather.hpp"
#include "../simd/stream.hpp"
#include "../unroll.hpp"
#include "arithmetic.hpp"
#include "plan.hpp"

POLYKERN_SIMD_DIAGNOSTICS_PUSH
namespace polykern::detail::warp {

template <class T>
inline float load(const image_view<const T>& s, std::ptrdiff_t x, std::ptrdiff_t y, std::size_t c) {
  return static_cast<float>(s.data[y * s.row_stride + x * static_cast<std::ptrdiff_t>(s.channels) + static_cast<std::ptrdiff_t>(c)]);
}

// Bilinear sample of channel values at taps (x0, y0)..(x0+1, y0+1) through the job's border map.
template <class T, int C>
POLYKERN_ALWAYS_INLINE void sample_bilinear(const job<T>& j, std::int32_t x0, std::int32_t y0, float fx, float fy, float* out) {
  const auto w = static_cast<std::ptrdiff_t>(j.src.width), h = static_cast<std::ptrdiff_t>(j.src.height);
  const std::ptrdiff_t ix[2] = {border_index(x0, w, j.mode), border_index(std::ptrdiff_t(x0) + 1, w, j.mode)};
  const std::ptrdiff_t iy[2] = {border_index(y0, h, j.mode), border_index(std::ptrdiff_t(y0) + 1, h, j.mode)};
  // Loops over channels and taps are static_for: -O2 leaves small rolled loops rolled and
  // their arrays on the stack (warp_affine scalar was 1.2x slower than at -O3).
  static_for<C>([&](auto c) {
    float p[2][2];
    static_for<2>([&](auto r) {
      static_for<2>([&](auto q) { p[r][q] = ix[q] < 0 || iy[r] < 0 ? j.value : load(j.src, ix[q], iy[r], c); });
    });
    out[c] = bilerp<T>(p[0][0], p[0][1], p[1][0], p[1][1], fx, fy);
  });
}

template <class T, int C>
POLYKERN_ALWAYS_INLINE void sample_nearest(const job<T>& j, std::int32_t x0, std::int32_t y0, float* out) {
  const std::ptrdiff_t ix = border_index(x0, static_cast<std::ptrdiff_t>(j.src.width), j.mode);
  const std::ptrdiff_t iy = border_index(y0, static_cast<std::ptrdiff_t>(j.src.height), j.mode);
  static_for<C>([&](auto c) { out[c] = ix < 0 || iy < 0 ? j.value : load(j.src, ix, iy, c); });
}

// One pixel of a bilinear or nearest job, with the coordinates of the shared arithmetic.
// Flattened: -O2 otherwise keeps coordinate_of a call and the samplers' lambdas apart.
template <class T, int C>
POLYKERN_FLATTEN inline void warp_pixel(const job<T>& j, const row_base& rb, std::int32_t x, T* out) {
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
  static_for<C>([&](auto c) { out[c] = to_element<T>(v[c]); });
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
// horizontal taps of acc the same way (the SIMD fast paths run this pass over element
// tables with the very same operations).
template <class T, int C>
inline void area_horizontal(const job<T>& j, const float* acc, std::int32_t lo, std::int32_t xa, std::int32_t xb, T* out) {
  for (std::int32_t x = xa; x < xb; ++x) {
    const std::size_t i = static_cast<std::size_t>(x - j.x0);
    const std::int32_t begin = j.xt.offset[i], end = j.xt.offset[i + 1];
    float v[C] = {};
    for (std::int32_t t = begin; t < end; ++t) {
      const float w = j.xt.weight[t];
      const float* p = acc + static_cast<std::ptrdiff_t>(j.xt.index[t] - lo) * C;
      static_for<C>([&](auto c) { v[c] = fused(w, p[c], v[c]); });
    }
    static_for<C>([&](auto c) { out[static_cast<std::size_t>(x) * C + c] = to_element<T>(v[c]); });
  }
}

// Loads `lanes<V>` consecutive elements as V (float: one element) and stores them.
template <class V, class T>
inline V load_lanes(const T* p) {
  if constexpr (std::is_same_v<V, float>)
    return static_cast<float>(*p);
  else
    return simd::load_floats(p);
}
template <class V>
inline void store_lanes(float* p, const V& v) {
  if constexpr (std::is_same_v<V, float>)
    *p = v;
  else
    v.store_unaligned(p);
}

// The vertical pass over V = float or a batch (then a scalar tail): every element the
// same fma sequence, from zero, taps in table order. Up to 8 taps are summed in registers
// per element (later groups of 8 add to acc), `unroll` vectors per step. Over batches the next
// row's source rows are prefetched as this row's are read (short streams that otherwise
// wait on memory).
template <class V, class T, int C>
POLYKERN_FLATTEN inline void area_vertical(const job<T>& j, std::int32_t y, std::int32_t lo, std::int32_t hi, float* acc) {
  constexpr std::size_t step = lanes<V>;
  // Elements in flight per step: two batches, or eight floats for the scalar policy (an
  // explicit block, which -O2 turns into one vector as -O3 does with its own unrolling).
  constexpr std::size_t unroll = step == 1 ? 8 : 2;
  constexpr std::int32_t group = 8;
  const std::size_t r = static_cast<std::size_t>(y - j.y0);
  const std::int32_t begin = j.yt.offset[r], end = j.yt.offset[r + 1];
  const std::size_t n = static_cast<std::size_t>(hi - lo + 1) * C;
  const char* next[group];
  std::int32_t ahead = 0;
  if constexpr (step > 1) {
    if (y + 1 < j.y1)
      for (std::int32_t t = j.yt.offset[r + 1]; t < j.yt.offset[r + 2] && ahead < group; ++t)
        if (j.yt.weight[t] != 0)
          next[ahead++] = reinterpret_cast<const char*>(j.src.row(static_cast<std::size_t>(j.yt.index[t])) + static_cast<std::ptrdiff_t>(lo) * C);
  }
  for (std::int32_t g = begin; g < end; g += group) {
    const std::int32_t k = std::min(group, end - g);
    const T* rows[group];
    float w[group];
    for (std::int32_t q = 0; q < k; ++q) {
      rows[q] = j.src.row(static_cast<std::size_t>(j.yt.index[g + q])) + static_cast<std::ptrdiff_t>(lo) * C;
      w[q] = j.yt.weight[g + q];
    }
    const bool first = g == begin;
    std::size_t e = 0;
    for (; e + unroll * step <= n; e += unroll * step) {
      if (first)
        for (std::int32_t q = 0; q < ahead; ++q)
          for (std::size_t b = 0; b < unroll * step * sizeof(T); b += 64) simd::prefetch(next[q] + e * sizeof(T) + b);
      V v[unroll];
      static_for<unroll>([&](auto u) { v[u] = first ? V(0.0f) : load_lanes<V>(acc + e + u * step); });
      for (std::int32_t q = 0; q < k; ++q) {
        const V vw(w[q]);
        static_for<unroll>([&](auto u) { v[u] = fused(vw, load_lanes<V>(rows[q] + e + u * step), v[u]); });
      }
      static_for<unroll>([&](auto u) { store_lanes(acc + e + u * step, v[u]); });
    }
    for (; e < n; ++e) {
      float v = first ? 0.0f : acc[e];
      for (std::int32_t q = 0; q < k; ++q) v = fused(w[q], static_cast<float>(rows[q][e]), v);
      acc[e] = v;
    }
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

}  // namespace polykern::detail::warp
POLYKERN_SIMD_DIAGNOSTICS_POP
