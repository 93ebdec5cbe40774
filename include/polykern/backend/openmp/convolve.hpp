// Convolution on the openmp policy: the simd engine over fixed-size chunks of rows (and of
// FFT rows and columns) spread over OpenMP threads. Chunk boundaries never depend on the
// thread count, so results are bitwise the same for any number of threads.
#pragma once
#include "../../execution.hpp"
#if POLYKERN_HAS_OPENMP
#include <xsimd/xsimd.hpp>

#include <span>

#include "../../detail/convolve_cpu_run.hpp"
#include "../../detail/parallel.hpp"

namespace polykern::detail::conv {

template <class In, class Out>
void run(openmp_tag, const exec::openmp_policy& policy, const request& req, std::span<const job<In, Out>> jobs) {
  const auto parallel = [&](std::size_t count, std::size_t chunk, auto&& body) {
    parallel_chunks(policy, count, chunk, body);
  };
  run_cpu<xsimd::batch<float>>(parallel, req, jobs);
}

}  // namespace polykern::detail::conv
#endif
