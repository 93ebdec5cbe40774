// The 2D transforms of overlap-save convolution on tiles of rows x cols samples, with the
// lane engine (lanes.hpp). A tile carries two real images at once, as the real and the
// imaginary part (the kernel is real, so the two products come back apart: the packing
// that saves the factor 2 a real-to-complex transform saves).
//
// Spectrum layout ("strips"): the columns in strips of L = lanes<V>; strip s holds, for
// each row r, one vector of the columns sL..sL+L-1 at ((s * padded_rows) + r) * L. So
//   forward_rows   fills L tile rows (row-major, as images are), transposes L x L blocks
//                  into lane-major order, runs the row FFTs with one row per lane and
//                  transposes back into the strips;
//   columns        runs the column FFTs of one strip in place, one column per lane,
//                  multiplies by the kernel's spectrum and transforms back;
//   inverse_rows   the row-FFT phase in reverse, handing each row back row-major.
// Every phase works on disjoint rows or strips, so any split over threads gives bitwise
// the same result.
#pragma once
#include <algorithm>
#include <cstddef>

#include "../simd/transpose.hpp"
#include "lanes.hpp"

namespace polykern::detail::fft {

template <class V>
class tile_transform {
 public:
  static constexpr std::size_t L = lanes<V>;

  tile_transform(std::size_t rows, std::size_t cols)
      : rows_(rows),
        cols_(cols),
        strips_((cols + L - 1) / L),
        padded_rows_((rows + L - 1) / L * L + L),
        along_rows_(cols),
        along_cols_(rows) {}

  std::size_t rows() const { return rows_; }
  std::size_t cols() const { return cols_; }
  std::size_t strips() const { return strips_; }
  std::size_t row_blocks() const { return (rows_ + L - 1) / L; }
  // Floats in one plane (real or imaginary) of a tile's spectrum.
  std::size_t plane_size() const { return strips_ * padded_rows_ * L; }

  // One thread's buffers: L rows row-major, the same lane-major, the FFT's work array.
  struct scratch {
    aligned_floats rows_re, rows_im, lanes_re, lanes_im, work;
  };
  scratch make_scratch() const {
    const std::size_t wide = strips_ * L * L, longest = std::max(strips_ * L, rows_);
    return {aligned_floats(wide), aligned_floats(wide), aligned_floats(wide), aligned_floats(wide),
            aligned_floats(2 * longest * L)};
  }

  // Rows [block L, block L + L) into the spectrum planes. fill(r, re, im) writes the cols()
  // samples of tile row r < rows(); rows past the tile are zero.
  template <class Fill>
  void forward_rows(std::size_t block, Fill&& fill, float* spec_re, float* spec_im, scratch& s) const {
    const std::size_t r0 = block * L, wide = strips_ * L;
    for (std::size_t l = 0; l < L; ++l) {
      float* re = s.rows_re.data() + l * wide;
      float* im = s.rows_im.data() + l * wide;
      if (r0 + l < rows_) {
        fill(r0 + l, re, im);
      } else {
        std::fill_n(re, cols_, 0.0f), std::fill_n(im, cols_, 0.0f);
      }
    }
    rows_to_lanes(s.rows_re.data(), s.lanes_re.data());
    rows_to_lanes(s.rows_im.data(), s.lanes_im.data());
    along_rows_.template forward<V>(s.lanes_re.data(), s.lanes_im.data(), s.work.data());
    for (std::size_t strip = 0; strip < strips_; ++strip) {
      const std::size_t at = (strip * padded_rows_ + r0) * L;
      transposed_block(s.lanes_re.data() + strip * L * L, spec_re + at);
      transposed_block(s.lanes_im.data() + strip * L * L, spec_im + at);
    }
  }

  // Column FFTs of one strip; with a kernel spectrum (same layout), the product is
  // transformed back. Without one, the strip is left transformed (the kernel's own spectrum).
  void columns(std::size_t strip, float* spec_re, float* spec_im, const float* kernel_re, const float* kernel_im,
               scratch& s) const {
    const std::size_t at = strip * padded_rows_ * L;
    float* re = spec_re + at;
    float* im = spec_im + at;
    along_cols_.template forward<V>(re, im, s.work.data());
    if (!kernel_re) return;
    for (std::size_t i = 0; i < rows_ * L; i += L) {
      const V a = load_lanes<V>(re + i), b = load_lanes<V>(im + i);
      const V kr = load_lanes<V>(kernel_re + at + i), ki = load_lanes<V>(kernel_im + at + i);
      store_lanes(re + i, a * kr - b * ki);
      store_lanes(im + i, a * ki + b * kr);
    }
    along_cols_.template inverse<V>(re, im, s.work.data());
  }

  // Inverse row FFTs of rows [r0, r0 + L) (any r0 < rows()); store(r, re, im) receives the
  // cols() samples of each row r < rows().
  template <class Store>
  void inverse_rows(std::size_t r0, Store&& store, const float* spec_re, const float* spec_im, scratch& s) const {
    const std::size_t wide = strips_ * L;
    for (std::size_t strip = 0; strip < strips_; ++strip) {
      const std::size_t at = (strip * padded_rows_ + r0) * L;
      transposed_block(spec_re + at, s.lanes_re.data() + strip * L * L);
      transposed_block(spec_im + at, s.lanes_im.data() + strip * L * L);
    }
    along_rows_.template inverse<V>(s.lanes_re.data(), s.lanes_im.data(), s.work.data());
    lanes_to_rows(s.lanes_re.data(), s.rows_re.data());
    lanes_to_rows(s.lanes_im.data(), s.rows_im.data());
    for (std::size_t l = 0; l < L && r0 + l < rows_; ++l) store(r0 + l, s.rows_re.data() + l * wide, s.rows_im.data() + l * wide);
  }

 private:
  // to = the transpose of the L x L block at from (both contiguous and aligned).
  static void transposed_block(const float* from, float* to) {
    std::copy_n(from, L * L, to);
    if constexpr (L > 1) transpose_square<L>(to);
  }
  // L rows of strips*L floats -> lane-major (sample k of row l at k*L + l), and back.
  void rows_to_lanes(const float* rows, float* lanes_out) const {
    const std::size_t wide = strips_ * L;
    for (std::size_t strip = 0; strip < strips_; ++strip) {
      float* block = lanes_out + strip * L * L;
      for (std::size_t l = 0; l < L; ++l) std::copy_n(rows + l * wide + strip * L, L, block + l * L);
      if constexpr (L > 1) transpose_square<L>(block);
    }
  }
  void lanes_to_rows(float* lanes_in, float* rows) const {
    const std::size_t wide = strips_ * L;
    for (std::size_t strip = 0; strip < strips_; ++strip) {
      float* block = lanes_in + strip * L * L;
      if constexpr (L > 1) transpose_square<L>(block);
      for (std::size_t l = 0; l < L; ++l) std::copy_n(block + l * L, L, rows + l * wide + strip * L);
    }
  }

  std::size_t rows_, cols_, strips_, padded_rows_;
  plan along_rows_, along_cols_;  // FFTs of length cols (one per row) and rows (one per column)
};

}  // namespace polykern::detail::fft
