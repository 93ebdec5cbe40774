// What every family's tests share: the policy list (policies.hpp), the literal oracles
// (oracles.hpp), seeded noise images and OpenCV adapters. One place, so a fixture is never
// written twice across test files.
#pragma once
#include <opencv2/core.hpp>
#include <polykern/border.hpp>
#include <polykern/image.hpp>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <random>
#include <type_traits>

#include "oracles.hpp"
#include "policies.hpp"

namespace polykern::testing {

inline constexpr border all_borders[] = {border::reflect, border::reflect101, border::replicate, border::constant,
                                         border::wrap};

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

inline int cv_border(border b) {
  switch (b) {
    case border::reflect: return cv::BORDER_REFLECT;
    case border::reflect101: return cv::BORDER_REFLECT_101;
    case border::replicate: return cv::BORDER_REPLICATE;
    case border::constant: return cv::BORDER_CONSTANT;
    case border::wrap: return cv::BORDER_WRAP;
  }
  return -1;
}

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

}  // namespace polykern::testing
