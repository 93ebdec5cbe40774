// Gaussian taps as OpenCV getGaussianKernel(ksize, sigma, CV_32F) makes them, and the size
// GaussianBlur derives from sigma.
#pragma once
#include <cmath>
#include <cstddef>
#include <vector>

namespace polykern::detail::conv {

// The kernel size GaussianBlur derives from sigma when ksize == 0 (odd; may be huge or
// negative for absurd sigmas: the caller bounds it).
inline long gaussian_auto_size(double sigma, bool uint8_source) {
  return static_cast<long>(std::lround(sigma * (uint8_source ? 3 : 4) * 2 + 1)) | 1L;
}

// Taps exp(-x^2 / (2 sigma^2)) normalised to sum 1, rounded the way OpenCV rounds its
// float kernel (each tap to float, the sum in double, then the scaled taps to float).
// sigma <= 0 means 0.3*((n-1)*0.5 - 1) + 0.8, and then, as OpenCV 4.6 does, n <= 9 uses
// its fixed tables (in 1/256: 256; 64 128 64; 16 64 96 64 16; 8 28 56 72 56 28 8;
// 4 13 30 51 60 51 30 13 4).
inline std::vector<float> gaussian_taps(std::size_t n, double sigma) {
  static constexpr float table[5][9] = {{256},
                                        {64, 128, 64},
                                        {16, 64, 96, 64, 16},
                                        {8, 28, 56, 72, 56, 28, 8},
                                        {4, 13, 30, 51, 60, 51, 30, 13, 4}};
  const bool fixed = n % 2 == 1 && n <= 9 && sigma <= 0;
  const double s = sigma > 0 ? sigma : ((static_cast<double>(n) - 1) * 0.5 - 1) * 0.3 + 0.8;
  const double scale = -0.5 / (s * s);
  std::vector<float> taps(n);
  double sum = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const double x = static_cast<double>(i) - (static_cast<double>(n) - 1) * 0.5;
    taps[i] = fixed ? table[n / 2][i] / 256.0f : static_cast<float>(std::exp(scale * x * x));
    sum += taps[i];
  }
  const double inv = 1.0 / sum;
  for (auto& t : taps) t = static_cast<float>(t * inv);
  return taps;
}

}  // namespace polykern::detail::conv
