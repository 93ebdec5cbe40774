// Image warps: warp_affine, resize, compose on every policy, against a double-precision
// reference written here from the semantics in api.md §6 / docs/warp.md, and against
// OpenCV 4.6 (warpAffine, resize) on smooth images where its 1/32-pixel rounding is small.
#include <gtest/gtest.h>

#include <polykern/image.hpp>
#include <polykern/warp.hpp>

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <new>
#include <random>
#include <string>
#include <vector>

#include "common.hpp"

namespace pk = polykern;
using pk::border;
using pk::interpolation;
using u8 = std::uint8_t;

namespace {

constexpr double nan_v = std::numeric_limits<double>::quiet_NaN();
using pk::testing::all_borders;
using pk::testing::as_mat;
using pk::testing::cv_border;
using pk::testing::noise_image;

// Noise blurred with sigma (wrap-around, so the image is smooth across its own edges too,
// except where a border mode joins edges), stretched to the full range.
template <class T>
pk::image<T> smooth(std::size_t w, std::size_t h, std::size_t c, unsigned seed, double sigma = 3.0) {
  auto n = noise_image<float>(w, h, c, seed);
  cv::Mat src = as_mat(n), blurred;
  cv::GaussianBlur(src, blurred, cv::Size(0, 0), sigma, sigma, cv::BORDER_REFLECT);
  double lo, hi;
  cv::minMaxLoc(blurred.reshape(1), &lo, &hi);
  pk::image<T> out(w, h, c);
  for (std::size_t y = 0; y < h; ++y)
    for (std::size_t x = 0; x < w * c; ++x) {
      const double v = (blurred.ptr<float>(static_cast<int>(y))[x] - lo) / (hi - lo);
      out.view().row(y)[x] = std::is_same_v<T, u8> ? static_cast<T>(std::lround(v * 255)) : static_cast<T>(v);
    }
  return out;
}

template <class T>
pk::image<T> filled(std::size_t w, std::size_t h, std::size_t c, T v) {
  return pk::image<T>(w, h, c, v);
}

// ---- the double-precision reference ----

struct matrix {
  double m[2][3];
};
matrix inverse(const pk::affine2<double>& f) {
  matrix r;
  EXPECT_TRUE(pk::detail::warp::invert(f.m, r.m));
  return r;
}
pk::affine2<double> affine(double a, double b, double c, double d, double e, double f) { return {{{a, b, c}, {d, e, f}}}; }
// Rotation by deg about (cx, cy) in the source, scaled by s, then shifted by (tx, ty).
pk::affine2<double> rotation(double deg, double s, double cx, double cy, double tx, double ty) {
  const double r = deg * 3.14159265358979323846 / 180, a = s * std::cos(r), b = s * std::sin(r);
  return affine(a, -b, cx - a * cx + b * cy + tx, b, a, cy - b * cx - a * cy + ty);
}

template <class T>
double tap(const pk::image<T>& s, std::ptrdiff_t x, std::ptrdiff_t y, std::size_t c, border mode, double value) {
  const auto ix = pk::detail::border_index(x, static_cast<std::ptrdiff_t>(s.width()), mode);
  const auto iy = pk::detail::border_index(y, static_cast<std::ptrdiff_t>(s.height()), mode);
  return ix < 0 || iy < 0 ? value : static_cast<double>(s(static_cast<std::size_t>(ix), static_cast<std::size_t>(iy), c));
}

// The constant as the image type stores it.
template <class T>
double stored_value(double v) {
  return std::is_same_v<T, u8> ? std::clamp(std::nearbyint(v), 0.0, 255.0) : static_cast<double>(static_cast<float>(v));
}

// Bilinear at (sx, sy); taps with zero weight are not read.
template <class T>
double bilinear(const pk::image<T>& s, double sx, double sy, std::size_t c, border mode, double value) {
  const double fx0 = std::floor(sx), fy0 = std::floor(sy), fx = sx - fx0, fy = sy - fy0;
  const auto x0 = static_cast<std::ptrdiff_t>(fx0), y0 = static_cast<std::ptrdiff_t>(fy0);
  const auto row = [&](std::ptrdiff_t y) {
    const double a = tap(s, x0, y, c, mode, value);
    return fx == 0 ? a : (1 - fx) * a + fx * tap(s, x0 + 1, y, c, mode, value);
  };
  const double r0 = row(y0);
  return fy == 0 ? r0 : (1 - fy) * r0 + fy * row(y0 + 1);
}

// Expected pixel values (double) and which ones to compare (NaN: not compared).
struct expected {
  std::size_t w, h, c;
  std::vector<double> v;
  std::vector<char> check;
  expected(std::size_t w_, std::size_t h_, std::size_t c_) : w(w_), h(h_), c(c_), v(w_ * h_ * c_), check(w_ * h_ * c_, 1) {}
  double& at(std::size_t x, std::size_t y, std::size_t ch) { return v[(y * w + x) * c + ch]; }
  char& checked(std::size_t x, std::size_t y, std::size_t ch) { return check[(y * w + x) * c + ch]; }
};

template <class T>
expected ref_warp(const pk::image<T>& s, const pk::affine2<double>& f, std::size_t w, std::size_t h, interpolation interp,
                  border mode, double value) {
  const matrix inv = inverse(f);
  expected e(w, h, s.channels());
  value = stored_value<T>(value);
  for (std::size_t y = 0; y < h; ++y)
    for (std::size_t x = 0; x < w; ++x) {
      const double sx = inv.m[0][0] * x + inv.m[0][1] * y + inv.m[0][2];
      const double sy = inv.m[1][0] * x + inv.m[1][1] * y + inv.m[1][2];
      for (std::size_t c = 0; c < s.channels(); ++c) {
        if (interp == interpolation::nearest) {
          const double ax = std::abs(sx - std::floor(sx) - 0.5), ay = std::abs(sy - std::floor(sy) - 0.5);
          if (ax < 1e-5 || ay < 1e-5) e.checked(x, y, c) = 0;  // a tie: either neighbour is right
          e.at(x, y, c) = tap(s, static_cast<std::ptrdiff_t>(std::floor(sx + 0.5)),
                              static_cast<std::ptrdiff_t>(std::floor(sy + 0.5)), c, mode, value);
        } else {
          e.at(x, y, c) = bilinear(s, sx, sy, c, mode, value);
        }
      }
    }
  return e;
}

// Compares an image with expected values: uint8 within 0.5 (+ float rounding slack) of
// the exact value, float within tol; NaN must match NaN.
template <class T>
void expect_matches(const pk::image<T>& out, expected& e, double float_tol = 1e-5, const std::string& what = "") {
  const double tol = std::is_same_v<T, u8> ? 0.5 + 2e-3 : float_tol;
  double worst = 0;
  std::size_t wx = 0, wy = 0, wc = 0, bad = 0;
  for (std::size_t y = 0; y < e.h; ++y)
    for (std::size_t x = 0; x < e.w; ++x)
      for (std::size_t c = 0; c < e.c; ++c) {
        if (!e.checked(x, y, c)) continue;
        const double want = e.at(x, y, c), got = static_cast<double>(out(x, y, c));
        double d;
        if (std::isnan(want) || std::isnan(got)) d = std::isnan(want) && std::isnan(got) ? 0 : 1e9;
        else d = std::abs(got - want);
        if (d > tol) ++bad;
        if (d > worst) worst = d, wx = x, wy = y, wc = c;
      }
  EXPECT_EQ(bad, 0u) << what << ": worst |got - want| = " << worst << " at (" << wx << ", " << wy << ", " << wc
                     << "): got " << static_cast<double>(out(wx, wy, wc)) << ", want " << e.at(wx, wy, wc);
}

// Compares with an OpenCV result: `inner` pixels within tol_inner, the others within tol_outer.
template <class T>
void expect_close_to(const pk::image<T>& out, const cv::Mat& cv_out, const std::vector<char>& inner, double tol_inner,
                     double tol_outer, const std::string& what) {
  double worst_in = 0, worst_out = 0;
  const std::size_t c = out.channels();
  for (std::size_t y = 0; y < out.height(); ++y)
    for (std::size_t x = 0; x < out.width(); ++x)
      for (std::size_t ch = 0; ch < c; ++ch) {
        const double want = static_cast<double>(cv_out.ptr<T>(static_cast<int>(y))[x * c + ch]);
        const double d = std::abs(static_cast<double>(out(x, y, ch)) - want);
        (inner[y * out.width() + x] ? worst_in : worst_out) = std::max(inner[y * out.width() + x] ? worst_in : worst_out, d);
      }
  EXPECT_LE(worst_in, tol_inner) << what << " (footprint inside the source)";
  EXPECT_LE(worst_out, tol_outer) << what << " (across the border)";
}

template <class T>
bool same_pixels(const pk::image<T>& a, const pk::image<T>& b) {
  for (std::size_t y = 0; y < a.height(); ++y)
    if (std::memcmp(a.view().row(y), b.view().row(y), a.width() * a.channels() * sizeof(T)) != 0) return false;
  return true;
}

const pk::affine2<double> test_matrices[] = {
    rotation(17, 1.1, 18, 11, 2.5, -1.25),    // rotate + enlarge, partly outside
    affine(0.4, 0, 3.3, 0, 0.55, 1.7),        // shrink (dst -> src: 2.5x, 1.8x)
    affine(2.3, 0.35, -4.1, -0.2, 1.9, -3.6), // enlarge + shear, reaches outside on every side
    rotation(-63, 0.7, 10, 12, 9, 6),         // steep rotation, shrink
};

}  // namespace

template <class P>
class Warp : public ::testing::Test {
 protected:
  P policy = pk::testing::make_policy<P>();
};
TYPED_TEST_SUITE(Warp, pk::testing::all_policies, pk::testing::policy_name);

// ---- warp_affine ----

TYPED_TEST(Warp, WarpAffineMatchesDoublePrecisionReference) {
  const auto run = [&]<class T>(T) {
    for (std::size_t c : {1, 3, 4}) {
      const auto src = noise_image<T>(37, 23, c, 7 + static_cast<unsigned>(c));
      for (std::size_t m = 0; m < std::size(test_matrices); ++m)
        for (auto interp : {interpolation::bilinear, interpolation::nearest})
          for (border b : all_borders) {
            const double value = std::is_same_v<T, u8> ? 77.0 : 0.625;
            pk::image<T> dst(41, 29, c);
            pk::warp_affine(this->policy, src.view(), test_matrices[m], dst.view(), interp, {b, value});
            auto want = ref_warp(src, test_matrices[m], 41, 29, interp, b, value);
            expect_matches(dst, want, 1e-5,
                           std::string(pk::name(interp)) + " " + std::string(pk::name(b)) + " matrix " +
                               std::to_string(m) + " channels " + std::to_string(c) + (sizeof(T) == 1 ? " uint8" : " float"));
          }
    }
  };
  run(u8{});
  run(float{});
}

TYPED_TEST(Warp, WarpAffineMatchesOpenCV) {
  const auto run = [&]<class T>(T) {
    for (std::size_t c : {1, 3, 4}) {
      auto src = smooth<T>(96, 64, c, 11 + static_cast<unsigned>(c));
      cv::Mat cv_src = as_mat(src);
      const auto f = rotation(13, 1.15, 48, 32, 3.3, -2.1);
      const matrix inv = inverse(f);
      const double value = std::is_same_v<T, u8> ? 200.0 : 0.8;
      for (auto interp : {interpolation::bilinear, interpolation::nearest})
        for (border b : all_borders) {
          pk::image<T> dst(101, 70, c);
          pk::warp_affine(this->policy, src.view(), f, dst.view(), interp, {b, value});
          cv::Mat cv_dst;
          cv::Mat M = (cv::Mat_<double>(2, 3) << f.m[0][0], f.m[0][1], f.m[0][2], f.m[1][0], f.m[1][1], f.m[1][2]);
          cv::warpAffine(cv_src, cv_dst, M, cv::Size(101, 70),
                         interp == interpolation::bilinear ? cv::INTER_LINEAR : cv::INTER_NEAREST, cv_border(b),
                         cv::Scalar::all(value));
          // Inner: the whole 2x2 footprint inside the source (nearest: away from ties too).
          std::vector<char> inner(101 * 70);
          for (int y = 0; y < 70; ++y)
            for (int x = 0; x < 101; ++x) {
              const double sx = inv.m[0][0] * x + inv.m[0][1] * y + inv.m[0][2];
              const double sy = inv.m[1][0] * x + inv.m[1][1] * y + inv.m[1][2];
              if (interp == interpolation::bilinear)
                inner[y * 101 + x] = sx >= 0 && sx < 95 && sy >= 0 && sy < 63;
              else
                inner[y * 101 + x] = std::abs(sx - std::floor(sx) - 0.5) > 0.01 && std::abs(sy - std::floor(sy) - 0.5) > 0.01;
            }
          const bool byte = std::is_same_v<T, u8>;
          const double tol_in = interp == interpolation::nearest ? 0 : (byte ? 1 : 3e-3);
          const double tol_out = interp == interpolation::nearest ? (byte ? 255 : 1) : (byte ? 8 : 0.04);
          expect_close_to(dst, cv_dst, inner, tol_in, tol_out,
                          std::string(pk::name(interp)) + " " + std::string(pk::name(b)) + " channels " + std::to_string(c));
          if (interp == interpolation::nearest) {
            // Away from ties nearest is exact everywhere, border pixels included.
            std::size_t differing = 0;
            for (int y = 0; y < 70; ++y)
              for (int x = 0; x < 101; ++x)
                for (std::size_t ch = 0; ch < c; ++ch)
                  differing += inner[y * 101 + x] && dst(x, y, ch) != cv_dst.ptr<T>(y)[x * c + ch];
            EXPECT_EQ(differing, 0u) << "nearest " << pk::name(b);
          }
        }
    }
  };
  run(u8{});
  run(float{});
}

TYPED_TEST(Warp, WarpAffineIdentityAndIntegerShiftsAreExact) {
  auto src = noise_image<float>(45, 19, 3, 3);
  src(4, 5, 1) = static_cast<float>(nan_v);
  auto bytes = noise_image<u8>(45, 19, 3, 4);
  for (auto interp : {interpolation::bilinear, interpolation::nearest}) {
    pk::image<float> dst(45, 19, 3);
    pk::warp_affine(this->policy, src.view(), affine(1, 0, 0, 0, 1, 0), dst.view(), interp);
    EXPECT_TRUE(same_pixels(dst, src) || std::isnan(dst(4, 5, 1)));
    for (std::size_t y = 0; y < 19; ++y)
      for (std::size_t x = 0; x < 45 * 3; ++x) {
        const float a = src.view().row(y)[x], b = dst.view().row(y)[x];
        ASSERT_TRUE(a == b || (std::isnan(a) && std::isnan(b))) << x << "," << y;
      }
    pk::image<u8> shifted(45, 19, 3);
    pk::warp_affine(this->policy, bytes.view(), affine(1, 0, 3, 0, 1, -2), shifted.view(), interp, {border::wrap});
    for (std::size_t y = 0; y < 19; ++y)
      for (std::size_t x = 0; x < 45; ++x)
        for (std::size_t c = 0; c < 3; ++c)
          ASSERT_EQ(shifted(x, y, c), bytes((x + 45 - 3) % 45, (y + 2) % 19, c)) << x << "," << y;
  }
}

TYPED_TEST(Warp, NaNSpreadsOnlyToPixelsThatInterpolateIt) {
  auto src = filled<float>(20, 10, 1, 0.5f);
  src(7, 4) = static_cast<float>(nan_v);
  pk::image<float> dst(20, 10, 1);
  pk::warp_affine(this->policy, src.view(), affine(1, 0, 0.5, 0, 1, 0), dst.view(), interpolation::bilinear,
                  {border::replicate});
  // dst(x) samples src at x - 0.5: pixels 7 and 8 of row 4 use src(7, 4).
  for (std::size_t y = 0; y < 10; ++y)
    for (std::size_t x = 0; x < 20; ++x)
      EXPECT_EQ(std::isnan(dst(x, y)), y == 4 && (x == 7 || x == 8)) << x << "," << y;
  // Area resize: the NaN poisons exactly the destination pixel whose box covers it.
  pk::image<float> half(10, 5, 1);
  pk::resize(this->policy, src.view(), half.view(), interpolation::area);
  for (std::size_t y = 0; y < 5; ++y)
    for (std::size_t x = 0; x < 10; ++x) EXPECT_EQ(std::isnan(half(x, y)), x == 3 && y == 2) << x << "," << y;
}

TYPED_TEST(Warp, OnePixelAndThinImages) {
  for (auto [w, h] : {std::pair{1, 1}, std::pair{1, 7}, std::pair{9, 1}, std::pair{2, 2}}) {
    const auto src = noise_image<u8>(w, h, 3, 5 + w * 10 + h);
    const auto fsrc = noise_image<float>(w, h, 4, 6 + w * 10 + h);
    for (border b : all_borders) {
      const auto f = affine(0.37, 0.05, 0.1, -0.04, 0.41, 0.2);  // enlarge ~2.5x, reaching beyond on all sides
      pk::image<u8> dst(13, 11, 3);
      pk::warp_affine(this->policy, src.view(), f, dst.view(), interpolation::bilinear, {b, 9});
      auto want = ref_warp(src, f, 13, 11, interpolation::bilinear, b, 9);
      expect_matches(dst, want, 0, std::string("uint8 ") + std::to_string(w) + "x" + std::to_string(h) + " " +
                                       std::string(pk::name(b)));
      pk::image<float> fdst(13, 11, 4);
      pk::warp_affine(this->policy, fsrc.view(), f, fdst.view(), interpolation::nearest, {b, 0.25});
      auto fwant = ref_warp(fsrc, f, 13, 11, interpolation::nearest, b, 0.25);
      expect_matches(fdst, fwant, 1e-6, "float nearest");
    }
    for (auto interp : {interpolation::bilinear, interpolation::nearest, interpolation::area}) {
      pk::image<u8> up(5, 3, 3), down(1, 1, 3);
      pk::resize(this->policy, src.view(), up.view(), interp);
      pk::resize(this->policy, src.view(), down.view(), interp);
      cv::Mat s = as_mat(const_cast<pk::image<u8>&>(src)), cv_up, cv_down;
      const int flag = interp == interpolation::bilinear ? cv::INTER_LINEAR
                       : interp == interpolation::nearest ? cv::INTER_NEAREST : cv::INTER_AREA;
      cv::resize(s, cv_up, cv::Size(5, 3), 0, 0, flag);
      cv::resize(s, cv_down, cv::Size(1, 1), 0, 0, flag);
      std::vector<char> all(15, 1);
      expect_close_to(up, cv_up, all, 1, 1, "resize up " + std::string(pk::name(interp)));
      expect_close_to(down, cv_down, std::vector<char>(1, 1), 1, 1, "resize down " + std::string(pk::name(interp)));
    }
  }
}

// ---- resize ----

TYPED_TEST(Warp, ResizeMatchesOpenCV) {
  struct size_case {
    int sw, sh, dw, dh;
  };
  const size_case sizes[] = {{64, 48, 16, 12},  {61, 47, 20, 15}, {50, 40, 37, 29}, {33, 21, 70, 50},
                             {40, 30, 80, 13},  {17, 9, 17, 9},   {128, 72, 32, 18}};
  const auto run = [&]<class T>(T) {
    for (std::size_t c : {1, 3, 4})
      for (const auto& s : sizes) {
        auto src = smooth<T>(s.sw, s.sh, c, 21 + s.sw + static_cast<unsigned>(c));
        for (auto interp : {interpolation::bilinear, interpolation::nearest, interpolation::area}) {
          pk::image<T> dst(s.dw, s.dh, c);
          pk::resize(this->policy, src.view(), dst.view(), interp);
          cv::Mat cv_dst;
          const int flag = interp == interpolation::bilinear ? cv::INTER_LINEAR
                           : interp == interpolation::nearest ? cv::INTER_NEAREST : cv::INTER_AREA;
          cv::resize(as_mat(src), cv_dst, cv::Size(s.dw, s.dh), 0, 0, flag);
          const bool byte = std::is_same_v<T, u8>;
          // OpenCV quantises resize weights (uint8: 11 bits); nearest indices are exact.
          const double tol = interp == interpolation::nearest ? 0 : byte ? 1 : 1e-4;
          std::vector<char> all(static_cast<std::size_t>(s.dw * s.dh), 1);
          expect_close_to(dst, cv_dst, all, tol, tol,
                          std::string(pk::name(interp)) + " " + std::to_string(s.sw) + "x" + std::to_string(s.sh) + " -> " +
                              std::to_string(s.dw) + "x" + std::to_string(s.dh) + " channels " + std::to_string(c));
        }
      }
  };
  run(u8{});
  run(float{});
}

TYPED_TEST(Warp, ResizeBilinearIsTheHalfPixelWarp) {
  // resize(bilinear) = warp_affine with the half-pixel-centre scale matrix and replicated edges.
  auto src = noise_image<float>(29, 17, 3, 31);
  pk::image<float> a(50, 9, 3), b(50, 9, 3);
  pk::resize(this->policy, src.view(), a.view());
  const double sx = 29.0 / 50, sy = 17.0 / 9;
  pk::warp_affine(this->policy, src.view(), affine(1 / sx, 0, (0.5 - 0.5 * sx) / sx, 0, 1 / sy, (0.5 - 0.5 * sy) / sy),
                  b.view(), interpolation::bilinear, {border::replicate});
  for (std::size_t y = 0; y < 9; ++y)
    for (std::size_t x = 0; x < 150; ++x) EXPECT_NEAR(a.view().row(y)[x], b.view().row(y)[x], 1e-5);
}

// ---- compose ----

namespace {
template <class T>
struct ref_tile {
  const pk::image<T>* image;
  pk::affine2<double> to_canvas;
};

// Area reference: box coverage of the destination pixel's footprint (axis-aligned), or the
// mean of the nx x ny bilinear samples (rotated), in double.
template <class T>
double ref_area(const pk::image<T>& s, const matrix& inv, double x, double y, std::size_t c) {
  const auto& m = inv.m;
  const double w = static_cast<double>(s.width()), h = static_cast<double>(s.height());
  if (m[0][1] == 0 && m[1][0] == 0) {
    const auto weights = [](double centre, double size, double n) {
      std::vector<std::pair<std::ptrdiff_t, double>> out;
      const double lo = std::max(centre - size / 2, -0.5), hi = std::min(centre + size / 2, n - 0.5);
      for (std::ptrdiff_t j = 0; j < static_cast<std::ptrdiff_t>(n); ++j) {
        const double cover = std::min(hi, j + 0.5) - std::max(lo, j - 0.5);
        if (cover > 0) out.emplace_back(j, cover / (hi - lo));
      }
      return out;
    };
    double sum = 0;
    for (auto [j, wy] : weights(m[1][1] * y + m[1][2], std::abs(m[1][1]), h))
      for (auto [i, wx] : weights(m[0][0] * x + m[0][2], std::abs(m[0][0]), w))
        sum += wx * wy * static_cast<double>(s(static_cast<std::size_t>(i), static_cast<std::size_t>(j), c));
    return sum;
  }
  const int nx = static_cast<int>(std::clamp(std::ceil(std::hypot(m[0][0], m[1][0]) - 1e-6), 1.0, 16.0));
  const int ny = static_cast<int>(std::clamp(std::ceil(std::hypot(m[0][1], m[1][1]) - 1e-6), 1.0, 16.0));
  double sum = 0;
  for (int q = 0; q < ny; ++q)
    for (int p = 0; p < nx; ++p) {
      const double px = x + (p + 0.5) / nx - 0.5, py = y + (q + 0.5) / ny - 0.5;
      sum += bilinear(s, m[0][0] * px + m[0][1] * py + m[0][2], m[1][0] * px + m[1][1] * py + m[1][2], c, border::replicate, 0);
    }
  return sum / (nx * ny);
}

template <class T>
expected ref_compose(const std::vector<ref_tile<T>>& tiles, const pk::image<T>& canvas, interpolation interp) {
  expected e(canvas.width(), canvas.height(), canvas.channels());
  for (std::size_t y = 0; y < canvas.height(); ++y)
    for (std::size_t x = 0; x < canvas.width(); ++x)
      for (std::size_t c = 0; c < canvas.channels(); ++c) e.at(x, y, c) = static_cast<double>(canvas(x, y, c));
  for (const auto& t : tiles) {
    const matrix inv = inverse(t.to_canvas);
    const double w = static_cast<double>(t.image->width()), h = static_cast<double>(t.image->height());
    for (std::size_t y = 0; y < canvas.height(); ++y)
      for (std::size_t x = 0; x < canvas.width(); ++x) {
        const double sx = inv.m[0][0] * x + inv.m[0][1] * y + inv.m[0][2];
        const double sy = inv.m[1][0] * x + inv.m[1][1] * y + inv.m[1][2];
        if (!(sx >= -0.5 && sx < w - 0.5 && sy >= -0.5 && sy < h - 0.5)) continue;
        // Centres within 1e-6 of a tile edge may fall either way in float: skip them.
        const bool edge = std::min({std::abs(sx + 0.5), std::abs(sx - w + 0.5), std::abs(sy + 0.5), std::abs(sy - h + 0.5)}) < 1e-6;
        for (std::size_t c = 0; c < canvas.channels(); ++c) {
          e.checked(x, y, c) = !edge;
          if (interp == interpolation::bilinear) {
            e.at(x, y, c) = bilinear(*t.image, sx, sy, c, border::replicate, 0);
          } else if (interp == interpolation::nearest) {
            if (std::abs(sx - std::floor(sx) - 0.5) < 1e-5 || std::abs(sy - std::floor(sy) - 0.5) < 1e-5) e.checked(x, y, c) = 0;
            e.at(x, y, c) = tap(*t.image, static_cast<std::ptrdiff_t>(std::floor(sx + 0.5)),
                                static_cast<std::ptrdiff_t>(std::floor(sy + 0.5)), c, border::replicate, 0);
          } else {
            e.at(x, y, c) = ref_area(*t.image, inv, static_cast<double>(x), static_cast<double>(y), c);
          }
        }
      }
  }
  return e;
}
}  // namespace

TYPED_TEST(Warp, ComposeMatchesReference) {
  const auto run = [&]<class T>(T) {
    for (std::size_t c : {1, 3, 4}) {
      std::vector<pk::image<T>> images;
      images.push_back(noise_image<T>(40, 30, c, 41));
      images.push_back(noise_image<T>(17, 23, c, 42));
      images.push_back(noise_image<T>(64, 48, c, 43));
      images.push_back(noise_image<T>(9, 5, c, 44));
      images.push_back(noise_image<T>(33, 35, c, 45));
      const std::vector<pk::affine2<double>> maps = {
          affine(0.5, 0, 3, 0, 0.5, 2),              // shrink 2x
          affine(1, 0, 20.5, 0, 1, 9.25),            // subpixel shift, overlaps the first
          affine(0.25, 0, 45, 0, 0.25, -3),          // shrink 4x, partly above the canvas
          affine(2.5, 0, -4, 0, 3, 20),              // enlarge, partly left of the canvas
          rotation(30, 0.8, 16, 17, 22, 10),         // rotated on top of everything
      };
      for (auto interp : {interpolation::bilinear, interpolation::nearest, interpolation::area}) {
        const T sentinel = std::is_same_v<T, u8> ? T(201) : T(-3.0f);
        pk::image<T> canvas(61, 37, c, sentinel);
        std::vector<pk::tile<T>> tiles;
        std::vector<ref_tile<T>> refs;
        for (std::size_t i = 0; i < images.size(); ++i) {
          tiles.push_back({images[i].view(), maps[i]});
          refs.push_back({&images[i], maps[i]});
        }
        auto want = ref_compose(refs, canvas, interp);
        pk::compose(this->policy, tiles, canvas.view(), interp);
        expect_matches(canvas, want, 1e-5, std::string(pk::name(interp)) + " channels " + std::to_string(c));
      }
    }
  };
  run(u8{});
  run(float{});
}

TYPED_TEST(Warp, ComposeLaterTilesOnTopAndUntouchedPixels) {
  auto red = filled<u8>(10, 10, 3, 10), green = filled<u8>(10, 10, 3, 20), blue = filled<u8>(4, 4, 3, 30);
  pk::image<u8> canvas(32, 24, 3, 255);
  const std::vector<pk::tile<u8>> tiles = {{red.view(), affine(1, 0, 2, 0, 1, 2)},
                                           {green.view(), affine(1, 0, 7, 0, 1, 5)},
                                           {blue.view(), affine(2, 0, 26.5, 0, 2, -2.5)}};  // 8x8 cell at x 26..33, y -3..4: partly off
  pk::compose(this->policy, tiles, canvas.view());
  for (std::size_t y = 0; y < 24; ++y)
    for (std::size_t x = 0; x < 32; ++x) {
      u8 want = 255;
      if (x >= 2 && x < 12 && y >= 2 && y < 12) want = 10;
      if (x >= 7 && x < 17 && y >= 5 && y < 15) want = 20;
      if (x >= 26 && y < 5) want = 30;  // blue covers canvas x in [26, 34), y in [-3, 5)
      ASSERT_EQ(canvas(x, y, 1), want) << x << "," << y;
    }
  // A tile entirely off the canvas changes nothing; no tiles at all is fine.
  pk::image<u8> before = canvas;
  const std::vector<pk::tile<u8>> off = {{red.view(), affine(1, 0, 100, 0, 1, 0)}};
  pk::compose(this->policy, off, canvas.view());
  pk::compose(this->policy, std::vector<pk::tile<u8>>{}, canvas.view());
  EXPECT_TRUE(same_pixels(before, canvas));
}

TYPED_TEST(Warp, ComposeMatchesOpenCV) {
  // Sixteen tiles shrunk 4x into a grid, like a video frame: area = cv::resize INTER_AREA
  // into each cell, bilinear = INTER_LINEAR (at exactly 4x both sample the same points).
  std::vector<pk::image<u8>> images;
  for (int i = 0; i < 16; ++i) images.push_back(smooth<u8>(64, 36, 3, 100 + i));
  for (auto interp : {interpolation::bilinear, interpolation::area}) {
    pk::image<u8> canvas(64, 36, 3, 0);
    cv::Mat want(36, 64, CV_8UC3, cv::Scalar::all(0));
    std::vector<pk::tile<u8>> tiles;
    for (int i = 0; i < 16; ++i) {
      const int cx = (i % 4) * 16, cy = (i / 4) * 9;
      tiles.push_back({images[i].view(), affine(0.25, 0, cx - 0.375, 0, 0.25, cy - 0.375)});
      cv::Mat roi = want(cv::Rect(cx, cy, 16, 9));
      cv::resize(as_mat(images[i]), roi, cv::Size(16, 9), 0, 0, interp == interpolation::area ? cv::INTER_AREA : cv::INTER_LINEAR);
    }
    pk::compose(this->policy, tiles, canvas.view(), interp);
    std::vector<char> all(64 * 36, 1);
    expect_close_to(canvas, want, all, 1, 1, std::string("grid ") + std::string(pk::name(interp)));
  }
}

TYPED_TEST(Warp, ComposeIsOpenCVTransparentWarpInside) {
  auto tile_image = smooth<float>(50, 40, 3, 61);
  const auto f = rotation(21, 0.9, 25, 20, 6, 4);
  pk::image<float> canvas(64, 52, 3, 0.5f);
  const std::vector<pk::tile<float>> tiles = {{tile_image.view(), f}};
  pk::compose(this->policy, tiles, canvas.view());
  cv::Mat want(52, 64, CV_32FC3, cv::Scalar::all(0.5));
  cv::Mat M = (cv::Mat_<double>(2, 3) << f.m[0][0], f.m[0][1], f.m[0][2], f.m[1][0], f.m[1][1], f.m[1][2]);
  cv::warpAffine(as_mat(tile_image), want, M, want.size(), cv::INTER_LINEAR, cv::BORDER_TRANSPARENT);
  const matrix inv = inverse(f);
  std::vector<char> inner(64 * 52);
  for (int y = 0; y < 52; ++y)
    for (int x = 0; x < 64; ++x) {
      const double sx = inv.m[0][0] * x + inv.m[0][1] * y + inv.m[0][2], sy = inv.m[1][0] * x + inv.m[1][1] * y + inv.m[1][2];
      const bool inside = sx >= 0.05 && sx < 48.95 && sy >= 0.05 && sy < 38.95;
      const bool outside = sx < -0.55 || sx >= 49.55 || sy < -0.55 || sy >= 39.55;
      inner[y * 64 + x] = inside || outside;  // both leave outside pixels alone; inside they agree
    }
  expect_close_to(canvas, want, inner, 3e-3, 1, "transparent");
}

// ---- arguments ----

TYPED_TEST(Warp, BadArgumentsThrowBeforeWriting) {
  auto src = noise_image<u8>(8, 6, 3, 1);
  pk::image<u8> dst(8, 6, 3, 42), dst4(8, 6, 4, 42);
  const auto expect_error = [&](auto&& call, const std::string& part) {
    try {
      call();
      ADD_FAILURE() << "no exception; expected one mentioning '" << part << "'";
    } catch (const pk::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
    }
    for (std::size_t y = 0; y < 6; ++y)
      for (std::size_t x = 0; x < 24; ++x) ASSERT_EQ(dst.view().row(y)[x], 42);
  };
  const auto id = affine(1, 0, 0, 0, 1, 0);
  expect_error([&] { pk::warp_affine(this->policy, pk::image_view<const u8>(src.data(), 0, 6, 3), id, dst.view()); },
               "warp_affine: src is 0x6");
  expect_error([&] { pk::warp_affine(this->policy, src.view(), id, dst4.view()); }, "src has 3 channels and dst 4");
  expect_error([&] { pk::warp_affine(this->policy, src.view(), affine(1, 2, 0, 2, 4, 0), dst.view()); }, "not invertible");
  expect_error([&] { pk::warp_affine(this->policy, src.view(), affine(1, 0, nan_v, 0, 1, 0), dst.view()); }, "non-finite");
  expect_error([&] { pk::warp_affine(this->policy, src.view(), affine(1, 0, 1e9, 0, 1, 0), dst.view()); }, "2^22");
  expect_error([&] { pk::warp_affine(this->policy, dst.view(), id, dst.view()); }, "overlap");
  expect_error([&] { pk::warp_affine(this->policy, src.view(), id, dst.view(), interpolation::area); }, "area");
  expect_error([&] { pk::resize(this->policy, src.view(), pk::image_view<u8>(dst.data(), 8, 0, 3)); }, "resize: dst is 8x0");
  expect_error([&] { pk::resize(this->policy, src.view(), dst4.view()); }, "channels");
  expect_error([&] { pk::resize(this->policy, pk::image_view<const u8>(dst.data(), 4, 3, 3, 24), dst.view()); }, "overlap");
  expect_error([&] { pk::resize(this->policy, pk::image_view<const u8>(src.data(), 8, 6, 3, 5), dst.view()); }, "row_stride is 5");
  const std::vector<pk::tile<u8>> bad_map = {{src.view(), id}, {src.view(), affine(0, 0, 1, 0, 0, 1)}};
  expect_error([&] { pk::compose(this->policy, bad_map, dst.view()); }, "compose: tiles[1].to_canvas");
  const std::vector<pk::tile<u8>> bad_channels = {{src.view(), id}, {dst4.view(), id}};
  expect_error([&] { pk::compose(this->policy, bad_channels, dst.view()); }, "tiles[1].image has 4 channels");
  const std::vector<pk::tile<u8>> overlapping = {{src.view(), id}, {dst.view(), id}};
  expect_error([&] { pk::compose(this->policy, overlapping, dst.view()); }, "overlap");
  const std::vector<pk::tile<u8>> empty_tile = {{pk::image_view<const u8>(src.data(), 3, 0, 3), id}};
  expect_error([&] { pk::compose(this->policy, empty_tile, dst.view()); }, "tiles[0].image is 3x0");
}

// ---- policies agree ----

TEST(WarpPolicies, SimdAndOpenMPAreBitwiseTheScalarReference) {
  // Sizes not a multiple of any SIMD width, large enough for the parallel path; every
  // sampler and both element types.
  const auto src = noise_image<u8>(203, 117, 3, 71);
  const auto fsrc = noise_image<float>(203, 117, 4, 72);
  const auto f = rotation(9, 1.7, 100, 60, 5, 3);
  const auto check = [&](auto&& op, auto blank) {
    auto a = blank, b = blank, c = blank;
    op(pk::exec::scalar, a);
    op(pk::exec::simd, b);
    EXPECT_TRUE(same_pixels(a, b)) << "simd";
#if POLYKERN_HAS_OPENMP
    for (int threads : {1, 2, 3}) {
      auto d = blank;
      op(pk::exec::openmp_policy{.threads = threads}, d);
      EXPECT_TRUE(same_pixels(a, d)) << "openmp threads=" << threads;
    }
#endif
  };
  for (border b : all_borders)
    for (auto interp : {interpolation::bilinear, interpolation::nearest}) {
      check([&](auto p, auto& out) { pk::warp_affine(p, src.view(), f, out.view(), interp, {b, 13}); }, pk::image<u8>(251, 140, 3));
      check([&](auto p, auto& out) { pk::warp_affine(p, fsrc.view(), f, out.view(), interp, {b, 0.5}); }, pk::image<float>(251, 140, 4));
    }
  for (auto interp : {interpolation::bilinear, interpolation::nearest, interpolation::area}) {
    check([&](auto p, auto& out) { pk::resize(p, src.view(), out.view(), interp); }, pk::image<u8>(230, 150, 3));
    check([&](auto p, auto& out) { pk::resize(p, fsrc.view(), out.view(), interp); }, pk::image<float>(310, 120, 4));
    // Scaled, shifted in x only, in y only, in both, rotated.
    const std::vector<pk::tile<u8>> tiles = {{src.view(), affine(0.3, 0, 4.2, 0, 0.3, 1.1)},
                                             {src.view(), affine(1, 0, 37.5, 0, 1, 12)},
                                             {src.view(), affine(1, 0, -60, 0, 1, 40.25)},
                                             {src.view(), affine(1, 0, 120.7, 0, 1, -30.6)},
                                             {src.view(), rotation(-20, 0.45, 100, 60, 40, 30)}};
    check([&](auto p, auto& out) { pk::compose(p, tiles, out.view(), interp); }, pk::image<u8>(250, 150, 3, 7));
    const std::vector<pk::tile<float>> ftiles = {{fsrc.view(), affine(1, 0, 37.5, 0, 1, 12)},
                                                 {fsrc.view(), affine(1, 0, -60, 0, 1, 40.25)},
                                                 {fsrc.view(), affine(0.6, 0, 20, 0, 0.7, 3)}};
    check([&](auto p, auto& out) { pk::compose(p, ftiles, out.view(), interp); }, pk::image<float>(250, 150, 4, 0.f));
  }
}

// The separable rows of the SIMD paths (axis-aligned bilinear: the two source rows blended
// into a float row, then columns picked through window permutes; area: vertical taps in
// registers, columns through windows) against the per-pixel body of the scalar policy, bit
// for bit: scale + translation tiles shrinking and enlarging, mirrored, 1-pixel and thin
// tiles, tiles partly off the canvas, widths off every SIMD width, uint8 and float, 1-4
// channels, bilinear / area / nearest, and resize down, up and mixed.
template <class T>
void check_separable_rows(std::size_t channels, unsigned seed) {
  const auto src = noise_image<T>(203, 117, channels, seed);
  const auto one = noise_image<T>(1, 1, channels, seed + 1);
  const auto thin = noise_image<T>(37, 1, channels, seed + 2);
  const auto tall = noise_image<T>(1, 29, channels, seed + 3);
  const auto check = [&](auto&& op, const pk::image<T>& blank, const std::string& what) {
    auto want = blank;
    op(pk::exec::scalar, want);
    auto got = blank;
    op(pk::exec::simd, got);
    EXPECT_TRUE(same_pixels(want, got)) << what << " simd";
#if POLYKERN_HAS_OPENMP
    for (int threads : {1, 2, 3}) {
      auto d = blank;
      op(pk::exec::openmp_policy{.threads = threads}, d);
      EXPECT_TRUE(same_pixels(want, d)) << what << " openmp threads=" << threads;
    }
#endif
  };
  // OpenCV's mapping of a tile shrunk by s into a cell at (cx, cy): pixel k samples s k + (s - 1) / 2.
  const auto cell = [](double s, double cx, double cy) { return affine(1 / s, 0, cx - (s - 1) / (2 * s), 0, 1 / s, cy - (s - 1) / (2 * s)); };
  const std::vector<pk::tile<T>> tiles = {
      {src.view(), cell(4, 0, 0)},                      // the grid-video case, 4x
      {src.view(), cell(3, 60, 0)},                     // 3x
      {src.view(), cell(2.5, 130, 3)},                  // 2.5x
      {src.view(), affine(1 / 1.7, 0, 200.3, 0, 1 / 1.3, 50.6)},  // different scales per axis
      {src.view(), affine(1.5, 0, -80.25, 0, 1.25, 90.5)},        // enlarged, off the left edge
      {src.view(), affine(4, 0, 500, 0, 3, -200.7)},              // 4x enlarged, off the top and right
      {src.view(), affine(-0.5, 0, 260, 0, 0.5, 150)},            // mirrored, off the bottom
      {src.view(), affine(0.2, 0, 10.1, 0, -0.2, 140)},           // 5x, flipped vertically
      {one.view(), affine(9, 0, 30, 0, 7, 120)},                  // 1 pixel enlarged
      {one.view(), affine(1, 0, 3.5, 0, 1, 3.25)},                // 1 pixel
      {thin.view(), affine(2.5, 0, 40.5, 0, 4, 130)},             // 1 row
      {tall.view(), affine(3, 0, 250.5, 0, 0.5, 20.25)},          // 1 column
  };
  for (auto interp : {interpolation::bilinear, interpolation::area, interpolation::nearest}) {
    const std::string i = std::string(pk::name(interp));
    check([&](auto p, auto& out) { pk::compose(p, std::span<const pk::tile<T>>(tiles), out.view(), interp); },
          pk::image<T>(301, 173, channels, T(7)), "compose " + i);
    for (std::size_t k = 0; k < tiles.size(); ++k)
      check([&](auto p, auto& out) { pk::compose(p, std::span<const pk::tile<T>>(&tiles[k], 1), out.view(), interp); },
            pk::image<T>(301, 173, channels, T(7)), "compose tile " + std::to_string(k) + " " + i);
    for (auto [w, h] : {std::pair<std::size_t, std::size_t>{50, 29}, {67, 39}, {81, 47}, {101, 58}, {203, 59}, {411, 250},
                        {250, 117}, {17, 300}, {1, 1}, {203, 1}})
      check([&](auto p, auto& out) { pk::resize(p, src.view(), out.view(), interp); }, pk::image<T>(w, h, channels, T(0)),
            "resize to " + std::to_string(w) + "x" + std::to_string(h) + " " + i);
    check([&](auto p, auto& out) { pk::resize(p, one.view(), out.view(), interp); }, pk::image<T>(7, 5, channels, T(0)),
          "resize 1x1 " + i);
    check([&](auto p, auto& out) { pk::resize(p, thin.view(), out.view(), interp); }, pk::image<T>(90, 3, channels, T(0)),
          "resize 37x1 " + i);
  }
  // Scaled warp_affine (axis-aligned bilinear with a constant border).
  check([&](auto p, auto& out) { pk::warp_affine(p, src.view(), affine(0.37, 0, 3.3, 0, 0.41, -2.2), out.view()); },
        pk::image<T>(260, 140, channels, T(0)), "warp_affine scale");
}

TEST(WarpPolicies, SeparableRowsAreBitwiseThePerPixelPath) {
  for (std::size_t c = 1; c <= 4; ++c) check_separable_rows<u8>(c, 80 + static_cast<unsigned>(c));
  for (std::size_t c : {1, 3, 4}) check_separable_rows<float>(c, 90 + static_cast<unsigned>(c));
}

// The separable rows are what the grid-video case takes: a 4x shrink uses the 64-float
// windows, a 2x shrink and enlargements the 32-float ones, and an 8x shrink (windows too
// wide for a permute) falls back to gathers from the float row, still separable.
TEST(WarpPolicies, SeparableRowsAreTakenForScaleAndTranslation) {
  namespace w = pk::detail::warp;
  const auto src = noise_image<u8>(1920, 1080, 3, 3);
  const auto job_for = [&](double s, pk::interpolation interp) {
    const auto to_canvas = affine(1 / s, 0, 10 - (s - 1) / (2 * s), 0, 1 / s, 20 - (s - 1) / (2 * s));
    double inv[2][3];
    EXPECT_TRUE(w::invert(to_canvas.m, inv));
    w::job<u8> j;
    EXPECT_TRUE(w::compose_job<u8>(src.view(), to_canvas.m, inv, 1920, 1080, w::compose_sampler(interp), j));
    return w::prepare_simd<u8, 3>(j);
  };
#if defined(__AVX512F__)
  EXPECT_EQ(job_for(4, interpolation::bilinear).sep.reach, pk::detail::simd::window::w64);
  EXPECT_EQ(job_for(2, interpolation::bilinear).sep.reach, pk::detail::simd::window::w32);
  EXPECT_EQ(job_for(0.5, interpolation::bilinear).sep.reach, pk::detail::simd::window::w32);
  EXPECT_EQ(job_for(4, interpolation::area).area.reach, pk::detail::simd::window::w64);
  EXPECT_EQ(job_for(2, interpolation::area).area.reach, pk::detail::simd::window::w32);
#endif
  for (double s : {4.0, 2.0, 0.5, 8.0}) {
    const auto a = job_for(s, interpolation::bilinear);
    EXPECT_TRUE(a.separable) << s;
    EXPECT_GT(a.sep_x1 - a.sep_x0, 200) << s;
  }
  EXPECT_EQ(job_for(8, interpolation::bilinear).sep.reach, pk::detail::simd::window::gather);
  const auto rotated = w::warp_job<u8>(src.view(), affine(0.9, 0.1, 0, -0.1, 0.9, 0).m, 100, 100, w::sampler::bilinear,
                                        {border::constant, 0});
  EXPECT_FALSE((w::prepare_simd<u8, 3>(rotated).separable));
}

// Shrinking uint8 rows (2x and more) pick their horizontal taps first from 128-byte windows
// of the two source rows and blend only those (simd_paths.hpp, picked_lerp; AVX-512 VBMI):
// bitwise the scalar per-pixel body for shrinks of 2x to 8x, per-axis scales, fractional
// offsets, mirrored tiles, rows whose vertical weight is 0, windows clamped at the right
// edge of the source, widths off the SIMD width, 1-4 channels, openmp on 1-3 threads.
TEST(WarpPolicies, PickedShrinkRowsAreBitwiseThePerPixelPath) {
  namespace w = pk::detail::warp;
  for (std::size_t c = 1; c <= 4; ++c) {
    const auto src = noise_image<u8>(611, 97, c, 100 + static_cast<unsigned>(c));
    const auto check = [&](const std::vector<pk::tile<u8>>& tiles, std::size_t cw, std::size_t ch, const std::string& what) {
      pk::image<u8> want(cw, ch, c, 7);
      pk::compose(pk::exec::scalar, tiles, want.view());
      pk::image<u8> got(cw, ch, c, 7);
      pk::compose(pk::exec::simd, tiles, got.view());
      EXPECT_TRUE(same_pixels(want, got)) << what << " c=" << c << " simd";
#if POLYKERN_HAS_OPENMP
      for (int threads : {1, 2, 3}) {
        pk::image<u8> d(cw, ch, c, 7);
        pk::compose(pk::exec::openmp_policy{.threads = threads}, tiles, d.view());
        EXPECT_TRUE(same_pixels(want, d)) << what << " c=" << c << " openmp threads=" << threads;
      }
#endif
    };
    for (double s : {2.0, 2.5, 3.0, 4.0, 5.3, 7.0, 8.0}) {
      const auto shrink = affine(1 / s, 0, 3 - (s - 1) / (2 * s), 0, 1 / (s * 0.9), 1.3);
      check({{src.view(), shrink}}, 400, 140, "shrink " + std::to_string(s));
      check({{src.view(), affine(-1 / s, 0, 611 / s + 2.6, 0, 1 / s, 0.4)}}, 400, 140, "mirrored " + std::to_string(s));
#if defined(__AVX512VBMI__)
      // The grid case is picked up to 7x for every channel count (8x: where the windows fit).
      if (s <= 7) {
        double inv[2][3];
        ASSERT_TRUE(w::invert(shrink.m, inv));
        w::job<u8> j;
        ASSERT_TRUE(w::compose_job<u8>(src.view(), shrink.m, inv, 400, 140, w::sampler::bilinear, j));
        EXPECT_TRUE((w::with_channels(c, [&]<int C>() { return w::prepare_simd<u8, C>(j).picked; }))) << s << " c=" << c;
      }
#endif
    }
    // Integer vertical steps (fy = 0 on every row), a 1.5x shrink (not picked: the rows' own
    // vertical pass), and a row of tiles as in the grid video.
    check({{src.view(), affine(0.25, 0, 1.125, 0, 0.5, 0)}}, 200, 60, "fy = 0");
    check({{src.view(), affine(1 / 1.5, 0, 0.4, 0, 1 / 1.5, 0.2)}}, 420, 70, "1.5x");
    std::vector<pk::tile<u8>> row;
    for (int k = 0; k < 4; ++k) row.push_back({src.view(), affine(0.25, 0, 153 * k - 0.375, 0, 0.25, -0.375)});
    check(row, 611, 25, "grid row");
  }
}

// issue 11: the openmp backend's own parallel region had no exception guard, so an
// exception inside it (a std::bad_alloc of a thread's scratch row) called std::terminate.
// The rows now run through detail/executor.hpp, which carries the exception to the caller.
// The failure is injected into every scratch allocation (the area accumulator) by the
// test hook; every CPU policy must throw it, and the next call must work.
TEST(WarpPolicies, ScratchAllocationFailureReachesTheCaller) {
  const auto src = noise_image<u8>(640, 480, 3, 5);
  const std::vector<pk::tile<u8>> tiles = {{src.view(), affine(0.5, 0, -0.25, 0, 0.5, -0.25)}};
  pk::image<u8> want(320, 240, 3, 9);  // 76800 pixels: enough for the parallel path
  pk::compose(pk::exec::scalar, tiles, want.view(), interpolation::area);
  struct injected_failure {
    injected_failure() { pk::detail::warp::fail_scratch_allocations_for_testing = true; }
    ~injected_failure() { pk::detail::warp::fail_scratch_allocations_for_testing = false; }
  };
  const auto check = [&](const auto& policy, const std::string& what) {
    pk::image<u8> canvas(320, 240, 3, 9);
    {
      const injected_failure failing;
      EXPECT_THROW(pk::compose(policy, tiles, canvas.view(), interpolation::area), std::bad_alloc) << what;
    }
    pk::compose(policy, tiles, canvas.view(), interpolation::area);
    EXPECT_TRUE(same_pixels(want, canvas)) << what;
  };
  check(pk::exec::scalar, "scalar");
  check(pk::exec::simd, "simd");
#if POLYKERN_HAS_OPENMP
  for (int threads : {2, 3}) check(pk::exec::openmp_policy{.threads = threads}, "openmp threads=" + std::to_string(threads));
#endif
}

// ---- Vulkan: chunking, failures, a workload over maxStorageBufferRange ----

#if POLYKERN_HAS_VULKAN
namespace {
// The default context with its binding limit lowered for the duration of a test.
struct lowered_binding_limit {
  explicit lowered_binding_limit(std::uint64_t bytes) { pk::vulkan::default_context().limit_binding_bytes_for_testing(bytes); }
  ~lowered_binding_limit() { pk::vulkan::default_context().limit_binding_bytes_for_testing(0); }
};
}  // namespace

TEST(WarpVulkan, vulkan_BandsAndGroupsGiveTheUnchunkedResult) {
  const auto src = noise_image<u8>(150, 90, 3, 81);
  const auto fsrc = noise_image<float>(150, 90, 3, 82);
  std::vector<pk::image<u8>> images;
  for (int i = 0; i < 6; ++i) images.push_back(noise_image<u8>(40 + 7 * i, 30 + 3 * i, 3, 90 + i));
  std::vector<pk::tile<u8>> tiles;
  for (int i = 0; i < 6; ++i)
    tiles.push_back({images[i].view(), i == 4 ? rotation(25, 0.7, 20, 15, 30 + 9 * i, 11 * i)
                                              : affine(0.6 + 0.1 * i, 0, 5 + 20 * i, 0, 0.6 + 0.1 * i, 3 + 9 * i)});
  const auto f = rotation(11, 1.3, 75, 45, -4, 2);
  const auto run_all = [&](pk::image<u8>& a, pk::image<float>& b, pk::image<u8>& c, pk::image<u8>& d) {
    pk::warp_affine(pk::exec::vulkan, src.view(), f, a.view(), interpolation::bilinear, {border::reflect});
    pk::resize(pk::exec::vulkan, fsrc.view(), b.view(), interpolation::area);
    pk::compose(pk::exec::vulkan, tiles, c.view(), interpolation::bilinear);
    pk::compose(pk::exec::vulkan, tiles, d.view(), interpolation::area);
  };
  pk::image<u8> a(170, 100, 3), c(200, 120, 3, 5), d(200, 120, 3, 5);
  pk::image<float> b(61, 37, 3);
  run_all(a, b, c, d);
  for (std::uint64_t limit : {6000u, 30000u, 70000u}) {
    lowered_binding_limit lower(limit);
    pk::image<u8> a2(170, 100, 3), c2(200, 120, 3, 5), d2(200, 120, 3, 5);
    pk::image<float> b2(61, 37, 3);
    run_all(a2, b2, c2, d2);
    EXPECT_TRUE(same_pixels(a, a2)) << "warp_affine, binding limit " << limit;
    EXPECT_TRUE(same_pixels(b, b2)) << "resize, binding limit " << limit;
    EXPECT_TRUE(same_pixels(c, c2)) << "compose bilinear, binding limit " << limit;
    EXPECT_TRUE(same_pixels(d, d2)) << "compose area, binding limit " << limit;
  }
  // And the CPU agrees.
  pk::image<u8> cpu(200, 120, 3, 5);
  pk::compose(pk::exec::simd, tiles, cpu.view(), interpolation::area);
  std::vector<char> all(200 * 120, 1);
  cv::Mat cm = as_mat(cpu);
  expect_close_to(d, cm, all, 1, 1, "vulkan vs simd");
}

TEST(WarpVulkan, vulkan_AllocationFailureThrowsAndWithFallbackReruns) {
  const auto src = noise_image<u8>(64, 48, 3, 83);
  const auto f = rotation(7, 0.9, 32, 24, 1, 1);
  pk::image<u8> want(60, 50, 3);
  pk::warp_affine(pk::exec::simd, src.view(), f, want.view());
  for (long after : {0L, 1L, 2L}) {
    pk::image<u8> dst(60, 50, 3, 9);
    {
      pk::vulkan::testing::scoped_allocation_failure fail(after);
      EXPECT_THROW(pk::warp_affine(pk::exec::vulkan, src.view(), f, dst.view()), pk::vulkan_error);
    }
    for (std::size_t y = 0; y < 50; ++y)
      for (std::size_t x = 0; x < 180; ++x) ASSERT_EQ(dst.view().row(y)[x], 9) << "written before failing";
    {
      pk::vulkan::testing::scoped_allocation_failure fail(after);
      pk::warp_affine(pk::exec::with_fallback(pk::exec::vulkan, pk::exec::simd), src.view(), f, dst.view());
    }
    EXPECT_TRUE(same_pixels(dst, want)) << "after " << after;
  }
}

TEST(WarpVulkan, vulkan_SourceOverTheBindingLimit) {
  // 6000 x 6000 RGBA uint8 = 144 MB > maxStorageBufferRange (128 MiB on lavapipe): the
  // bands each upload part of the source.
  pk::image<u8> src(6000, 6000, 4);
  for (std::size_t y = 0; y < 6000; ++y) {
    auto* row = reinterpret_cast<std::uint32_t*>(src.view().row(y));
    for (std::size_t x = 0; x < 6000; ++x) row[x] = static_cast<std::uint32_t>(x * 2654435761u ^ y * 40503u);
  }
  pk::image<u8> a(600, 600, 4), b(600, 600, 4);
  pk::resize(pk::exec::vulkan, src.view(), a.view(), interpolation::nearest);
  pk::resize(pk::exec::simd, src.view(), b.view(), interpolation::nearest);
  EXPECT_TRUE(same_pixels(a, b));
}
#endif
