// A complex float FFT of one size n = 2^a 3^b 5^c (the sizes choose_fft_tiling picks):
// self-sorting (Stockham) mixed-radix stages of radix 4, 2, 3 and 5, twiddles computed
// once in double. Written here rather than taken from a library because the only FFT
// Debian ships header-only (Eigen's kissfft) brings Eigen's core into every TU that
// includes <polykern/convolve.hpp> (docs/convolve.md, compile cost).
#pragma once
#include <cmath>
#include <complex>
#include <cstddef>
#include <utility>
#include <vector>

#include "unroll.hpp"

namespace polykern::detail::conv {

using cfloat = std::complex<float>;

// a * b without the NaN/inf recovery of operator* (which calls __mulsc3 out of line).
inline cfloat cmul(cfloat a, cfloat b) {
  return {a.real() * b.real() - a.imag() * b.imag(), a.real() * b.imag() + a.imag() * b.real()};
}

class fft_plan {
 public:
  explicit fft_plan(std::size_t n) : n_(n) {
    std::size_t rest = n;
    for (std::size_t r : {4u, 2u, 3u, 5u})
      while (rest % r == 0 && rest > 1) radices_.push_back(r), rest /= r;
    std::size_t ns = 1;
    for (std::size_t r : radices_) {
      // twiddle (k, q) = exp(-2 pi i k q / (ns r)), k < ns, 1 <= q < r
      offsets_.push_back(twiddles_.size());
      for (std::size_t k = 0; k < ns; ++k)
        for (std::size_t q = 1; q < r; ++q) {
          const double angle = -2.0 * M_PI * static_cast<double>(k * q) / static_cast<double>(ns * r);
          twiddles_.emplace_back(static_cast<float>(std::cos(angle)), static_cast<float>(std::sin(angle)));
        }
      ns *= r;
    }
  }
  std::size_t size() const { return n_; }

  // out = DFT(in) (unscaled; inverse: exponent +). in and out must not overlap; work holds
  // n samples.
  template <bool Inverse>
  void run(cfloat* out, const cfloat* in, cfloat* work) const {
    const std::size_t stages = radices_.size();
    if (stages == 0) {
      out[0] = in[0];
      return;
    }
    // The last stage must write `out`: alternate out / work from the right one.
    cfloat* dst = stages % 2 == 1 ? out : work;
    const cfloat* src = in;
    std::size_t ns = 1;
    for (std::size_t s = 0; s < stages; ++s) {
      const cfloat* tw = twiddles_.data() + offsets_[s];
      switch (radices_[s]) {
        case 2: stage<2, Inverse>(src, dst, ns, tw); break;
        case 3: stage<3, Inverse>(src, dst, ns, tw); break;
        case 4: stage<4, Inverse>(src, dst, ns, tw); break;
        default: stage<5, Inverse>(src, dst, ns, tw); break;
      }
      ns *= radices_[s];
      src = dst;
      dst = dst == out ? work : out;
    }
  }

 private:
  // -i z (forward) or +i z (inverse).
  template <bool Inverse>
  static cfloat rot(cfloat z) {
    return Inverse ? cfloat{-z.imag(), z.real()} : cfloat{z.imag(), -z.real()};
  }

  template <std::size_t R, bool Inverse>
  static void butterfly(cfloat* v) {
    if constexpr (R == 2) {
      const cfloat a = v[0], b = v[1];
      v[0] = a + b, v[1] = a - b;
    } else if constexpr (R == 3) {
      constexpr float h = 0.86602540378443864676f;  // sin(2 pi / 3)
      const cfloat t = v[1] + v[2], m = v[0] - 0.5f * t, d = rot<Inverse>(v[1] - v[2]) * h;
      v[0] = v[0] + t, v[1] = m + d, v[2] = m - d;
    } else if constexpr (R == 4) {
      const cfloat t0 = v[0] + v[2], t1 = v[0] - v[2], t2 = v[1] + v[3], t3 = rot<Inverse>(v[1] - v[3]);
      v[0] = t0 + t2, v[2] = t0 - t2, v[1] = t1 + t3, v[3] = t1 - t3;
    } else {
      constexpr float c1 = 0.30901699437494742410f, c2 = -0.80901699437494742410f;  // cos(2 pi/5), cos(4 pi/5)
      constexpr float s1 = 0.95105651629515357212f, s2 = 0.58778525229247312917f;   // sin(2 pi/5), sin(4 pi/5)
      const cfloat t1 = v[1] + v[4], t2 = v[2] + v[3], t3 = v[1] - v[4], t4 = v[2] - v[3];
      const cfloat m1 = v[0] + c1 * t1 + c2 * t2, m2 = v[0] + c2 * t1 + c1 * t2;
      const cfloat n1 = rot<Inverse>(s1 * t3 + s2 * t4), n2 = rot<Inverse>(s2 * t3 - s1 * t4);
      v[0] = v[0] + t1 + t2;
      v[1] = m1 + n1, v[4] = m1 - n1, v[2] = m2 + n2, v[3] = m2 - n2;
    }
  }

  // One Stockham stage: sub-transforms of length ns become length ns * R.
  template <std::size_t R, bool Inverse>
  void stage(const cfloat* in, cfloat* out, std::size_t ns, const cfloat* tw) const {
    const std::size_t stride = n_ / R, groups = n_ / (R * ns);
    for (std::size_t g = 0; g < groups; ++g)
      for (std::size_t k = 0; k < ns; ++k) {
        const std::size_t j = g * ns + k;
        cfloat v[R];
        v[0] = in[j];
        static_for<R - 1>([&](auto q1) {
          constexpr std::size_t q = q1 + 1;
          const cfloat w = tw[k * (R - 1) + q - 1];
          v[q] = cmul(in[j + q * stride], Inverse ? std::conj(w) : w);
        });
        butterfly<R, Inverse>(v);
        cfloat* o = out + g * ns * R + k;
        static_for<R>([&](auto q) { o[q * ns] = v[q]; });
      }
  }

  std::size_t n_;
  std::vector<std::size_t> radices_, offsets_;
  std::vector<cfloat> twiddles_;
};

}  // namespace polykern::detail::conv
