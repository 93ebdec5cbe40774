// KD-tree, scalar policy: every plan (build, radius, knn) with one-lane bodies on the
// calling thread. The engine is detail/kdtree/ (docs/smooth.md).
#pragma once
#include "../../detail/executor.hpp"
#include "../../detail/kdtree/plans.hpp"
#include "../../execution.hpp"

namespace polykern::detail::kd {

template <class Plan>
auto run(scalar_tag, const auto&, const Plan& plan) {
  return run_cpu<typename Plan::value_type>(serial_executor{}, plan);
}

}  // namespace polykern::detail::kd
