// Batched affine transforms of points and normals (api.md §6, first part).
#pragma once
#include <cstddef>

#include "error.hpp"
#include "execution.hpp"
#include "view.hpp"

namespace polykern {

// Row-major [R | t]: p' = R p + t.
template <class T>
struct affine3 {
  T m[3][4];
};

// Row-major 2x3 [A | t] mapping (x, y) to A (x, y) + t, as OpenCV's warpAffine matrix.
template <class T>
struct affine2 {
  T m[2][3];
};

}  // namespace polykern
