// Image warps: the per-pixel arithmetic, written once for V = float (scalar policy) and
// V = xsimd::batch<float> (simd and openmp), so every CPU policy gives the same bits.
//
// Coordinates. Source coordinates are computed in float, but exactly: every dst -> src
// coefficient is split into a part on a grid of 2^-k (so `hi * x + hi * y + hi` is exact
// in float) and a small remainder. The integer part of a coordinate is then exact and its
// fraction accurate to about 1e-7 pixel for images up to 2^22 pixels a side; OpenCV rounds
// coordinates to 1/32 pixel. The same arithmetic runs in every backend (the Vulkan shader
// ports it).
#pragma once
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <utility>

#include "../simd/diagnostics.hpp"
#include "../simd/xsimd.hpp"
#include "../simd/fma.hpp"

POLYKERN_SIMD_DIAGNOSTICS_PUSH
namespace polykern::detail::warp {

// The largest source coordinate (in pixels) a warp may reach; beyond it the float
// coordinate arithmetic above is no longer exact. Checked by the entry points.
inline constexpr double max_coordinate = 4194304.0;  // 2^22

// Lanes of V: 1 for float, the batch width for a batch.
template <class V>
inline constexpr std::size_t lanes = 1;
template <class T, class A>
inline constexpr std::size_t lanes<xsimd::batch<T, A>> = xsimd::batch<T, A>::size;

// ---- scalar arithmetic; the SIMD backend finds the xsimd overloads of the same names by ADL ----
inline float floor(float v) { return std::floor(v); }
// a * b + c rounded once, for float and batches (detail/simd/fma.hpp).
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

}  // namespace polykern::detail::warp
POLYKERN_SIMD_DIAGNOSTICS_POP
