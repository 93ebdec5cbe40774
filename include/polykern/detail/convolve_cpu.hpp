// The CPU convolution engine, written once over a vector type V: `float` for the scalar
// policy, xsimd::batch<float> for simd and openmp (architecture.md, "one kernel body").
// Backends choose V and how chunks of rows are run (one thread or OpenMP).
//
// Separable passes (separable and low_rank methods) work on blocks of L rows, L = lanes:
//  1. vertical: every input row in the block's window is loaded once and multiplied into
//     the L output rows' accumulators (lanes = L consecutive elements of a row); the L x L
//     block is then transposed and stored into `tcol`, where one L-lane vector holds one
//     element column of the block's L rows;
//  2. horizontal: in that transposed layout a horizontal tap is an aligned vector load, so
//     L consecutive output elements accumulate tap by tap; one transpose back gives rows.
// The intermediate is one block (L rows x padded width) per thread, never a full image.
// Direct 2D keeps a chunk's rows padded (border applied) as float and register-blocks
// 4 output rows x 4 vectors; each input row load serves every output row it reaches.
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <mutex>
#include <new>
#include <numeric>
#include <utility>
#include <vector>

#include "../border.hpp"
#include "../view.hpp"
#include "convolve_plan.hpp"
#include "convolve_simd_ops.hpp"

namespace polykern::detail::conv {

// A zero-initialised float buffer aligned to 64 bytes.
class aligned_floats {
 public:
  aligned_floats() = default;
  explicit aligned_floats(std::size_t n) : n_(n) {
    data_ = static_cast<float*>(::operator new[](std::max<std::size_t>(n, 1) * sizeof(float), std::align_val_t{64}));
    std::fill_n(data_, n, 0.0f);
  }
  ~aligned_floats() {
    if (data_) ::operator delete[](data_, std::align_val_t{64});
  }
  aligned_floats(aligned_floats&& o) noexcept : data_(std::exchange(o.data_, nullptr)), n_(std::exchange(o.n_, 0)) {}
  aligned_floats& operator=(aligned_floats&& o) noexcept {
    std::swap(data_, o.data_);
    std::swap(n_, o.n_);
    return *this;
  }
  float* data() const { return data_; }
  std::size_t size() const { return n_; }

 private:
  float* data_ = nullptr;
  std::size_t n_ = 0;
};

// Runs body(begin, end) over chunks; an exception inside is rethrown after the loop.
// `run_chunks(count, chunk, body)` is sequential or parallel; it must call body for every
// chunk boundary that does not depend on the thread count.
template <class RunChunks, class Body>
void guarded_chunks(RunChunks&& run_chunks, std::size_t count, std::size_t chunk, Body&& body) {
  std::exception_ptr error;
  std::mutex error_mutex;
  run_chunks(count, chunk, [&](std::size_t begin, std::size_t end) {
    try {
      body(begin, end);
    } catch (...) {
      std::lock_guard lock(error_mutex);
      if (!error) error = std::current_exception();
    }
  });
  if (error) std::rethrow_exception(error);
}

// The value the padded image holds outside a border::constant edge, in the source type.
template <class In>
In border_value(double v) {
  if constexpr (std::is_same_v<In, std::uint8_t>) {
    return saturate_u8(static_cast<float>(v));
  } else {
    return static_cast<In>(v);
  }
}

// Returns p unchanged, hiding its value from the optimiser. Used where compilers would
// otherwise keep 16 coefficients rotating through registers with port-5 broadcasts
// instead of folding each broadcast into its FMA as a memory operand.
template <class T>
inline T* opaque(T* p) {
#if defined(__GNUC__)
  asm("" : "+r"(p));
#endif
  return p;
}

inline std::size_t round_up(std::size_t n, std::size_t m) { return (n + m - 1) / m * m; }

// Loads L elements, of which only n (< L) exist; the rest read as zero.
template <class O, class In>
typename O::vec load_partial(const In* p, std::size_t n) {
  alignas(64) In tmp[O::lanes] = {};
  std::copy_n(p, n, tmp);
  return O::load(tmp);
}
template <class O, class Out>
void store_partial(Out* p, typename O::vec v, std::size_t n) {
  alignas(64) Out tmp[O::lanes];
  O::store(tmp, v);
  std::copy_n(tmp, n, p);
}

// ---- separable passes ------------------------------------------------------------------

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
      double sum_y = 0;
      for (float k : t.ky) sum_y += k;
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
    std::vector<const In*> rows(max_window_);
    for (std::size_t b = b0; b < b1; ++b) {
      const std::size_t y0 = b * L;
      for (std::size_t t = 0; t < terms_.size(); ++t) {
        const prepared& p = terms_[t];
        vertical(p, y0, rows, tcol.data());
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

  // tcol[(ax*C + e) * L + r] = sum_j ky[j] * src(row y0 + r + j - ay, element e).
  void vertical(const prepared& p, std::size_t y0, std::vector<const In*>& rows, float* tcol) const {
    const std::size_t window = p.kh + L - 1;
    for (std::size_t s = 0; s < window; ++s) {
      const std::ptrdiff_t t = static_cast<std::ptrdiff_t>(y0 + s) - static_cast<std::ptrdiff_t>(p.ay);
      const std::ptrdiff_t m = border_index(t, static_cast<std::ptrdiff_t>(height_), border_.mode);
      rows[s] = m < 0 ? constant_row_.data() : src_.row(static_cast<std::size_t>(m));
    }
    const float* k = p.kpad.data();  // k[s + L-1 - r] multiplies input row s into output row r
    float* out = tcol + p.ax * channels_ * L;
    for (std::size_t x = 0; x < elems_l_; x += L) {
      V acc[L];
      for (std::size_t r = 0; r < L; ++r) acc[r] = O::zero();
      const std::size_t n = std::min(L, elems_ - x);
      if (n == L) {
        for (std::size_t s = 0; s < window; ++s) {
          const V v = O::load(rows[s] + x);
          // The window's rows are too many streams for the hardware prefetcher: fetch the
          // next vector of this row while the FMAs run.
          if constexpr (L > 1) __builtin_prefetch(rows[s] + x + L);
          const float* ks = opaque(k + s + (L - 1));
          for (std::size_t r = 0; r < L; ++r) acc[r] = O::fma(O::broadcast(ks[-static_cast<std::ptrdiff_t>(r)]), v, acc[r]);
        }
      } else {
        for (std::size_t s = 0; s < window; ++s) {
          const V v = load_partial<O>(rows[s] + x, n);
          for (std::size_t r = 0; r < L; ++r) acc[r] = O::fma(O::broadcast(k[s + (L - 1) - r]), v, acc[r]);
        }
      }
      float* block = out + x * L;
      for (std::size_t r = 0; r < L; ++r) O::store_aligned(block + r * L, acc[r]);
      O::transpose(block);
    }
  }

  // Fills the columns left and right of the image in tcol with the border's values.
  void pad_columns(const prepared& p, float* tcol) const {
    const std::size_t C = channels_;
    const auto fill = [&](std::size_t q) {
      const std::ptrdiff_t xp = static_cast<std::ptrdiff_t>(q / C) - static_cast<std::ptrdiff_t>(p.ax);
      const std::ptrdiff_t m = border_index(xp, static_cast<std::ptrdiff_t>(width_), border_.mode);
      float* to = tcol + q * L;
      if (m < 0) {
        std::fill_n(to, L, p.outside);
      } else {
        const float* from = tcol + ((static_cast<std::size_t>(m) + p.ax) * C + q % C) * L;
        std::copy_n(from, L, to);
      }
    };
    for (std::size_t q = 0; q < p.ax * C; ++q) fill(q);
    for (std::size_t q = (p.ax + width_) * C; q < (width_ + p.kw - 1) * C; ++q) fill(q);
  }

  // role: 0 = only term (store), 1 = first of several (sum = acc), 2 = middle (sum += acc),
  // 3 = last (store sum + acc).
  void horizontal(const prepared& p, std::size_t y0, const float* tcol, float* sum, int role) const {
    const std::size_t C = channels_;
    const std::size_t rows_here = std::min(L, height_ - y0);
    alignas(64) float block[L * L];
    for (std::size_t e0 = 0; e0 < elems_l_; e0 += L) {
      V acc[L];
      for (std::size_t k = 0; k < L; ++k) acc[k] = O::zero();
      const float* base = tcol + e0 * L;
      // Folding mirrored taps (add two inputs, multiply once) was measured slower here:
      // with FMA the add costs as much as the multiply-add it saves.
      for (std::size_t i = 0; i < p.kw; ++i) {
        const V c = O::broadcast(p.kx[i]);
        const float* tap = base + i * C * L;
        for (std::size_t k = 0; k < L; ++k) acc[k] = O::fma(c, O::load_aligned(tap + k * L), acc[k]);
      }
      for (std::size_t k = 0; k < L; ++k) O::store_aligned(block + k * L, acc[k]);
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

// ---- direct 2D ------------------------------------------------------------------------------

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
    for (auto& row : acc)
      for (auto& a : row) a = O::zero();
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
          for (std::size_t k = 0; k < NX; ++k) v[k] = O::load(in + i * C + k * L);
          [&]<int... R>(std::integer_sequence<int, R...>) {
            ([&] {
              constexpr int r = lo_r + R;
              const V c = O::broadcast(krow[r][i]);
              for (std::size_t k = 0; k < NX; ++k) acc[r][k] = O::fma(c, v[k], acc[r][k]);
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

// ---- entry for the CPU backends ----------------------------------------------------------

// Runs the plan's direct or separable method for one image. `run_chunks` is
// (count, chunk, body) -> void, sequential or parallel.
template <class V, class In, class Out, class RunChunks>
void run_spatial(RunChunks&& run_chunks, image_view<const In> src, image_view<Out> dst, const plan& p) {
  if (p.method == conv_method::direct) {
    const direct_engine<V, In, Out> engine(src, dst, p.kernel, p.border);
    guarded_chunks(run_chunks, engine.chunks(), 1, [&](std::size_t a, std::size_t b) { engine.run(a, b); });
  } else {
    const separable_engine<V, In, Out> engine(src, dst, p.terms, p.border);
    const std::size_t per_chunk = std::max<std::size_t>(1, 32 / ops<V>::lanes);
    guarded_chunks(run_chunks, engine.blocks(), per_chunk, [&](std::size_t a, std::size_t b) { engine.run(a, b); });
  }
}

}  // namespace polykern::detail::conv
