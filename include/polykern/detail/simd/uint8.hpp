// uint8 <-> float conversions for scalars and xsimd batches. xsimd 8 converts uint8 loads
// one scalar at a time, so 16- and 8-lane batches use AVX-512 / AVX2 intrinsics; other
// widths go through memory.
#pragma once
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "diagnostics.hpp"
#include "xsimd.hpp"

// GCC bug 105593 (diagnostics.hpp): when <immintrin.h> was first included outside
// xsimd.hpp's guard (by OpenCV, say), only a guard at the inlining site silences it.
POLYKERN_SIMD_DIAGNOSTICS_PUSH

namespace polykern::detail {

// Rounds to nearest (ties to even, as OpenCV's cvRound) and saturates to [0, 255]; NaN
// becomes 0 (as OpenCV's saturate_cast does on x86).
inline std::uint8_t saturate_u8(float v) {
  if (!(v > 0.0f)) return 0;
  if (v >= 255.0f) return 255;
  return static_cast<std::uint8_t>(std::nearbyint(v));
}

// V::size bytes at p, as floats.
template <class V>
V load_u8(const std::uint8_t* p) {
#if defined(__AVX512F__)
  if constexpr (V::size == 16 && sizeof(typename V::register_type) == 64)
    return V(_mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)))));
#endif
#if defined(__AVX2__)
  if constexpr (V::size == 8 && sizeof(typename V::register_type) == 32)
    return V(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)))));
#endif
  alignas(64) float tmp[V::size];
  for (std::size_t i = 0; i < V::size; ++i) tmp[i] = p[i];
  return V::load_aligned(tmp);
}

// Stores v's V::size lanes at p rounded to nearest even and saturated (NaN -> 0).
template <class V>
void store_u8(std::uint8_t* p, const V& v) {
#if defined(__AVX512F__)
  if constexpr (V::size == 16 && sizeof(typename V::register_type) == 64) {
    // max(v, 0) maps NaN to 0 (maxps returns the second operand when one is NaN).
    const __m512 c = _mm512_min_ps(_mm512_max_ps(v, _mm512_setzero_ps()), _mm512_set1_ps(255.0f));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(p), _mm512_cvtepi32_epi8(_mm512_cvtps_epi32(c)));
    return;
  }
#endif
#if defined(__AVX2__)
  if constexpr (V::size == 8 && sizeof(typename V::register_type) == 32) {
    const __m256 c = _mm256_min_ps(_mm256_max_ps(v, _mm256_setzero_ps()), _mm256_set1_ps(255.0f));
    const __m256i i = _mm256_cvtps_epi32(c);  // nearest even, values in [0, 255]
    const __m128i w = _mm_packus_epi32(_mm256_castsi256_si128(i), _mm256_extracti128_si256(i, 1));
    _mm_storel_epi64(reinterpret_cast<__m128i*>(p), _mm_packus_epi16(w, w));
    return;
  }
#endif
  alignas(64) float tmp[V::size];
  v.store_aligned(tmp);
  for (std::size_t i = 0; i < V::size; ++i) p[i] = saturate_u8(tmp[i]);
}

}  // namespace polykern::detail

POLYKERN_SIMD_DIAGNOSTICS_POP
