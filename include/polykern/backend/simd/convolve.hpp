// Convolution on the simd policy: the CPU engine over xsimd::batch<float> (16 lanes with
// AVX-512), on the calling thread.
#pragma once
#include <xsimd/xsimd.hpp>

#include <span>

#include "../../detail/convolve_cpu_run.hpp"
#include "../../execution.hpp"

namespace polykern::detail::conv {

template <class Policy, class In, class Out>
void run(simd_tag, const Policy&, const request& req, std::span<const job<In, Out>> jobs) {
  run_cpu<xsimd::batch<float>>(sequential_chunks{}, req, jobs);
}

}  // namespace polykern::detail::conv
