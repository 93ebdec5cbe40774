// Convolution (api.md §4) on every policy, against a double-precision brute force that
// applies the border index maps literally, and against OpenCV 4.6 where it agrees.
#include <gtest/gtest.h>

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <polykern/convolve.hpp>
#include <polykern/image.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "common.hpp"

namespace pk = polykern;

namespace {

using polykern::testing::all_borders;  // tests/common.hpp
using polykern::testing::as_mat;
using polykern::testing::cv_border;

// ---- the oracle -------------------------------------------------------------------------

using polykern::testing::literal_border;  // tests/oracles.hpp

struct dense_kernel {
  std::size_t w = 0, h = 0;
  std::vector<float> k;  // row-major
  float at(std::size_t i, std::size_t j) const { return k[j * w + i]; }
  pk::image_view<const float> view() const { return {k.data(), w, h}; }
};

// dst(x,y,c) = sum_{i,j} k(i,j) src(x+i-ax, y+j-ay, c), in double.
template <class In>
std::vector<double> brute(const pk::image<In>& src, const dense_kernel& k, pk::border_spec b, std::ptrdiff_t ax = -1,
                          std::ptrdiff_t ay = -1) {
  if (ax < 0) ax = static_cast<std::ptrdiff_t>(k.w / 2);
  if (ay < 0) ay = static_cast<std::ptrdiff_t>(k.h / 2);
  const auto W = static_cast<std::ptrdiff_t>(src.width()), H = static_cast<std::ptrdiff_t>(src.height());
  const std::size_t C = src.channels();
  double outside = b.value;
  if constexpr (std::is_same_v<In, std::uint8_t>) outside = std::clamp(std::nearbyint(b.value), 0.0, 255.0);
  std::vector<double> out(src.width() * src.height() * C);
  for (std::ptrdiff_t y = 0; y < H; ++y)
    for (std::ptrdiff_t x = 0; x < W; ++x)
      for (std::size_t c = 0; c < C; ++c) {
        double sum = 0;
        for (std::size_t j = 0; j < k.h; ++j) {
          const std::ptrdiff_t yy = literal_border(y + static_cast<std::ptrdiff_t>(j) - ay, H, b.mode);
          for (std::size_t i = 0; i < k.w; ++i) {
            const std::ptrdiff_t xx = literal_border(x + static_cast<std::ptrdiff_t>(i) - ax, W, b.mode);
            const double v = (yy < 0 || xx < 0) ? outside : static_cast<double>(src(xx, yy, c));
            sum += static_cast<double>(k.at(i, j)) * v;
          }
        }
        out[(y * W + x) * C + c] = sum;
      }
  return out;
}

// ---- data ---------------------------------------------------------------------------------

template <class T>
pk::image<T> random_image(std::size_t w, std::size_t h, std::size_t c, unsigned seed) {
  return pk::testing::noise_image<T>(w, h, c, seed);
}

dense_kernel random_kernel(std::size_t w, std::size_t h, unsigned seed, bool positive = false) {
  dense_kernel k{w, h, std::vector<float>(w * h)};
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(positive ? 0.0f : -1.0f, 1.0f);
  double sum = 0;
  for (auto& v : k.k) sum += std::abs(v = d(rng));
  for (auto& v : k.k) v = static_cast<float>(v / sum);  // sum |k| = 1
  return k;
}

dense_kernel outer(const std::vector<float>& kx, const std::vector<float>& ky) {
  dense_kernel k{kx.size(), ky.size(), std::vector<float>(kx.size() * ky.size())};
  for (std::size_t j = 0; j < ky.size(); ++j)
    for (std::size_t i = 0; i < kx.size(); ++i) k.k[j * kx.size() + i] = kx[i] * ky[j];
  return k;
}

std::vector<float> taps(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(-1.0f, 1.0f);
  std::vector<float> t(n);
  for (auto& v : t) v = d(rng);
  return t;
}

// Every output within tol (float) or 1 (uint8, after rounding) of the reference; NaN where
// the reference is NaN.
template <class Out>
::testing::AssertionResult matches(const pk::image<Out>& got, const std::vector<double>& ref, double tol) {
  const std::size_t row = got.width() * got.channels();
  for (std::size_t y = 0; y < got.height(); ++y)
    for (std::size_t e = 0; e < row; ++e) {
      const double want = ref[y * row + e];
      const double have = got.view().row(y)[e];
      bool ok;
      if constexpr (std::is_same_v<Out, std::uint8_t>) {
        const double w8 = std::isnan(want) ? 0.0 : std::clamp(std::nearbyint(want), 0.0, 255.0);
        ok = std::abs(have - w8) <= 1.0;
      } else {
        ok = std::isnan(want) ? std::isnan(have) : std::abs(have - want) <= tol;
      }
      if (!ok)
        return ::testing::AssertionFailure() << "at element " << e << " of row " << y << ": got " << have
                                             << ", want " << want << " (tol " << tol << ")";
    }
  return ::testing::AssertionSuccess();
}

template <class Out>
double max_abs_difference(const pk::image<Out>& a, const pk::image<Out>& b) {
  double m = 0;
  for (std::size_t y = 0; y < a.height(); ++y)
    for (std::size_t e = 0; e < a.width() * a.channels(); ++e)
      m = std::max(m, std::abs(double(a.view().row(y)[e]) - double(b.view().row(y)[e])));
  return m;
}

template <class T>
std::vector<double> from_mat(const cv::Mat& m) {
  std::vector<double> out;
  for (int y = 0; y < m.rows; ++y)
    for (int e = 0; e < m.cols * m.channels(); ++e) out.push_back(m.ptr<T>(y)[e]);
  return out;
}

template <class P>
class Convolve : public ::testing::Test {
 protected:
  P policy = pk::testing::make_policy<P>();
};
TYPED_TEST_SUITE(Convolve, pk::testing::all_policies, pk::testing::policy_name);

}  // namespace

// ---- semantics against the brute force ---------------------------------------------------

TYPED_TEST(Convolve, CorrelateMatchesBruteForceOnEveryBorderAndShape) {
  struct shape {
    std::size_t w, h, c;
  };
  const shape shapes[] = {{1, 1, 1}, {1, 9, 1}, {9, 1, 2}, {17, 5, 1}, {35, 19, 3}};
  const std::pair<std::size_t, std::size_t> sizes[] = {{1, 1}, {3, 3}, {5, 3}, {4, 4}, {1, 6}, {7, 1}};
  unsigned seed = 1;
  for (const auto& s : shapes) {
    const auto src = random_image<float>(s.w, s.h, s.c, seed++);
    for (const auto& [kw, kh] : sizes) {
      const auto k = random_kernel(kw, kh, seed++);
      for (const auto mode : all_borders) {
        const pk::border_spec b{mode, 0.25};
        const auto ref = brute(src, k, b);
        for (const auto method : {pk::conv_method::direct, pk::conv_method::low_rank, pk::conv_method::automatic}) {
          pk::image<float> dst(s.w, s.h, s.c);
          pk::correlate(this->policy, src.view(), k.view(), dst.view(), b, method);
          EXPECT_TRUE(matches(dst, ref, 2e-5)) << s.w << "x" << s.h << "x" << s.c << " kernel " << kw << "x" << kh
                                               << " " << pk::name(mode) << " " << pk::name(method);
        }
      }
    }
  }
}

// The direct engine's register-blocked paths: every kernel height up to 7 has its own (and
// 8, 9 the general one), on images narrower than one vector, off the vector width, with
// several blocks of 6 rows and a chunk boundary (48 rows), float and uint8, every border,
// and in place; uint8 also against OpenCV.
TYPED_TEST(Convolve, DirectSmallKernelsMatchBruteForce) {
  struct shape {
    std::size_t w, h, c;
  };
  const shape shapes[] = {{1, 1, 1}, {2, 13, 1}, {19, 8, 3}, {53, 61, 1}};
  const std::pair<std::size_t, std::size_t> sizes[] = {{3, 3}, {5, 5}, {7, 7}, {2, 4}, {6, 1}, {1, 7}, {4, 8}, {9, 9}, {11, 2}};
  unsigned seed = 900;
  for (const auto& s : shapes) {
    const auto src = random_image<float>(s.w, s.h, s.c, seed++);
    const auto src8 = random_image<std::uint8_t>(s.w, s.h, s.c, seed++);
    for (const auto& [kw, kh] : sizes) {
      const auto k = random_kernel(kw, kh, seed++);
      const auto kp = random_kernel(kw, kh, seed++, true);
      for (const auto mode : all_borders) {
        const pk::border_spec b{mode, 0.75};
        const std::string what = std::to_string(s.w) + "x" + std::to_string(s.h) + "x" + std::to_string(s.c) +
                                 " kernel " + std::to_string(kw) + "x" + std::to_string(kh) + " " +
                                 std::string(pk::name(mode));
        pk::image<float> dst(s.w, s.h, s.c);
        pk::correlate(this->policy, src.view(), k.view(), dst.view(), b, pk::conv_method::direct);
        EXPECT_TRUE(matches(dst, brute(src, k, b), 2e-5)) << what;
        const pk::border_spec b8{mode, 40.0};
        pk::image<std::uint8_t> dst8(s.w, s.h, s.c);
        pk::correlate(this->policy, src8.view(), kp.view(), dst8.view(), b8, pk::conv_method::direct);
        EXPECT_TRUE(matches(dst8, brute(src8, kp, b8), 0)) << what << " uint8";
        pk::image<float> to_float(s.w, s.h, s.c);
        pk::correlate(this->policy, src8.view(), k.view(), to_float.view(), b8, pk::conv_method::direct);
        EXPECT_TRUE(matches(to_float, brute(src8, k, b8), 1e-3)) << what << " uint8 -> float";
        pk::image<float> same = src;
        pk::correlate(this->policy, same.view(), k.view(), same.view(), b, pk::conv_method::direct);
        EXPECT_EQ(max_abs_difference(same, dst), 0.0) << what << " in place";
        // OpenCV has no wrap for filter2D, and its constant border is 0 here.
        if (mode != pk::border::wrap && mode != pk::border::constant && kw % 2 == 1 && kh % 2 == 1 && s.w >= kw &&
            s.h >= kh) {
          cv::Mat want;
          cv::filter2D(as_mat(src8), want, CV_8U,
                       cv::Mat(static_cast<int>(kh), static_cast<int>(kw), CV_32F, const_cast<float*>(kp.k.data())),
                       cv::Point(-1, -1), 0, cv_border(mode));
          EXPECT_TRUE(matches(dst8, from_mat<std::uint8_t>(want), 0)) << what << " uint8 vs OpenCV";
        }
      }
    }
  }
}

#if POLYKERN_HAS_OPENMP
// Fixed chunks: the same bits on any team, and the same bits as the simd policy.
TEST(ConvolveDirect, OpenmpBitwiseIdenticalForAnyTeam) {
  const auto src = random_image<float>(203, 150, 1, 950);
  const auto src8 = random_image<std::uint8_t>(101, 97, 3, 951);
  for (const auto& [kw, kh] : {std::pair{3, 3}, std::pair{5, 5}, std::pair{7, 7}, std::pair{9, 8}}) {
    const auto k = random_kernel(static_cast<std::size_t>(kw), static_cast<std::size_t>(kh), 952);
    pk::image<float> ref(203, 150, 1);
    pk::image<std::uint8_t> ref8(101, 97, 3);
    pk::correlate(pk::exec::simd, src.view(), k.view(), ref.view(), {pk::border::reflect}, pk::conv_method::direct);
    pk::correlate(pk::exec::simd, src8.view(), k.view(), ref8.view(), {pk::border::reflect}, pk::conv_method::direct);
    for (int threads : {1, 2, 3, 7}) {
      pk::image<float> dst(203, 150, 1);
      pk::image<std::uint8_t> dst8(101, 97, 3);
      const pk::exec::openmp_policy omp{threads};
      pk::correlate(omp, src.view(), k.view(), dst.view(), {pk::border::reflect}, pk::conv_method::direct);
      pk::correlate(omp, src8.view(), k.view(), dst8.view(), {pk::border::reflect}, pk::conv_method::direct);
      EXPECT_EQ(max_abs_difference(dst, ref), 0.0) << kw << "x" << kh << " on " << threads << " threads";
      EXPECT_EQ(max_abs_difference(dst8, ref8), 0.0) << kw << "x" << kh << " uint8 on " << threads << " threads";
    }
  }
}
#endif

// Every output element sums its products in one order, whichever body of the direct engine
// computes it (a fixed-height block, the general body, a row's last vectors) and on every CPU
// policy: so a column strip of an image gives the bits the whole image gives there (dask
// chunks rely on it, python/tests/test_dask.py), and simd equals scalar bitwise.
TEST(ConvolveDirect, SameBitsOnEveryPolicyAndEveryImageWidth) {
  const auto src = random_image<float>(45, 38, 1, 960);
  for (const auto& [kw, kh] : {std::pair{4, 5}, std::pair{3, 3}, std::pair{7, 7}, std::pair{5, 9}, std::pair{1, 6}}) {
    const auto k = random_kernel(static_cast<std::size_t>(kw), static_cast<std::size_t>(kh), 961);
    pk::image<float> whole(45, 38, 1);
    pk::correlate(pk::exec::scalar, src.view(), k.view(), whole.view(), {pk::border::constant, -0.5},
                  pk::conv_method::direct);
    const auto check = [&](const auto& policy, const char* name) {
      pk::image<float> dst(45, 38, 1);
      pk::correlate(policy, src.view(), k.view(), dst.view(), {pk::border::constant, -0.5}, pk::conv_method::direct);
      EXPECT_EQ(max_abs_difference(dst, whole), 0.0) << kw << "x" << kh << " on " << name;
      // A strip of columns [x0, x0 + w) with its halo: its interior equals the whole image's.
      const std::size_t x0 = 9, w = 11, ax = static_cast<std::size_t>(kw) / 2;
      const std::size_t from = x0 - ax, width = w + static_cast<std::size_t>(kw) - 1;
      pk::image<float> strip(width, 38, 1);
      pk::correlate(policy, pk::image_view<const float>(src.view().row(0) + from, width, 38, 1, src.view().row_stride),
                    k.view(), strip.view(), {pk::border::constant, -0.5}, pk::conv_method::direct);
      for (std::size_t y = 0; y < 38; ++y)
        for (std::size_t x = 0; x < w; ++x)
          ASSERT_EQ(strip.view().row(y)[ax + x], whole.view().row(y)[x0 + x])
              << kw << "x" << kh << " on " << name << " at " << x0 + x << "," << y;
    };
    check(pk::exec::scalar, "scalar");
    check(pk::exec::simd, "simd");
#if POLYKERN_HAS_OPENMP
    check(pk::exec::openmp, "openmp");
#endif
  }
}

TYPED_TEST(Convolve, SeparableMethodsMatchBruteForce) {
  unsigned seed = 100;
  for (const auto& [w, h, c] : {std::tuple{23, 11, 1}, std::tuple{18, 7, 4}, std::tuple{1, 12, 2}}) {
    const auto src = random_image<float>(w, h, c, seed++);
    for (const auto& [nx, ny] : {std::pair{5, 5}, std::pair{1, 9}, std::pair{8, 3}, std::pair{31, 2}}) {
      const auto kx = taps(nx, seed++), ky = taps(ny, seed++);
      const auto k = outer(kx, ky);
      for (const auto mode : all_borders) {
        const pk::border_spec b{mode, -0.5};
        const auto ref = brute(src, k, b);
        pk::image<float> a(w, h, c), d(w, h, c);
        pk::separable_correlate(this->policy, src.view(), kx, ky, a.view(), b);
        EXPECT_TRUE(matches(a, ref, 1e-4)) << "separable_correlate " << nx << "x" << ny << " " << pk::name(mode);
        pk::correlate(this->policy, src.view(), k.view(), d.view(), b, pk::conv_method::separable);
        EXPECT_TRUE(matches(d, ref, 1e-4)) << "correlate separable " << nx << "x" << ny << " " << pk::name(mode);
      }
    }
  }
}

TYPED_TEST(Convolve, KernelWiderThanTheImageReflectsRepeatedly) {
  const auto src = random_image<float>(3, 2, 1, 7);
  const auto k = random_kernel(201, 201, 8, true);
  for (const auto mode : all_borders) {
    const pk::border_spec b{mode, 0.5};
    const auto ref = brute(src, k, b);
    for (const auto method : {pk::conv_method::direct, pk::conv_method::automatic}) {
      pk::image<float> dst(3, 2, 1);
      pk::correlate(this->policy, src.view(), k.view(), dst.view(), b, method);
      EXPECT_TRUE(matches(dst, ref, 1e-4)) << pk::name(mode) << " " << pk::name(method);
    }
    // separable, 201 taps each way, on 1x1 and 3x2
    const auto kx = taps(201, 9), ky = taps(201, 10);
    pk::image<float> sep(3, 2, 1);
    pk::separable_correlate(this->policy, src.view(), kx, ky, sep.view(), b);
    EXPECT_TRUE(matches(sep, brute(src, outer(kx, ky), b), 1e-3)) << pk::name(mode);
    const auto one = random_image<float>(1, 1, 1, 11);
    pk::image<float> single(1, 1, 1);
    pk::separable_correlate(this->policy, one.view(), kx, ky, single.view(), b);
    EXPECT_TRUE(matches(single, brute(one, outer(kx, ky), b), 1e-3)) << pk::name(mode);
  }
}

TYPED_TEST(Convolve, Uint8InAndOutRoundAndSaturate) {
  const auto src = random_image<std::uint8_t>(37, 13, 3, 21);
  // A kernel summing to 3 drives bright pixels past 255; a negative one drives others below 0.
  for (const auto& k : {outer({1.0f, 1.0f, 1.0f}, {0.25f, 0.5f, 0.25f}), outer({-1.0f, 0.6f, 0.3f}, {1.0f})}) {
    for (const auto mode : {pk::border::reflect, pk::border::constant}) {
      const pk::border_spec b{mode, 300.0};  // saturates to 255 in the uint8 source
      const auto ref = brute(src, k, b);
      pk::image<std::uint8_t> d8(37, 13, 3);
      pk::image<float> df(37, 13, 3);
      pk::correlate(this->policy, src.view(), k.view(), d8.view(), b);
      pk::correlate(this->policy, src.view(), k.view(), df.view(), b);
      EXPECT_TRUE(matches(d8, ref, 0)) << pk::name(mode);
      EXPECT_TRUE(matches(df, ref, 1e-3)) << pk::name(mode);
      bool saw_0 = false, saw_255 = false;
      for (std::size_t y = 0; y < 13; ++y)
        for (std::size_t e = 0; e < 37 * 3; ++e) saw_0 |= d8.view().row(y)[e] == 0, saw_255 |= d8.view().row(y)[e] == 255;
      EXPECT_TRUE(saw_0 || saw_255);
    }
  }
  // float in, uint8 out
  const auto f = random_image<float>(19, 6, 1, 22);
  pk::image<std::uint8_t> out(19, 6, 1);
  const auto k = random_kernel(3, 3, 23);
  dense_kernel scaled = k;
  for (auto& v : scaled.k) v *= 1000.0f;
  pk::correlate(this->policy, f.view(), scaled.view(), out.view());
  EXPECT_TRUE(matches(out, brute(f, scaled, {}), 0));
}

TYPED_TEST(Convolve, OneToFourChannelsFilterIndependently) {
  for (std::size_t c = 1; c <= 4; ++c) {
    const auto src = random_image<float>(21, 9, c, 30 + static_cast<unsigned>(c));
    const auto k = random_kernel(5, 3, 31);
    pk::image<float> dst(21, 9, c);
    pk::correlate(this->policy, src.view(), k.view(), dst.view(), {pk::border::reflect101});
    EXPECT_TRUE(matches(dst, brute(src, k, {pk::border::reflect101}), 2e-5)) << c << " channels";
    pk::image<float> g(21, 9, c);
    pk::gaussian_blur(this->policy, src.view(), g.view(), 1.5);
    const auto gt = pk::detail::conv::gaussian_taps(13, 1.5);
    EXPECT_TRUE(matches(g, brute(src, outer(gt, gt), {}), 2e-5)) << c << " channels";
  }
}

TYPED_TEST(Convolve, NanInTheImagePropagates) {
  auto src = random_image<float>(24, 10, 1, 40);
  src(5, 4) = std::numeric_limits<float>::quiet_NaN();
  const auto k = random_kernel(3, 3, 41, true);
  for (const auto method : {pk::conv_method::direct, pk::conv_method::automatic}) {
    pk::image<float> dst(24, 10, 1);
    pk::correlate(this->policy, src.view(), k.view(), dst.view(), {}, method);
    EXPECT_TRUE(matches(dst, brute(src, k, {}), 2e-5)) << pk::name(method);
    EXPECT_TRUE(std::isnan(dst(5, 4)) && std::isnan(dst(4, 3)) && std::isnan(dst(6, 5)));
    EXPECT_FALSE(std::isnan(dst(7, 4)) || std::isnan(dst(5, 6)));
  }
  pk::image<std::uint8_t> d8(24, 10, 1);
  pk::gaussian_blur(this->policy, src.view(), d8.view(), 1.0, 0, 3);
  EXPECT_EQ(d8(5, 4), 0);  // NaN saturates to 0, as OpenCV's saturate_cast
}

// The separable passes: a NaN reaches exactly the outputs whose window holds it, for short
// kernels and for kernels taller than a SIMD block's ramp (kh >= lanes - 1), in every row
// of a block and across blocks (the image is taller than two 16-row blocks).
TYPED_TEST(Convolve, NanStaysInsideTheSeparableWindow) {
  for (const unsigned ksize : {3u, 5u, 21u, 41u}) {
    for (const std::size_t nan_row : {4u, 15u, 16u, 30u}) {
      auto src = random_image<float>(19, 47, 1, 42);
      src(7, nan_row) = std::numeric_limits<float>::quiet_NaN();
      pk::image<float> dst(19, 47, 1);
      pk::gaussian_blur(this->policy, src.view(), dst.view(), 2.0, 0, static_cast<int>(ksize), {pk::border::replicate});
      const auto gt = pk::detail::conv::gaussian_taps(ksize, 2.0);
      EXPECT_TRUE(matches(dst, brute(src, outer(gt, gt), {pk::border::replicate}), 2e-5)) << ksize << " row " << nan_row;
      const long reach = static_cast<long>(ksize / 2);
      for (std::size_t y = 0; y < 47; ++y)
        for (std::size_t x = 0; x < 19; ++x) {
          const bool inside = std::abs(static_cast<long>(y) - static_cast<long>(nan_row)) <= reach &&
                              std::abs(static_cast<long>(x) - 7L) <= reach;
          ASSERT_EQ(std::isnan(dst(x, y)), inside) << "ksize " << ksize << " NaN row " << nan_row << " at (" << x << ", " << y << ")";
        }
    }
  }
}

TYPED_TEST(Convolve, InPlace) {
  for (const auto c : {1u, 3u}) {
    auto img = random_image<float>(29, 23, c, 50 + c);
    const auto original = img;
    const auto k = random_kernel(7, 5, 51);
    pk::correlate(this->policy, img.view(), k.view(), img.view(), {pk::border::reflect});
    EXPECT_TRUE(matches(img, brute(original, k, {pk::border::reflect}), 2e-5));
    auto g = original;
    pk::gaussian_blur(this->policy, g.view(), g.view(), 2.0, 1.0, 0, {pk::border::wrap});
    const auto gx = pk::detail::conv::gaussian_taps(17, 2.0), gy = pk::detail::conv::gaussian_taps(9, 1.0);
    EXPECT_TRUE(matches(g, brute(original, outer(gx, gy), {pk::border::wrap}), 2e-5));
  }
}

TYPED_TEST(Convolve, ConvolveFlipsTheKernelAndItsAnchor) {
  const auto src = random_image<float>(16, 12, 1, 60);
  for (const auto& [kw, kh] : {std::pair{3, 5}, std::pair{4, 2}}) {
    const auto k = random_kernel(kw, kh, 61);
    dense_kernel flipped = k;
    for (std::size_t j = 0; j < k.h; ++j)
      for (std::size_t i = 0; i < k.w; ++i) flipped.k[j * k.w + i] = k.at(k.w - 1 - i, k.h - 1 - j);
    pk::image<float> dst(16, 12, 1);
    pk::convolve(this->policy, src.view(), k.view(), dst.view(), {pk::border::reflect101});
    // SciPy convolve: dst(x) = sum_i k(i) src(x - i + kw/2): the flipped kernel anchored at (kw-1)/2.
    const auto ref = brute(src, flipped, {pk::border::reflect101}, (k.w - 1) / 2, (k.h - 1) / 2);
    EXPECT_TRUE(matches(dst, ref, 2e-5)) << kw << "x" << kh;
  }
}

TYPED_TEST(Convolve, AllMethodsAgreeOnUnitRangeImages) {
  const auto src = random_image<float>(70, 45, 2, 70);
  // rank 3: a sum of three separable terms
  dense_kernel k{21, 17, std::vector<float>(21 * 17, 0.0f)};
  for (unsigned t = 0; t < 3; ++t) {
    const auto part = outer(taps(21, 71 + t), taps(17, 74 + t));
    for (std::size_t i = 0; i < k.k.size(); ++i) k.k[i] += part.k[i] / 60.0f;
  }
  const auto ref = brute(src, k, {pk::border::reflect});
  double scale = 0;
  for (double v : ref) scale = std::max(scale, std::abs(v));
  for (const auto method : {pk::conv_method::direct, pk::conv_method::low_rank, pk::conv_method::fft,
                            pk::conv_method::automatic}) {
    pk::image<float> dst(70, 45, 2);
    pk::correlate(this->policy, src.view(), k.view(), dst.view(), {pk::border::reflect}, method);
    EXPECT_TRUE(matches(dst, ref, 1e-4 * scale)) << pk::name(method);
  }
  const auto g = pk::detail::conv::gaussian_taps(15, 3.0);
  const auto kg = outer(g, g);
  const auto ref_g = brute(src, kg, {pk::border::reflect});
  for (const auto method : {pk::conv_method::direct, pk::conv_method::separable, pk::conv_method::low_rank,
                            pk::conv_method::fft, pk::conv_method::automatic}) {
    pk::image<float> dst(70, 45, 2);
    pk::correlate(this->policy, src.view(), kg.view(), dst.view(), {pk::border::reflect}, method);
    EXPECT_TRUE(matches(dst, ref_g, 1e-4)) << pk::name(method);
  }
}

TYPED_TEST(Convolve, BatchMatchesOneCallPerImage) {
  std::vector<pk::image<float>> srcs, dsts;
  srcs.push_back(random_image<float>(40, 30, 1, 80));
  srcs.push_back(random_image<float>(17, 50, 1, 81));
  srcs.push_back(random_image<float>(5, 3, 1, 82));
  for (const auto& s : srcs) dsts.emplace_back(s.width(), s.height(), 1);
  std::vector<pk::image_view<float>> in, out;
  for (auto& s : srcs) in.push_back(s.view());
  for (auto& d : dsts) out.push_back(d.view());
  const auto g = pk::detail::conv::gaussian_taps(9, 2.0);
  for (const auto& k : {outer(g, g), random_kernel(6, 5, 83)}) {
    pk::correlate_batch(this->policy, in, k.view(), out, {pk::border::reflect});
    for (std::size_t i = 0; i < srcs.size(); ++i)
      EXPECT_TRUE(matches(dsts[i], brute(srcs[i], k, {pk::border::reflect}), 2e-5)) << "image " << i;
  }
  // in place within a batch, uint8
  auto a = random_image<std::uint8_t>(33, 8, 3, 84), b = random_image<std::uint8_t>(12, 20, 3, 85);
  const auto a0 = a, b0 = b;
  const std::vector<pk::image_view<std::uint8_t>> both = {a.view(), b.view()};
  const auto k = random_kernel(3, 3, 86, true);
  pk::correlate_batch(this->policy, both, k.view(), both);
  EXPECT_TRUE(matches(a, brute(a0, k, {}), 0));
  EXPECT_TRUE(matches(b, brute(b0, k, {}), 0));
  // an empty batch does nothing
  pk::correlate_batch(this->policy, std::vector<pk::image_view<const float>>{}, k.view(),
                      std::vector<pk::image_view<float>>{});
}

// ---- against OpenCV 4.6 --------------------------------------------------------------------

TYPED_TEST(Convolve, Filter2DAgreesWithOpenCv) {
  unsigned seed = 200;
  for (const auto& [kw, kh] : {std::pair{3, 3}, std::pair{5, 5}, std::pair{4, 6}, std::pair{1, 7}, std::pair{15, 13}}) {
    const auto src = random_image<float>(61, 37, 1, seed++);
    const auto k = random_kernel(kw, kh, seed++);
    const cv::Mat kmat(kh, kw, CV_32F, const_cast<float*>(k.k.data()));
    for (const auto mode : {pk::border::reflect, pk::border::reflect101, pk::border::replicate, pk::border::constant}) {
      cv::Mat want;
      cv::filter2D(as_mat(src), want, CV_32F, kmat, cv::Point(-1, -1), 0, cv_border(mode));
      pk::image<float> dst(61, 37, 1);
      pk::correlate(this->policy, src.view(), k.view(), dst.view(), {mode, 0.0});
      EXPECT_TRUE(matches(dst, from_mat<float>(want), 1e-5)) << kw << "x" << kh << " " << pk::name(mode);
    }
  }
  // uint8 -> uint8
  const auto src8 = random_image<std::uint8_t>(50, 31, 3, seed++);
  const auto k = random_kernel(5, 5, seed++, true);
  const cv::Mat kmat(5, 5, CV_32F, const_cast<float*>(k.k.data()));
  cv::Mat want;
  cv::filter2D(as_mat(src8), want, CV_8U, kmat, cv::Point(-1, -1), 0, cv::BORDER_REFLECT_101);
  pk::image<std::uint8_t> dst(50, 31, 3);
  pk::correlate(this->policy, src8.view(), k.view(), dst.view(), {pk::border::reflect101});
  EXPECT_TRUE(matches(dst, from_mat<std::uint8_t>(want), 0));
}

TYPED_TEST(Convolve, SepFilter2DAgreesWithOpenCv) {
  const auto src = random_image<float>(45, 28, 3, 300);
  const auto kx = taps(9, 301), ky = taps(5, 302);
  for (const auto mode : {pk::border::reflect, pk::border::reflect101, pk::border::replicate, pk::border::constant}) {
    cv::Mat want;
    cv::sepFilter2D(as_mat(src), want, CV_32F, cv::Mat(kx), cv::Mat(ky), cv::Point(-1, -1), 0, cv_border(mode));
    pk::image<float> dst(45, 28, 3);
    pk::separable_correlate(this->policy, src.view(), kx, ky, dst.view(), {mode, 0.0});
    EXPECT_TRUE(matches(dst, from_mat<float>(want), 1e-5)) << pk::name(mode);
  }
}

TYPED_TEST(Convolve, GaussianBlurAgreesWithOpenCv) {
  const auto src = random_image<float>(64, 40, 1, 400);
  const auto src8 = random_image<std::uint8_t>(64, 40, 3, 401);
  struct params {
    double sx, sy;
    int ksize;
  };
  for (const auto& p : {params{1.0, 0, 0}, params{2.5, 1.2, 0}, params{0, 0, 5}, params{0, 0, 9}, params{3, 0, 7},
                        params{8, 0, 0}}) {
    for (const auto mode : {pk::border::reflect, pk::border::reflect101, pk::border::replicate}) {
      cv::Mat want, want8;
      cv::GaussianBlur(as_mat(src), want, cv::Size(p.ksize, p.ksize), p.sx, p.sy, cv_border(mode));
      cv::GaussianBlur(as_mat(src8), want8, cv::Size(p.ksize, p.ksize), p.sx, p.sy, cv_border(mode));
      pk::image<float> dst(64, 40, 1);
      pk::image<std::uint8_t> dst8(64, 40, 3);
      pk::gaussian_blur(this->policy, src.view(), dst.view(), p.sx, p.sy, p.ksize, {mode});
      pk::gaussian_blur(this->policy, src8.view(), dst8.view(), p.sx, p.sy, p.ksize, {mode});
      EXPECT_TRUE(matches(dst, from_mat<float>(want), 1e-5)) << p.sx << " " << p.sy << " " << p.ksize;
      // OpenCV's 8U path is fixed-point (taps rounded to 16 bits): within 1 of our float
      // accumulation, except for wide kernels whose small taps it rounds further.
      const auto want8_values = from_mat<std::uint8_t>(want8);
      double worst = 0;
      for (std::size_t y = 0; y < 40; ++y)
        for (std::size_t e = 0; e < 64 * 3; ++e)
          worst = std::max(worst, std::abs(double(dst8.view().row(y)[e]) - want8_values[y * 64 * 3 + e]));
      EXPECT_LE(worst, p.sx >= 8 ? 2.0 : 1.0) << p.sx << " " << p.sy << " " << p.ksize;
    }
  }
}

TYPED_TEST(Convolve, WeightedSumOfSeparableTermsInOnePass) {
  const auto src = random_image<float>(57, 33, 3, 450);
  const auto src8 = random_image<std::uint8_t>(57, 33, 3, 451);
  const auto g5 = pk::gaussian_kernel(5, 1.0), g11 = pk::gaussian_kernel(11, 2.0), t3 = taps(3, 452);
  const std::vector<pk::separable_term> terms = {{g5, g5, 0.5}, {g11, t3, -0.25}, {t3, g11, 2.0}};
  dense_kernel sum{11, 11, std::vector<float>(121, 0.0f)};
  for (const auto& t : terms) {  // the same sum as one dense 11x11 kernel (centres aligned)
    const std::size_t ox = (11 - t.kx.size()) / 2, oy = (11 - t.ky.size()) / 2;
    for (std::size_t j = 0; j < t.ky.size(); ++j)
      for (std::size_t i = 0; i < t.kx.size(); ++i)
        sum.k[(oy + j) * 11 + ox + i] += static_cast<float>(t.weight * t.kx[i] * t.ky[j]);
  }
  for (const auto mode : all_borders) {
    pk::image<float> dst(57, 33, 3);
    pk::separable_correlate(this->policy, src.view(), std::span<const pk::separable_term>(terms), dst.view(), {mode, 0.5});
    EXPECT_TRUE(matches(dst, brute(src, sum, {mode, 0.5}), 1e-5)) << pk::name(mode);
    pk::image<std::uint8_t> dst8(57, 33, 3);
    pk::separable_correlate(this->policy, src8.view(), std::span<const pk::separable_term>(terms), dst8.view(), {mode, 9});
    EXPECT_TRUE(matches(dst8, brute(src8, sum, {mode, 9}), 0)) << pk::name(mode);
  }
}

// ---- the film app's halation --------------------------------------------------------------

namespace {
// 0.5*G(61, 8) + 0.3*G(121, 16) + 0.2*G(151, 32), as three blurs and a weighted sum.
template <class P>
pk::image<float> halation(const P& policy, const pk::image<float>& src) {
  pk::image<float> out(src.width(), src.height(), src.channels(), 0.0f), tmp(src.width(), src.height(), src.channels());
  const std::pair<int, double> blurs[] = {{61, 8.0}, {121, 16.0}, {151, 32.0}};
  const float weights[] = {0.5f, 0.3f, 0.2f};
  for (int i = 0; i < 3; ++i) {
    pk::gaussian_blur(policy, src.view(), tmp.view(), blurs[i].second, 0, blurs[i].first, {pk::border::reflect});
    for (std::size_t y = 0; y < src.height(); ++y)
      for (std::size_t e = 0; e < src.width() * src.channels(); ++e)
        out.view().row(y)[e] += weights[i] * tmp.view().row(y)[e];
  }
  return out;
}
}  // namespace

TYPED_TEST(Convolve, HalationMatchesTheCpuAndConservesEnergy) {
  auto src = random_image<float>(96, 64, 3, 500);
  for (std::size_t y = 20; y < 30; ++y)  // a bright highlight
    for (std::size_t x = 40; x < 52; ++x) src(x, y, 0) = src(x, y, 1) = src(x, y, 2) = 8.0f;
  const auto got = halation(this->policy, src);
  const auto cpu = halation(pk::exec::simd, src);
  double mse = 0, peak = 0, energy_in = 0, energy_out = 0;
  for (std::size_t y = 0; y < src.height(); ++y)
    for (std::size_t e = 0; e < src.width() * 3; ++e) {
      const double d = double(got.view().row(y)[e]) - cpu.view().row(y)[e];
      mse += d * d;
      peak = std::max(peak, double(cpu.view().row(y)[e]));
      energy_in += src.view().row(y)[e];
      energy_out += got.view().row(y)[e];
    }
  mse /= double(src.width() * src.height() * 3);
  const double psnr = mse == 0 ? 999 : 10 * std::log10(peak * peak / mse);
  EXPECT_GT(psnr, 40.0);
  EXPECT_LE(max_abs_difference(got, cpu), 1e-5 * peak);
  // Under reflect borders a normalised blur keeps the image's sum when the kernel fits the
  // image; here it is wider, so allow the film app's 0.1%.
  EXPECT_NEAR(energy_out / energy_in, 1.0, 1e-3);
}

// issue 11: a kernel larger than any FFT tile under the size cap (2^23 samples) once left
// the FFT method without a tiling (0x0) and crashed; now it gets the smallest tile that
// holds the kernel. The FFT body is the same for every CPU policy (only the executor
// differs), and one such kernel is 8.4M taps, so this runs once serially and once on
// OpenMP, not per typed policy.
TEST(ConvolveFft, KernelLargerThanTheImageAndTheTileCap) {
  const auto src = random_image<float>(3, 2, 1, 650);
  const auto k = random_kernel(2900, 2900, 651);
  const pk::border_spec reflect{pk::border::reflect}, constant{pk::border::constant, 0.5};
  pk::image<float> a(3, 2, 1), b(3, 2, 1);
  pk::correlate(pk::exec::scalar, src.view(), k.view(), a.view(), reflect, pk::conv_method::fft);
  EXPECT_TRUE(matches(a, brute(src, k, reflect), 1e-4));
#if POLYKERN_HAS_OPENMP
  pk::correlate(pk::exec::openmp, src.view(), k.view(), b.view(), constant, pk::conv_method::fft);
#else
  pk::correlate(pk::exec::simd, src.view(), k.view(), b.view(), constant, pk::conv_method::fft);
#endif
  EXPECT_TRUE(matches(b, brute(src, k, constant), 1e-4));
}

// ---- bad input ------------------------------------------------------------------------------

TYPED_TEST(Convolve, BadArgumentsThrowBeforeWriting) {
  const auto src = random_image<float>(8, 6, 1, 600);
  pk::image<float> dst(8, 6, 1, 42.0f);
  const auto k = random_kernel(3, 3, 601);
  const auto untouched = [&] {
    for (std::size_t y = 0; y < 6; ++y)
      for (std::size_t x = 0; x < 8; ++x)
        if (dst(x, y) != 42.0f) return false;
    return true;
  };
  const auto expect_error = [&](auto&& call, const std::string& needle) {
    try {
      call();
      ADD_FAILURE() << "no exception; wanted one mentioning '" << needle << "'";
    } catch (const pk::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
    EXPECT_TRUE(untouched()) << needle;
  };
  const auto& policy = this->policy;
  expect_error([&] { pk::correlate(policy, src.view(), pk::image_view<const float>(k.k.data(), 0, 3), dst.view()); },
               "correlate: kernel is 0x3; both sizes must be >= 1");
  expect_error([&] { pk::correlate(policy, pk::image_view<const float>(src.data(), 0, 6), k.view(), dst.view()); },
               "correlate: src is 0x6");
  pk::image<float> small(7, 6, 1);
  expect_error([&] { pk::correlate(policy, src.view(), k.view(), small.view()); }, "dst is 7x6x1; must match src 8x6x1");
  pk::image<float> rgb(8, 6, 3);
  expect_error([&] { pk::correlate(policy, src.view(), k.view(), rgb.view()); }, "dst is 8x6x3");
  std::vector<float> five(8 * 6 * 5);
  expect_error([&] { pk::correlate(policy, pk::image_view<const float>(five.data(), 8, 6, 5), k.view(), dst.view()); },
               "src has 5 channels; must be 1 to 4");
  auto bad = k;
  bad.k[4] = std::numeric_limits<float>::infinity();
  expect_error([&] { pk::correlate(policy, src.view(), bad.view(), dst.view()); }, "kernel(1, 1) is inf");
  bad.k[4] = std::numeric_limits<float>::quiet_NaN();
  expect_error([&] { pk::convolve(policy, src.view(), bad.view(), dst.view()); }, "convolve: kernel(1, 1) is nan");
  // A non-finite constant border (the fuzzer's find: low_rank on simd turned -inf * 0 into NaN).
  expect_error([&] {
    pk::correlate(policy, src.view(), k.view(), dst.view(), {pk::border::constant, -std::numeric_limits<double>::infinity()});
  }, "correlate: border.value is -inf; a constant border's value must be finite");
  // A finite double that is -inf as a float (the fuzzer's second find: the engine pads with
  // float(-1e300) = -inf, and low_rank on simd turned -inf * 0 into NaN again).
  expect_error([&] { pk::correlate(policy, src.view(), k.view(), dst.view(), {pk::border::constant, -1e300}); },
               "correlate: border.value is -1.0000000000000001e+300; a constant border's value must be finite as a float");
  expect_error([&] { pk::gaussian_blur(policy, src.view(), dst.view(), 1.0, 0, 0, {pk::border::constant, 1e39}); },
               "gaussian_blur: border.value is 9.9999999999999994e+38");
  // partial overlap: dst shifted by one element inside src's memory
  auto shared = random_image<float>(8, 7, 1, 602);
  const pk::image_view<float> shifted(shared.data() + 1, 8, 6, 1, shared.row_stride());
  const pk::image_view<float> top(shared.data(), 8, 6, 1, shared.row_stride());
  EXPECT_THROW(pk::correlate(policy, top, k.view(), shifted), pk::invalid_argument);
  expect_error([&] { pk::correlate(policy, shifted, k.view(), top); }, "overlaps src partially");
  expect_error([&] { pk::correlate(policy, src.view(), random_kernel(3, 3, 603).view(), dst.view(), {},
                                   pk::conv_method::separable); },
               "kernel has rank >= 2");
  expect_error([&] { pk::gaussian_blur(policy, src.view(), dst.view(), 0.0); }, "gaussian_blur: sigma_x is 0 and ksize is 0");
  expect_error([&] { pk::gaussian_blur(policy, src.view(), dst.view(), -1.0, 0, 0); }, "sigma_x is -1");
  expect_error([&] { pk::gaussian_blur(policy, src.view(), dst.view(), 2.0, 0, 4); }, "gaussian_blur: ksize is 4; must be odd");
  expect_error([&] { pk::gaussian_blur(policy, src.view(), dst.view(), 2.0, 0, -3); }, "ksize is -3");
  expect_error([&] { pk::gaussian_blur(policy, src.view(), dst.view(), std::nan(""), 0, 3); }, "sigma_x is nan");
  const std::vector<float> none;
  const std::vector<float> three = {1, 2, 3};
  expect_error([&] { pk::separable_correlate(policy, src.view(), none, three, dst.view()); },
               "separable_correlate: kx has 0 taps");
  expect_error([&] { pk::separable_correlate(policy, src.view(), three, std::vector<float>{1, NAN}, dst.view()); },
               "ky[1] is nan");
  expect_error([&] { pk::correlate(policy, src.view(), k.view(), dst.view(), {static_cast<pk::border>(9)}); },
               "border.mode is 9");
  expect_error([&] { pk::correlate(policy, src.view(), k.view(), dst.view(), {}, static_cast<pk::conv_method>(7)); },
               "method is 7");
  expect_error([&] { pk::separable_correlate(policy, src.view(), std::span<const pk::separable_term>(), dst.view()); },
               "separable_correlate: terms is empty");
  expect_error([&] { pk::separable_correlate(policy, src.view(), {{three, three, 1.0}, {three, none, 1.0}}, dst.view()); },
               "terms[1].ky has 0 taps");
  expect_error([&] { pk::separable_correlate(policy, src.view(), {{three, three, INFINITY}}, dst.view()); },
               "terms[0].weight is inf");
  EXPECT_THROW(pk::gaussian_kernel(4, 1.0), pk::invalid_argument);
  // issue 11: an explicit ksize is bounded like one derived from sigma; weighted taps that
  // overflow float; a dense kernel too large to copy (the view is never read).
  expect_error([&] { pk::gaussian_blur(policy, src.view(), dst.view(), 2.0, 0, 70001); },
               "gaussian_blur: ksize is 70001; must be <= 65536");
  const std::vector<float> big = {3e38f, 1.0f};
  expect_error([&] { pk::separable_correlate(policy, src.view(), {{three, big, 10.0}}, dst.view()); },
               "terms[0].ky[0] * weight is inf");
  expect_error([&] { pk::correlate(policy, src.view(), pk::image_view<const float>(k.k.data(), 8193, 8193), dst.view()); },
               "kernel is 8193x8193 = 67125249 taps; must be <= 67108864");
  const std::vector<pk::image_view<const float>> srcs = {src.view(), src.view()};
  const std::vector<pk::image_view<float>> one_dst = {dst.view()};
  expect_error([&] { pk::correlate_batch(policy, srcs, k.view(), one_dst); }, "correlate_batch: dsts has 1 images; srcs has 2");
  const std::vector<pk::image_view<float>> same_twice = {dst.view(), dst.view()};
  expect_error([&] { pk::correlate_batch(policy, srcs, k.view(), same_twice); }, "dsts[1] overlaps dsts[0]");
}

// ---- the Vulkan paths ---------------------------------------------------------------------

#if POLYKERN_HAS_VULKAN
// Bindings limited to 24 KiB: a 100x61 RGB float image (1200 bytes a row) runs in bands of
// a few rows, each with its halo, for every method, border and element type.
TEST(ConvolveVulkan, vulkan_RowBandsWithHalos) {
  pk::vulkan::context ctx;
  ctx.limit_binding_bytes_for_testing(24 * 1024);
  const pk::exec::vulkan_policy policy{ctx};
  const auto src = random_image<float>(100, 61, 3, 700);
  const auto src8 = random_image<std::uint8_t>(100, 61, 3, 701);
  const auto g = pk::detail::conv::gaussian_taps(7, 1.5);
  dense_kernel rank2 = outer(taps(5, 702), taps(9, 703));
  const auto second = outer(taps(5, 704), taps(9, 705));
  for (std::size_t i = 0; i < rank2.k.size(); ++i) rank2.k[i] = (rank2.k[i] + second.k[i]) / 20;
  for (const auto mode : all_borders) {
    const pk::border_spec b{mode, 0.75};
    for (const auto& [k, method] : {std::pair{outer(g, g), pk::conv_method::separable},
                                    std::pair{rank2, pk::conv_method::low_rank},
                                    std::pair{random_kernel(5, 7, 706), pk::conv_method::direct}}) {
      pk::image<float> dst(100, 61, 3);
      pk::correlate(policy, src.view(), k.view(), dst.view(), b, method);
      EXPECT_TRUE(matches(dst, brute(src, k, b), 2e-5)) << pk::name(mode) << " " << pk::name(method);
      pk::image<std::uint8_t> dst8(100, 61, 3);
      pk::correlate(policy, src8.view(), k.view(), dst8.view(), b, method);
      EXPECT_TRUE(matches(dst8, brute(src8, k, b), 0)) << pk::name(mode) << " " << pk::name(method);
    }
  }
  // A kernel taller than a band, and a batch, through small bindings.
  ctx.limit_binding_bytes_for_testing(48 * 1024);
  const auto tall = random_kernel(3, 31, 707, true);
  pk::image<float> a(100, 61, 3), c(100, 61, 3);
  const std::vector<pk::image_view<const float>> in = {src.view(), src.view()};
  const std::vector<pk::image_view<float>> out = {a.view(), c.view()};
  pk::correlate_batch(policy, in, tall.view(), out, {pk::border::wrap});
  const auto ref = brute(src, tall, {pk::border::wrap});
  EXPECT_TRUE(matches(a, ref, 2e-5));
  EXPECT_TRUE(matches(c, ref, 2e-5));
  // A row that cannot fit a binding is a vulkan_error (with_fallback then uses the CPU).
  ctx.limit_binding_bytes_for_testing(1024);
  EXPECT_THROW(pk::correlate(policy, src.view(), tall.view(), a.view()), pk::vulkan_error);
  ctx.limit_binding_bytes_for_testing(0);
  EXPECT_TRUE(ctx.validation_messages().empty());
}

// with_fallback: an injected device-memory failure reruns on the CPU; nothing half-written.
TEST(ConvolveVulkan, vulkan_FallbackOnOutOfDeviceMemory) {
  auto img = random_image<float>(40, 30, 1, 710);
  const auto original = img;
  const auto k = random_kernel(5, 5, 711);
  const auto policy = pk::exec::with_fallback(pk::exec::vulkan, pk::exec::simd);
  {
    pk::vulkan::testing::scoped_allocation_failure fail(2);  // the third buffer fails
    pk::correlate(policy, img.view(), k.view(), img.view());
  }
  pk::image<float> cpu(40, 30, 1);
  pk::correlate(pk::exec::simd, original.view(), k.view(), cpu.view());
  EXPECT_EQ(max_abs_difference(img, cpu), 0.0);
  pk::image<float> dst(40, 30, 1, 5.0f);
  {
    pk::vulkan::testing::scoped_allocation_failure fail(1);
    EXPECT_THROW(pk::correlate(pk::exec::vulkan, original.view(), k.view(), dst.view()), pk::vulkan_error);
  }
  EXPECT_EQ(dst(17, 11), 5.0f);
}

// One real workload over maxStorageBufferRange (lavapipe: 128 MiB): 4100x2048 RGBA float.
TEST(ConvolveVulkan, vulkan_ImageLargerThanOneBinding) {
  auto& ctx = pk::vulkan::default_context();
  const std::size_t W = 4100, H = 2048;
  ASSERT_GT(W * H * 4 * sizeof(float), ctx.info().max_storage_buffer_range);
  pk::image<float> src(W, H, 4), gpu(W, H, 4), cpu(W, H, 4);
  for (std::size_t y = 0; y < H; ++y)
    for (std::size_t e = 0; e < W * 4; ++e) src.view().row(y)[e] = float((y * 7 + e * 13) % 101) / 100.0f;
  pk::gaussian_blur(pk::exec::vulkan, src.view(), gpu.view(), 1.0, 0, 3, {pk::border::reflect101});
  pk::gaussian_blur(pk::exec::openmp, src.view(), cpu.view(), 1.0, 0, 3, {pk::border::reflect101});
  EXPECT_LE(max_abs_difference(gpu, cpu), 1e-6);
}
#endif

// The separable engine's vertical pass keeps a float intermediate of up to sum |ky| times
// the largest input. With ky = {1, 1, 1} over a constant border of FLT_MAX that was 3 FLT_MAX
// = inf in the columns outside the image (detail/convolve/separable.hpp, `outside`), so
// every output reading them was inf, although with kx = 1/8 the true outputs are 5/8 and
// 3/8 of FLT_MAX, which the direct method gives. The engine now moves sum |ky| into kx.
TEST(ConvolveSeparable, NoIntermediateOverflowNearFloatMax) {
  const double big = std::numeric_limits<float>::max();
  pk::image<float> src(3, 3, 1);
  for (std::size_t y = 0; y < 3; ++y)
    for (std::size_t x = 0; x < 3; ++x) src.view().row(y)[x] = 0;
  const float kx[] = {0.125f, 0.125f, 0.125f}, ky[] = {1, 1, 1};
  const pk::border_spec border{pk::border::constant, big};
  const dense_kernel outer{3, 3, std::vector<float>(9, 0.125f)};
  const std::vector<double> want = brute(src, outer, border);
  const auto check = [&](const auto& policy, const char* name) {
    pk::image<float> dst(3, 3, 1);
    pk::separable_correlate(policy, pk::image_view<const float>(src.view()), std::span<const float>(kx),
                            std::span<const float>(ky), dst.view(), border);
    for (std::size_t y = 0; y < 3; ++y)
      for (std::size_t x = 0; x < 3; ++x) {
        const double got = dst.view().row(y)[x], expected = want[y * 3 + x];
        ASSERT_TRUE(std::isfinite(got)) << name << " at " << x << "," << y;
        EXPECT_LE(std::abs(got - expected), 1e-6 * big) << name << " at " << x << "," << y;
      }
  };
  check(pk::exec::scalar, "scalar");
  check(pk::exec::simd, "simd");
#if POLYKERN_HAS_OPENMP
  check(pk::exec::openmp, "openmp");
#endif
}
