// Helpers for the OpenMP backends: a thread count from the policy, and a loop over
// fixed-size chunks whose boundaries never depend on the number of threads, so every
// result is bitwise the same for any thread count (architecture.md).
#pragma once
#include <algorithm>
#include <cstddef>

#include "../execution.hpp"

#if POLYKERN_HAS_OPENMP
#include <omp.h>

namespace polykern::detail {

inline int thread_count(const exec::openmp_policy& policy) {
  return policy.threads > 0 ? policy.threads : omp_get_max_threads();
}

// Calls body(begin, end) for consecutive chunks of [0, count) of `chunk` items each,
// spread over the policy's threads. Exceptions must not escape `body`.
template <class Body>
void parallel_chunks(const exec::openmp_policy& policy, std::size_t count, std::size_t chunk, Body&& body) {
  if (count == 0) return;
  chunk = std::max<std::size_t>(chunk, 1);
  const std::ptrdiff_t chunks = static_cast<std::ptrdiff_t>((count + chunk - 1) / chunk);
  const int threads = static_cast<int>(std::min<std::ptrdiff_t>(thread_count(policy), chunks));
#pragma omp parallel for num_threads(threads) schedule(static)
  for (std::ptrdiff_t i = 0; i < chunks; ++i) {
    const std::size_t begin = static_cast<std::size_t>(i) * chunk;
    body(begin, std::min(begin + chunk, count));
  }
}

}  // namespace polykern::detail
#endif
