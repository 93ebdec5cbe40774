// KD-tree, simd policy: every plan (build, radius, knn) with the bodies over xsimd
// batches, on the calling thread. The engine is detail/kdtree/ (docs/smooth.md).
#pragma once
#include "../../detail/executor.hpp"
#include "../../detail/kdtree/plans.hpp"
#include "../../detail/kdtree/simd_lanes.hpp"
#include "../../execution.hpp"

namespace polykern::detail::kd {

template <class Plan>
auto run(simd_tag, const auto&, const Plan& plan) {
  return run_cpu<batch<typename Plan::value_type>>(serial_executor{}, plan);
}

}  // namespace polykern::detail::kd
