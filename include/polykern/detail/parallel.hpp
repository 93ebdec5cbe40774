// Transitional: the OpenMP helpers the backends used before detail/executor.hpp. They now
// forward to the one executor; new code calls executor_for(policy) directly.
#pragma once
#include <cstddef>

#include "executor.hpp"

#if POLYKERN_HAS_OPENMP
namespace polykern::detail {

inline int thread_count(const exec::openmp_policy& policy) { return executor_for(policy).threads(); }

template <class Body>
void parallel_chunks(const exec::openmp_policy& policy, std::size_t count, std::size_t chunk, Body&& body) {
  executor_for(policy).chunks(count, chunk, body);
}

}  // namespace polykern::detail
#endif
