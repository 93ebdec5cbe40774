// Direct 2D correlation on the CPU, written once over a vector type V (`float` for the
// scalar policy, xsimd::batch<float> for simd and openmp). A chunk's source rows are kept
// padded (border applied) as float in a buffer each thread allocates once; blocks of RY
// output rows x RX vectors accumulate in registers (6 x 3 with 32 vector registers as on
// AVX-512: 18 accumulators, 3 inputs, a tap), and each padded input row load serves every
// output row of the block it reaches, so a 5x5 kernel loads 10 rows for 6 outputs. The
// taps are stored column by column (all rows of tap i together), so the block's taps are
// one pointer plus compile-time offsets. Every loop over the block is expanded by
// static_for, so -O2 keeps the accumulators in registers as -O3 does. Outputs of 16 MB
// and more are written with non-temporal stores (small kernels are memory-bound there).
#pragma once
#include <algorithm>
#include <cstddef>
#include <utility>
#include <vector>

#include "../../border.hpp"
#include "../../view.hpp"
#include "ops.hpp"
#include "plan.hpp"
#include "../unroll.hpp"

namespace polykern::detail::conv {


// The register block of the direct engine for a vector of L lanes: output rows x vectors.
template <std::size_t L>
struct direct_block {
  static constexpr int rows = L >= 16 ? 6 : 4;  // AVX-512: 32 registers
  static constexpr std::size_t vectors = L == 1 ? 4 : L >= 16 ? 3 : 2;
};

template <class V, class In, class Out>
class direct_engine {
 public:
  using O = ops<V>;
  static constexpr std::size_t L = O::lanes;
  static constexpr int RY = direct_block<L>::rows;         // output rows per block
  static constexpr std::size_t RX = direct_block<L>::vectors;  // vectors per row per block
  static constexpr std::size_t rows_per_chunk = 8 * RY;
  static constexpr std::size_t small_rows = 7;
  static constexpr std::size_t stream_bytes = std::size_t{16} << 20;  // outputs this large bypass the caches  // kernels this high or less: rows fixed at compile time

  direct_engine(image_view<const In> src, image_view<Out> dst, const kernel2d& kernel, border_spec border)
      : src_(src), dst_(dst), border_(border) {
    width_ = src.width, height_ = src.height, channels_ = src.channels;
    elems_ = width_ * channels_;
    elems_l_ = round_up(elems_, L);
    kw_ = kernel.width, kh_ = kernel.height, ax_ = kw_ / 2, ay_ = kh_ / 2;
    padded_ = round_up((width_ + kw_ - 1) * channels_ + L * RX + L, L);
    outside_ = static_cast<float>(border_value<In>(border.value));
    stream_ = elems_ * height_ * sizeof(Out) >= stream_bytes;
    taps_.resize(kw_ * kh_);
    for (std::size_t j = 0; j < kh_; ++j)
      for (std::size_t i = 0; i < kw_; ++i) taps_[i * kh_ + j] = kernel.at(i, j);
  }

  std::size_t chunks() const { return (height_ + rows_per_chunk - 1) / rows_per_chunk; }

  // The padded rows of one chunk (one buffer per thread).
  aligned_floats buffer() const { return aligned_floats((rows_per_chunk + kh_ - 1) * padded_); }

  void run(aligned_floats& rows, std::size_t c0, std::size_t c1) const {
    for (std::size_t c = c0; c < c1; ++c) {
      const std::size_t y_begin = c * rows_per_chunk;
      const std::size_t y_end = std::min(height_, y_begin + rows_per_chunk);
      const std::size_t blocks = (y_end - y_begin + RY - 1) / RY;
      const std::size_t needed = std::min(blocks * RY, rows_per_chunk) + kh_ - 1;
      for (std::size_t s = 0; s < needed; ++s)
        pad_row(static_cast<std::ptrdiff_t>(y_begin + s) - static_cast<std::ptrdiff_t>(ay_), rows.data() + s * padded_);
      for (std::size_t b = 0; b < blocks; ++b) block(y_begin + b * RY, rows.data() + b * RY * padded_);
    }
    if (stream_) O::fence();
  }

 private:
  // One source row t with the border applied on both sides, as float.
  void pad_row(std::ptrdiff_t t, float* out) const {
    const std::ptrdiff_t m = border_index(t, static_cast<std::ptrdiff_t>(height_), border_.mode);
    const std::size_t C = channels_;
    if (m < 0) {
      std::fill_n(out, (width_ + kw_ - 1) * C, outside_);
      return;
    }
    const In* row = src_.row(static_cast<std::size_t>(m));
    float* mid = out + ax_ * C;
    widen_run<O>(row, elems_, mid);
    for (std::size_t xp = 0; xp < kw_ - 1; ++xp) {  // the columns outside, left then right
      const std::ptrdiff_t x = xp < ax_ ? static_cast<std::ptrdiff_t>(xp) - static_cast<std::ptrdiff_t>(ax_)
                                        : static_cast<std::ptrdiff_t>(width_ + xp - ax_);
      const std::ptrdiff_t mx = border_index(x, static_cast<std::ptrdiff_t>(width_), border_.mode);
      float* to = out + static_cast<std::size_t>(x + static_cast<std::ptrdiff_t>(ax_)) * C;
      for (std::size_t c = 0; c < C; ++c) to[c] = mx < 0 ? outside_ : static_cast<float>(row[mx * C + c]);
    }
  }

  // Output rows [y0, y0 + RY) from padded rows (rows[s] = source row y0 - ay + s). The
  // common heights 3, 5 and 7 run with their height fixed at compile time on SIMD vectors
  // (only there: each is a body of its own, and a user's compiler pays for every one).
  void block(std::size_t y0, const float* rows) const {
    if constexpr (L > 1) {
      if (kh_ == 3) return block_with<3>(y0, rows);
      if (kh_ == 5) return block_with<5>(y0, rows);
      if (kh_ == 7) return block_with<7>(y0, rows);
    }
    block_with<0>(y0, rows);
  }

  template <int KH>
  void block_with(std::size_t y0, const float* rows) const {
    for (std::size_t e0 = 0; e0 < elems_l_; e0 += RX * L) {
      const std::size_t vectors = std::min(RX, (elems_l_ - e0) / L);
      if (vectors == RX) {
        tile<KH, RX>(y0, e0, rows);
      } else {
        for (std::size_t v = 0; v < vectors; ++v) tile<0, 1>(y0, e0 + v * L, rows);  // the row's last vectors
      }
    }
  }

  // One block of RY x NX vectors. KH > 0: the kernel has KH rows, and each load of input
  // row s (of the block's KH + RY - 1) is multiplied into every output row r it reaches
  // (kernel row s - r). KH = 0: any height, tap by tap (each input load serves one output
  // row: taller kernels go through this path), in the same order of taps.
  template <int KH, std::size_t NX>
  POLYKERN_FLATTEN void tile(std::size_t y0, std::size_t e0, const float* rows) const {
    V acc[RY][NX];
    static_for<RY>([&](auto r) { static_for<NX>([&](auto x) { acc[r][x] = O::zero(); }); });
    const std::size_t C = channels_, kw = kw_, stride = padded_;
    const float* in = rows + e0;
    if constexpr (KH > 0) {
      const float* k = taps_.data();  // k[i * KH + j]: tap i of kernel row j
      for (std::size_t i = 0; i < kw; ++i, in += C, k += KH) {
        const float* row = in;  // input row s of the block, advanced row by row (no offsets to keep)
        static_for<KH + RY - 1>([&](auto S) {
          constexpr int s = static_cast<int>(S());
          constexpr int lo = s + 1 > KH ? s + 1 - KH : 0, hi = s < RY - 1 ? s : RY - 1;
          V v[NX];
          static_for<NX>([&](auto x) { v[x] = O::load(row + x * L); });
          row += stride;
          static_for<hi - lo + 1>([&](auto R) {
            constexpr int r = lo + static_cast<int>(R());
            const V c = O::broadcast(k[s - r]);
            static_for<NX>([&](auto x) { acc[r][x] = O::fma(c, v[x], acc[r][x]); });
          });
        });
      }
    } else {
      // The same order of taps as the fixed-height body (kernel column i outer, row j inner),
      // so every output element sums its products in one order whichever body computes it:
      // results do not depend on where a pixel falls in a block, on the image width (a dask
      // chunk), or on the policy.
      const std::size_t kh = kh_;
      for (std::size_t i = 0; i < kw; ++i) {
        for (std::size_t j = 0; j < kh; ++j) {
          const V c = O::broadcast(taps_[i * kh + j]);
          const float* row = in + j * stride + i * C;
          static_for<RY>([&](auto r) {
            static_for<NX>([&](auto x) { acc[r][x] = O::fma(c, O::load(row + r * stride + x * L), acc[r][x]); });
          });
        }
      }
    }
    static_for<RY>([&](auto r) {
      if (y0 + r >= height_) return;
      Out* out = dst_.row(y0 + r);
      static_for<NX>([&](auto x) {
        const std::size_t e = e0 + x * L;
        if (e + L <= elems_) {
          if (stream_) {
            O::store_stream(out + e, acc[r][x]);
          } else {
            O::store(out + e, acc[r][x]);
          }
        } else if (e < elems_) {
          store_partial<O>(out + e, acc[r][x], elems_ - e);
        }
      });
    });
  }

  image_view<const In> src_;
  image_view<Out> dst_;
  border_spec border_;
  std::vector<float> taps_;  // taps_[i * kh + j] = kernel.at(i, j)
  std::size_t width_ = 0, height_ = 0, channels_ = 0, elems_ = 0, elems_l_ = 0;
  std::size_t kw_ = 0, kh_ = 0, ax_ = 0, ay_ = 0, padded_ = 0;
  float outside_ = 0;
  bool stream_ = false;  // non-temporal stores: the output is larger than the caches keep
};

template <class V, class In, class Out, class Executor>
void run_direct(const Executor& executor, image_view<const In> src, image_view<Out> dst, const image_plan& p) {
  const direct_engine<V, In, Out> engine(src, dst, p.kernel, p.border);
  executor.chunks_with(
      engine.chunks(), 1, [&] { return engine.buffer(); },
      [&](aligned_floats& rows, std::size_t a, std::size_t b) { engine.run(rows, a, b); });
}

}  // namespace polykern::detail::conv
