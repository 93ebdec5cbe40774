// Image warps, part 3: the OpenMP backend. The SIMD rows over fixed chunks of destination
// rows (detail::parallel_chunks): every row is computed by the same code whatever thread
// runs it, so results are bitwise those of the simd (and scalar) policy for any thread count.
#pragma once
#include "../../detail/parallel.hpp"
#include "../simd/warp.hpp"

#if POLYKERN_HAS_OPENMP
namespace polykern::detail::warp {

inline constexpr std::size_t rows_per_chunk = 8;
// Below this many destination pixels a parallel region costs more than it saves (and on a
// loaded machine waiting for a second thread can cost milliseconds): run on this thread.
// The rows are computed by the same code either way.
inline constexpr std::size_t min_parallel_pixels = 32768;

template <class T>
void run(openmp_tag, const exec::openmp_policy& policy, const std::vector<job<T>>& jobs, image_view<T> dst) {
  const auto aux = prepare_simd(jobs, dst.channels);
  if (dst.width * dst.height < min_parallel_pixels) {
    scratch s;
    draw_rows_simd(jobs, aux, dst, 0, dst.height, s);
    return;
  }
  parallel_chunks(policy, dst.height, rows_per_chunk, [&](std::size_t begin, std::size_t end) {
    scratch s;
    draw_rows_simd(jobs, aux, dst, begin, end, s);
  });
}

}  // namespace polykern::detail::warp
#endif
