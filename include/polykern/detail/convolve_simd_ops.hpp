// The handful of vector operations the CPU convolution engine is written in, for two
// value types: `float` (one lane: the scalar policy) and xsimd::batch<float> (the widest
// arch the build targets). xsimd 8 has no transpose and converts uint8 loads one scalar
// at a time, so those two have intrinsic versions for AVX-512 and AVX2 and a portable
// fallback through memory.
#pragma once
#include <xsimd/xsimd.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>

#if defined(__AVX512F__) || defined(__AVX2__)
#include <immintrin.h>
#endif

namespace polykern::detail::conv {

// Rounds to nearest (ties to even, as OpenCV's cvRound) and saturates to [0, 255];
// NaN becomes 0 (as OpenCV's saturate_cast does on x86).
inline std::uint8_t saturate_u8(float v) {
  if (!(v > 0.0f)) return 0;
  if (v >= 255.0f) return 255;
  return static_cast<std::uint8_t>(std::nearbyint(v));
}

template <class V>
struct ops;

// One lane: the readable reference. transpose() of a 1x1 block does nothing.
template <>
struct ops<float> {
  using vec = float;
  static constexpr std::size_t lanes = 1;
  static float zero() { return 0.0f; }
  static float broadcast(float v) { return v; }
  static float load(const float* p) { return *p; }
  static float load(const std::uint8_t* p) { return static_cast<float>(*p); }
  static float load_aligned(const float* p) { return *p; }
  static void store(float* p, float v) { *p = v; }
  static void store(std::uint8_t* p, float v) { *p = saturate_u8(v); }
  static void store_aligned(float* p, float v) { *p = v; }
  static float fma(float a, float b, float c) { return a * b + c; }
  static float add(float a, float b) { return a + b; }
  static void transpose(float*) {}
};

template <class A>
struct ops<xsimd::batch<float, A>> {
  using vec = xsimd::batch<float, A>;
  static constexpr std::size_t lanes = vec::size;
  static vec zero() { return vec(0.0f); }
  static vec broadcast(float v) { return vec(v); }
  static vec load(const float* p) { return vec::load_unaligned(p); }
  static vec load_aligned(const float* p) { return vec::load_aligned(p); }
  static vec load(const std::uint8_t* p) {
#if defined(__AVX512F__)
    if constexpr (lanes == 16)
      return vec(_mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)))));
#endif
#if defined(__AVX2__)
    if constexpr (lanes == 8)
      return vec(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)))));
#endif
    alignas(64) float tmp[lanes];
    for (std::size_t i = 0; i < lanes; ++i) tmp[i] = p[i];
    return vec::load_aligned(tmp);
  }
  static void store(float* p, vec v) { v.store_unaligned(p); }
  static void store_aligned(float* p, vec v) { v.store_aligned(p); }
  static void store(std::uint8_t* p, vec v) {
#if defined(__AVX512F__)
    if constexpr (lanes == 16) {
      // max(v, 0) maps NaN to 0 (maxps returns the second operand when one is NaN).
      __m512 c = _mm512_min_ps(_mm512_max_ps(v, _mm512_setzero_ps()), _mm512_set1_ps(255.0f));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(p), _mm512_cvtepi32_epi8(_mm512_cvtps_epi32(c)));
      return;
    }
#endif
#if defined(__AVX2__)
    if constexpr (lanes == 8) {
      __m256 c = _mm256_min_ps(_mm256_max_ps(v, _mm256_setzero_ps()), _mm256_set1_ps(255.0f));
      __m256i i = _mm256_cvtps_epi32(c);  // nearest even, values in [0, 255]
      __m128i w = _mm_packus_epi32(_mm256_castsi256_si128(i), _mm256_extracti128_si256(i, 1));
      _mm_storel_epi64(reinterpret_cast<__m128i*>(p), _mm_packus_epi16(w, w));
      return;
    }
#endif
    alignas(64) float tmp[lanes];
    v.store_aligned(tmp);
    for (std::size_t i = 0; i < lanes; ++i) p[i] = saturate_u8(tmp[i]);
  }
  static vec fma(vec a, vec b, vec c) { return xsimd::fma(a, b, c); }
  static vec add(vec a, vec b) { return a + b; }

  // Transposes the lanes x lanes block stored as `lanes` aligned vectors at `m`.
  static void transpose(float* m) {
#if defined(__AVX512F__)
    if constexpr (lanes == 16) {
      __m512 r[16], t[16];
      for (int i = 0; i < 16; ++i) r[i] = _mm512_load_ps(m + 16 * i);
      for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
      }
      // r[4g + c] = column (4l + c) of rows 4g..4g+3 in 128-bit lane l
      for (int g = 0; g < 4; ++g) {
        r[4 * g + 0] = _mm512_shuffle_ps(t[4 * g], t[4 * g + 2], _MM_SHUFFLE(1, 0, 1, 0));
        r[4 * g + 1] = _mm512_shuffle_ps(t[4 * g], t[4 * g + 2], _MM_SHUFFLE(3, 2, 3, 2));
        r[4 * g + 2] = _mm512_shuffle_ps(t[4 * g + 1], t[4 * g + 3], _MM_SHUFFLE(1, 0, 1, 0));
        r[4 * g + 3] = _mm512_shuffle_ps(t[4 * g + 1], t[4 * g + 3], _MM_SHUFFLE(3, 2, 3, 2));
      }
      for (int c = 0; c < 4; ++c) {
        t[c] = _mm512_shuffle_f32x4(r[c], r[c + 4], 0x88);
        t[c + 4] = _mm512_shuffle_f32x4(r[c], r[c + 4], 0xdd);
        t[c + 8] = _mm512_shuffle_f32x4(r[c + 8], r[c + 12], 0x88);
        t[c + 12] = _mm512_shuffle_f32x4(r[c + 8], r[c + 12], 0xdd);
      }
      for (int k = 0; k < 8; ++k) {
        _mm512_store_ps(m + 16 * k, _mm512_shuffle_f32x4(t[k], t[k + 8], 0x88));
        _mm512_store_ps(m + 16 * (k + 8), _mm512_shuffle_f32x4(t[k], t[k + 8], 0xdd));
      }
      return;
    }
#endif
#if defined(__AVX2__)
    if constexpr (lanes == 8) {
      __m256 r[8], t[8];
      for (int i = 0; i < 8; ++i) r[i] = _mm256_load_ps(m + 8 * i);
      for (int i = 0; i < 8; i += 2) {
        t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
      }
      for (int g = 0; g < 2; ++g) {
        r[4 * g + 0] = _mm256_shuffle_ps(t[4 * g], t[4 * g + 2], _MM_SHUFFLE(1, 0, 1, 0));
        r[4 * g + 1] = _mm256_shuffle_ps(t[4 * g], t[4 * g + 2], _MM_SHUFFLE(3, 2, 3, 2));
        r[4 * g + 2] = _mm256_shuffle_ps(t[4 * g + 1], t[4 * g + 3], _MM_SHUFFLE(1, 0, 1, 0));
        r[4 * g + 3] = _mm256_shuffle_ps(t[4 * g + 1], t[4 * g + 3], _MM_SHUFFLE(3, 2, 3, 2));
      }
      for (int c = 0; c < 4; ++c) {
        _mm256_store_ps(m + 8 * c, _mm256_permute2f128_ps(r[c], r[c + 4], 0x20));
        _mm256_store_ps(m + 8 * (c + 4), _mm256_permute2f128_ps(r[c], r[c + 4], 0x31));
      }
      return;
    }
#endif
    for (std::size_t i = 0; i < lanes; ++i)
      for (std::size_t j = i + 1; j < lanes; ++j) std::swap(m[i * lanes + j], m[j * lanes + i]);
  }
};

}  // namespace polykern::detail::conv
