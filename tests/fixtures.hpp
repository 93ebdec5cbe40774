// Fixtures that tests (tests/common.hpp) and benchmarks (bench/common.hpp) share: seeded
// noise images and a cv::Mat header over a polykern image. One definition, so a test's
// input and a benchmark's input are made the same way.
#pragma once
#include <polykern/image.hpp>

#include <cstddef>
#include <cstdint>
#include <random>
#include <type_traits>

#if !defined(POLYKERN_FIXTURES_NO_OPENCV)
#include <opencv2/core.hpp>
#endif

namespace polykern::fixtures {

// Uniform noise with a fixed seed: uint8 in 0..255, floating point in [0, 1).
template <class T>
image<T> noise_image(std::size_t w, std::size_t h, std::size_t c, unsigned seed) {
  image<T> img(w, h, c);
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> unit(0.0f, 1.0f);
  for (std::size_t y = 0; y < h; ++y)
    for (std::size_t x = 0; x < w * c; ++x) {
      if constexpr (std::is_same_v<T, std::uint8_t>) {
        img.view().row(y)[x] = static_cast<std::uint8_t>(rng() % 256);
      } else {
        img.view().row(y)[x] = static_cast<T>(unit(rng));
      }
    }
  return img;
}

#if !defined(POLYKERN_FIXTURES_NO_OPENCV)
template <class T>
constexpr int cv_depth() {
  return std::is_same_v<T, std::uint8_t> ? CV_8U : std::is_same_v<T, float> ? CV_32F : CV_64F;
}

// A cv::Mat header over a polykern image (no copy).
template <class T>
cv::Mat as_mat(const image<T>& im) {
  return cv::Mat(static_cast<int>(im.height()), static_cast<int>(im.width()),
                 CV_MAKETYPE(cv_depth<T>(), static_cast<int>(im.channels())), const_cast<T*>(im.data()),
                 static_cast<std::size_t>(im.row_stride()) * sizeof(T));
}
#endif

}  // namespace polykern::fixtures
