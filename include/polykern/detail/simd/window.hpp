// The SIMD layer: lanes picked from a short window of floats in L1 (the horizontal pass of
// separable resamplers). A gather costs about 9 cycles per 16 lanes here even from L1
// (docs/warp.md, "What costs"); when every lane's element lies within 32 or 64 floats of
// a common start, two or four unaligned loads and one or two two-register permutes
// (AVX-512 vpermt2ps) fetch the same values. Local indices are stored as bytes.
// Elsewhere the pick is a gather of start + index.
#pragma once
#include <cstddef>
#include <cstdint>

#include "diagnostics.hpp"
#include "gather.hpp"
#include "intrinsics.hpp"
#include "xsimd.hpp"

POLYKERN_SIMD_DIAGNOSTICS_PUSH
namespace polykern::detail::simd {

// How far a window reaches: lanes read p[0 .. reach) for a window of `reach` floats.
enum class window : std::uint8_t { w32 = 32, w64 = 64, gather = 0 };

// f32_lanes local indices stored as bytes at `p`, as int32 lanes.
inline i32 load_index_bytes(const std::uint8_t* p) {
#if defined(POLYKERN_SIMD_GATHER_AVX512)
  return i32(_mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))));
#elif defined(POLYKERN_SIMD_GATHER_AVX2)
  return i32(_mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p))));
#else
  alignas(64) std::int32_t v[f32_lanes];
  for (std::size_t i = 0; i < f32_lanes; ++i) v[i] = p[i];
  return i32::load_aligned(v);
#endif
}

// Lane i = p[index[i]], index[i] < W (W = 32 or 64; any other W: a gather). Reads p[0 .. W)
// (on AVX-512; elsewhere only the indexed elements): the caller keeps that readable.
template <window W>
inline f32 pick(const float* p, const i32& index) {
#if defined(POLYKERN_SIMD_GATHER_AVX512)
  if constexpr (W == window::w32) {
    return f32(_mm512_permutex2var_ps(_mm512_loadu_ps(p), index, _mm512_loadu_ps(p + 16)));
  } else if constexpr (W == window::w64) {
    const __m512 lo = _mm512_permutex2var_ps(_mm512_loadu_ps(p), index, _mm512_loadu_ps(p + 16));
    const __m512 hi = _mm512_permutex2var_ps(_mm512_loadu_ps(p + 32), index, _mm512_loadu_ps(p + 48));
    return f32(_mm512_mask_blend_ps(_mm512_test_epi32_mask(index, _mm512_set1_epi32(32)), lo, hi));
  }
#endif
  return gather(p, index);
}

// Byte windows: lanes picked from 128 consecutive bytes of a uint8 row (the horizontal
// taps of a shrinking separable row, picked before its vertical lerp). One AVX-512 VBMI
// vpermi2b per pick writes the byte into the low byte of each 32-bit lane and keeps the
// lane's other bytes from the index, whose bits above the low byte are byte_index_bits:
// the lane is then the float 2^23 + byte exactly (byte_bias + value), with no conversion.
// Differences of two picks are exact differences of the bytes, and subtracting byte_bias
// gives the byte as a float. Elsewhere a lane loop (callers take the path only where
// byte_windows is true).
inline constexpr std::int32_t byte_index_bits = 0x4B000000;  // the bits of 2^23 as a float
inline constexpr float byte_bias = 8388608.0f;               // 2^23
#if defined(POLYKERN_SIMD_GATHER_AVX512) && defined(__AVX512VBMI__)
inline constexpr bool byte_windows = true;
struct byte_window {
  __m512i lo, hi;
};
// The 128 bytes at p (all readable).
POLYKERN_SIMD_INLINE byte_window load_byte_window(const std::uint8_t* p) {
  return {_mm512_loadu_si512(p), _mm512_loadu_si512(p + 64)};
}
// Lane i = byte_bias + w[index[i] & 127], for index lanes byte_index_bits | (0..127).
POLYKERN_SIMD_INLINE f32 pick_biased(const byte_window& w, const i32& index) {
  constexpr __mmask64 low_bytes = 0x1111111111111111ULL;
  return f32(_mm512_castsi512_ps(_mm512_mask2_permutex2var_epi8(w.lo, index, low_bytes, w.hi)));
}
// Stores the f32_lanes values of v rounded to nearest even and saturated to 0..255 (NaN:
// 0), as store_floats does, in three instructions: max with 0 (NaN gives 0), a conversion
// rounding to nearest, and an unsigned saturating pack.
POLYKERN_SIMD_INLINE void store_rounded_bytes(std::uint8_t* p, const f32& v) {
  const __m512i i = _mm512_cvt_roundps_epi32(_mm512_max_ps(v, _mm512_setzero_ps()), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  _mm_storeu_si128(reinterpret_cast<__m128i*>(p), _mm512_cvtusepi32_epi8(i));
}
#else
inline constexpr bool byte_windows = false;
struct byte_window {
  const std::uint8_t* p;
};
inline byte_window load_byte_window(const std::uint8_t* p) { return {p}; }
inline f32 pick_biased(const byte_window& w, const i32& index) {
  alignas(64) std::int32_t i[f32_lanes];
  alignas(64) float v[f32_lanes];
  index.store_aligned(i);
  for (std::size_t k = 0; k < f32_lanes; ++k) v[k] = byte_bias + static_cast<float>(w.p[i[k] & 127]);
  return f32::load_aligned(v);
}
inline void store_rounded_bytes(std::uint8_t* p, const f32& v) { store_floats(p, v); }
#endif

}  // namespace polykern::detail::simd
POLYKERN_SIMD_DIAGNOSTICS_POP
