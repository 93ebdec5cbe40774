// Direct 2D correlation on the CPU, written once over a vector type V (`float` for the
// scalar policy, xsimd::batch<float> for simd and openmp). A chunk's source rows are kept
// padded (border applied) as float; blocks of 4 output rows x 4 vectors accumulate in
// registers, and each padded input row load serves every output row it reaches.
#pragma once
#include <algorithm>
#include <cstddef>
#include <utility>

#include "../../border.hpp"
#include "../../view.hpp"
#include "ops.hpp"
#include "plan.hpp"
#include "unroll.hpp"

namespace polykern::detail::conv {


// Calls f(std::integral_constant<int, lo>, std::integral_constant<int, hi>) for the
// runtime pair 0 <= lo <= hi < 4, so loops over [lo, hi] unroll with fixed bounds.
template <class F>
void with_row_range(int lo, int hi, F&& f) {
  using std::integral_constant;
#define POLYKERN_CONV_RANGE(a, b) \
  if (lo == a && hi == b) return f(integral_constant<int, a>{}, integral_constant<int, b>{});
  POLYKERN_CONV_RANGE(0, 0) POLYKERN_CONV_RANGE(0, 1) POLYKERN_CONV_RANGE(0, 2) POLYKERN_CONV_RANGE(0, 3)
  POLYKERN_CONV_RANGE(1, 1) POLYKERN_CONV_RANGE(1, 2) POLYKERN_CONV_RANGE(1, 3)
  POLYKERN_CONV_RANGE(2, 2) POLYKERN_CONV_RANGE(2, 3)
  POLYKERN_CONV_RANGE(3, 3)
#undef POLYKERN_CONV_RANGE
}

template <class V, class In, class Out>
class direct_engine {
 public:
  using O = ops<V>;
  static constexpr std::size_t L = O::lanes;
  static constexpr int RY = 4;          // output rows per block
  static constexpr std::size_t RX = 4;  // vectors per row per block
  static constexpr std::size_t rows_per_chunk = 32;

  direct_engine(image_view<const In> src, image_view<Out> dst, const kernel2d& kernel, border_spec border)
      : src_(src), dst_(dst), kernel_(kernel), border_(border) {
    width_ = src.width, height_ = src.height, channels_ = src.channels;
    elems_ = width_ * channels_;
    elems_l_ = round_up(elems_, L);
    kw_ = kernel.width, kh_ = kernel.height, ax_ = kw_ / 2, ay_ = kh_ / 2;
    padded_ = round_up((width_ + kw_ - 1) * channels_ + L * RX + L, L);
    outside_ = static_cast<float>(border_value<In>(border.value));
  }

  std::size_t chunks() const { return (height_ + rows_per_chunk - 1) / rows_per_chunk; }

  void run(std::size_t c0, std::size_t c1) const {
    const std::size_t window = rows_per_chunk + kh_ - 1;
    aligned_floats rows(window * padded_);
    for (std::size_t c = c0; c < c1; ++c) {
      const std::size_t y_begin = c * rows_per_chunk;
      const std::size_t y_end = std::min(height_, y_begin + rows_per_chunk);
      const std::size_t blocks = (y_end - y_begin + RY - 1) / RY;
      const std::size_t needed = blocks * RY + kh_ - 1;
      for (std::size_t s = 0; s < needed; ++s)
        pad_row(static_cast<std::ptrdiff_t>(y_begin + s) - static_cast<std::ptrdiff_t>(ay_), rows.data() + s * padded_);
      for (std::size_t b = 0; b < blocks; ++b) block(y_begin + b * RY, rows.data() + b * RY * padded_);
    }
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
    std::copy_n(row, elems_, out + ax_ * C);
    for (std::size_t xp = 0; xp < kw_ - 1; ++xp) {  // the columns outside, left then right
      const std::ptrdiff_t x = xp < ax_ ? static_cast<std::ptrdiff_t>(xp) - static_cast<std::ptrdiff_t>(ax_)
                                        : static_cast<std::ptrdiff_t>(width_ + xp - ax_);
      const std::ptrdiff_t mx = border_index(x, static_cast<std::ptrdiff_t>(width_), border_.mode);
      float* to = out + static_cast<std::size_t>(x + static_cast<std::ptrdiff_t>(ax_)) * C;
      for (std::size_t c = 0; c < C; ++c) to[c] = mx < 0 ? outside_ : static_cast<float>(row[mx * C + c]);
    }
  }

  // Output rows [y0, y0 + RY) from padded rows (rows[s] = source row y0 - ay + s).
  void block(std::size_t y0, const float* rows) const {
    for (std::size_t e0 = 0; e0 < elems_l_; e0 += RX * L) {
      const std::size_t vectors = std::min(RX, (elems_l_ - e0) / L);
      if (vectors == RX) {
        tile<RX>(y0, e0, rows);
      } else {
        for (std::size_t v = 0; v < vectors; ++v) tile<1>(y0, e0 + v * L, rows);
      }
    }
  }

  template <std::size_t NX>
  void tile(std::size_t y0, std::size_t e0, const float* rows) const {
    V acc[RY][NX];
    static_for<RY>([&](auto r) { static_for<NX>([&](auto k) { acc[r][k] = O::zero(); }); });
    const std::size_t C = channels_;
    const std::size_t window = kh_ + RY - 1;
    for (std::size_t s = 0; s < window; ++s) {
      // Output row r uses this input row with kernel row j = s - r, when 0 <= j < kh.
      const int lo = static_cast<int>(s + 1 > kh_ ? s + 1 - kh_ : 0);
      const int hi = static_cast<int>(std::min<std::size_t>(RY - 1, s));
      const float* in = rows + s * padded_ + e0;
      with_row_range(lo, hi, [&](auto LO, auto HI) {
        const float* krow[RY];
        constexpr int lo_r = decltype(LO)::value, hi_r = decltype(HI)::value;
        for (int r = lo_r; r <= hi_r; ++r) krow[r] = kernel_.values.data() + (s - r) * kw_;
        for (std::size_t i = 0; i < kw_; ++i) {
          V v[NX];
          static_for<NX>([&](auto k) { v[k] = O::load(in + i * C + k * L); });
          [&]<int... R>(std::integer_sequence<int, R...>) {
            ([&] {
              constexpr int r = lo_r + R;
              const V c = O::broadcast(krow[r][i]);
              static_for<NX>([&](auto k) { acc[r][k] = O::fma(c, v[k], acc[r][k]); });
            }(), ...);
          }(std::make_integer_sequence<int, hi_r - lo_r + 1>{});
        }
      });
    }
    for (int r = 0; r < RY; ++r) {
      if (y0 + r >= height_) break;
      Out* out = dst_.row(y0 + r);
      for (std::size_t k = 0; k < NX; ++k) {
        const std::size_t e = e0 + k * L;
        if (e >= elems_) break;
        if (e + L <= elems_) {
          O::store(out + e, acc[r][k]);
        } else {
          store_partial<O>(out + e, acc[r][k], elems_ - e);
        }
      }
    }
  }

  image_view<const In> src_;
  image_view<Out> dst_;
  const kernel2d& kernel_;
  border_spec border_;
  std::size_t width_ = 0, height_ = 0, channels_ = 0, elems_ = 0, elems_l_ = 0;
  std::size_t kw_ = 0, kh_ = 0, ax_ = 0, ay_ = 0, padded_ = 0;
  float outside_ = 0;
};

template <class V, class In, class Out, class Executor>
void run_direct(const Executor& executor, image_view<const In> src, image_view<Out> dst, const image_plan& p) {
  const direct_engine<V, In, Out> engine(src, dst, p.kernel, p.border);
  executor.chunks(engine.chunks(), 1, [&](std::size_t a, std::size_t b) { engine.run(a, b); });
}

}  // namespace polykern::detail::conv
