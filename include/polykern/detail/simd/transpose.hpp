// In-place transpose of a square block of floats: n x n, n = the lanes of a batch, stored
// as n aligned rows of n floats. xsimd 8 has no transpose: 16 lanes (AVX-512) and 8 lanes
// (AVX2) use unpack/shuffle networks, other widths swap through memory.
#pragma once
#include <cstddef>
#include <utility>

#include "../unroll.hpp"
#include "diagnostics.hpp"
#include "xsimd.hpp"

// GCC bug 105593 (diagnostics.hpp): when <immintrin.h> was first included outside
// xsimd.hpp's guard (by OpenCV, say), only a guard at the inlining site silences it.
POLYKERN_SIMD_DIAGNOSTICS_PUSH

namespace polykern::detail {

// Every loop over the register arrays is a static_for: rolled, GCC's -O2 keeps r and t in
// memory (measured: the separable passes 1.7x slower at -O2 than at -O3).
template <std::size_t N>
POLYKERN_FLATTEN void transpose_square(float* m) {
#if defined(__AVX512F__)
  if constexpr (N == 16) {
    __m512 r[16], t[16];
    static_for<16>([&](auto i) { r[i] = _mm512_load_ps(m + 16 * i); });
    static_for<8>([&](auto h) {
      constexpr std::size_t i = 2 * h;
      t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
      t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    });
    // r[4g + c] = column (4l + c) of rows 4g..4g+3 in 128-bit lane l
    static_for<4>([&](auto g) {
      r[4 * g + 0] = _mm512_shuffle_ps(t[4 * g], t[4 * g + 2], _MM_SHUFFLE(1, 0, 1, 0));
      r[4 * g + 1] = _mm512_shuffle_ps(t[4 * g], t[4 * g + 2], _MM_SHUFFLE(3, 2, 3, 2));
      r[4 * g + 2] = _mm512_shuffle_ps(t[4 * g + 1], t[4 * g + 3], _MM_SHUFFLE(1, 0, 1, 0));
      r[4 * g + 3] = _mm512_shuffle_ps(t[4 * g + 1], t[4 * g + 3], _MM_SHUFFLE(3, 2, 3, 2));
    });
    static_for<4>([&](auto c) {
      t[c] = _mm512_shuffle_f32x4(r[c], r[c + 4], 0x88);
      t[c + 4] = _mm512_shuffle_f32x4(r[c], r[c + 4], 0xdd);
      t[c + 8] = _mm512_shuffle_f32x4(r[c + 8], r[c + 12], 0x88);
      t[c + 12] = _mm512_shuffle_f32x4(r[c + 8], r[c + 12], 0xdd);
    });
    static_for<8>([&](auto k) {
      _mm512_store_ps(m + 16 * k, _mm512_shuffle_f32x4(t[k], t[k + 8], 0x88));
      _mm512_store_ps(m + 16 * (k + 8), _mm512_shuffle_f32x4(t[k], t[k + 8], 0xdd));
    });
    return;
  }
#endif
#if defined(__AVX2__)
  if constexpr (N == 8) {
    __m256 r[8], t[8];
    static_for<8>([&](auto i) { r[i] = _mm256_load_ps(m + 8 * i); });
    static_for<4>([&](auto h) {
      constexpr std::size_t i = 2 * h;
      t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
      t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
    });
    static_for<2>([&](auto g) {
      r[4 * g + 0] = _mm256_shuffle_ps(t[4 * g], t[4 * g + 2], _MM_SHUFFLE(1, 0, 1, 0));
      r[4 * g + 1] = _mm256_shuffle_ps(t[4 * g], t[4 * g + 2], _MM_SHUFFLE(3, 2, 3, 2));
      r[4 * g + 2] = _mm256_shuffle_ps(t[4 * g + 1], t[4 * g + 3], _MM_SHUFFLE(1, 0, 1, 0));
      r[4 * g + 3] = _mm256_shuffle_ps(t[4 * g + 1], t[4 * g + 3], _MM_SHUFFLE(3, 2, 3, 2));
    });
    static_for<4>([&](auto c) {
      _mm256_store_ps(m + 8 * c, _mm256_permute2f128_ps(r[c], r[c + 4], 0x20));
      _mm256_store_ps(m + 8 * (c + 4), _mm256_permute2f128_ps(r[c], r[c + 4], 0x31));
    });
    return;
  }
#endif
  for (std::size_t i = 0; i < N; ++i)
    for (std::size_t j = i + 1; j < N; ++j) std::swap(m[i * N + j], m[j * N + i]);
}

}  // namespace polykern::detail

POLYKERN_SIMD_DIAGNOSTICS_POP
