// The FFT engine (detail/fft/): against a naive double DFT on every supported size up to 64
// and on products of 2, 3 and 5 up to a few thousand, real and complex, one signal per
// lane; forward/inverse round trips; and the convolution's FFT method against the direct
// one on every CPU policy (with POLYKERN_WITH_FFTW the same cases run through FFTW).
#include <gtest/gtest.h>

#include <polykern/convolve.hpp>
#include <polykern/detail/fft/lanes.hpp>
#include <polykern/image.hpp>

#include <cmath>
#include <complex>
#include <cstdint>
#include <random>
#include <vector>

#include "common.hpp"

namespace pk = polykern;
namespace fft = polykern::detail::fft;

namespace {

using cdouble = std::complex<double>;

// The DFT of one lane (exponent -2 pi i / n, or + for the inverse), in double.
std::vector<cdouble> naive_dft(const std::vector<cdouble>& x, bool inverse) {
  const std::size_t n = x.size();
  std::vector<cdouble> roots(n), y(n);
  for (std::size_t k = 0; k < n; ++k) roots[k] = std::polar(1.0, (inverse ? 2 : -2) * M_PI * double(k) / double(n));
  for (std::size_t k = 0; k < n; ++k)
    for (std::size_t j = 0; j < n; ++j) y[k] += x[j] * roots[(j * k) % n];
  return y;
}

// Signals of n samples in each of L lanes, lane-major (sample k of lane l at k*L + l).
struct lane_signals {
  std::size_t n, lanes;
  fft::aligned_floats re, im;
  lane_signals(std::size_t n_, std::size_t lanes_, unsigned seed, bool real) : n(n_), lanes(lanes_), re(n_ * lanes_), im(n_ * lanes_) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    for (std::size_t i = 0; i < re.size(); ++i) re[i] = u(rng), im[i] = real ? 0.0f : u(rng);
  }
  std::vector<cdouble> lane(std::size_t l) const {
    std::vector<cdouble> x(n);
    for (std::size_t k = 0; k < n; ++k) x[k] = {re[k * lanes + l], im[k * lanes + l]};
    return x;
  }
};

// Largest |a - b| over the largest |b| (float FFT error grows like eps * log n).
double relative_error(const std::vector<cdouble>& a, const std::vector<cdouble>& b) {
  double err = 0, scale = 0;
  for (std::size_t i = 0; i < a.size(); ++i) err = std::max(err, std::abs(a[i] - b[i])), scale = std::max(scale, std::abs(b[i]));
  return scale > 0 ? err / scale : err;
}

double tolerance(std::size_t n) { return 2e-7 * (4 + std::log2(double(n))); }

std::vector<std::size_t> sizes_2_3_5(std::size_t top) {
  std::vector<std::size_t> out;
  for (std::size_t n = 1; n <= top; ++n)
    if (fft::supported_size(n)) out.push_back(n);
  return out;
}

template <class V>
class FftLanes : public ::testing::Test {};
using lane_types = ::testing::Types<float, xsimd::batch<float>>;
struct lane_name {
  template <class V>
  static std::string GetName(int) {
    return std::is_same_v<V, float> ? "scalar" : "simd";
  }
};
TYPED_TEST_SUITE(FftLanes, lane_types, lane_name);

// Forward (and, through the same engine, inverse) transforms of every lane against the DFT.
template <class V>
void check_against_dft(std::size_t n, bool real, bool every_lane) {
  constexpr std::size_t L = fft::lanes<V>;
  const fft::plan plan(n);
  ASSERT_TRUE(plan.valid()) << n;
  fft::aligned_floats work(2 * n * L);
  for (const bool inverse : {false, true}) {
    lane_signals s(n, L, static_cast<unsigned>(n * 2 + inverse), real);
    const lane_signals input = s;
    if (inverse) {
      plan.inverse<V>(s.re.data(), s.im.data(), work.data());
    } else {
      plan.forward<V>(s.re.data(), s.im.data(), work.data());
    }
    for (std::size_t l = 0; l < L; l += every_lane ? 1 : L - 1) {
      const auto want = naive_dft(input.lane(l), inverse);
      EXPECT_LE(relative_error(s.lane(l), want), tolerance(n)) << "n " << n << " lane " << l << (inverse ? " inverse" : "");
      if (real && !inverse) {  // the spectrum of real data is Hermitian
        const auto got = s.lane(l);
        for (std::size_t k = 1; k < n; ++k)
          EXPECT_NEAR(std::abs(got[k] - std::conj(got[n - k])), 0.0, tolerance(n) * std::sqrt(double(n)) + 1e-6);
      }
      if (L == 1) break;
    }
  }
}

TYPED_TEST(FftLanes, EverySizeUpTo64MatchesTheDft) {
  for (std::size_t n = 1; n <= 64; ++n) {
    if (!fft::supported_size(n)) {
      EXPECT_FALSE(fft::plan(n).valid()) << n;  // 7, 11, 13, ...: not a 2-3-5 size
      continue;
    }
    check_against_dft<TypeParam>(n, false, true);
    check_against_dft<TypeParam>(n, true, true);
  }
}

TYPED_TEST(FftLanes, ProductsOf2_3_5UpToAFewThousandMatchTheDft) {
  for (std::size_t n : {72u, 81u, 96u, 100u, 125u, 128u, 243u, 250u, 360u, 384u, 405u, 500u, 512u, 625u, 729u, 1000u,
                        1024u, 1125u, 1536u, 2048u, 2187u, 3000u, 3125u}) {
    check_against_dft<TypeParam>(n, n % 2 == 1, n < 600);
  }
}

TYPED_TEST(FftLanes, ForwardThenInverseGivesNTimesTheInput) {
  constexpr std::size_t L = fft::lanes<TypeParam>;
  for (std::size_t n : sizes_2_3_5(4000)) {
    if (n % 7 != 0 && n > 64 && n != 4000 && n != 3645) continue;  // every size up to 64, a spread above
    const fft::plan plan(n);
    fft::aligned_floats work(2 * n * L);
    lane_signals s(n, L, static_cast<unsigned>(n), false);
    const lane_signals input = s;
    plan.forward<TypeParam>(s.re.data(), s.im.data(), work.data());
    plan.inverse<TypeParam>(s.re.data(), s.im.data(), work.data());
    double err = 0;
    for (std::size_t i = 0; i < s.re.size(); ++i)
      err = std::max({err, std::abs(s.re[i] / double(n) - input.re[i]), std::abs(s.im[i] / double(n) - input.im[i])});
    EXPECT_LE(err, tolerance(n)) << n;
  }
}

TYPED_TEST(FftLanes, LanesAreIndependent) {
  // An impulse in one lane leaves every other lane's (zero) spectrum zero, and a lane's
  // result does not depend on its neighbours.
  constexpr std::size_t L = fft::lanes<TypeParam>;
  const std::size_t n = 360;
  const fft::plan plan(n);
  fft::aligned_floats work(2 * n * L);
  lane_signals s(n, L, 5, false), t = s;
  for (std::size_t k = 0; k < n; ++k) t.re[k * L] = 0, t.im[k * L] = 0;  // lane 0 silenced in t
  plan.forward<TypeParam>(s.re.data(), s.im.data(), work.data());
  plan.forward<TypeParam>(t.re.data(), t.im.data(), work.data());
  for (std::size_t k = 0; k < n; ++k) {
    EXPECT_EQ(t.re[k * L], 0.0f);
    for (std::size_t l = 1; l < L; ++l) EXPECT_EQ(s.re[k * L + l], t.re[k * L + l]);
  }
}

// ---- the convolution's FFT method ------------------------------------------------------

template <class P>
class FftConvolve : public ::testing::Test {
 protected:
  P policy = pk::testing::make_policy<P>();
};
using cpu_policies = ::testing::Types<pk::exec::scalar_policy, pk::exec::simd_policy
#if POLYKERN_HAS_OPENMP
                                      , pk::exec::openmp_policy
#endif
                                      >;
TYPED_TEST_SUITE(FftConvolve, cpu_policies, pk::testing::policy_name);

pk::image<float> unit_kernel(std::size_t w, std::size_t h, unsigned seed) {
  auto k = pk::testing::noise_image<float>(w, h, 1, seed);
  for (std::size_t y = 0; y < h; ++y)
    for (std::size_t x = 0; x < w; ++x) k.view().row(y)[x] /= static_cast<float>(w * h) / 2;
  return k;
}

template <class Out>
double largest_difference(const pk::image<Out>& a, const pk::image<Out>& b) {
  double d = 0;
  for (std::size_t y = 0; y < a.height(); ++y)
    for (std::size_t x = 0; x < a.width() * a.channels(); ++x)
      d = std::max(d, std::abs(double(a.view().row(y)[x]) - double(b.view().row(y)[x])));
  return d;
}

template <class Out>
double largest_value(const pk::image<Out>& a) {
  double d = 0;
  for (std::size_t y = 0; y < a.height(); ++y)
    for (std::size_t x = 0; x < a.width() * a.channels(); ++x) d = std::max(d, std::abs(double(a.view().row(y)[x])));
  return d;
}

TYPED_TEST(FftConvolve, AgreesWithTheDirectMethodOnEveryBorderAndShape) {
  struct shape {
    std::size_t w, h, c, kw, kh;
  };
  // odd and even sides, kernels larger than the image, several channels, many tiles
  for (const shape s : {shape{37, 23, 1, 3, 5}, shape{64, 48, 1, 9, 9}, shape{53, 41, 3, 31, 17}, shape{30, 20, 1, 40, 40},
                        shape{97, 61, 2, 16, 12}, shape{5, 3, 1, 21, 21}, shape{301, 211, 1, 25, 25}}) {
    const auto src = pk::testing::noise_image<float>(s.w, s.h, s.c, static_cast<unsigned>(s.w + s.kw));
    const auto k = unit_kernel(s.kw, s.kh, static_cast<unsigned>(s.h + s.kh));
    for (const pk::border mode : pk::testing::all_borders) {
      pk::image<float> want(s.w, s.h, s.c), got(s.w, s.h, s.c);
      const pk::border_spec b{mode, 0.25};
      pk::correlate(pk::exec::simd, src.view(), k.view(), want.view(), b, pk::conv_method::direct);
      pk::correlate(this->policy, src.view(), k.view(), got.view(), b, pk::conv_method::fft);
      EXPECT_LE(largest_difference(got, want), 1e-4 * largest_value(want))
          << s.w << "x" << s.h << "x" << s.c << " kernel " << s.kw << "x" << s.kh << " border " << int(mode);
    }
  }
}

TYPED_TEST(FftConvolve, Uint8ImagesRoundLikeTheDirectMethod) {
  const auto src = pk::testing::noise_image<std::uint8_t>(120, 90, 1, 3);
  const auto k = unit_kernel(15, 15, 4);
  pk::image<std::uint8_t> want(120, 90, 1), got(120, 90, 1);
  pk::correlate(pk::exec::simd, src.view(), k.view(), want.view(), {pk::border::reflect101}, pk::conv_method::direct);
  pk::correlate(this->policy, src.view(), k.view(), got.view(), {pk::border::reflect101}, pk::conv_method::fft);
  EXPECT_LE(largest_difference(got, want), 1.0);  // values near .5 may round either way
}

TYPED_TEST(FftConvolve, ManyTilesPerThreadMatchTheDirectMethod) {
  // enough pairs of tiles that the openmp policy hands whole pairs to its threads
  const auto src = pk::testing::noise_image<float>(1000, 800, 1, 8);
  const auto k = unit_kernel(11, 11, 9);
  pk::image<float> want(1000, 800, 1), got(1000, 800, 1);
  pk::correlate(pk::exec::simd, src.view(), k.view(), want.view(), {pk::border::reflect}, pk::conv_method::direct);
  pk::correlate(this->policy, src.view(), k.view(), got.view(), {pk::border::reflect}, pk::conv_method::fft);
  EXPECT_LE(largest_difference(got, want), 1e-4 * largest_value(want));
}

#if POLYKERN_HAS_OPENMP
TEST(FftConvolveOpenmp, BitwiseTheSameForOneAndTwoThreads) {
  // few tiles (phases split over the team) and many (pairs handed to threads)
  for (const std::size_t w : {150u, 1000u}) {
    const auto src = pk::testing::noise_image<float>(w, 700, 1, 11);
    const auto k = unit_kernel(21, 19, 12);
    pk::image<float> one(w, 700, 1), two(w, 700, 1);
    pk::correlate(pk::exec::openmp_policy{1}, src.view(), k.view(), one.view(), {}, pk::conv_method::fft);
    pk::correlate(pk::exec::openmp_policy{2}, src.view(), k.view(), two.view(), {}, pk::conv_method::fft);
    EXPECT_EQ(largest_difference(one, two), 0.0) << w;
  }
}
#endif

}  // namespace
