// Affine transforms of points and normals, part 3: the openmp backend. The simd path over
// fixed-size point ranges (detail::parallel_chunks), so chunk boundaries, and with them
// every result bit, do not depend on the thread count. A chunk may span several segments
// of a batched call: it runs each piece with that segment's coefficients.
#pragma once
#include <cstddef>

#include "../../detail/parallel.hpp"
#include "../simd/affine.hpp"

#if POLYKERN_HAS_OPENMP
namespace polykern::detail::affine {

// Points per chunk: 48 KiB of float xyz, large enough to amortise the scheduling and
// small enough to balance two to a few dozen threads on a 1M-point call.
inline constexpr std::size_t openmp_chunk_points = 4096;

template <class T>
void run(openmp_tag, const exec::openmp_policy& policy, const job<T>& j) {
  const auto range = simd::pick_range(j);
  parallel_chunks(policy, j.count, openmp_chunk_points, [&](std::size_t begin, std::size_t end) {
    for_each_piece(j, begin, end, [&](std::size_t b, std::size_t e, std::size_t s) { range(j, j.matrices[s], b, e); });
    simd::stream_fence();
  });
}

}  // namespace polykern::detail::affine
#endif
