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

#include "fixtures.hpp"
#include "oracles.hpp"
#include "policies.hpp"

namespace polykern::testing {

inline constexpr border all_borders[] = {border::reflect, border::reflect101, border::replicate, border::constant,
                                         border::wrap};

using fixtures::noise_image;

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

using fixtures::as_mat;
using fixtures::cv_depth;

}  // namespace polykern::testing
