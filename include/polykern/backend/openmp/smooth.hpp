// Gaussian smoothing, openmp policy: the simd bodies on the policy's threads, over chunks
// of rows fixed by the data (1024 rows of a graph; ~512 points of smooth_neighbors' own
// graph), so the result is bitwise the same for any thread count.
#pragma once
#include "../../detail/executor.hpp"
#include "../../detail/kdtree/simd_lanes.hpp"
#include "../../detail/smooth/plans.hpp"
#include "../../execution.hpp"

#if POLYKERN_HAS_OPENMP
namespace polykern::detail::sm {

template <class Plan>
void run(openmp_tag, const exec::openmp_policy& policy, const Plan& plan) {
  run_cpu<kd::batch<typename Plan::value_type>>(executor_for(policy, /*dynamic=*/true), plan);
}

}  // namespace polykern::detail::sm
#endif
