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
#if POLYKERN_BENCH_HAS_OPENCV
#include <opencv2/core.hpp>
#endif

namespace polykern::bench {

// Threads of the openmp policy (and so of every peer).
inline int policy_threads() {
#if POLYKERN_HAS_OPENMP
  return omp_get_max_threads();
#else
  return 1;
#endif
}

// Uniform noise with a fixed seed: uint8 in 0..255, float in [0, 1). Timings of these
// kernels do not depend on pixel values.
template <class T>
image<T> noise_image(std::size_t w, std::size_t h, std::size_t c, unsigned seed) {
  image<T> img(w, h, c);
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> unit(0.0f, 1.0f);
  for (std::size_t y = 0; y < h; ++y)
    for (std::size_t e = 0; e < w * c; ++e) {
      if constexpr (std::is_same_v<T, std::uint8_t>) {
        img.view().row(y)[e] = static_cast<std::uint8_t>(rng() % 256);
      } else {
        img.view().row(y)[e] = static_cast<T>(unit(rng));
      }
    }
  return img;
}

inline std::string size_name(std::size_t w, std::size_t h) { return std::to_string(w) + "x" + std::to_string(h); }

#if POLYKERN_BENCH_HAS_OPENCV
// A cv::Mat header over a polykern image (no copy).
template <class T>
cv::Mat as_mat(const image<T>& img) {
  const int depth = std::is_same_v<T, float> ? CV_32F : std::is_same_v<T, double> ? CV_64F : CV_8U;
  return cv::Mat(static_cast<int>(img.height()), static_cast<int>(img.width()),
                 CV_MAKETYPE(depth, static_cast<int>(img.channels())), const_cast<T*>(img.data()),
                 static_cast<std::size_t>(img.row_stride()) * sizeof(T));
}
// Peers run on as many threads as the openmp policy; call once before registering rows.
inline int set_peer_threads() {
  const int n = policy_threads();
  cv::setNumThreads(n);
  return n;
}
#endif

}  // namespace polykern::bench
