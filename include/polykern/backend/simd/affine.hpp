// Affine transforms of points and normals, part 2: the simd backend. The body of
// backend/scalar/affine.hpp instantiated with xsimd::batch<T>, plus a scalar tail.
//
// Loads and stores of array-of-structs points:
// - stride 3 (packed xyz): three full-width loads cover N points; each component is
//   gathered into lane order by two blends and one permute (xsimd::select with constant
//   masks and xsimd::swizzle), and the store runs the same steps backwards. This works
//   for any batch width N that is not a multiple of 3 (every power of two).
// - other strides: xsimd gather for loads, per-lane stores (the padding between points is
//   never written).
// - large outputs that are not in place are written with non-temporal (streaming) stores,
//   which skip the read-for-ownership of the output and keep the transform at memcpy speed.
#pragma once
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include <xsimd/xsimd.hpp>

#include "../scalar/affine.hpp"

#if defined(__SSE2__) || defined(_M_X64)
#include <immintrin.h>
#define POLYKERN_AFFINE_HAS_STREAM 1
#else
#define POLYKERN_AFFINE_HAS_STREAM 0
#endif

// GCC 12 reports -Wmaybe-uninitialized inside its own AVX-512 intrinsics (_mm512_undefined_*
// in permutexvar, sqrt, extract) wherever they are inlined; the warning is spurious.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

namespace polykern::detail::affine {

// Outputs of at least this many bytes (and not in place) use streaming stores: far beyond
// the per-core caches, where the output would be evicted before anyone reads it anyway.
inline constexpr std::size_t stream_threshold_bytes = std::size_t{8} << 20;

// Input is prefetched this many bytes ahead. The loop body is long (about 35 instructions
// per 16 points with AVX-512), so the out-of-order window alone keeps too few cache misses
// in flight; on the CI-class machine, prefetching 4 KiB ahead took W7 at 10M points from
// 1.6x to 1.1x the time of memcpy (2 to 8 KiB all within a few percent).
inline constexpr std::size_t prefetch_bytes = 4096;

namespace simd {

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
inline void load_aos3(const aos3_masks<T>& k, const T* p, batch<T>& x, batch<T>& y, batch<T>& z) {
  constexpr std::size_t n = batch<T>::size;
  static_assert(n % 3 != 0, "the stride-3 shuffles need a batch width that is not a multiple of 3");
  const batch<T> a = batch<T>::load_unaligned(p), b = batch<T>::load_unaligned(p + n),
                 c = batch<T>::load_unaligned(p + 2 * n);
  x = xsimd::swizzle(xsimd::select(k.x0, a, xsimd::select(k.x1, b, c)), lanes<T, component_lanes<0>>());
  y = xsimd::swizzle(xsimd::select(k.y0, a, xsimd::select(k.y1, b, c)), lanes<T, component_lanes<1>>());
  z = xsimd::swizzle(xsimd::select(k.z0, a, xsimd::select(k.z1, b, c)), lanes<T, component_lanes<2>>());
}

// Non-temporal store of a full batch to `p`, aligned to the batch size.
template <class T>
inline void stream_store(T* p, const batch<T>& v) {
#if POLYKERN_AFFINE_HAS_STREAM
  constexpr std::size_t bytes = sizeof(T) * batch<T>::size;
#if defined(__AVX512F__)
  if constexpr (bytes == 64) {
    if constexpr (std::is_same_v<T, float>)
      _mm512_stream_ps(p, v);
    else
      _mm512_stream_pd(p, v);
    return;
  }
#endif
#if defined(__AVX__)
  if constexpr (bytes == 32) {
    if constexpr (std::is_same_v<T, float>)
      _mm256_stream_ps(p, v);
    else
      _mm256_stream_pd(p, v);
    return;
  }
#endif
  if constexpr (bytes == 16) {
    if constexpr (std::is_same_v<T, float>)
      _mm_stream_ps(p, v);
    else
      _mm_stream_pd(p, v);
    return;
  }
#endif
  v.store_aligned(p);
}

// Prefetches the cache lines of [p, p + bytes) shifted prefetch_bytes ahead. Integer
// arithmetic: the address may lie past the end of the array, and a prefetch never faults.
inline void prefetch_ahead(const void* p, std::size_t bytes) {
  const std::uintptr_t first = reinterpret_cast<std::uintptr_t>(p) + prefetch_bytes;
  for (std::uintptr_t a = first; a < first + bytes; a += 64) {
#if POLYKERN_AFFINE_HAS_STREAM
    _mm_prefetch(reinterpret_cast<const char*>(a), _MM_HINT_T0);
#elif defined(__GNUC__)
    __builtin_prefetch(reinterpret_cast<const void*>(a));
#endif
  }
}

// Orders the streaming stores before whatever follows (another thread reading the output).
inline void stream_fence() {
#if POLYKERN_AFFINE_HAS_STREAM
  _mm_sfence();
#endif
}

// Stores N points packed as xyz at p (plain or streaming stores): the load run backwards,
// one permute per component, then two blends per output vector.
template <bool Stream, class T>
inline void store_aos3(const aos3_masks<T>& k, T* p, const batch<T>& x, const batch<T>& y, const batch<T>& z) {
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
inline void load_strided(const T* p, const xsimd::batch<gather_index_type<T>>& lane_offsets, batch<T>& x,
                         batch<T>& y, batch<T>& z) {
  x = batch<T>::gather(p, lane_offsets);
  y = batch<T>::gather(p + 1, lane_offsets);
  z = batch<T>::gather(p + 2, lane_offsets);
}

// Stores N points of any stride lane by lane, leaving the elements between points alone.
template <class T>
inline void store_strided(T* p, std::ptrdiff_t stride, const batch<T>& x, const batch<T>& y, const batch<T>& z) {
  constexpr std::size_t n = batch<T>::size;
  alignas(64) T bx[n], by[n], bz[n];
  x.store_aligned(bx), y.store_aligned(by), z.store_aligned(bz);
  for (std::size_t l = 0; l < n; ++l, p += stride) p[0] = bx[l], p[1] = by[l], p[2] = bz[l];
}

template <class T>
inline xsimd::batch<gather_index_type<T>> lane_offsets(std::ptrdiff_t stride) {
  constexpr std::size_t n = batch<T>::size;
  alignas(64) gather_index_type<T> offsets[n];
  for (std::size_t l = 0; l < n; ++l) offsets[l] = static_cast<gather_index_type<T>>(static_cast<std::ptrdiff_t>(l) * stride);
  return xsimd::batch<gather_index_type<T>>::load_aligned(offsets);
}

// Points [begin, end) of one segment with coefficients c. In3/Out3: the input/output
// stride is 3. Stream: streaming stores for the output (only with Out3, never in place).
template <kind K, bool In3, bool Out3, bool Stream, class T>
void run_range(const job<T>& j, const coefficients<T>& c, std::size_t begin, std::size_t end) {
  static_assert(!Stream || Out3);
  using B = batch<T>;
  constexpr std::size_t n = B::size;
  const body<K, B> f(c);
  const body<K, T> g(c);
  std::size_t i = begin;
  if constexpr (Stream) {
    // Scalar points until the output reaches a batch-aligned address (at most n of them:
    // 3*sizeof(T) bytes per point and T-aligned pointers always get there).
    constexpr std::uintptr_t align = sizeof(T) * n;
    std::size_t k = 0;
    while (k < n && i + k < end && reinterpret_cast<std::uintptr_t>(j.out + 3 * (i + k)) % align != 0) ++k;
    if (reinterpret_cast<std::uintptr_t>(j.out + 3 * (i + k)) % align != 0) {
      run_range<K, In3, Out3, false>(j, c, begin, end);  // cannot align (never for T-aligned data)
      return;
    }
    run_scalar_range(j, g, i, i + k);
    i += k;
  }
  const auto offsets = lane_offsets<T>(j.in_stride);
  const aos3_masks<T> masks;
  const std::size_t block_bytes = n * static_cast<std::size_t>(j.in_stride) * sizeof(T);
  for (; i + n <= end; i += n) {
    const T* p = j.in + static_cast<std::ptrdiff_t>(i) * j.in_stride;
    T* q = j.out + static_cast<std::ptrdiff_t>(i) * j.out_stride;
    prefetch_ahead(p, block_bytes);
    B x, y, z, ox, oy, oz;
    if constexpr (In3)
      load_aos3(masks, p, x, y, z);
    else
      load_strided(p, offsets, x, y, z);
    f(x, y, z, ox, oy, oz);
    if constexpr (Out3)
      store_aos3<Stream>(masks, q, ox, oy, oz);
    else
      store_strided(q, j.out_stride, ox, oy, oz);
  }
  run_scalar_range(j, g, i, end);
}

// The range function for this job's kind, strides and store mode.
template <class T>
using range_fn = void (*)(const job<T>&, const coefficients<T>&, std::size_t, std::size_t);

template <kind K, class T>
range_fn<T> pick_range(bool in3, bool out3, bool stream) {
  if (stream && out3) return in3 ? &run_range<K, true, true, true, T> : &run_range<K, false, true, true, T>;
  if (in3) return out3 ? &run_range<K, true, true, false, T> : &run_range<K, true, false, false, T>;
  return out3 ? &run_range<K, false, true, false, T> : &run_range<K, false, false, false, T>;
}

template <class T>
range_fn<T> pick_range(const job<T>& j) {
  const bool stream = !j.in_place() && j.count * 3 * sizeof(T) >= stream_threshold_bytes;
  const bool in3 = j.in_stride == 3, out3 = j.out_stride == 3;
  return j.what == kind::points ? pick_range<kind::points, T>(in3, out3, stream)
                                : pick_range<kind::normals, T>(in3, out3, stream);
}

}  // namespace simd

// The simd backend: one thread, every segment in order.
template <class T>
void run(simd_tag, const exec::simd_policy&, const job<T>& j) {
  const auto range = simd::pick_range(j);
  for (std::size_t s = 0; s < j.matrices.size(); ++s) range(j, j.matrices[s], j.offsets[s], j.offsets[s + 1]);
  simd::stream_fence();
}

}  // namespace polykern::detail::affine

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
