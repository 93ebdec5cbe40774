// Image warps, openmp backend: the simd traversal over the OpenMP executor. Fixed chunks
// of rows handed out dynamically: which thread computes a row never changes its value, and
// a thread the OS has descheduled (an encoder running next to us, other jobs) does not
// hold a static share of the rows hostage. Exceptions reach the caller (detail/executor.hpp).
#pragma once
#include "../../detail/executor.hpp"
#include "../simd/warp.hpp"

#if POLYKERN_HAS_OPENMP
namespace polykern::detail::warp {

// Below this many destination pixels a parallel region costs more than it saves (and on a
// loaded machine waiting for a second thread can cost milliseconds): run on this thread.
inline constexpr std::size_t min_parallel_pixels = 32768;

template <class T>
void run(openmp_tag, const auto& policy, const plan<T>& p) {
  if (p.dst.width * p.dst.height < min_parallel_pixels)
    run_cpu<simd_paths>(serial_executor{}, p);
  else
    run_cpu<simd_paths>(executor_for(policy, /*dynamic=*/true), p);
}

}  // namespace polykern::detail::warp
#endif
