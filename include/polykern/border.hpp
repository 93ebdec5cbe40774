// Border modes shared by convolution and warps (api.md §4), with OpenCV's exact index maps.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace polykern {

enum class border {
  reflect,     // fedcba|abcdef|fedcba  OpenCV BORDER_REFLECT, SciPy 'reflect'
  reflect101,  //    dcb|abcd|cba       OpenCV BORDER_REFLECT_101, SciPy 'mirror', PyTorch 'reflect'
  replicate,   //    aaa|abc|ccc        OpenCV BORDER_REPLICATE, SciPy 'nearest'
  constant,    //  vvv|abc|vvv          OpenCV BORDER_CONSTANT with border_spec::value
  wrap,        //     bc|abc|ab         OpenCV BORDER_WRAP, SciPy 'wrap'
};

struct border_spec {
  border mode = border::reflect;
  double value = 0;  // used by border::constant only
};

constexpr std::string_view name(border mode) {
  switch (mode) {
    case border::reflect: return "reflect";
    case border::reflect101: return "reflect101";
    case border::replicate: return "replicate";
    case border::constant: return "constant";
    case border::wrap: return "wrap";
  }
  return "?";
}

namespace detail {

// Maps index p (any integer) into [0, n) for the mode, or returns -1 for border::constant
// outside the image. Reflection repeats as often as needed, so a kernel wider than the
// image is fine, and a dimension of 1 maps every index to 0. Closed forms (O(1)) of
// OpenCV's borderInterpolate loops: reflect has period 2n, reflect101 period 2n-2.
// The index outside [0, n); border_index below keeps the common inside case small enough
// for GCC's -O2 inliner (whole, it stayed a call in every per-pixel loop).
constexpr std::ptrdiff_t border_index_outside(std::ptrdiff_t p, std::ptrdiff_t n, border mode) {
  const auto positive_mod = [](std::ptrdiff_t a, std::ptrdiff_t m) { return ((a % m) + m) % m; };
  switch (mode) {
    case border::replicate: return p < 0 ? 0 : n - 1;
    case border::constant: return -1;
    case border::wrap: return positive_mod(p, n);
    case border::reflect: {
      const std::ptrdiff_t q = positive_mod(p, 2 * n);
      return q < n ? q : 2 * n - 1 - q;
    }
    case border::reflect101: {
      if (n == 1) return 0;
      const std::ptrdiff_t q = positive_mod(p, 2 * n - 2);
      return q < n ? q : 2 * n - 2 - q;
    }
  }
  return -1;
}
constexpr std::ptrdiff_t border_index(std::ptrdiff_t p, std::ptrdiff_t n, border mode) {
  return p >= 0 && p < n ? p : border_index_outside(p, n, mode);
}

}  // namespace detail
}  // namespace polykern
