// Oracles shared by the test files: written as literally as their definitions, and never
// through the library code they check.
#pragma once
#include <cstddef>

#include <polykern/border.hpp>

namespace polykern::testing {

// OpenCV's borderInterpolate as the loops of its definition (not border.hpp's closed forms).
inline std::ptrdiff_t literal_border(std::ptrdiff_t p, std::ptrdiff_t n, border mode) {
  if (p >= 0 && p < n) return p;
  switch (mode) {
    case border::replicate: return p < 0 ? 0 : n - 1;
    case border::constant: return -1;
    case border::wrap:
      while (p < 0) p += n;
      return p % n;
    case border::reflect:
    case border::reflect101: {
      if (n == 1) return 0;
      const std::ptrdiff_t delta = mode == border::reflect101;
      do {
        p = p < 0 ? -p - 1 + delta : n - 1 - (p - n) - delta;
      } while (p < 0 || p >= n);
      return p;
    }
  }
  return -2;
}

}  // namespace polykern::testing
