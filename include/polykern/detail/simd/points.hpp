// The SIMD layer: array-of-structs xyz points in and out of batches (one batch per
// component). Stride 3 uses constant blends and permutes (xsimd::select, xsimd::swizzle);
// other strides gather with per-lane offsets, 32-bit where every lane's offset fits and
// lane by lane where it does not (strides above 2^31 / (lanes - 1) elements).
#pragma once
#include <cstddef>
#include <cstdint>
#include <limits>
#include <type_traits>

#include "diagnostics.hpp"
#include "intrinsics.hpp"
#include "stream.hpp"
#include "xsimd.hpp"

POLYKERN_SIMD_DIAGNOSTICS_PUSH
namespace polykern::detail::simd {

template <class T>
using batch = xsimd::batch<T>;
template <class T>
using index_type = std::conditional_t<sizeof(T) == 4, std::uint32_t, std::uint64_t>;
template <class T>
using gather_index_type = std::conditional_t<sizeof(T) == 4, std::int32_t, std::int64_t>;

// Constant generators for xsimd::make_batch_constant / make_batch_bool_constant.
// Deinterleave: lane l of the blend for component K comes from vector Q (of the three
// loaded) when element l + Q*n of the 3n-element block is component K.
template <unsigned K, unsigned Q>
struct component_in_vector {
  static constexpr bool get(std::size_t l, std::size_t n) { return (l + Q * n) % 3 == K; }
};
// ... and lane i of component K then takes lane (3i + K) mod n of that blend.
template <unsigned K>
struct component_lanes {
  static constexpr std::size_t get(std::size_t i, std::size_t n) { return (3 * i + K) % n; }
};
// Interleave: the inverse permutation, lane l takes the point i with 3i + K = l (mod n) ...
template <unsigned K>
struct component_lanes_inverse {
  static constexpr std::size_t get(std::size_t l, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i)
      if ((3 * i + K) % n == l) return i;
    return 0;
  }
};
// ... and output vector Q holds component K at lane l when (Q*n + l) mod 3 == K.
template <unsigned Q, unsigned K>
struct vector_holds_component {
  static constexpr bool get(std::size_t l, std::size_t n) { return (Q * n + l) % 3 == K; }
};

template <class T, class G>
inline xsimd::batch_bool<T> mask() {
  return xsimd::batch_bool<T>(xsimd::make_batch_bool_constant<batch<T>, G>());
}
template <class T, class G>
inline constexpr auto lanes() {
  return xsimd::make_batch_constant<xsimd::batch<index_type<T>>, G>();
}

// The blend masks of the stride-3 shuffles. xsimd builds a batch_bool from constants at
// run time (a call per mask with GCC), so they are built once per range, not per batch.
template <class T>
struct aos3_masks {
  // deinterleave: component K from vector 0 / vector 1 (else vector 2)
  xsimd::batch_bool<T> x0 = mask<T, component_in_vector<0, 0>>(), x1 = mask<T, component_in_vector<0, 1>>();
  xsimd::batch_bool<T> y0 = mask<T, component_in_vector<1, 0>>(), y1 = mask<T, component_in_vector<1, 1>>();
  xsimd::batch_bool<T> z0 = mask<T, component_in_vector<2, 0>>(), z1 = mask<T, component_in_vector<2, 1>>();
  // interleave: output vector Q takes x / y (else z)
  xsimd::batch_bool<T> a_x = mask<T, vector_holds_component<0, 0>>(), a_y = mask<T, vector_holds_component<0, 1>>();
  xsimd::batch_bool<T> b_x = mask<T, vector_holds_component<1, 0>>(), b_y = mask<T, vector_holds_component<1, 1>>();
  xsimd::batch_bool<T> c_x = mask<T, vector_holds_component<2, 0>>(), c_y = mask<T, vector_holds_component<2, 1>>();
};

// Loads N packed xyz points starting at p into x, y, z: three loads, then per component
// two blends (which of the three vectors holds it in each lane) and one permute.
template <class T>
POLYKERN_SIMD_INLINE void load_aos3(const aos3_masks<T>& k, const T* p, batch<T>& x, batch<T>& y, batch<T>& z) {
  constexpr std::size_t n = batch<T>::size;
  static_assert(n % 3 != 0, "the stride-3 shuffles need a batch width that is not a multiple of 3");
  const batch<T> a = batch<T>::load_unaligned(p), b = batch<T>::load_unaligned(p + n),
                 c = batch<T>::load_unaligned(p + 2 * n);
  x = xsimd::swizzle(xsimd::select(k.x0, a, xsimd::select(k.x1, b, c)), lanes<T, component_lanes<0>>());
  y = xsimd::swizzle(xsimd::select(k.y0, a, xsimd::select(k.y1, b, c)), lanes<T, component_lanes<1>>());
  z = xsimd::swizzle(xsimd::select(k.z0, a, xsimd::select(k.z1, b, c)), lanes<T, component_lanes<2>>());
}

// Stores N points packed as xyz at p (plain or streaming stores): the load run backwards,
// one permute per component, then two blends per output vector.
template <bool Stream, class T>
POLYKERN_SIMD_INLINE void store_aos3(const aos3_masks<T>& k, T* p, const batch<T>& x, const batch<T>& y, const batch<T>& z) {
  constexpr std::size_t n = batch<T>::size;
  const batch<T> sx = xsimd::swizzle(x, lanes<T, component_lanes_inverse<0>>());
  const batch<T> sy = xsimd::swizzle(y, lanes<T, component_lanes_inverse<1>>());
  const batch<T> sz = xsimd::swizzle(z, lanes<T, component_lanes_inverse<2>>());
  const batch<T> a = xsimd::select(k.a_x, sx, xsimd::select(k.a_y, sy, sz));
  const batch<T> b = xsimd::select(k.b_x, sx, xsimd::select(k.b_y, sy, sz));
  const batch<T> c = xsimd::select(k.c_x, sx, xsimd::select(k.c_y, sy, sz));
  if constexpr (Stream) {
    stream_store(p, a), stream_store(p + n, b), stream_store(p + 2 * n, c);
  } else {
    a.store_unaligned(p), b.store_unaligned(p + n), c.store_unaligned(p + 2 * n);
  }
}

// Loads N points of any stride (>= 3) with gathers.
template <class T>
POLYKERN_SIMD_INLINE void load_strided(const T* p, const xsimd::batch<gather_index_type<T>>& lane_offsets, batch<T>& x,
                         batch<T>& y, batch<T>& z) {
  x = batch<T>::gather(p, lane_offsets);
  y = batch<T>::gather(p + 1, lane_offsets);
  z = batch<T>::gather(p + 2, lane_offsets);
}

// Stores N points of any stride lane by lane, leaving the elements between points alone.
template <class T>
POLYKERN_SIMD_INLINE void store_strided(T* p, std::ptrdiff_t stride, const batch<T>& x, const batch<T>& y, const batch<T>& z) {
  constexpr std::size_t n = batch<T>::size;
  alignas(64) T bx[n], by[n], bz[n];
  x.store_aligned(bx), y.store_aligned(by), z.store_aligned(bz);
  for (std::size_t l = 0; l < n; ++l, p += stride) p[0] = bx[l], p[1] = by[l], p[2] = bz[l];
}

// Whether the offsets l * stride of every lane l fit gather_index_type<T> (32-bit for float:
// no longer for strides above about 1.4e8 elements with 16 lanes).
template <class T>
constexpr bool gather_offsets_fit(std::ptrdiff_t stride) {
  constexpr auto most = std::numeric_limits<gather_index_type<T>>::max();
  return stride <= most / static_cast<std::ptrdiff_t>(batch<T>::size > 1 ? batch<T>::size - 1 : 1);
}

// Loads N points of any stride lane by lane (for strides whose offsets do not fit a gather).
template <class T>
POLYKERN_SIMD_INLINE void load_lane_by_lane(const T* p, std::ptrdiff_t stride, batch<T>& x, batch<T>& y, batch<T>& z) {
  constexpr std::size_t n = batch<T>::size;
  alignas(64) T bx[n], by[n], bz[n];
  for (std::size_t l = 0; l < n; ++l, p += stride) bx[l] = p[0], by[l] = p[1], bz[l] = p[2];
  x = batch<T>::load_aligned(bx), y = batch<T>::load_aligned(by), z = batch<T>::load_aligned(bz);
}

// The gather offsets l * stride of the lanes; stride must satisfy gather_offsets_fit<T>.
template <class T>
inline xsimd::batch<gather_index_type<T>> lane_offsets(std::ptrdiff_t stride) {
  constexpr std::size_t n = batch<T>::size;
  alignas(64) gather_index_type<T> offsets[n];
  for (std::size_t l = 0; l < n; ++l) offsets[l] = static_cast<gather_index_type<T>>(static_cast<std::ptrdiff_t>(l) * stride);
  return xsimd::batch<gather_index_type<T>>::load_aligned(offsets);
}

}  // namespace polykern::detail::simd
POLYKERN_SIMD_DIAGNOSTICS_POP
