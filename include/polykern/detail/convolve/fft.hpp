// The FFT method on the CPU: overlap-save tiles. A tile of rows x cols FFT samples covers
// (rows - kh + 1) x (cols - kw + 1) outputs (tile sizes from choose_fft_tiling). Two real
// tiles travel as the real and imaginary parts of one complex tile (the kernel is real, so
// the two results come back apart); the 2D transforms are polykern's lane engine
// (detail/fft/tiles.hpp), or FFTW's real-to-complex plans when built with
// POLYKERN_WITH_FFTW (detail/fft/fftw.hpp).
//
// Threads: with at least 4 pairs of tiles per thread, each thread transforms whole pairs
// (its own spectrum buffers, which stay in its cache); with fewer, the phases of each pair
// are split over the team by rows and strips, when the tiles are large enough to pay for
// three team synchronisations per pair. Either way every output is computed by the
// same operations in the same order, so results are bitwise the same for any team.
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "../../border.hpp"
#include "../../view.hpp"
#include "../executor.hpp"
#include "../fft/tiles.hpp"
#include "cost.hpp"
#include "ops.hpp"
#include "plan.hpp"
#if POLYKERN_HAS_FFTW
#include "../fft/fftw.hpp"
#endif

namespace polykern::detail::conv {

// Where each tile of an image reads and writes: the border-mapped source rows and columns
// of tile row/column r/q, and the store of its valid outputs.
template <class In, class Out>
class fft_tile_io {
 public:
  struct tile {
    std::size_t channel, y0, x0;  // first output pixel
  };

  fft_tile_io(image_view<const In> src, image_view<Out> dst, const image_plan& p, std::size_t rows, std::size_t cols)
      : src_(src),
        dst_(dst),
        mode_(p.border.mode),
        outside_(static_cast<float>(border_value<In>(p.border.value))),
        kw_(p.kernel.width),
        kh_(p.kernel.height),
        valid_rows_(rows - kh_ + 1),
        valid_cols_(cols - kw_ + 1),
        cols_(cols) {
    for (std::size_t c = 0; c < src.channels; ++c)
      for (std::size_t y0 = 0; y0 < src.height; y0 += valid_rows_)
        for (std::size_t x0 = 0; x0 < src.width; x0 += valid_cols_) tiles_.push_back({c, y0, x0});
  }

  const std::vector<tile>& tiles() const { return tiles_; }
  std::size_t valid_rows() const { return valid_rows_; }

  // Source offsets (x * channels + channel, -1 outside a constant border) of a tile's columns.
  std::vector<std::ptrdiff_t> column_map(const tile& t) const {
    std::vector<std::ptrdiff_t> map(cols_);
    const auto W = static_cast<std::ptrdiff_t>(src_.width), C = static_cast<std::ptrdiff_t>(src_.channels);
    for (std::size_t q = 0; q < cols_; ++q) {
      const std::ptrdiff_t x = border_index(static_cast<std::ptrdiff_t>(t.x0 + q) - static_cast<std::ptrdiff_t>(kw_ / 2), W, mode_);
      map[q] = x < 0 ? -1 : x * C + static_cast<std::ptrdiff_t>(t.channel);
    }
    return map;
  }

  // The cols() samples of tile row r into out (O: the vector operations, ops.hpp).
  template <class O>
  void fill(const tile& t, const std::vector<std::ptrdiff_t>& map, std::size_t r, float* out) const {
    const std::ptrdiff_t y = border_index(static_cast<std::ptrdiff_t>(t.y0 + r) - static_cast<std::ptrdiff_t>(kh_ / 2),
                                          static_cast<std::ptrdiff_t>(src_.height), mode_);
    if (y < 0) {
      std::fill_n(out, cols_, outside_);
      return;
    }
    const In* row = src_.row(static_cast<std::size_t>(y));
    const std::ptrdiff_t step = static_cast<std::ptrdiff_t>(src_.channels);
    if (map.front() >= 0 && map.back() == map.front() + static_cast<std::ptrdiff_t>(cols_ - 1) * step) {
      const In* from = row + map.front();  // inside the image: a plain (strided) run
      if (step == 1) {
        widen_run<O>(from, cols_, out);
      } else {
        for (std::size_t q = 0; q < cols_; ++q) out[q] = static_cast<float>(from[static_cast<std::ptrdiff_t>(q) * step]);
      }
      return;
    }
    for (std::size_t q = 0; q < cols_; ++q) out[q] = map[q] >= 0 ? static_cast<float>(row[map[q]]) : outside_;
  }

  // Tile row r (its FFT-sample row) holds outputs from row kh - 1 on: store them.
  template <class O>
  void store(const tile& t, std::size_t r, const float* values) const {
    if (r + 1 < kh_) return;
    const std::size_t y = t.y0 + r - (kh_ - 1);
    if (y >= dst_.height || y >= t.y0 + valid_rows_) return;
    Out* out = dst_.row(y) + t.x0 * dst_.channels + t.channel;
    const std::size_t n = std::min(valid_cols_, dst_.width - t.x0), C = dst_.channels;
    values += kw_ - 1;
    if (C == 1) return narrow_run<O>(values, n, out);
    for (std::size_t q = 0; q < n; ++q) {
      if constexpr (std::is_same_v<Out, std::uint8_t>) {
        out[q * C] = saturate_u8(values[q]);
      } else {
        out[q * C] = values[q];
      }
    }
  }

  // Tile rows that hold outputs of t: [kh - 1, kh - 1 + output_rows(t)).
  std::size_t output_rows(const tile& t) const { return std::min(valid_rows_, src_.height - t.y0); }

 private:
  image_view<const In> src_;
  image_view<Out> dst_;
  border mode_;
  float outside_;
  std::size_t kw_, kh_, valid_rows_, valid_cols_, cols_;
  std::vector<tile> tiles_;
};

// The flipped kernel (correlation -> convolution), scaled by 1/(rows cols), zero-padded to
// tile row r: cols samples.
inline void fill_kernel_row(const kernel2d& k, float scale, std::size_t r, std::size_t cols, float* out) {
  std::fill_n(out, cols, 0.0f);
  if (r >= k.height) return;
  for (std::size_t c = 0; c < k.width; ++c) out[c] = k.at(k.width - 1 - c, k.height - 1 - r) * scale;
}

// Tiles of at least this many samples split their phases over the team.
inline constexpr std::size_t phase_split_samples = std::size_t{1} << 16;

template <class V, class In, class Out, class Executor>
void run_fft_lanes(const Executor& executor, image_view<const In> src, image_view<Out> dst, const image_plan& p,
                   const fft_tiling& tiling) {
  using transform = fft::tile_transform<V>;
  using scratch = typename transform::scratch;
  using O = ops<V>;
  const transform tt(tiling.rows, tiling.cols);
  const fft_tile_io<In, Out> io(src, dst, p, tiling.rows, tiling.cols);
  const auto make_scratch = [&] { return tt.make_scratch(); };
  const std::size_t plane = tt.plane_size(), M = tiling.cols;

  // The kernel's spectrum, once per call.
  fft::aligned_floats kernel_re(plane), kernel_im(plane);
  {
    const float scale = 1.0f / static_cast<float>(tiling.rows * tiling.cols);
    executor.chunks_with(tt.row_blocks(), 1, make_scratch, [&](scratch& s, std::size_t b0, std::size_t b1) {
      const auto fill = [&](std::size_t r, float* re, float* im) {
        fill_kernel_row(p.kernel, scale, r, M, re);
        std::fill_n(im, M, 0.0f);
      };
      for (std::size_t b = b0; b < b1; ++b) tt.forward_rows(b, fill, kernel_re.data(), kernel_im.data(), s);
    });
    executor.chunks_with(tt.strips(), 1, make_scratch, [&](scratch& s, std::size_t s0, std::size_t s1) {
      for (std::size_t i = s0; i < s1; ++i) tt.columns(i, kernel_re.data(), kernel_im.data(), nullptr, nullptr, s);
    });
  }

  const auto& tiles = io.tiles();
  const std::size_t pairs = (tiles.size() + 1) / 2;
  // One pair of tiles, its phases on `ex` (the team, or the calling thread alone).
  const auto run_pair = [&](const auto& ex, std::size_t pair, float* spec_re, float* spec_im) {
    const auto& a = tiles[2 * pair];
    const bool has_b = 2 * pair + 1 < tiles.size();
    const auto& b = has_b ? tiles[2 * pair + 1] : a;
    const auto map_a = io.column_map(a), map_b = io.column_map(b);
    ex.chunks_with(tt.row_blocks(), 1, make_scratch, [&](scratch& s, std::size_t b0, std::size_t b1) {
      const auto fill = [&](std::size_t r, float* re, float* im) {
        io.template fill<O>(a, map_a, r, re);
        if (has_b) {
          io.template fill<O>(b, map_b, r, im);
        } else {
          std::fill_n(im, M, 0.0f);
        }
      };
      for (std::size_t i = b0; i < b1; ++i) tt.forward_rows(i, fill, spec_re, spec_im, s);
    });
    ex.chunks_with(tt.strips(), 1, make_scratch, [&](scratch& s, std::size_t s0, std::size_t s1) {
      for (std::size_t i = s0; i < s1; ++i) tt.columns(i, spec_re, spec_im, kernel_re.data(), kernel_im.data(), s);
    });
    const std::size_t first = p.kernel.height - 1;
    const std::size_t rows = std::max(io.output_rows(a), has_b ? io.output_rows(b) : 0);
    const std::size_t blocks = (rows + transform::L - 1) / transform::L;
    ex.chunks_with(blocks, 1, make_scratch, [&](scratch& s, std::size_t b0, std::size_t b1) {
      const auto store = [&](std::size_t r, const float* re, const float* im) {
        io.template store<O>(a, r, re);
        if (has_b) io.template store<O>(b, r, im);
      };
      for (std::size_t i = b0; i < b1; ++i) tt.inverse_rows(first + i * transform::L, store, spec_re, spec_im, s);
    });
  };

  const auto threads = static_cast<std::size_t>(executor.threads());
  if (threads > 1 && pairs < 4 * threads && tiling.rows * tiling.cols >= phase_split_samples) {
    fft::aligned_floats spec_re(plane), spec_im(plane);
    for (std::size_t i = 0; i < pairs; ++i) run_pair(executor, i, spec_re.data(), spec_im.data());
    return;
  }
  struct pair_buffers {
    fft::aligned_floats re, im;
  };
  executor.chunks_with(
      pairs, 1, [&] { return pair_buffers{fft::aligned_floats(plane), fft::aligned_floats(plane)}; },
      [&](pair_buffers& buf, std::size_t i0, std::size_t i1) {
        for (std::size_t i = i0; i < i1; ++i) run_pair(serial_executor{}, i, buf.re.data(), buf.im.data());
      });
}

#if POLYKERN_HAS_FFTW
// The same tiles through FFTW: one real tile per transform (real-to-complex), whole tiles
// to each thread.
template <class V, class In, class Out, class Executor>
void run_fft_fftw(const Executor& executor, image_view<const In> src, image_view<Out> dst, const image_plan& p,
                  const fft_tiling& tiling) {
  using O = ops<V>;
  const std::size_t N = tiling.rows, M = tiling.cols;
  const fft_tile_io<In, Out> io(src, dst, p, N, M);
  const fft::fftw_plans& plans = fft::fftw_plans_for(N, M);
  fft::fftw_buffers kernel(N, M);
  const float scale = 1.0f / static_cast<float>(N * M);
  for (std::size_t r = 0; r < N; ++r) fill_kernel_row(p.kernel, scale, r, M, kernel.real.get() + r * M);
  fft::forward(plans, kernel);
  const fftwf_complex* k = kernel.spectrum.get();
  const auto& tiles = io.tiles();
  executor.chunks_with(
      tiles.size(), 1, [&] { return fft::fftw_buffers(N, M); },
      [&](fft::fftw_buffers& b, std::size_t t0, std::size_t t1) {
        for (std::size_t t = t0; t < t1; ++t) {
          const auto& tile = tiles[t];
          const auto map = io.column_map(tile);
          for (std::size_t r = 0; r < N; ++r) io.template fill<O>(tile, map, r, b.real.get() + r * M);
          fft::forward(plans, b);
          fftwf_complex* x = b.spectrum.get();
          for (std::size_t i = 0; i < b.spectrum_size(); ++i) {
            const float re = x[i][0] * k[i][0] - x[i][1] * k[i][1], im = x[i][0] * k[i][1] + x[i][1] * k[i][0];
            x[i][0] = re, x[i][1] = im;
          }
          fft::inverse(plans, b);
          const std::size_t first = p.kernel.height - 1;
          for (std::size_t r = first; r < first + io.output_rows(tile); ++r) io.template store<O>(tile, r, b.real.get() + r * M);
        }
      });
}
#endif

template <class V, class In, class Out, class Executor>
void run_fft(const Executor& executor, image_view<const In> src, image_view<Out> dst, const image_plan& p) {
  const fft_tiling tiling = choose_fft_tiling(src.width, src.height, src.channels, p.kernel.width, p.kernel.height);
#if POLYKERN_HAS_FFTW
  run_fft_fftw<V>(executor, src, dst, p, tiling);
#else
  run_fft_lanes<V>(executor, src, dst, p, tiling);
#endif
}

}  // namespace polykern::detail::conv
