// KD-tree, openmp policy: the simd bodies on the policy's threads. Every phase (the
// build's Morton codes, sort passes and blocks; the queries, ~512 at a time) runs over
// chunks fixed by the data, each writing its own output, so results are bitwise the same
// for any thread count; chunks are handed out one at a time (dynamic), which only
// balances the load. The engine is detail/kdtree/ (docs/smooth.md).
#pragma once
#include "../../detail/executor.hpp"
#include "../../detail/kdtree/plans.hpp"
#include "../../detail/kdtree/simd_lanes.hpp"
#include "../../execution.hpp"

#if POLYKERN_HAS_OPENMP
namespace polykern::detail::kd {

template <class Plan>
auto run(openmp_tag, const exec::openmp_policy& policy, const Plan& plan) {
  return run_cpu<batch<typename Plan::value_type>>(executor_for(policy, /*dynamic=*/true), plan);
}

}  // namespace polykern::detail::kd
#endif
