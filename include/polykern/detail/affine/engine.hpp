// Affine transforms of points and normals: the engine. One per-point body (a template over
// V = T or xsimd::batch<T>), the point ranges that apply it (scalar, or batches with the
// stride-3 shuffles / gathers of detail/simd/points.hpp and streaming stores), and run_cpu,
// which runs the ranges over fixed chunks of points on an executor (detail/executor.hpp).
// A chunk that spans several segments of a batched call runs each piece with that
// segment's coefficients, so a batched call is one parallel region however many segments
// it has. Chunk boundaries, and with them every result bit, never depend on the thread count.
#pragma once
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "../simd/diagnostics.hpp"
#include "../simd/xsimd.hpp"
#include "../simd/fma.hpp"
#include "../simd/points.hpp"
#include "../simd/stream.hpp"
#include "plan.hpp"

POLYKERN_SIMD_DIAGNOSTICS_PUSH
namespace polykern::detail::affine {

// ---- the one body ------------------------------------------------------------------------

// 0 where c holds, else v: a ternary for scalars, select() (found by ADL) for batches.
template <class C, class V>
inline V zero_where(const C& c, const V& v) {
  if constexpr (std::is_same_v<C, bool>)
    return c ? V(0) : v;
  else
    return select(c, V(0), v);
}

// The per-point transform, written once for V = T (scalar) and V = xsimd::batch<T>.
// The coefficients are broadcast into V once per segment. The operation order (nested
// fma, then one division by the square root) is the same for every V, so the simd and
// openmp results equal the scalar ones wherever the target has a hardware fma.
template <kind K, class V>
struct body {
  V m[12];

  template <class T>
  explicit body(const coefficients<T>& c) {
    for (int i = 0; i < 12; ++i) m[i] = V(c.m[i]);
  }

  void operator()(const V& x, const V& y, const V& z, V& ox, V& oy, V& oz) const {
    using std::sqrt;
    const auto fma = [](const V& a, const V& b, const V& c) { return fused_multiply_add(a, b, c); };
    if constexpr (K == kind::points) {
      ox = fma(m[0], x, fma(m[1], y, fma(m[2], z, m[3])));
      oy = fma(m[4], x, fma(m[5], y, fma(m[6], z, m[7])));
      oz = fma(m[8], x, fma(m[9], y, fma(m[10], z, m[11])));
    } else {
      const V a = fma(m[0], x, fma(m[1], y, m[2] * z));
      const V b = fma(m[4], x, fma(m[5], y, m[6] * z));
      const V c = fma(m[8], x, fma(m[9], y, m[10] * z));
      const V len2 = fma(a, a, fma(b, b, c * c));
      const V inv = V(1) / sqrt(len2);
      // A zero normal stays zero (and a NaN one stays NaN).
      const auto zero = len2 == V(0);
      ox = zero_where(zero, a * inv);
      oy = zero_where(zero, b * inv);
      oz = zero_where(zero, c * inv);
    }
  }
};

// Scalar loop over points [begin, end) of one segment.
template <kind K, class T>
inline void run_scalar_range(const job<T>& j, const body<K, T>& coefficients, std::size_t begin, std::size_t end) {
  // A local copy: the stores through q could alias the caller's coefficients, and -O2
  // would then reload all twelve after every point (-O3 versions the loop instead).
  const body<K, T> f = coefficients;
  T* const out = j.out;
  const T* const in = j.in;
  const std::ptrdiff_t in_stride = j.in_stride, out_stride = j.out_stride;
  for (std::size_t i = begin; i < end; ++i) {
    const T* p = in + static_cast<std::ptrdiff_t>(i) * in_stride;
    T* q = out + static_cast<std::ptrdiff_t>(i) * out_stride;
    T x, y, z;
    f(p[0], p[1], p[2], x, y, z);  // reads all three before writing: in place is safe
    q[0] = x, q[1] = y, q[2] = z;
  }
}

// Outputs of at least this many bytes (and not in place) use streaming stores: far beyond
// the per-core caches, where the output would be evicted before anyone reads it anyway.
inline constexpr std::size_t stream_threshold_bytes = std::size_t{8} << 20;

// Input is prefetched this many bytes ahead. The loop body is long (about 35 instructions
// per 16 points with AVX-512), so the out-of-order window alone keeps too few cache misses
// in flight; on the CI-class machine, prefetching 4 KiB ahead took W7 at 10M points from
// 1.6x to 1.1x the time of memcpy (2 to 8 KiB all within a few percent).
inline constexpr std::size_t prefetch_bytes = 4096;

// The range function for this job's kind, strides and store mode.
template <class T>
using range_fn = void (*)(const job<T>&, const coefficients<T>&, std::size_t, std::size_t);

// Points [begin, end) of one segment with coefficients c. In3/Out3: the input/output
// stride is 3. Stream: streaming stores for the output (only with Out3, never in place).
template <kind K, bool In3, bool Out3, bool Stream, class T>
void vector_range(const job<T>& j, const coefficients<T>& c, std::size_t begin, std::size_t end) {
  static_assert(!Stream || Out3);
  using B = xsimd::batch<T>;
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
      vector_range<K, In3, Out3, false>(j, c, begin, end);  // cannot align (never for T-aligned data)
      return;
    }
    run_scalar_range(j, g, i, i + k);
    i += k;
  }
  // Gathers while every lane's offset fits their index type, lane by lane beyond.
  const bool gather = simd::gather_offsets_fit<T>(j.in_stride);
  const auto offsets = simd::lane_offsets<T>(gather ? j.in_stride : 0);
  const simd::aos3_masks<T> masks;
  const std::size_t block_bytes = n * static_cast<std::size_t>(j.in_stride) * sizeof(T);
  for (; i + n <= end; i += n) {
    const T* p = j.in + static_cast<std::ptrdiff_t>(i) * j.in_stride;
    T* q = j.out + static_cast<std::ptrdiff_t>(i) * j.out_stride;
    simd::prefetch_ahead(p, block_bytes, prefetch_bytes);
    B x, y, z, ox, oy, oz;
    if constexpr (In3)
      simd::load_aos3(masks, p, x, y, z);
    else if (gather)
      simd::load_strided(p, offsets, x, y, z);
    else
      simd::load_lane_by_lane(p, j.in_stride, x, y, z);
    f(x, y, z, ox, oy, oz);
    if constexpr (Out3)
      simd::store_aos3<Stream>(masks, q, ox, oy, oz);
    else
      simd::store_strided(q, j.out_stride, ox, oy, oz);
  }
  run_scalar_range(j, g, i, end);
}


template <kind K, class T>
range_fn<T> pick_vector_range(bool in3, bool out3, bool stream) {
  if (stream && out3) return in3 ? &vector_range<K, true, true, true, T> : &vector_range<K, false, true, true, T>;
  if (in3) return out3 ? &vector_range<K, true, true, false, T> : &vector_range<K, true, false, false, T>;
  return out3 ? &vector_range<K, false, true, false, T> : &vector_range<K, false, false, false, T>;
}

template <class T>
range_fn<T> pick_vector_range(const job<T>& j) {
  const bool stream = !j.in_place() && j.count * 3 * sizeof(T) >= stream_threshold_bytes;
  const bool in3 = j.in_stride == 3, out3 = j.out_stride == 3;
  return j.what == kind::points ? pick_vector_range<kind::points, T>(in3, out3, stream)
                                : pick_vector_range<kind::normals, T>(in3, out3, stream);
}

template <kind K, class T>
void scalar_range(const job<T>& j, const coefficients<T>& c, std::size_t begin, std::size_t end) {
  run_scalar_range(j, body<K, T>(c), begin, end);
}

// The range function of this job for V = T (scalar) or a batch.
template <class V, class T>
range_fn<T> pick_range(const job<T>& j) {
  if constexpr (std::is_same_v<V, T>)
    return j.what == kind::points ? &scalar_range<kind::points, T> : &scalar_range<kind::normals, T>;
  else
    return pick_vector_range(j);
}

// Points per chunk: 48 KiB of float xyz, large enough to amortise the scheduling and
// small enough to balance two to a few dozen threads on a 1M-point call.
inline constexpr std::size_t chunk_points = 4096;

// Runs the job on `executor`: fixed chunks of points, each cut at segment boundaries.
template <class V, class Executor, class T>
void run_cpu(const Executor& executor, const job<T>& j) {
  const range_fn<T> range = pick_range<V>(j);
  executor.chunks(j.count, chunk_points, [&](std::size_t begin, std::size_t end) {
    for_each_piece(j, begin, end, [&](std::size_t b, std::size_t e, std::size_t s) { range(j, j.matrices[s], b, e); });
    if constexpr (!std::is_same_v<V, T>) simd::stream_fence();
  });
}

}  // namespace polykern::detail::affine
POLYKERN_SIMD_DIAGNOSTICS_POP
