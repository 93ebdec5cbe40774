// Affine transforms of points and normals, openmp backend: the simd ranges over the
// OpenMP executor's fixed chunks of points (static schedule), so results never depend on
// the thread count.
#pragma once
#include "../../detail/affine/engine.hpp"
#include "../../detail/executor.hpp"
#include "../../detail/simd/xsimd.hpp"
#include "../../execution.hpp"

#if POLYKERN_HAS_OPENMP
namespace polykern::detail::affine {

template <class T>
void run(openmp_tag, const auto& policy, const job<T>& j) {
  run_cpu<xsimd::batch<T>>(executor_for(policy), j);
}

}  // namespace polykern::detail::affine
#endif
