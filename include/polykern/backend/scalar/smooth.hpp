// Gaussian smoothing, scalar policy: every plan (gaussian_smooth, smooth_neighbors) on the
// calling thread, smooth_neighbors' queries with one-lane bodies. The engine is
// detail/smooth/ (docs/smooth.md).
#pragma once
#include "../../detail/executor.hpp"
#include "../../detail/smooth/plans.hpp"
#include "../../execution.hpp"

namespace polykern::detail::sm {

template <class Plan>
void run(scalar_tag, const auto&, const Plan& plan) {
  run_cpu<typename Plan::value_type>(serial_executor{}, plan);
}

}  // namespace polykern::detail::sm
