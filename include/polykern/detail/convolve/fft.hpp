// The FFT method on the CPU: overlap-save tiles. A tile of rows x cols FFT samples covers
// (rows - kh + 1) x (cols - kw + 1) outputs. Two real tiles travel as the real and
// imaginary parts of one complex tile (the kernel is real, so the two results come back
// apart). Per pair of tiles: row FFTs, then per column FFT, multiply by the kernel's
// spectrum and inverse FFT, then inverse row FFTs of the rows that hold outputs. Each phase
// runs over fixed chunks of rows or columns on the executor.
#pragma once
#include <algorithm>
#include <complex>
#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "../../border.hpp"
#include "../../view.hpp"
#include "cost.hpp"
#include "fft_plan.hpp"
#include "plan.hpp"

namespace polykern::detail::conv {

// One thread's FFT of a fixed size: the shared plan and its own scratch.
class fft_1d {
 public:
  explicit fft_1d(const fft_plan& plan) : plan_(&plan), work_(plan.size()) {}
  void forward(cfloat* out, const cfloat* in) { plan_->run<false>(out, in, work_.data()); }
  void inverse(cfloat* out, const cfloat* in) { plan_->run<true>(out, in, work_.data()); }

 private:
  const fft_plan* plan_;
  std::vector<cfloat> work_;
};

template <class In, class Out, class Executor>
void run_fft(const Executor& executor, image_view<const In> src, image_view<Out> dst, const image_plan& p) {
  const std::size_t W = src.width, H = src.height, C = src.channels;
  const std::size_t kw = p.kernel.width, kh = p.kernel.height, ax = kw / 2, ay = kh / 2;
  const fft_tiling tiling = choose_fft_tiling(W, H, C, kw, kh);
  const std::size_t N = tiling.rows, M = tiling.cols;
  const std::size_t valid_rows = N - kh + 1, valid_cols = M - kw + 1;
  constexpr std::size_t group = 8;  // columns gathered together (one cache line of complex floats)
  const fft_plan plan_n(N), plan_m(M);
  // Per thread: an FFT of each size and a line of either length.
  struct scratch {
    fft_1d fft_n, fft_m;
    std::vector<cfloat> line_n, line_m;
  };
  const auto make_scratch = [&] { return scratch{fft_1d(plan_n), fft_1d(plan_m), std::vector<cfloat>(N), std::vector<cfloat>(M)}; };

  // The spectrum of the flipped kernel, scaled by 1/(N*M), stored column by column.
  std::vector<cfloat> spectrum(N * M);
  {
    std::vector<cfloat> rows(kh * M);
    executor.chunks_with(kh, 16, make_scratch, [&](scratch& s, std::size_t r0, std::size_t r1) {
      std::vector<cfloat>& line = s.line_m;
      for (std::size_t r = r0; r < r1; ++r) {
        std::fill(line.begin(), line.end(), cfloat{});
        for (std::size_t c = 0; c < kw; ++c) line[c] = p.kernel.at(kw - 1 - c, kh - 1 - r);
        s.fft_m.forward(rows.data() + r * M, line.data());
      }
    });
    const float scale = 1.0f / static_cast<float>(N * M);
    executor.chunks_with(M, 16, make_scratch, [&](scratch& s, std::size_t c0, std::size_t c1) {
      std::vector<cfloat>& line = s.line_n;
      for (std::size_t c = c0; c < c1; ++c) {
        std::fill(line.begin(), line.end(), cfloat{});
        for (std::size_t r = 0; r < kh; ++r) line[r] = rows[r * M + c] * scale;
        s.fft_n.forward(spectrum.data() + c * N, line.data());
      }
    });
  }

  struct tile {
    std::size_t channel, y0, x0;  // first output pixel
  };
  std::vector<tile> tiles;
  for (std::size_t c = 0; c < C; ++c)
    for (std::size_t y0 = 0; y0 < H; y0 += valid_rows)
      for (std::size_t x0 = 0; x0 < W; x0 += valid_cols) tiles.push_back({c, y0, x0});

  const auto mode = p.border.mode;
  const float outside = static_cast<float>(border_value<In>(p.border.value));
  std::vector<cfloat> buf(N * M);
  std::vector<std::ptrdiff_t> cols_a(M), cols_b(M);  // source column of tile column q (-1: outside)
  for (std::size_t t = 0; t < tiles.size(); t += 2) {
    const tile a = tiles[t];
    const bool has_b = t + 1 < tiles.size();
    const tile b = has_b ? tiles[t + 1] : a;
    const auto map_cols = [&](const tile& tl, std::vector<std::ptrdiff_t>& cols) {
      for (std::size_t q = 0; q < M; ++q) {
        const std::ptrdiff_t x = border_index(static_cast<std::ptrdiff_t>(tl.x0 + q) - static_cast<std::ptrdiff_t>(ax),
                                              static_cast<std::ptrdiff_t>(W), mode);
        cols[q] = x < 0 ? -1 : x * static_cast<std::ptrdiff_t>(C) + static_cast<std::ptrdiff_t>(tl.channel);
      }
    };
    map_cols(a, cols_a);
    map_cols(b, cols_b);
    const auto source_row = [&](const tile& tl, std::size_t r) -> const In* {
      const std::ptrdiff_t y = border_index(static_cast<std::ptrdiff_t>(tl.y0 + r) - static_cast<std::ptrdiff_t>(ay),
                                            static_cast<std::ptrdiff_t>(H), mode);
      return y < 0 ? nullptr : src.row(static_cast<std::size_t>(y));
    };
    const auto sample = [&](const In* row, std::ptrdiff_t col) -> float {
      return row && col >= 0 ? static_cast<float>(row[col]) : outside;
    };
    // 1. fill and transform the rows
    executor.chunks_with(N, 16, make_scratch, [&](scratch& s, std::size_t r0, std::size_t r1) {
      std::vector<cfloat>& line = s.line_m;
      for (std::size_t r = r0; r < r1; ++r) {
        const In* ra = source_row(a, r);
        const In* rb = has_b ? source_row(b, r) : nullptr;
        for (std::size_t q = 0; q < M; ++q)
          line[q] = {sample(ra, cols_a[q]), has_b ? sample(rb, cols_b[q]) : 0.0f};
        s.fft_m.forward(buf.data() + r * M, line.data());
      }
    });
    // 2. columns: transform, multiply by the kernel's spectrum, transform back
    const auto make_column_scratch = [&] { return std::pair{make_scratch(), std::vector<cfloat>(group * N)}; };
    executor.chunks_with((M + group - 1) / group, 2, make_column_scratch, [&](auto& state, std::size_t g0, std::size_t g1) {
      scratch& s = state.first;
      std::vector<cfloat>& cols = state.second;
      std::vector<cfloat>& line = s.line_n;
      for (std::size_t g = g0; g < g1; ++g) {
        const std::size_t c0 = g * group, n = std::min(group, M - c0);
        for (std::size_t r = 0; r < N; ++r)
          for (std::size_t j = 0; j < n; ++j) cols[j * N + r] = buf[r * M + c0 + j];
        for (std::size_t j = 0; j < n; ++j) {
          s.fft_n.forward(line.data(), cols.data() + j * N);
          const cfloat* k = spectrum.data() + (c0 + j) * N;
          for (std::size_t r = 0; r < N; ++r) line[r] = cmul(line[r], k[r]);
          s.fft_n.inverse(cols.data() + j * N, line.data());
        }
        for (std::size_t r = kh - 1; r < N; ++r)
          for (std::size_t j = 0; j < n; ++j) buf[r * M + c0 + j] = cols[j * N + r];
      }
    });
    // 3. inverse row transforms of the rows holding outputs, and the stores
    const std::size_t rows_a = std::min(valid_rows, H - a.y0), rows_b = has_b ? std::min(valid_rows, H - b.y0) : 0;
    const std::size_t out_rows = std::max(rows_a, rows_b);
    executor.chunks_with(out_rows, 16, make_scratch, [&](scratch& s, std::size_t r0, std::size_t r1) {
      std::vector<cfloat>& line = s.line_m;
      for (std::size_t r = r0; r < r1; ++r) {
        s.fft_m.inverse(line.data(), buf.data() + (r + kh - 1) * M);
        const auto store = [&](const tile& tl, bool imag) {
          Out* out = dst.row(tl.y0 + r);
          const std::size_t n = std::min(valid_cols, W - tl.x0);
          for (std::size_t q = 0; q < n; ++q) {
            const cfloat v = line[q + kw - 1];
            const float f = imag ? v.imag() : v.real();
            Out& o = out[(tl.x0 + q) * C + tl.channel];
            if constexpr (std::is_same_v<Out, std::uint8_t>) {
              o = saturate_u8(f);
            } else {
              o = f;
            }
          }
        };
        if (r < rows_a) store(a, false);
        if (has_b && r < rows_b) store(b, true);
      }
    });
  }
}

}  // namespace polykern::detail::conv
