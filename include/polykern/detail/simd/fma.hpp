// Multiply-adds for scalars and xsimd batches, the one place they touch intrinsics.
//
// fused_multiply_add(a, b, c): a * b + c rounded once, so the simd and openmp policies
// reproduce the scalar policy's std::fma bit for bit. xsimd 8.1 has no AVX-512 fma kernel:
// its xsimd::fma there is a * b + c, fused only when the optimiser contracts it (GCC does
// at -O2, not at -O1 or under sanitizers), so results would depend on flags.
//
// multiply_add(a, b, c): the fastest a * b + c the target has: one FMA instruction where
// there is one (AVX-512, FMA3), else a multiply and an add (never std::fma's software
// emulation). For kernels that promise accuracy, not bitwise equality with the scalar
// policy (convolution), and that must not depend on -O3 to be fused.
#pragma once
#include <cmath>
#include <cstddef>
#include <type_traits>

#include "diagnostics.hpp"
#include "xsimd.hpp"

// GCC bug 105593 (diagnostics.hpp): when <immintrin.h> was first included outside
// xsimd.hpp's guard (by OpenCV, say), only a guard at the inlining site silences it.
POLYKERN_SIMD_DIAGNOSTICS_PUSH

namespace polykern::detail {

template <class T>
  requires std::is_floating_point_v<T>
inline T fused_multiply_add(T a, T b, T c) {
  return std::fma(a, b, c);
}

template <class T, class A>
inline xsimd::batch<T, A> fused_multiply_add(const xsimd::batch<T, A>& a, const xsimd::batch<T, A>& b,
                                             const xsimd::batch<T, A>& c) {
  using V = xsimd::batch<T, A>;
#if defined(__AVX512F__)
  if constexpr (sizeof(typename V::register_type) == 64) {
    if constexpr (std::is_same_v<T, float>)
      return V(_mm512_fmadd_ps(a, b, c));
    else
      return V(_mm512_fmadd_pd(a, b, c));
  }
#endif
#if defined(__FMA__)
  return xsimd::fma(a, b, c);  // fma3 archs: one vfmadd instruction
#else
  // No hardware fma: per lane, exactly as the scalar policy computes it.
  alignas(64) T x[V::size], y[V::size], z[V::size];
  a.store_aligned(x), b.store_aligned(y), c.store_aligned(z);
  for (std::size_t i = 0; i < V::size; ++i) x[i] = std::fma(x[i], y[i], z[i]);
  return V::load_aligned(x);
#endif
}

template <class T>
  requires std::is_floating_point_v<T>
inline T multiply_add(T a, T b, T c) {
#if defined(__FMA__)
  return std::fma(a, b, c);  // one vfmadd
#else
  return a * b + c;
#endif
}

template <class T, class A>
inline xsimd::batch<T, A> multiply_add(const xsimd::batch<T, A>& a, const xsimd::batch<T, A>& b,
                                       const xsimd::batch<T, A>& c) {
#if defined(__AVX512F__) || defined(__FMA__)
  return fused_multiply_add(a, b, c);
#else
  return a * b + c;
#endif
}

}  // namespace polykern::detail

POLYKERN_SIMD_DIAGNOSTICS_POP
