// KD-tree neighbour search, part 2: the reference bodies over xsimd batches. Leaves are
// 64-byte blocks, so a batch load never straddles two leaves; box tests of the candidate
// leaves and point tests inside a leaf both run a batch at a time.
#pragma once
#include <xsimd/xsimd.hpp>

#include <bit>
#include <cstdint>
#include <type_traits>

#include "../scalar/kdtree.hpp"

namespace polykern::detail::kd {

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

template <class T, class A>
struct lanes<xsimd::batch<T, A>> {
  using V = xsimd::batch<T, A>;
  using scalar = T;
  static constexpr std::size_t size = V::size;
  static_assert(size * sizeof(T) <= 64, "leaf blocks are 64 bytes");
  static V load(const T* p) { return V::load_aligned(p); }
  static V splat(T x) { return V(x); }
  static V mul_add(const V& a, const V& b, const V& c) {
    V p = a * b;
    POLYKERN_KD_BARRIER(p.data);
    return p + c;
  }
  static V max(const V& a, const V& b) { return xsimd::max(a, b); }
  static std::uint64_t le(const V& a, const V& b) { return mask_bits(a <= b); }
  // rank[i] = how many of key[0..n) are below key[i] (keys unique, padded to a multiple of
  // 8 with ~0, 64-byte aligned): one batch compare and a popcount per batch of keys.
  static void rank64(const std::uint64_t* key, std::size_t n, std::uint32_t* rank) {
    using K = xsimd::batch<std::uint64_t, A>;
    constexpr std::size_t KW = K::size;
    const std::size_t batches = (n + KW - 1) / KW;
    for (std::size_t i = 0; i < n; ++i) {
      const K ki(key[i]);
      std::uint32_t r = 0;
      for (std::size_t b = 0; b < batches; ++b)
        r += static_cast<std::uint32_t>(std::popcount(mask_bits(K::load_aligned(key + b * KW) < ki)));
      rank[i] = r;
    }
  }
  // Writes the lanes set in m to the outputs (room for a whole batch); returns how many.
  static std::size_t emit(std::uint64_t m, const V& d2, const std::uint32_t* perm, std::uint32_t pos0, T* out_d2,
                          std::uint32_t* out_orig, std::uint32_t* out_pos) {
#if defined(__AVX512F__)
    if constexpr (std::is_base_of_v<xsimd::avx512f, A>) {
      const __m512i iota = _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
      const __m512i pos = _mm512_add_epi32(iota, _mm512_set1_epi32(static_cast<int>(pos0)));
      if constexpr (sizeof(T) == 4) {
        const __mmask16 k = static_cast<__mmask16>(m);
        _mm512_storeu_ps(out_d2, _mm512_maskz_compress_ps(k, d2));
        _mm512_storeu_si512(out_orig, _mm512_maskz_compress_epi32(k, _mm512_load_si512(perm)));
        _mm512_storeu_si512(out_pos, _mm512_maskz_compress_epi32(k, pos));
      } else {
        const __mmask8 k = static_cast<__mmask8>(m);
        _mm512_storeu_pd(out_d2, _mm512_maskz_compress_pd(k, d2));
        const __m512i o = _mm512_castsi256_si512(_mm256_load_si256(reinterpret_cast<const __m256i*>(perm)));
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(out_orig),
                            _mm512_castsi512_si256(_mm512_maskz_compress_epi32(k, o)));
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(out_pos),
                            _mm512_castsi512_si256(_mm512_maskz_compress_epi32(k, pos)));
      }
      return static_cast<std::size_t>(std::popcount(m));
    }
#endif
    alignas(64) T lanes_d2[size];
    d2.store_aligned(lanes_d2);
    std::size_t n = 0;
    while (m) {
      const unsigned lane = static_cast<unsigned>(std::countr_zero(m));
      m &= m - 1;
      out_d2[n] = lanes_d2[lane];
      out_orig[n] = perm[lane];
      out_pos[n] = pos0 + lane;
      ++n;
    }
    return n;
  }
};

template <class T>
using batch = xsimd::batch<T>;

// ---- the simd policy ------------------------------------------------------------------

template <class T, std::size_t Dim>
neighbor_graph<T> radius_graph(simd_tag, const auto&, const tree_data<T, Dim>& t, points_view<const T, Dim> queries,
                               T r2, std::size_t keep) {
  return radius_graph_body<batch<T>>(t, queries, r2, keep, serial_each{});
}
template <class T, std::size_t Dim>
neighbor_graph<T> knn_graph(simd_tag, const auto&, const tree_data<T, Dim>& t, points_view<const T, Dim> queries,
                            std::size_t k) {
  return knn_graph_body<batch<T>>(t, queries, k, serial_each{});
}

}  // namespace polykern::detail::kd
