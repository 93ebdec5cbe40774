// polykern's FFT engine: many complex float transforms of one size n = 2^a 3^b 5^c at
// once, one per SIMD lane. With V = xsimd::batch<float> (L lanes) every butterfly is plain
// vector arithmetic on L independent signals (the column FFTs of a 2D transform, one lane
// per column) — no shuffles inside the transform; with V = float, L = 1.
//
// Layout ("lane-major", split complex): sample k of lane l is re[k*L + l], im[k*L + l],
// both arrays aligned to the vector size. Self-sorting (Stockham) stages of radix 4, 2, 3
// and 5 ping-pong between the data and a work array, so no bit reversal pass; twiddles are
// computed once per size in double. The inverse is the forward transform with the real
// and imaginary arrays swapped (swap(DFT(swap(x))) = the unscaled inverse DFT).
#pragma once
#include <cmath>
#include <cstddef>
#include <type_traits>
#include <utility>
#include <vector>

#include "../simd/xsimd.hpp"
#include "../unroll.hpp"

namespace polykern::detail::fft {

// Float storage aligned for any vector width xsimd uses.
using aligned_floats = std::vector<float, xsimd::aligned_allocator<float, 64>>;

template <class V>
inline constexpr std::size_t lanes = [] {
  if constexpr (std::is_same_v<V, float>) {
    return std::size_t{1};
  } else {
    return std::size_t{V::size};
  }
}();

template <class V>
V load_lanes(const float* p) {
  if constexpr (std::is_same_v<V, float>) {
    return *p;
  } else {
    return V::load_aligned(p);
  }
}
template <class V>
void store_lanes(float* p, V v) {
  if constexpr (std::is_same_v<V, float>) {
    *p = v;
  } else {
    v.store_aligned(p);
  }
}

// A complex value per lane.
template <class V>
struct cvec {
  V re, im;
  friend cvec operator+(cvec a, cvec b) { return {a.re + b.re, a.im + b.im}; }
  friend cvec operator-(cvec a, cvec b) { return {a.re - b.re, a.im - b.im}; }
  friend cvec operator*(float s, cvec a) { return {V(s) * a.re, V(s) * a.im}; }
  // a * (wr + i wi), one twiddle for every lane.
  cvec times(float wr, float wi) const { return {re * V(wr) - im * V(wi), re * V(wi) + im * V(wr)}; }
  // -i a: a quarter turn, the sign of the forward transform.
  cvec turned() const { return {im, -re}; }
};

// The DFT of R points in registers, forward sign (exponent -2 pi i / R).
template <std::size_t R, class V>
void butterfly(cvec<V>* x) {
  if constexpr (R == 2) {
    const cvec<V> a = x[0], b = x[1];
    x[0] = a + b, x[1] = a - b;
  } else if constexpr (R == 3) {
    constexpr float half_sqrt3 = 0.866025403784438646763f;  // sin(2 pi / 3)
    const cvec<V> sum = x[1] + x[2], mid = x[0] - 0.5f * sum, diff = half_sqrt3 * (x[1] - x[2]).turned();
    x[0] = x[0] + sum, x[1] = mid + diff, x[2] = mid - diff;
  } else if constexpr (R == 4) {
    const cvec<V> s02 = x[0] + x[2], d02 = x[0] - x[2], s13 = x[1] + x[3], d13 = (x[1] - x[3]).turned();
    x[0] = s02 + s13, x[1] = d02 + d13, x[2] = s02 - s13, x[3] = d02 - d13;
  } else {
    static_assert(R == 5);
    constexpr float c1 = 0.309016994374947424102f, c2 = -0.809016994374947424102f;  // cos(2 pi/5), cos(4 pi/5)
    constexpr float s1 = 0.951056516295153572116f, s2 = 0.587785252292473129169f;   // sin(2 pi/5), sin(4 pi/5)
    const cvec<V> s14 = x[1] + x[4], s23 = x[2] + x[3], d14 = x[1] - x[4], d23 = x[2] - x[3];
    const cvec<V> m1 = x[0] + c1 * s14 + c2 * s23, m2 = x[0] + c2 * s14 + c1 * s23;
    const cvec<V> n1 = (s1 * d14 + s2 * d23).turned(), n2 = (s2 * d14 - s1 * d23).turned();
    x[0] = x[0] + s14 + s23;
    x[1] = m1 + n1, x[4] = m1 - n1, x[2] = m2 + n2, x[3] = m2 - n2;
  }
}

// The transform of one size: its radices and twiddles. Immutable once built, so threads
// share one plan; each thread brings its own work array.
class plan {
 public:
  explicit plan(std::size_t n) : n_(n) {
    std::size_t rest = n;
    for (std::size_t r : {4u, 2u, 3u, 5u})
      while (rest > 1 && rest % r == 0) radices_.push_back(r), rest /= r;
    if (rest != 1 || n == 0) radices_.clear(), n_ = 0;  // not a 2-3-5 size: valid() is false
    std::size_t span = 1;                             // length of the sub-transforms so far
    for (std::size_t r : radices_) {
      offsets_.push_back(twiddles_.size());
      // twiddle (k, q) = exp(-2 pi i k q / (span r)) for k < span, 1 <= q < r
      for (std::size_t k = 0; k < span; ++k)
        for (std::size_t q = 1; q < r; ++q) {
          const double angle = -2.0 * M_PI * static_cast<double>(k * q) / static_cast<double>(span * r);
          twiddles_.push_back(static_cast<float>(std::cos(angle)));
          twiddles_.push_back(static_cast<float>(std::sin(angle)));
        }
      span *= r;
    }
  }

  std::size_t size() const { return n_; }
  bool valid() const { return n_ > 0; }

  // In-place unscaled forward DFT (exponent -) of lanes<V> signals; work holds 2 n L floats.
  template <class V>
  void forward(float* re, float* im, float* work) const {
    constexpr std::size_t L = lanes<V>;
    float* const work_re = work;
    float* const work_im = work + n_ * L;
    const float *in_re = re, *in_im = im;
    float *out_re = work_re, *out_im = work_im;
    std::size_t span = 1;
    for (std::size_t s = 0; s < radices_.size(); ++s) {
      const float* tw = twiddles_.data() + offsets_[s];
      switch (radices_[s]) {
        case 2: stage<V, 2>(in_re, in_im, out_re, out_im, span, tw); break;
        case 3: stage<V, 3>(in_re, in_im, out_re, out_im, span, tw); break;
        case 4: stage<V, 4>(in_re, in_im, out_re, out_im, span, tw); break;
        default: stage<V, 5>(in_re, in_im, out_re, out_im, span, tw); break;
      }
      span *= radices_[s];
      in_re = out_re, in_im = out_im;
      out_re = out_re == re ? work_re : re;
      out_im = out_im == im ? work_im : im;
    }
    if (in_re != re)  // an odd number of stages ended in the work array
      for (std::size_t i = 0; i < n_ * L; i += L) store_lanes(re + i, load_lanes<V>(in_re + i)), store_lanes(im + i, load_lanes<V>(in_im + i));
  }

  // In-place unscaled inverse DFT (exponent +).
  template <class V>
  void inverse(float* re, float* im, float* work) const {
    forward<V>(im, re, work);
  }

 private:
  // One Stockham stage: groups of `span`-point transforms become (span * R)-point ones.
  // Output element j = g span R + k + q span takes inputs g span + k + q' n/R.
  template <class V, std::size_t R>
  void stage(const float* in_re, const float* in_im, float* out_re, float* out_im, std::size_t span,
             const float* tw) const {
    constexpr std::size_t L = lanes<V>;
    const std::size_t stride = n_ / R * L, groups = n_ / (R * span);
    for (std::size_t k = 0; k < span; ++k) {
      const float* w = tw + 2 * k * (R - 1);  // twiddle q at w[2 (q-1)], w[2 (q-1) + 1]
      for (std::size_t g = 0; g < groups; ++g) {
        const std::size_t in = (g * span + k) * L, out = (g * span * R + k) * L;
        cvec<V> x[R];
        static_for<R>([&](auto q) {
          x[q] = {load_lanes<V>(in_re + in + q * stride), load_lanes<V>(in_im + in + q * stride)};
          if constexpr (q > 0) x[q] = x[q].times(w[2 * (q - 1)], w[2 * (q - 1) + 1]);
        });
        butterfly<R>(x);
        static_for<R>([&](auto q) {
          store_lanes(out_re + out + q * span * L, x[q].re);
          store_lanes(out_im + out + q * span * L, x[q].im);
        });
      }
    }
  }

  std::size_t n_;
  std::vector<std::size_t> radices_, offsets_;
  std::vector<float> twiddles_;  // (cos, sin) pairs, per stage
};

// True for n = 2^a 3^b 5^c (n >= 1): the sizes plan supports.
inline bool supported_size(std::size_t n) {
  if (n == 0) return false;
  for (std::size_t p : {2u, 3u, 5u})
    while (n % p == 0) n /= p;
  return n == 1;
}

}  // namespace polykern::detail::fft
