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
  // Fixed chunks of rows, handed out dynamically: which thread computes a row never changes
  // its value, and a thread the OS has descheduled (an encoder running next to us, other
  // jobs) does not hold a static share of the rows hostage.
  const std::size_t rows = dst.height;
  const auto chunks = static_cast<std::ptrdiff_t>((rows + rows_per_chunk - 1) / rows_per_chunk);
  const int threads = static_cast<int>(std::min<std::ptrdiff_t>(thread_count(policy), chunks));
#pragma omp parallel num_threads(threads)
  {
    scratch s;
#pragma omp for schedule(dynamic, 1)
    for (std::ptrdiff_t i = 0; i < chunks; ++i) {
      const std::size_t begin = static_cast<std::size_t>(i) * rows_per_chunk;
      draw_rows_simd(jobs, aux, dst, begin, std::min(begin + rows_per_chunk, rows), s);
    }
  }
}

}  // namespace polykern::detail::warp
#endif
