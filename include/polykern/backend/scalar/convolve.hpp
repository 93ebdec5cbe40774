// Convolution on the scalar policy: the CPU engine instantiated with one float lane
// (blocks of one row, no transposes), on the calling thread. The readable reference.
#pragma once
#include <span>

#include "../../detail/convolve_cpu_run.hpp"
#include "../../execution.hpp"

namespace polykern::detail::conv {

template <class Policy, class In, class Out>
void run(scalar_tag, const Policy&, const request& req, std::span<const job<In, Out>> jobs) {
  run_cpu<float>(sequential_chunks{}, req, jobs);
}

}  // namespace polykern::detail::conv
