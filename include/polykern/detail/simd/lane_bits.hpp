// Masks as bits, and compress stores: what the KD-tree's leaf scans need beyond xsimd.
//
//   mask_bits(b)          bit i set when lane i of the batch_bool b is true (any arch,
//                         any element type, 64-bit keys included)
//   compress_hits(...)    writes the lanes set in a mask, packed, as three arrays:
//                         the values, ids[lane] and first + lane (AVX-512: compress stores)
#pragma once
#include <bit>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "xsimd.hpp"

namespace polykern::detail::simd {

// Float views of mask registers (integer batches keep their masks in integer registers).
#if defined(__AVX__)
inline __m256 as_ps(__m256 x) { return x; }
inline __m256 as_ps(__m256i x) { return _mm256_castsi256_ps(x); }
inline __m256d as_pd(__m256d x) { return x; }
inline __m256d as_pd(__m256i x) { return _mm256_castsi256_pd(x); }
#endif
#if defined(__SSE2__)
inline __m128 as_ps(__m128 x) { return x; }
inline __m128 as_ps(__m128i x) { return _mm_castsi128_ps(x); }
inline __m128d as_pd(__m128d x) { return x; }
inline __m128d as_pd(__m128i x) { return _mm_castsi128_pd(x); }
#endif

// Bit i set when lane i of the mask is true.
template <class T, class A>
inline std::uint64_t mask_bits(const xsimd::batch_bool<T, A>& b) {
  constexpr std::size_t n = xsimd::batch_bool<T, A>::size;
#if defined(__AVX512F__)
  if constexpr (std::is_base_of_v<xsimd::avx512f, A>) return static_cast<std::uint64_t>(b.data);
#endif
#if defined(__AVX__)
  if constexpr (std::is_base_of_v<xsimd::avx, A> && sizeof(b.data) == 32) {
    if constexpr (sizeof(T) == 4) return static_cast<std::uint32_t>(_mm256_movemask_ps(as_ps(b.data)));
    else if constexpr (sizeof(T) == 8) return static_cast<std::uint32_t>(_mm256_movemask_pd(as_pd(b.data)));
  }
#endif
#if defined(__SSE2__)
  if constexpr (std::is_base_of_v<xsimd::sse2, A> && sizeof(b.data) == 16) {
    if constexpr (sizeof(T) == 4) return static_cast<std::uint32_t>(_mm_movemask_ps(as_ps(b.data)));
    else if constexpr (sizeof(T) == 8) return static_cast<std::uint32_t>(_mm_movemask_pd(as_pd(b.data)));
  }
#endif
  alignas(64) bool lanes_set[n];
  b.store_aligned(lanes_set);
  std::uint64_t bits = 0;
  for (std::size_t i = 0; i < n; ++i) bits |= std::uint64_t{lanes_set[i]} << i;
  return bits;
}

// Writes the lanes set in `mask`, in lane order and packed: values[lane] to out_values,
// ids[lane] to out_ids (ids: a whole batch's worth, 64-byte aligned) and first + lane to
// out_positions. Each output has room for a whole batch. Returns how many were written.
template <class T, class A>
inline std::size_t compress_hits(std::uint64_t mask, const xsimd::batch<T, A>& values, const std::uint32_t* ids,
                                 std::uint32_t first, T* out_values, std::uint32_t* out_ids,
                                 std::uint32_t* out_positions) {
  constexpr std::size_t size = xsimd::batch<T, A>::size;
#if defined(__AVX512F__)
  if constexpr (std::is_base_of_v<xsimd::avx512f, A>) {
    const __m512i iota = _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
    const __m512i pos = _mm512_add_epi32(iota, _mm512_set1_epi32(static_cast<int>(first)));
    if constexpr (sizeof(T) == 4) {
      const __mmask16 k = static_cast<__mmask16>(mask);
      _mm512_storeu_ps(out_values, _mm512_maskz_compress_ps(k, values));
      _mm512_storeu_si512(out_ids, _mm512_maskz_compress_epi32(k, _mm512_load_si512(ids)));
      _mm512_storeu_si512(out_positions, _mm512_maskz_compress_epi32(k, pos));
    } else {
      const __mmask8 k = static_cast<__mmask8>(mask);
      _mm512_storeu_pd(out_values, _mm512_maskz_compress_pd(k, values));
      const __m512i o = _mm512_castsi256_si512(_mm256_load_si256(reinterpret_cast<const __m256i*>(ids)));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(out_ids), _mm512_castsi512_si256(_mm512_maskz_compress_epi32(k, o)));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(out_positions),
                          _mm512_castsi512_si256(_mm512_maskz_compress_epi32(k, pos)));
    }
    return static_cast<std::size_t>(std::popcount(mask));
  }
#endif
  alignas(64) T lane_values[size];
  values.store_aligned(lane_values);
  std::size_t n = 0;
  while (mask) {
    const unsigned lane = static_cast<unsigned>(std::countr_zero(mask));
    mask &= mask - 1;
    out_values[n] = lane_values[lane];
    out_ids[n] = ids[lane];
    out_positions[n] = first + lane;
    ++n;
  }
  return n;
}

}  // namespace polykern::detail::simd
