// Convolution on the simd policy: the CPU engine over xsimd::batch<float> (16 lanes with
// AVX-512), on the calling thread.
#pragma once
#include "../../detail/convolve/cpu.hpp"
#include "../../detail/executor.hpp"
#include "../../detail/simd/xsimd.hpp"
#include "../../execution.hpp"

namespace polykern::detail::conv {

template <class In, class Out, bool Dense>
void run(simd_tag, const auto&, const plan<In, Out, Dense>& work) {
  run_cpu<xsimd::batch<float>>(serial_executor{}, work);
}

}  // namespace polykern::detail::conv
