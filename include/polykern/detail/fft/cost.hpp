// What the FFT method costs, for the tile choice and conv_method::automatic
// (detail/convolve/cost.hpp calls these). Nanoseconds on one core of the CI-class machine
// (AVX-512, 1 MB L2), fitted to run_fft over tile sizes 128..3200 (docs/convolve.md).
#pragma once
#include <cmath>
#include <cstddef>

namespace polykern::detail::fft {

// One pair of real rows x cols tiles through the lane engine: forward 2D FFT, product,
// inverse 2D FFT, fill and store. About 0.22 ns * log2(samples) per sample while a tile's
// spectrum (8 bytes a sample) stays in L2; the transforms then stream from memory, which
// the second factor charges.
inline double lanes_pair_cost_ns(std::size_t rows, std::size_t cols) {
  const double samples = static_cast<double>(rows * cols);
  return 0.22 * samples * std::log2(samples) * (1.0 + samples / 262144.0) + 20e3;
}

// One real rows x cols tile through FFTW's real-to-complex plans (FFTW_ESTIMATE): forward,
// product, inverse, fill and store.
inline double fftw_tile_cost_ns(std::size_t rows, std::size_t cols) {
  const double samples = static_cast<double>(rows * cols);
  return 0.34 * samples * std::log2(samples) * (1.0 + samples / 1048576.0) + 5e3;
}

// The FFT method's time for `tiles` real tiles of rows x cols, the kernel's spectrum
// included, with the backend this build uses.
inline double method_cost_ns(std::size_t tiles, std::size_t rows, std::size_t cols) {
#if POLYKERN_HAS_FFTW
  return static_cast<double>(tiles + 1) * fftw_tile_cost_ns(rows, cols);
#else
  return static_cast<double>((tiles + 1) / 2 + 1) * lanes_pair_cost_ns(rows, cols);
#endif
}

// Reading the source through the border maps and storing each output, per output element.
inline constexpr double per_output_cost_ns = 0.5;

}  // namespace polykern::detail::fft
