// The KD-tree's one squared-distance fold, and the lane operations its bodies are written
// over (docs/smooth.md, "Exactness and determinism").
//
// Every body is a template over the lane type V: the scalar policy instantiates it with
// T, the simd and openmp policies with xsimd::batch<T> (simd_lanes.hpp specialises
// `lanes` for batches).
//
// Exactness. A squared distance is always the same fold, for points and for the gaps of
// bounding boxes:  s = 0;  s = s + d_k * d_k for k = 0..Dim-1  (d_k = p_k - q_k), every
// operation rounded on its own: never a fused multiply-add (simd::opaque keeps the
// compiler from contracting the multiply and the add), and the Vulkan shaders compute it
// under `precise`, where Vulkan requires correctly rounded multiplies and adds (its fma()
// may or may not be fused). So every policy on every device computes bitwise the same
// dist2, and a box's distance never exceeds the distance of a point inside it (rounding is
// monotonic), so pruning never loses a point at the radius. Rows are ordered by (dist2,
// caller index), unique keys, so every policy, thread count and traversal order gives the
// same graph. (Compiling with -ffast-math voids this.)
#pragma once
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <utility>

#include "../simd/unfused.hpp"
#include "../unroll.hpp"

namespace polykern::detail::kd {

// Whether the smoothing passes fuse their multiply-adds (the graph's distances never do).
inline constexpr bool use_fma = simd::has_hardware_fma;

// The operations a body needs, for V = T (one lane); simd_lanes.hpp has the batch ones.
template <class V>
struct lanes {
  using scalar = V;
  static constexpr std::size_t size = 1;
  static V load(const V* p) { return *p; }
  static V splat(V x) { return x; }
  // a * b + c, rounded twice, never fused.
  static V mul_add(V a, V b, V c) {
    V p = a * b;
    simd::opaque(p);
    return p + c;
  }
  static V max(V a, V b) { return a < b ? b : a; }
  // Bit i set when lane i of a <= b (false for NaN).
  static std::uint64_t le(V a, V b) { return a <= b ? 1u : 0u; }
  // rank[i] = how many of key[0..n) are below key[i] (keys unique; padded to 8 with ~0).
  static void rank64(const std::uint64_t* key, std::size_t n, std::uint32_t* rank) {
    for (std::size_t i = 0; i < n; ++i) {
      std::uint32_t r = 0;
      for (std::size_t j = 0; j < n; ++j) r += key[j] < key[i];
      rank[i] = r;
    }
  }
  // Writes the lanes set in m (dist2, caller index from perm[lane], position pos0 + lane)
  // to the outputs, which have room for a whole batch; returns how many.
  static std::size_t emit(std::uint64_t m, V d2, const std::uint32_t* perm, std::uint32_t pos0, V* out_d2,
                          std::uint32_t* out_orig, std::uint32_t* out_pos) {
    *out_d2 = d2;
    *out_orig = *perm;
    *out_pos = pos0;
    return static_cast<std::size_t>(m & 1);
  }
};

// The one dist2 fold (see the top of this file), for points and box gaps alike.
template <class T>
inline T mul_add(T a, T b, T c) {
  return lanes<T>::mul_add(a, b, c);
}
// a * b + c for the smoothing passes: fused when the build targets FMA hardware.
template <class T>
inline T fmadd(T a, T b, T c) {
  if constexpr (use_fma) return std::fma(a, b, c);
  else return a * b + c;
}
template <class T, std::size_t Dim>
inline T point_dist2(const T* p, const T* q) {
  T s = 0;
  for (std::size_t d = 0; d < Dim; ++d) {
    const T x = p[d] - q[d];
    s = mul_add(x, x, s);
  }
  return s;
}
// Squared distance from q to the box [lo, hi]; never more than point_dist2 of a point inside.
template <class T, std::size_t Dim>
inline T box_dist2(const T* q, const T* lo, const T* hi) {
  T s = 0;
  for (std::size_t d = 0; d < Dim; ++d) {
    T g = lo[d] - q[d];
    const T g2 = q[d] - hi[d];
    g = g < g2 ? g2 : g;
    g = g < T(0) ? T(0) : g;
    s = mul_add(g, g, s);
  }
  return s;
}
// Squared gap between two boxes; never more than point_dist2 of any pair inside them.
template <class T, std::size_t Dim>
inline T box_box_dist2(const T* alo, const T* ahi, const T* blo, const T* bhi) {
  T s = 0;
  for (std::size_t d = 0; d < Dim; ++d) {
    T g = blo[d] - ahi[d];
    const T g2 = alo[d] - bhi[d];
    g = g < g2 ? g2 : g;
    g = g < T(0) ? T(0) : g;
    s = mul_add(g, g, s);
  }
  return s;
}

}  // namespace polykern::detail::kd
