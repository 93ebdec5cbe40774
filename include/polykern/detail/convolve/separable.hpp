// Separable passes on the CPU (the separable and low_rank methods, separable_correlate,
// gaussian_blur), written once over a vector type V: `float` for the scalar policy,
// xsimd::batch<float> for simd and openmp (architecture.md, "one kernel body").
//
// The passes work on blocks of L rows, L = lanes:
//  1. vertical: every input row in the block's window is loaded once and multiplied into
//     the L output rows' accumulators (lanes = L consecutive elements of a row); the L x L
//     block is then transposed and stored into `tcol`, where one L-lane vector holds one
//     element column of the block's L rows;
//  2. horizontal: in that transposed layout a horizontal tap is an aligned vector load, so
//     L consecutive output elements accumulate tap by tap; one transpose back gives rows.
// The intermediate is one block (L rows x padded width) per thread, never a full image.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <vector>

#include "../../border.hpp"
#include "../../view.hpp"
#include "ops.hpp"
#include "plan.hpp"
#include "../unroll.hpp"

namespace polykern::detail::conv {

template <class V, class In, class Out>
class separable_engine {
 public:
  using O = ops<V>;
  static constexpr std::size_t L = O::lanes;

  separable_engine(image_view<const In> src, image_view<Out> dst, const std::vector<term>& terms, border_spec border)
      : src_(src), dst_(dst), border_(border) {
    width_ = src.width, height_ = src.height, channels_ = src.channels;
    elems_ = width_ * channels_;
    elems_l_ = round_up(elems_, L);
    for (const term& t : terms) {
      prepared p;
      p.kx = t.kx;
      p.kw = t.kx.size(), p.kh = t.ky.size();
      p.ax = p.kw / 2, p.ay = p.kh / 2;
      p.kpad.assign(p.kh + 2 * (L - 1), 0.0f);
      std::copy(t.ky.begin(), t.ky.end(), p.kpad.begin() + (L - 1));
      balance(p);
      double sum_y = 0;
      for (std::size_t j = 0; j < p.kh; ++j) sum_y += p.kpad[L - 1 + j];
      p.outside = static_cast<float>(static_cast<float>(border_value<In>(border.value)) * sum_y);
      tcol_vectors_ = std::max(tcol_vectors_, elems_l_ + (p.kw - 1) * channels_ + L);
      max_window_ = std::max(max_window_, p.kh + L - 1);
      terms_.push_back(std::move(p));
    }
    if (border.mode == border::constant) constant_row_.assign(elems_l_, border_value<In>(border.value));
  }

  std::size_t blocks() const { return (height_ + L - 1) / L; }

  // Computes the output rows of blocks [b0, b1).
  void run(std::size_t b0, std::size_t b1) const {
    aligned_floats tcol(tcol_vectors_ * L);
    aligned_floats sum(terms_.size() > 1 ? L * elems_l_ : 0);
    std::vector<const In*> rows(max_window_), tail_rows(max_window_);
    std::vector<In> tail(max_window_ * L);
    for (std::size_t b = b0; b < b1; ++b) {
      const std::size_t y0 = b * L;
      for (std::size_t t = 0; t < terms_.size(); ++t) {
        const prepared& p = terms_[t];
        vertical(p, y0, rows, tail_rows, tail.data(), tcol.data());
        pad_columns(p, tcol.data());
        const int role = terms_.size() == 1 ? 0 : t == 0 ? 1 : t + 1 < terms_.size() ? 2 : 3;
        horizontal(p, y0, tcol.data(), sum.data(), role);
      }
    }
  }

 private:
  struct prepared {
    std::vector<float> kx, kpad;  // kpad: ky with L-1 zeros on each side
    std::size_t kw = 0, kh = 0, ax = 0, ay = 0;
    float outside = 0;  // the vertical pass over a constant column: value * sum(ky)
  };

  // The vertical pass's result is a float intermediate of up to sum |ky| * max |src or
  // border value|, which overflows for a sum above 1 near FLT_MAX (ky = {1, 1, 1} over a
  // constant border of FLT_MAX: 3 FLT_MAX, inf) even where the output, after small kx taps,
  // is finite and the direct method gives it. kx (x) ky = (kx * c) (x) (ky / c) for any c,
  // so with c = sum |ky| > 1 the intermediate stays within max |src| and the horizontal
  // partial sums within sum |kx| sum |ky| max |src|, as before: only an output beyond float
  // overflows. Every policy runs these same taps, so they still agree bit for bit; the
  // results move by a rounding of the taps (none when c is a power of two, {1, 2, 1}).
  // Kept as given when kx * c would overflow (taps of 1e30 in both directions).
  static void balance(prepared& p) {
    float* ky = p.kpad.data() + (L - 1);
    double sum_abs_y = 0, max_abs_x = 0;
    for (std::size_t j = 0; j < p.kh; ++j) sum_abs_y += std::abs(static_cast<double>(ky[j]));
    for (float k : p.kx) max_abs_x = std::max(max_abs_x, std::abs(static_cast<double>(k)));
    if (!(sum_abs_y > 1) || !(max_abs_x * sum_abs_y <= static_cast<double>(std::numeric_limits<float>::max()))) return;
    for (std::size_t j = 0; j < p.kh; ++j) ky[j] = static_cast<float>(ky[j] / sum_abs_y);
    for (float& k : p.kx) k = static_cast<float>(k * sum_abs_y);
  }

  // tcol[(ax*C + e) * L + r] = sum_j ky[j] * src(row y0 + r + j - ay, element e).
  // tail, tail_rows: scratch for the last, partial vector of each row (max_window_ * L
  // elements, max_window_ pointers).
  POLYKERN_FLATTEN void vertical(const prepared& p, std::size_t y0, std::vector<const In*>& rows,
                                 std::vector<const In*>& tail_rows, In* tail, float* tcol) const {
    const std::size_t window = p.kh + L - 1;
    for (std::size_t s = 0; s < window; ++s) {
      const std::ptrdiff_t t = static_cast<std::ptrdiff_t>(y0 + s) - static_cast<std::ptrdiff_t>(p.ay);
      const std::ptrdiff_t m = border_index(t, static_cast<std::ptrdiff_t>(height_), border_.mode);
      rows[s] = m < 0 ? constant_row_.data() : src_.row(static_cast<std::size_t>(m));
    }
    float* out = tcol + p.ax * channels_ * L;
    for (std::size_t x = 0; x < elems_l_; x += L) {
      V acc[L];
      static_for<L>([&](auto r) { acc[r] = O::zero(); });
      const std::size_t n = std::min(L, elems_ - x);
      if (n == L) {
        accumulate_window(p, rows.data(), x, acc);
      } else {
        // The last vector of each row, zero-padded once into scratch: the window's body
        // then runs unchanged on full vectors.
        for (std::size_t s = 0; s < window; ++s) {
          std::fill_n(std::copy_n(rows[s] + x, n, tail + s * L), L - n, In{});
          tail_rows[s] = tail + s * L;
        }
        accumulate_window(p, tail_rows.data(), 0, acc);
      }
      float* block = out + x * L;
      static_for<L>([&](auto r) { O::store_aligned(block + r * L, acc[r]); });
      O::transpose(block);
    }
  }

  // acc[r] += sum_j ky[j] * rows[r + j][x .. x+L), for the L output rows r of a block. Only
  // the taps each output row has are applied: a zero tap times a NaN or inf input row
  // would be NaN, so a block must not multiply rows outside an output's window at all
  // (that spread a NaN over up to L-1 rows once); it also saves the (L-1) * L multiply-adds
  // per vector that zero taps cost a window of kh + L - 1 rows.
  POLYKERN_ALWAYS_INLINE void accumulate_window(const prepared& p, const In* const* rows, std::size_t x, V* acc) const {
    const float* ky = p.kpad.data() + (L - 1);
    // (Not for L = 1: there the test could only hold for kh = SIZE_MAX, and GCC -O1 warns
    // about that loop's iteration count.)
    if constexpr (L > 1) {
      if (p.kh + 1 < L) {
        // A short kernel: each output row reads its kh rows (kh * L loads, from L1), instead
        // of the window's kh + L - 1 rows times L multiply-adds.
        static_for<L>([&](auto r) {
          for (std::size_t j = 0; j < p.kh; ++j) acc[r] = O::fma(O::broadcast(ky[j]), O::load(rows[r + j] + x), acc[r]);
        });
        return;
      }
    }
    // kh >= L - 1: row s < L - 1 feeds the outputs r <= s (ramp up), rows L-1 .. kh-1 feed
    // all L, row kh + d (d < L - 1) feeds the outputs r > d (ramp down). Each row is loaded
    // once and multiplied into the accumulators that use it.
    static_for<L - 1>([&](auto s) {
      const V v = O::load(rows[s] + x);
      static_for<L>([&](auto r) {
        if constexpr (r() <= s()) acc[r] = O::fma(O::broadcast(ky[s() - r()]), v, acc[r]);
      });
    });
    for (std::size_t s = L - 1; s < p.kh; ++s) {
      const V v = O::load(rows[s] + x);
      // The window's rows are too many streams for the hardware prefetcher: fetch the next
      // vector of this row while the FMAs run.
      if constexpr (L > 1) __builtin_prefetch(rows[s] + x + L);
      const float* ks = opaque(ky + s);
      static_for<L>([&](auto r) { acc[r] = O::fma(O::broadcast(ks[-static_cast<std::ptrdiff_t>(r())]), v, acc[r]); });
    }
    const float* last = ky + p.kh;  // last[d - r] is the tap of row kh + d for output r
    static_for<L - 1>([&](auto d) {
      const V v = O::load(rows[p.kh + d] + x);
      static_for<L>([&](auto r) {
        if constexpr (r() > d()) acc[r] = O::fma(O::broadcast(last[static_cast<std::ptrdiff_t>(d()) - static_cast<std::ptrdiff_t>(r())]), v, acc[r]);
      });
    });
  }

  // Fills the columns left and right of the image in tcol with the border's values.
  void pad_columns(const prepared& p, float* tcol) const {
    const std::size_t C = channels_;
    const auto fill = [&](std::size_t q) {
      const std::ptrdiff_t xp = static_cast<std::ptrdiff_t>(q / C) - static_cast<std::ptrdiff_t>(p.ax);
      const std::ptrdiff_t m = border_index(xp, static_cast<std::ptrdiff_t>(width_), border_.mode);
      float* to = tcol + q * L;
      // Vector stores, not fill_n/copy_n: GCC's -O2 makes those a memset/memmove call per column.
      if (m < 0) {
        O::store_aligned(to, O::broadcast(p.outside));
      } else {
        const float* from = tcol + ((static_cast<std::size_t>(m) + p.ax) * C + q % C) * L;
        O::store_aligned(to, O::load_aligned(from));
      }
    };
    for (std::size_t q = 0; q < p.ax * C; ++q) fill(q);
    for (std::size_t q = (p.ax + width_) * C; q < (width_ + p.kw - 1) * C; ++q) fill(q);
  }

  // role: 0 = only term (store), 1 = first of several (sum = acc), 2 = middle (sum += acc),
  // 3 = last (store sum + acc).
  POLYKERN_FLATTEN void horizontal(const prepared& p, std::size_t y0, const float* tcol, float* sum, int role) const {
    const std::size_t C = channels_;
    const std::size_t rows_here = std::min(L, height_ - y0);
    alignas(64) float block[L * L];
    for (std::size_t e0 = 0; e0 < elems_l_; e0 += L) {
      V acc[L];
      static_for<L>([&](auto k) { acc[k] = O::zero(); });
      const float* base = tcol + e0 * L;
      // Folding mirrored taps (add two inputs, multiply once) was measured slower here:
      // with FMA the add costs as much as the multiply-add it saves.
      for (std::size_t i = 0; i < p.kw; ++i) {
        const V c = O::broadcast(p.kx[i]);
        const float* tap = base + i * C * L;
        static_for<L>([&](auto k) { acc[k] = O::fma(c, O::load_aligned(tap + k * L), acc[k]); });
      }
      static_for<L>([&](auto k) { O::store_aligned(block + k * L, acc[k]); });
      O::transpose(block);
      const std::size_t n = std::min(L, elems_ - e0);
      for (std::size_t r = 0; r < rows_here; ++r) {
        V v = O::load_aligned(block + r * L);
        float* s = sum + r * elems_l_ + e0;
        if (role == 1) {
          O::store_aligned(s, v);
          continue;
        }
        if (role == 2) {
          O::store_aligned(s, O::add(O::load_aligned(s), v));
          continue;
        }
        if (role == 3) v = O::add(O::load_aligned(s), v);
        Out* out = dst_.row(y0 + r) + e0;
        if (n == L) {
          O::store(out, v);
        } else {
          store_partial<O>(out, v, n);
        }
      }
    }
  }

  image_view<const In> src_;
  image_view<Out> dst_;
  border_spec border_;
  std::size_t width_ = 0, height_ = 0, channels_ = 0, elems_ = 0, elems_l_ = 0;
  std::size_t tcol_vectors_ = 0, max_window_ = 0;
  std::vector<prepared> terms_;
  std::vector<In> constant_row_;
};

template <class V, class In, class Out, class Executor>
void run_separable(const Executor& executor, image_view<const In> src, image_view<Out> dst, const image_plan& p) {
  const separable_engine<V, In, Out> engine(src, dst, p.terms, p.border);
  const std::size_t per_chunk = std::max<std::size_t>(1, 32 / ops<V>::lanes);
  executor.chunks(engine.blocks(), per_chunk, [&](std::size_t a, std::size_t b) { engine.run(a, b); });
}

}  // namespace polykern::detail::conv
