// The SIMD layer: gathers and uint8 words for float batches (batch<float> and
// batch<int32_t> of the same lane count). Native AVX-512 / AVX2 gathers where xsimd's
// batches are those registers (xsimd 8.1 gathers float lane by lane on AVX-512), a lane loop
// elsewhere. Offsets are 32-bit: callers keep every offset below 2^31 (the warp engine checks
// its source span; detail/simd/points.hpp picks per-lane loads for larger strides).
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "diagnostics.hpp"
#include "intrinsics.hpp"
#include "xsimd.hpp"

POLYKERN_SIMD_DIAGNOSTICS_PUSH
namespace polykern::detail::simd {

using f32 = xsimd::batch<float>;
using i32 = xsimd::batch<std::int32_t>;
static_assert(f32::size == i32::size, "float and int32 batches must have the same lane count");
inline constexpr std::size_t f32_lanes = f32::size;

// The intrinsics below are used when xsimd's batches are that ISA's registers.
#if defined(__AVX512F__)
#define POLYKERN_SIMD_GATHER_AVX512 1
static_assert(f32_lanes == 16);
#elif defined(__AVX2__)
#define POLYKERN_SIMD_GATHER_AVX2 1
static_assert(f32_lanes == 8);
#endif

// 0, 1, 2, ... as floats.
inline f32 iota_f32() {
  alignas(64) float v[f32_lanes];
  for (std::size_t i = 0; i < f32_lanes; ++i) v[i] = static_cast<float>(i);
  return f32::load_aligned(v);
}

// 32-bit words at byte offsets (little endian: byte 0 of the word is the lowest).
inline i32 gather_words(const std::uint8_t* base, const i32& offsets) {
#if defined(POLYKERN_SIMD_GATHER_AVX512)
  return i32(_mm512_i32gather_epi32(offsets, static_cast<const void*>(base), 1));
#elif defined(POLYKERN_SIMD_GATHER_AVX2)
  return i32(_mm256_i32gather_epi32(reinterpret_cast<const int*>(base), offsets, 1));
#else
  alignas(64) std::int32_t o[f32_lanes], r[f32_lanes];
  offsets.store_aligned(o);
  for (std::size_t i = 0; i < f32_lanes; ++i) std::memcpy(&r[i], base + o[i], 4);
  return i32::load_aligned(r);
#endif
}

// Elements at element indices.
inline f32 gather(const float* base, const i32& index) {
#if defined(POLYKERN_SIMD_GATHER_AVX512)
  return f32(_mm512_i32gather_ps(index, base, 4));
#elif defined(POLYKERN_SIMD_GATHER_AVX2)
  return f32(_mm256_i32gather_ps(base, index, 4));
#else
  return f32::gather(base, index);
#endif
}
inline i32 gather(const std::int32_t* base, const i32& index) {
#if defined(POLYKERN_SIMD_GATHER_AVX512)
  return i32(_mm512_i32gather_epi32(index, base, 4));
#elif defined(POLYKERN_SIMD_GATHER_AVX2)
  return i32(_mm256_i32gather_epi32(base, index, 4));
#else
  return i32::gather(base, index);
#endif
}

// Byte b of every word, as floats.
inline f32 byte_of(const i32& word, int b) { return xsimd::to_float((word >> (8 * b)) & i32(0xFF)); }

// f32_lanes consecutive elements as floats.
inline f32 load_floats(const float* p) { return f32::load_unaligned(p); }
inline f32 load_floats(const std::uint8_t* p) {
#if defined(POLYKERN_SIMD_GATHER_AVX512)
  return f32(_mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)))));
#elif defined(POLYKERN_SIMD_GATHER_AVX2)
  return f32(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)))));
#else
  alignas(64) float v[f32_lanes];
  for (std::size_t i = 0; i < f32_lanes; ++i) v[i] = static_cast<float>(p[i]);
  return f32::load_aligned(v);
#endif
}

// Rounded half to even and saturated to 0..255 (OpenCV saturate_cast), as int32 lanes.
inline i32 to_bytes(const f32& v) {
  return xsimd::to_int(xsimd::min(xsimd::max(xsimd::nearbyint(v), f32(0.0f)), f32(255.0f)));
}

// Stores f32_lanes consecutive elements (uint8: rounded and saturated).
inline void store_floats(float* p, const f32& v) { v.store_unaligned(p); }
inline void store_floats(std::uint8_t* p, const f32& v) {
  const i32 q = to_bytes(v);
#if defined(POLYKERN_SIMD_GATHER_AVX512)
  _mm_storeu_si128(reinterpret_cast<__m128i*>(p), _mm512_cvtepi32_epi8(q));
#else
  alignas(64) std::int32_t b[f32_lanes];
  q.store_aligned(b);
  for (std::size_t i = 0; i < f32_lanes; ++i) p[i] = static_cast<std::uint8_t>(b[i]);
#endif
}

// Stores the low C bytes (C = 1..4) of every word, one after another: f32_lanes pixels of
// C uint8 channels whose channel c is byte c of the lane's word.
template <int C>
inline void store_low_bytes(std::uint8_t* out, const i32& word) {
  if constexpr (C == 4) {
    word.store_unaligned(reinterpret_cast<std::int32_t*>(out));
  } else {
#if defined(POLYKERN_SIMD_GATHER_AVX512) && defined(__AVX512VBMI__)
    // One byte permute packs the 16 words' first C bytes together.
    alignas(64) static constexpr auto index = [] {
      std::array<std::uint8_t, 64> i{};
      for (int b = 0; b < 16 * C; ++b) i[static_cast<std::size_t>(b)] = static_cast<std::uint8_t>(b / C * 4 + b % C);
      return i;
    }();
    const __m512i packed = _mm512_permutexvar_epi8(_mm512_load_si512(index.data()), word);
    _mm512_mask_storeu_epi8(out, (__mmask64{1} << (16 * C)) - 1, packed);
#else
    alignas(64) std::int32_t w[f32_lanes];
    word.store_aligned(w);
    // Overlapping 4-byte stores; each spills into the next pixel, which is written after it.
    for (std::size_t i = 0; i + 1 < f32_lanes; ++i) std::memcpy(out + i * C, &w[i], 4);
    std::memcpy(out + (f32_lanes - 1) * C, &w[f32_lanes - 1], C);
#endif
  }
}

}  // namespace polykern::detail::simd
POLYKERN_SIMD_DIAGNOSTICS_POP
