// The cost model behind conv_method::automatic, and the FFT method's tile sizes.
//
// Estimated nanoseconds per output element (one channel of one pixel) on one core of the
// CI-class machine (AVX-512, simd policy), fitted to measurements of every method over
// kernel sizes 3..201 on 2000x3000 (docs/convolve.md has the table). The openmp policy
// scales all methods alike, so ratios carry over. The GPU has no FFT; there only direct
// and separable passes compete, whose ratio is taken to be the same.
//   direct:      0.035 ns per tap + 0.8 (loads, stores, the padded rows)
//   separable r: 0.5 + r * (0.014 * (kw + kh + 15) + 0.15)   (+15: 16-row blocks)
//   fft:         per pair of tiles, fft::lanes_pair_cost_ns (detail/fft/cost.hpp)
#pragma once
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <vector>

#include "../fft/cost.hpp"

namespace polykern::detail::conv {

struct fft_tiling {
  std::size_t rows = 0, cols = 0;  // FFT sizes of one tile
  double cost = 0;                 // estimated ns per output element
};

// Sizes whose only prime factors are 2, 3 and 5 (the radices of detail/convolve/fft.hpp).
inline bool fft_friendly(std::size_t n) {
  for (std::size_t p : {2u, 3u, 5u})
    while (n % p == 0 && n > 1) n /= p;
  return n == 1;
}

// The tile sizes that minimise the FFT method's estimated cost for a width x height image
// with `planes` channels and a kw x kh kernel. Two real tiles share one complex FFT. Tiles
// stay under 2^23 complex samples (64 MB) when any tiling does; a kernel too large for that
// (about 2900x2900 and up, whatever the image) gets the smallest tile that holds it, so a
// tiling always exists.
inline fft_tiling choose_fft_tiling(std::size_t width, std::size_t height, std::size_t planes, std::size_t kw,
                                    std::size_t kh) {
  const auto candidates = [](std::size_t k, std::size_t extent) {
    std::vector<std::size_t> sizes;
    const std::size_t top = std::max<std::size_t>(extent + k - 1, 2 * k);
    for (std::size_t n = k; n <= top + 64 && sizes.size() < 400; ++n)
      if (fft_friendly(n)) sizes.push_back(n);
    return sizes;
  };
  const auto rows = candidates(kh, height), cols = candidates(kw, width);
  constexpr std::size_t max_samples = std::size_t{1} << 23;
  const bool any_fits = rows.front() * cols.front() <= max_samples;
  fft_tiling best;
  best.cost = HUGE_VAL;
  for (std::size_t n : rows) {
    const std::size_t valid_rows = n - kh + 1;
    const std::size_t tiles_y = (height + valid_rows - 1) / valid_rows;
    for (std::size_t m : cols) {
      if (any_fits ? n * m > max_samples : n != rows.front() || m != cols.front()) continue;
      const std::size_t valid_cols = m - kw + 1;
      const std::size_t tiles_x = (width + valid_cols - 1) / valid_cols;
      const double cost = fft::method_cost_ns(tiles_y * tiles_x * planes, n, m) /
                              static_cast<double>(width * height * planes) +
                          fft::per_output_cost_ns;
      if (cost < best.cost) best = {n, m, cost};
    }
  }
  return best;
}

inline double direct_cost(std::size_t kw, std::size_t kh) { return 0.035 * static_cast<double>(kw * kh) + 0.8; }
inline double separable_term_cost(std::size_t kw, std::size_t kh) {
  return 0.014 * static_cast<double>(kw + kh + 15) + 0.15;
}
// Nanoseconds per rank step of the rank analysis (detail/convolve/rank.hpp): a scan and a
// rank-one update of the kw x kh residual.
inline double rank_analysis_cost(std::size_t kw, std::size_t kh) { return 1.0 * static_cast<double>(kw * kh); }
inline double separable_cost(std::size_t kw, std::size_t kh, std::size_t terms = 1) {
  return 0.5 + static_cast<double>(terms) * separable_term_cost(kw, kh);
}

}  // namespace polykern::detail::conv
