// Convolution on the openmp policy: the simd engine over fixed-size chunks of rows (and of
// FFT rows and columns) spread over the policy's OpenMP team. Chunk boundaries never depend
// on the thread count, so results are bitwise the same for any number of threads.
#pragma once
#include "../../execution.hpp"
#if POLYKERN_HAS_OPENMP
#include "../../detail/convolve/cpu.hpp"
#include "../../detail/executor.hpp"
#include "../../detail/simd/xsimd.hpp"

namespace polykern::detail::conv {

template <class In, class Out, bool Dense>
void run(openmp_tag, const auto& policy, const plan<In, Out, Dense>& work) {
  run_cpu<xsimd::batch<float>>(executor_for(policy), work);
}

}  // namespace polykern::detail::conv
#endif
