// The affine matrices every family shares: affine3 (3D points, the affine kernels) and
// affine2 (image coordinates, warp_affine / compose / device_tile). A header of its own so
// that warp and the Vulkan device objects name them without including the affine family.
#pragma once
#include "error.hpp"

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

// The affine3 of a row-major 4x4 homogeneous matrix. The last row must be (0, 0, 0, 1):
// a projective matrix is not affine (invalid_argument otherwise).
template <class T>
affine3<T> make_affine3(const T (&m)[4][4]) {
  detail::require(m[3][0] == 0 && m[3][1] == 0 && m[3][2] == 0 && m[3][3] == 1, "make_affine3",
                  "last row is (", m[3][0], ", ", m[3][1], ", ", m[3][2], ", ", m[3][3], "); must be (0, 0, 0, 1)");
  affine3<T> a;
  for (int r = 0; r < 3; ++r)
    for (int c = 0; c < 4; ++c) a.m[r][c] = m[r][c];
  return a;
}

}  // namespace polykern
