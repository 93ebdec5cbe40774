// Gaussian smoothing, simd policy: smooth_neighbors' queries over xsimd batches; the
// weights and passes are the shared loops of detail/smooth/ (their inner loops over
// channels are vectorised by the compiler; the passes are bound by the gathers of
// neighbour rows, not by arithmetic).
#pragma once
#include "../../detail/executor.hpp"
#include "../../detail/kdtree/simd_lanes.hpp"
#include "../../detail/smooth/plans.hpp"
#include "../../execution.hpp"

namespace polykern::detail::sm {

template <class Plan>
void run(simd_tag, const auto&, const Plan& plan) {
  run_cpu<kd::batch<typename Plan::value_type>>(serial_executor{}, plan);
}

}  // namespace polykern::detail::sm
