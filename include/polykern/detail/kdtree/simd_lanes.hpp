// The lane operations of fold.hpp over xsimd batches: the simd and openmp policies
// instantiate the bodies with kd::batch<T>. Leaves are 64-byte blocks, so a batch load
// never straddles two leaves; what xsimd lacks (masks as bits, compress stores) is in
// detail/simd/lane_bits.hpp.
#pragma once
#include <bit>
#include <cstddef>
#include <cstdint>

#include "../simd/lane_bits.hpp"
#include "../simd/unfused.hpp"
#include "../simd/xsimd.hpp"
#include "fold.hpp"

namespace polykern::detail::kd {

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
    simd::opaque(p.data);
    return p + c;
  }
  static V max(const V& a, const V& b) { return xsimd::max(a, b); }
  static std::uint64_t le(const V& a, const V& b) { return simd::mask_bits(a <= b); }
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
        r += static_cast<std::uint32_t>(std::popcount(simd::mask_bits(K::load_aligned(key + b * KW) < ki)));
      rank[i] = r;
    }
  }
  // Writes the lanes set in m to the outputs (room for a whole batch); returns how many.
  static std::size_t emit(std::uint64_t m, const V& d2, const std::uint32_t* perm, std::uint32_t pos0, T* out_d2,
                          std::uint32_t* out_orig, std::uint32_t* out_pos) {
    return simd::compress_hits(m, d2, perm, pos0, out_d2, out_orig, out_pos);
  }
};

// The batch type of the simd and openmp bodies.
template <class T>
using batch = xsimd::batch<T>;

}  // namespace polykern::detail::kd
