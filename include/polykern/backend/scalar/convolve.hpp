// Convolution on the scalar policy: the CPU engine instantiated with one float lane
// (blocks of one row, no transposes), on the calling thread. The readable reference.
#pragma once
#include "../../detail/convolve/cpu.hpp"
#include "../../detail/executor.hpp"
#include "../../execution.hpp"

namespace polykern::detail::conv {

template <class In, class Out, bool Dense>
void run(scalar_tag, const auto&, const plan<In, Out, Dense>& work) {
  run_cpu<float>(serial_executor{}, work);
}

}  // namespace polykern::detail::conv
