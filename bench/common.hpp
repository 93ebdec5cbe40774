// What every benchmark binary shares: seeded inputs, the OpenCV adapters, the peers'
// thread count (as many as the openmp policy) and row naming (docs/contributing.md).
#pragma once
#include <benchmark/benchmark.h>
#include <polykern/execution.hpp>
#include <polykern/image.hpp>

#include <cstddef>
#include <cstdint>
#include <random>
#include <string>
#include <type_traits>

#if POLYKERN_HAS_OPENMP
#include <omp.h>
#endif
#if !POLYKERN_BENCH_HAS_OPENCV
#define POLYKERN_FIXTURES_NO_OPENCV 1
#endif
#include "../tests/fixtures.hpp"

namespace polykern::bench {

// Threads of the openmp policy (and so of every peer).
inline int policy_threads() {
#if POLYKERN_HAS_OPENMP
  return omp_get_max_threads();
#else
  return 1;
#endif
}

using fixtures::noise_image;

inline std::string size_name(std::size_t w, std::size_t h) { return std::to_string(w) + "x" + std::to_string(h); }

#if POLYKERN_BENCH_HAS_OPENCV
using fixtures::as_mat;
// Peers run on as many threads as the openmp policy; call once before registering rows.
inline int set_peer_threads() {
  const int n = policy_threads();
  cv::setNumThreads(n);
  return n;
}
#endif

}  // namespace polykern::bench
