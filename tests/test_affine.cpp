// Affine transforms of points and normals (api.md §6): every case on every policy,
// against a double-precision reference computed here from the same (T-valued) inputs.
//
// Tolerance: a float result may differ from the reference by 1e-6 relative to the
// magnitude of what was summed (|got - ref| <= 1e-6 * max(|ref|, sum of |terms|)), so a
// coordinate that cancels to ~0 is not held to a relative bound it cannot meet. Doubles: 1e-12.
#include <gtest/gtest.h>

#include <polykern/affine.hpp>
#include <polykern/interop/eigen.hpp>

#include <Eigen/Geometry>
#include <sys/mman.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <numeric>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "common.hpp"

namespace pk = polykern;
using pk::detail::affine::kind;

namespace {

template <class T>
constexpr double tolerance = std::is_same_v<T, float> ? 1e-6 : 1e-12;
template <class T>
constexpr T sentinel = T(-7777.25);  // fills padding and untouched outputs

// Points with `stride` elements each; the padding after x, y, z holds distinct values so a
// write into it shows. Every 9th point is zero (zero normals); coordinates in [-100, 100].
template <class T>
std::vector<T> random_points(std::size_t n, std::ptrdiff_t stride, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> coord(-100, 100);
  std::vector<T> v(n * static_cast<std::size_t>(stride));
  for (std::size_t i = 0; i < n; ++i)
    for (std::ptrdiff_t k = 0; k < stride; ++k)
      v[i * stride + k] = k < 3 ? (i % 9 == 4 ? T(0) : static_cast<T>(coord(rng))) : static_cast<T>(1000 + i % 97 + k);
  return v;
}

// A well-conditioned affine map: rotation x non-uniform scale x shear (optionally a
// reflection), plus a translation.
template <class T>
pk::affine3<T> random_affine(unsigned seed, bool reflect = false) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(-1, 1);
  Eigen::Quaterniond q(u(rng), u(rng), u(rng), u(rng));
  q.normalize();
  Eigen::Matrix3d shear = Eigen::Matrix3d::Identity();
  shear(0, 1) = 0.3 * u(rng), shear(0, 2) = 0.3 * u(rng), shear(1, 2) = 0.3 * u(rng);
  Eigen::Vector3d scale(1.5 + u(rng), 1.5 + u(rng), 0.2 + 0.1 * u(rng));
  if (reflect) scale.x() = -scale.x();
  const Eigen::Matrix3d r = q.toRotationMatrix() * scale.asDiagonal() * shear;
  pk::affine3<T> a;
  for (int i = 0; i < 3; ++i) {
    for (int k = 0; k < 3; ++k) a.m[i][k] = static_cast<T>(r(i, k));
    a.m[i][3] = static_cast<T>(10 * u(rng));
  }
  return a;
}

// Compares out (with out_stride) against the double reference for points [0, n), where
// point i uses matrix_of(i). Also checks that padding of out was left alone (`padding`:
// what it held before; null: the sentinel).
template <class T>
void expect_transformed(kind what, const std::vector<T>& in, std::ptrdiff_t in_stride, const std::vector<T>& out,
                        std::ptrdiff_t out_stride, std::size_t n,
                        const std::function<const pk::affine3<T>&(std::size_t)>& matrix_of,
                        const std::vector<T>* padding = nullptr) {
  ASSERT_GE(out.size(), n * out_stride);
  const pk::affine3<T>* last = nullptr;
  Eigen::Matrix3d normal_matrix = Eigen::Matrix3d::Zero();
  std::size_t failures = 0;
  for (std::size_t i = 0; i < n && failures < 10; ++i) {
    const pk::affine3<T>& m = matrix_of(i);
    if (what == kind::normals && &m != last) {
      Eigen::Matrix3d r;
      for (int a = 0; a < 3; ++a)
        for (int b = 0; b < 3; ++b) r(a, b) = m.m[a][b];
      normal_matrix = r.inverse().transpose();
      last = &m;
    }
    const Eigen::Vector3d p(in[i * in_stride], in[i * in_stride + 1], in[i * in_stride + 2]);
    Eigen::Vector3d ref, scale;
    for (int k = 0; k < 3; ++k) {
      if (what == kind::points) {
        ref[k] = m.m[k][0] * p[0] + m.m[k][1] * p[1] + m.m[k][2] * p[2] + m.m[k][3];
        scale[k] = std::abs(m.m[k][0] * p[0]) + std::abs(m.m[k][1] * p[1]) + std::abs(m.m[k][2] * p[2]) +
                   std::abs(double(m.m[k][3]));
      } else {
        ref[k] = normal_matrix.row(k).dot(p);
        scale[k] = normal_matrix.row(k).cwiseAbs().dot(p.cwiseAbs());
      }
    }
    if (what == kind::normals) {
      const double len = ref.norm();
      if (len > 0) ref /= len, scale /= len;
    }
    for (int k = 0; k < 3; ++k) {
      const double got = out[i * out_stride + k];
      const double bound = tolerance<T> * std::max({std::abs(ref[k]), scale[k], 1e-30});
      if (!(std::abs(got - ref[k]) <= bound)) {
        ADD_FAILURE() << "point " << i << " component " << k << ": got " << got << ", want " << ref[k] << " (bound "
                      << bound << ")";
        ++failures;
      }
    }
    for (std::ptrdiff_t k = 3; k < out_stride; ++k) {
      const T want = padding ? (*padding)[i * out_stride + k] : sentinel<T>;
      if (out[i * out_stride + k] != want) {
        ADD_FAILURE() << "padding of point " << i << " element " << k << " was overwritten";
        ++failures;
      }
    }
  }
}

// Random segment sizes summing to n, with empty segments at the front, inside and at the end.
std::vector<std::size_t> random_offsets(std::size_t n, std::size_t segments, unsigned seed) {
  std::mt19937 rng(seed);
  std::vector<std::size_t> cuts(segments - 1);
  std::uniform_int_distribution<std::size_t> pick(0, n);
  for (auto& c : cuts) c = pick(rng);
  if (segments > 3) cuts[0] = 0, cuts[1] = cuts[2] = n / 2, cuts.back() = n;  // empties
  std::sort(cuts.begin(), cuts.end());
  std::vector<std::size_t> offsets{0};
  offsets.insert(offsets.end(), cuts.begin(), cuts.end());
  offsets.push_back(n);
  return offsets;
}

template <class T>
std::size_t segment_of(const std::vector<std::size_t>& offsets, std::size_t i) {
  return static_cast<std::size_t>(std::upper_bound(offsets.begin(), offsets.end(), i) - offsets.begin()) - 1;
}

// Calls the single-matrix entry point for `what`.
template <class P, class In, class T>
void transform(kind what, const P& policy, pk::points_view<In, 3> in, const pk::affine3<T>& m, pk::points_view<T, 3> out) {
  if (what == kind::points)
    pk::transform_points(policy, in, m, out);
  else
    pk::transform_normals(policy, in, m, out);
}
template <class P, class In, class T>
void transform_batched(kind what, const P& policy, pk::points_view<In, 3> in, std::span<const std::size_t> offsets,
                       std::span<const pk::affine3<T>> m, pk::points_view<T, 3> out) {
  if (what == kind::points)
    pk::transform_points_batched(policy, in, offsets, m, out);
  else
    pk::transform_normals_batched(policy, in, offsets, m, out);
}

const char* name(kind what) { return what == kind::points ? "points" : "normals"; }

}  // namespace

template <class P>
class Affine : public ::testing::Test {
 protected:
  P policy = pk::testing::make_policy<P>();
};
TYPED_TEST_SUITE(Affine, pk::testing::all_policies, pk::testing::policy_name);

// ---- single matrix ------------------------------------------------------------------------

template <class T, class P>
void check_single(const P& policy, kind what, std::size_t n, std::ptrdiff_t in_stride, std::ptrdiff_t out_stride,
                  unsigned seed) {
  SCOPED_TRACE(::testing::Message() << name(what) << " " << (sizeof(T) == 4 ? "float" : "double") << " n=" << n
                                    << " strides " << in_stride << "/" << out_stride);
  const auto in = random_points<T>(n, in_stride, seed);
  const auto m = random_affine<T>(seed + 1, seed % 2 == 1);
  std::vector<T> out(n * out_stride, sentinel<T>);
  transform(what, policy, pk::points_view<const T>(in.data(), n, in_stride), m,
            pk::points_view<T>(out.data(), n, out_stride));
  expect_transformed<T>(what, in, in_stride, out, out_stride, n, [&](std::size_t) -> const auto& { return m; });
}

TYPED_TEST(Affine, PointsAndNormalsMatchTheReference) {
  const std::pair<std::ptrdiff_t, std::ptrdiff_t> strides[] = {{3, 3}, {4, 4}, {8, 8}, {3, 8}, {8, 3}};
  for (kind what : {kind::points, kind::normals})
    for (std::size_t n : {0, 1, 7, 17, 1000003})
      for (auto [si, so] : strides) {
        if (n == 1000003 && si == 8 && so == 3) continue;  // (the big size once per stride is enough)
        check_single<float>(this->policy, what, n, si, so, static_cast<unsigned>(n + si * 10 + so));
        check_single<double>(this->policy, what, n, si, so, static_cast<unsigned>(n + si * 10 + so + 7));
      }
}

TYPED_TEST(Affine, InPlaceKeepsThePadding) {
  for (kind what : {kind::points, kind::normals})
    for (std::size_t n : {1, 17, 1000003})
      for (std::ptrdiff_t stride : {3, 4}) {
        SCOPED_TRACE(::testing::Message() << name(what) << " n=" << n << " stride " << stride);
        const auto original = random_points<float>(n, stride, 5);
        auto data = original;
        const auto m = random_affine<float>(6);
        transform(what, this->policy, pk::points_view<float>(data.data(), n, stride), m,
                  pk::points_view<float>(data.data(), n, stride));
        expect_transformed<float>(what, original, stride, data, stride, n,
                                  [&](std::size_t) -> const auto& { return m; }, &original);
      }
}

TYPED_TEST(Affine, ZeroNormalsStayZeroAndLengthsAreOne) {
  std::vector<float> in = {0, 0, 0, 3, 4, 0, -0.f, 0, 0, 1e-3f, 0, 0, 0, 0, 5e3f};
  std::vector<float> out(in.size(), sentinel<float>);
  pk::affine3<float> m = {{{2, 0, 0, 9}, {0, 0.5f, 0, 9}, {0, 0, -1, 9}}};
  pk::transform_normals(this->policy, pk::points_view<float>(in.data(), 5), m, pk::points_view<float>(out.data(), 5));
  for (int k = 0; k < 3; ++k) EXPECT_EQ(out[k], 0.0f);
  for (int k = 0; k < 3; ++k) EXPECT_EQ(out[6 + k], 0.0f);
  for (int i = 1; i < 5; ++i) {
    if (i == 2) continue;
    const double len = std::hypot(double(out[3 * i]), double(out[3 * i + 1]), double(out[3 * i + 2]));
    EXPECT_NEAR(len, 1.0, 1e-6) << i;
  }
  // inverse^T of diag(2, 0.5, -1) is diag(0.5, 2, -1): (3, 4, 0) -> (1.5, 8, 0) / |.|
  EXPECT_NEAR(out[3], 1.5 / std::hypot(1.5, 8.0), 1e-6);
  EXPECT_NEAR(out[4], 8 / std::hypot(1.5, 8.0), 1e-6);
  EXPECT_NEAR(out[11], 0.0f, 1e-6);
  EXPECT_NEAR(out[14], -1.0f, 1e-6);
}

TYPED_TEST(Affine, TranslationIsIgnoredByNormalsAndSingularPointMatricesAreFine) {
  // A projection onto the xy plane is a valid point transform (and singular for normals).
  const pk::affine3<double> flatten = {{{1, 0, 0, 1}, {0, 1, 0, 2}, {0, 0, 0, 3}}};
  std::vector<double> p = {4, 5, 6}, q(3);
  pk::transform_points(this->policy, pk::points_view<double>(p.data(), 1), flatten, pk::points_view<double>(q.data(), 1));
  EXPECT_EQ(q, (std::vector<double>{5, 7, 3}));
  EXPECT_THROW(pk::transform_normals(this->policy, pk::points_view<double>(p.data(), 1), flatten,
                                     pk::points_view<double>(q.data(), 1)),
               pk::invalid_argument);
  const pk::affine3<double> shifted = {{{0, 1, 0, 100}, {-1, 0, 0, -50}, {0, 0, 1, 7}}};
  pk::transform_normals(this->policy, pk::points_view<double>(p.data(), 1), shifted, pk::points_view<double>(q.data(), 1));
  const double len = std::sqrt(77.0);
  EXPECT_NEAR(q[0], 5 / len, 1e-14);
  EXPECT_NEAR(q[1], -4 / len, 1e-14);
  EXPECT_NEAR(q[2], 6 / len, 1e-14);
}

TYPED_TEST(Affine, NormalsOfHugeAndTinyMatrices) {
  // inverse(R)^T of 1e200 R overflows if computed naively; the direction does not change.
  for (double scale : {1e200, 1e-200, 1.0}) {
    pk::affine3<double> m = random_affine<double>(3);
    for (auto& row : m.m)
      for (int c = 0; c < 3; ++c) row[c] *= scale;
    const auto in = random_points<double>(33, 3, 4);
    std::vector<double> out(in.size(), sentinel<double>);
    pk::transform_normals(this->policy, pk::points_view<const double>(in.data(), 33), m,
                          pk::points_view<double>(out.data(), 33));
    const auto unscaled = random_affine<double>(3);
    expect_transformed<double>(kind::normals, in, 3, out, 3, 33, [&](std::size_t) -> const auto& { return unscaled; });
  }
}

TYPED_TEST(Affine, ResultsAreRepeatableAndIndependentOfThreads) {
  const std::size_t n = 300007;
  const auto in = random_points<float>(n, 3, 11);
  const auto m = random_affine<float>(12);
  std::vector<float> a(3 * n), b(3 * n);
  pk::transform_normals(this->policy, pk::points_view<const float>(in.data(), n), m, pk::points_view<float>(a.data(), n));
  pk::transform_normals(this->policy, pk::points_view<const float>(in.data(), n), m, pk::points_view<float>(b.data(), n));
  EXPECT_EQ(0, std::memcmp(a.data(), b.data(), a.size() * sizeof(float)));
#if POLYKERN_HAS_OPENMP
  if constexpr (std::is_same_v<TypeParam, pk::exec::openmp_policy>) {
    for (int threads : {1, 2, 3, 7}) {
      std::vector<float> c(3 * n);
      pk::transform_normals(pk::exec::openmp_policy{.threads = threads}, pk::points_view<const float>(in.data(), n), m,
                            pk::points_view<float>(c.data(), n));
      EXPECT_EQ(0, std::memcmp(a.data(), c.data(), a.size() * sizeof(float))) << threads << " threads";
    }
    // and the same bits as the simd policy (the same body, the same chunks of work per point)
    std::vector<float> s(3 * n);
    pk::transform_normals(pk::exec::simd, pk::points_view<const float>(in.data(), n), m, pk::points_view<float>(s.data(), n));
    EXPECT_EQ(0, std::memcmp(a.data(), s.data(), a.size() * sizeof(float)));
#if defined(__FMA__)  // with hardware fma, the scalar body rounds exactly as the batch one
    std::vector<float> r(3 * n);
    pk::transform_normals(pk::exec::scalar, pk::points_view<const float>(in.data(), n), m, pk::points_view<float>(r.data(), n));
    EXPECT_EQ(0, std::memcmp(a.data(), r.data(), a.size() * sizeof(float)));
#endif
  }
#endif
}

// ---- batched --------------------------------------------------------------------------------

template <class T, class P>
void check_batched(const P& policy, kind what, std::size_t n, std::size_t segments, std::ptrdiff_t stride,
                   bool in_place, unsigned seed) {
  SCOPED_TRACE(::testing::Message() << name(what) << (sizeof(T) == 4 ? " float" : " double") << " n=" << n
                                    << " segments=" << segments << " stride " << stride << (in_place ? " in place" : ""));
  const auto in = random_points<T>(n, stride, seed);
  const auto offsets = random_offsets(n, segments, seed + 1);
  std::vector<pk::affine3<T>> matrices;
  for (std::size_t s = 0; s < segments; ++s) matrices.push_back(random_affine<T>(seed + 2 + static_cast<unsigned>(s), s % 3 == 1));
  std::vector<T> out = in_place ? in : std::vector<T>(n * stride, sentinel<T>);
  transform_batched(what, policy, pk::points_view<const T>(in_place ? out.data() : in.data(), n, stride), offsets,
                    std::span<const pk::affine3<T>>(matrices), pk::points_view<T>(out.data(), n, stride));
  expect_transformed<T>(
      what, in, stride, out, stride, n,
      [&](std::size_t i) -> const auto& { return matrices[segment_of<T>(offsets, i)]; }, in_place ? &in : nullptr);
}

TYPED_TEST(Affine, BatchedSegmentsIncludingEmptyOnes) {
  for (kind what : {kind::points, kind::normals}) {
    check_batched<float>(this->policy, what, 1000003, 7, 3, false, 21);
    check_batched<double>(this->policy, what, 1000003, 7, 4, false, 22);
    check_batched<float>(this->policy, what, 17, 9, 3, false, 23);
    check_batched<float>(this->policy, what, 1000003, 300, 8, false, 24);
    check_batched<float>(this->policy, what, 20011, 5, 3, true, 25);
    check_batched<double>(this->policy, what, 20011, 6, 4, true, 26);
    check_batched<float>(this->policy, what, 7, 1, 3, false, 27);
  }
}

TYPED_TEST(Affine, BatchedWithNoSegmentsAndNoPoints) {
  const std::size_t zero[] = {0};
  std::vector<pk::affine3<float>> none;
  pk::transform_points_batched(this->policy, pk::points_view<float>(), zero, none, pk::points_view<float>());
  pk::transform_normals_batched(this->policy, pk::points_view<float>(), zero, none, pk::points_view<float>());
  const std::size_t empty_ones[] = {0, 0, 0};
  std::vector<pk::affine3<float>> two = {random_affine<float>(1), random_affine<float>(2)};
  pk::transform_normals_batched(this->policy, pk::points_view<float>(), empty_ones, two, pk::points_view<float>());
}

TYPED_TEST(Affine, BatchedEqualsOneCallPerSegment) {
  const std::size_t n = 50000;
  const auto in = random_points<float>(n, 3, 31);
  const auto offsets = random_offsets(n, 7, 32);
  std::vector<pk::affine3<float>> matrices;
  for (unsigned s = 0; s < 7; ++s) matrices.push_back(random_affine<float>(40 + s));
  std::vector<float> batched(3 * n), single(3 * n);
  pk::transform_points_batched(this->policy, pk::points_view<const float>(in.data(), n), offsets, matrices,
                               pk::points_view<float>(batched.data(), n));
  for (std::size_t s = 0; s < 7; ++s) {
    const std::size_t b = offsets[s], e = offsets[s + 1];
    pk::transform_points(this->policy, pk::points_view<const float>(in.data() + 3 * b, e - b), matrices[s],
                         pk::points_view<float>(single.data() + 3 * b, e - b));
  }
  for (std::size_t i = 0; i < 3 * n; ++i) ASSERT_NEAR(batched[i], single[i], 1e-6 * (1 + std::abs(single[i]))) << i;
}

// ---- bad arguments ----------------------------------------------------------------------------

namespace {
// Runs `call`, expects invalid_argument whose message contains every piece of `parts`,
// and that `out` still holds only the sentinel.
template <class Call>
void expect_rejected(Call&& call, const std::vector<float>& out, std::initializer_list<const char*> parts) {
  try {
    call();
    ADD_FAILURE() << "no invalid_argument for: " << *parts.begin();
  } catch (const pk::invalid_argument& e) {
    const std::string what = e.what();
    for (const char* part : parts) EXPECT_NE(what.find(part), std::string::npos) << "'" << part << "' not in: " << what;
  }
  for (float v : out) ASSERT_EQ(v, sentinel<float>) << "output written before the arguments were checked";
}
}  // namespace

TYPED_TEST(Affine, BadArgumentsAreRejectedBeforeAnyWrite) {
  const auto& p = this->policy;
  const std::size_t n = 40;
  std::vector<float> in = random_points<float>(n, 4, 3), out(n * 4, sentinel<float>);
  const auto m = random_affine<float>(4);
  using view = pk::points_view<float>;
  using cview = pk::points_view<const float>;
  const cview good_in(in.data(), n);
  const view good_out(out.data(), n);
  for (kind what : {kind::points, kind::normals}) {
    const char* fn = what == kind::points ? "transform_points" : "transform_normals";
    expect_rejected([&] { transform(what, p, cview(in.data(), n, 2), m, good_out); }, out, {fn, "in.stride is 2", ">= 3"});
    expect_rejected([&] { transform(what, p, good_in, m, view(out.data(), n, 0)); }, out, {fn, "out.stride is 0"});
    expect_rejected([&] { transform(what, p, cview(in.data(), n, -3), m, good_out); }, out, {fn, "in.stride is -3"});
    expect_rejected([&] { transform(what, p, cview(in.data(), n - 1), m, good_out); }, out,
                    {fn, "in.count is 39 but out.count is 40"});
    expect_rejected([&] { transform(what, p, cview(nullptr, n), m, good_out); }, out, {fn, "in.data is null"});
    expect_rejected([&] { transform(what, p, good_in, m, view(nullptr, n)); }, out, {fn, "out.data is null"});
    expect_rejected([&] { transform(what, p, cview(in.data(), SIZE_MAX / 2), m, view(out.data(), SIZE_MAX / 2)); }, out,
                    {fn, "does not fit"});
    for (float bad : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity()}) {
      auto broken = m;
      broken.m[1][3] = bad;
      expect_rejected([&] { transform(what, p, good_in, broken, good_out); }, out, {fn, "matrix.m[1][3] is", "finite"});
    }
    // Overlaps other than exactly in place.
    std::vector<float> shared(n * 4 + 8, sentinel<float>);
    expect_rejected([&] { transform(what, p, cview(shared.data(), n), m, view(shared.data() + 1, n)); }, shared,
                    {fn, "overlaps"});
    expect_rejected([&] { transform(what, p, cview(shared.data(), n, 3), m, view(shared.data(), n, 4)); }, shared,
                    {fn, "overlaps"});
  }
  // Singular linear parts, for normals only: zero, rank 1, rank 2 up to float rounding.
  pk::affine3<float> zero{}, rank1 = {{{1, 2, 3, 0}, {2, 4, 6, 0}, {-1, -2, -3, 0}}};
  pk::affine3<float> rank2 = m;
  for (int c = 0; c < 4; ++c) rank2.m[2][c] = 0.3f * m.m[0][c] - 1.7f * m.m[1][c];
  for (const auto& s : {zero, rank1, rank2}) {
    expect_rejected([&] { pk::transform_normals(p, good_in, s, good_out); }, out, {"transform_normals", "singular"});
    std::vector<pk::affine3<float>> ms = {m, s};
    const std::size_t off[] = {0, 10, n};
    expect_rejected([&] { pk::transform_normals_batched(p, good_in, off, ms, good_out); }, out,
                    {"transform_normals_batched", "matrices[1]", "singular"});
  }
  // Batched: offsets and matrix counts.
  std::vector<pk::affine3<float>> three = {m, m, m};
  const auto batched = [&](std::vector<std::size_t> off, const std::vector<pk::affine3<float>>& ms) {
    return [&, off, ms] { pk::transform_points_batched(p, good_in, off, ms, good_out); };
  };
  const char* fb = "transform_points_batched";
  expect_rejected(batched({0, 10, n}, three), out, {fb, "segment_offsets has 3 entries for 3 matrices"});
  expect_rejected(batched({}, {}), out, {fb, "segment_offsets has 0 entries for 0 matrices"});
  expect_rejected(batched({1, 10, 20, n}, three), out, {fb, "segment_offsets[0] is 1; must be 0"});
  expect_rejected(batched({0, 20, 10, n}, three), out, {fb, "segment_offsets[2] is 10 < segment_offsets[1] = 20"});
  expect_rejected(batched({0, 10, 20, n - 1}, three), out, {fb, "segment_offsets[3] is 39 but in.count is 40"});
  expect_rejected(batched({0, 10, 20, n + 1}, three), out, {fb, "segment_offsets[3] is 41"});
  auto nan_matrix = three;
  nan_matrix[2].m[0][0] = std::numeric_limits<float>::quiet_NaN();
  expect_rejected(batched({0, 10, 20, n}, nan_matrix), out, {fb, "matrices[2].m[0][0] is nan"});
  expect_rejected([&] { pk::transform_points_batched(p, cview(in.data(), n, 1), std::vector<std::size_t>{0, n}, {&m, 1}, good_out); },
                  out, {fb, "in.stride is 1"});
}

TYPED_TEST(Affine, AcceptsMutableAndConstInputViews) {
  std::vector<double> a = {1, 2, 3}, b(3);
  const pk::affine3<double> shift = {{{1, 0, 0, 1}, {0, 1, 0, 1}, {0, 0, 1, 1}}};
  pk::transform_points(this->policy, pk::points_view<double>(a.data(), 1), shift, pk::points_view<double>(b.data(), 1));
  EXPECT_EQ(b, (std::vector<double>{2, 3, 4}));
  pk::transform_points(this->policy, pk::points_view<const double>(a.data(), 1), shift, pk::points_view<double>(b.data(), 1));
  const std::vector<std::size_t> off = {0, 1};
  const std::vector<pk::affine3<double>> ms = {shift};
  pk::transform_points_batched(this->policy, pk::points_view<double>(a.data(), 1), off, ms, pk::points_view<double>(b.data(), 1));
  EXPECT_EQ(b, (std::vector<double>{2, 3, 4}));
}

// ---- Eigen interop ------------------------------------------------------------------------------

namespace {
// max |a - b| over all coefficients (a plain loop: Eigen's AVX-512 reductions trip GCC 12's
// -Wmaybe-uninitialized).
template <class A, class B>
double max_difference(const A& a, const B& b) {
  double d = 0;
  for (Eigen::Index c = 0; c < a.cols(); ++c)
    for (Eigen::Index r = 0; r < a.rows(); ++r) d = std::max(d, std::abs(double(a(r, c)) - double(b(r, c))));
  return d;
}
}  // namespace

TYPED_TEST(Affine, EigenViewsAndTransforms) {
  const Eigen::Index n = 1001;
  Eigen::Matrix3Xf cloud = Eigen::Matrix3Xf::Random(3, n) * 50;  // Eigen's fixed-seed generator
  Eigen::Transform<float, 3, Eigen::Affine> t(Eigen::AngleAxisf(0.7f, Eigen::Vector3f(1, 2, 3).normalized()));
  t.translation() << 1, -2, 3;
  t.scale(Eigen::Vector3f(2, 1, 0.5f));

  // column-major 3xN in, row-major Nx3 out
  Eigen::Matrix<float, Eigen::Dynamic, 3, Eigen::RowMajor> rows(n, 3);
  pk::transform_points(this->policy, pk::eigen::as_points(std::as_const(cloud)), pk::eigen::to_affine3(t),
                       pk::eigen::as_points(rows));
  const Eigen::Matrix3Xf want = t * cloud;
  EXPECT_LE(max_difference(rows.transpose(), want), 1e-4);

  // the first three columns of a row-major Nx4 matrix (stride 4) in place, via the 4x4 form
  Eigen::Matrix<float, Eigen::Dynamic, 4, Eigen::RowMajor> wide(n, 4);
  wide.leftCols<3>() = cloud.transpose();
  wide.col(3).setConstant(42);
  auto view = pk::eigen::as_points(wide.leftCols<3>());
  EXPECT_EQ(view.stride, 4);
  const Eigen::Matrix4f h = t.matrix();
  pk::transform_points(this->policy, view, pk::eigen::to_affine3(h), view);
  EXPECT_LE(max_difference(wide.leftCols<3>().transpose(), want), 1e-4);
  EXPECT_TRUE((wide.col(3).array() == 42).all());

  // normals through a Map with an outer stride, against Eigen's inverse transpose
  std::vector<double> buffer(4 * n, 0.0);
  Eigen::Map<Eigen::Matrix3Xd, 0, Eigen::OuterStride<4>> normals(buffer.data(), 3, n);
  normals = cloud.cast<double>();
  const Eigen::Matrix<double, 3, 4> compact = t.cast<double>().matrix().topRows<3>();
  std::vector<double> result(3 * n);
  Eigen::Map<Eigen::Matrix3Xd> out(result.data(), 3, n);
  pk::transform_normals(this->policy, pk::eigen::as_points(normals), pk::eigen::to_affine3(compact),
                        pk::eigen::as_points(out));
  const Eigen::Matrix3d nm = t.cast<double>().linear().inverse().transpose();
  for (Eigen::Index i = 0; i < n; ++i) {
    const Eigen::Vector3d w = (nm * normals.col(i)).normalized();
    ASSERT_LE(max_difference(out.col(i), w), 1e-12) << i;
  }
}

// issue 11: the simd gathers addressed point l of a batch at the 32-bit offset l * stride,
// which overflowed for strides above 2^31 / (lanes - 1) elements (about 1.4e8 with 16 float
// lanes) and read far outside the points. Such strides now load lane by lane. The points
// live in a sparse mapping: 17 points (one batch and a tail) one stride apart, a few pages
// touched of ~10 GB of address space.
TEST(AffineStrides, StridesBeyond32BitGatherOffsetsLoadLaneByLane) {
  constexpr std::ptrdiff_t lanes = static_cast<std::ptrdiff_t>(xsimd::batch<float>::size);
  const std::ptrdiff_t huge = std::numeric_limits<std::int32_t>::max() / std::max<std::ptrdiff_t>(lanes - 1, 1) + 64;
  EXPECT_TRUE(pk::detail::simd::gather_offsets_fit<float>(huge - 128));
  EXPECT_FALSE(pk::detail::simd::gather_offsets_fit<float>(huge));
  constexpr std::size_t n = 17;
  const std::size_t bytes = n * static_cast<std::size_t>(huge) * sizeof(float);
  void* mapping = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  ASSERT_NE(mapping, MAP_FAILED) << "could not reserve " << bytes << " bytes of address space";
  auto* in = static_cast<float*>(mapping);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t k = 0; k < 3; ++k) in[i * static_cast<std::size_t>(huge) + k] = static_cast<float>(i * 3 + k) - 20.5f;
  const auto m = random_affine<float>(5);
  const pk::points_view<const float> view(in, n, huge);
  for (kind what : {kind::points, kind::normals}) {
    std::vector<float> want(3 * n), simd(3 * n, sentinel<float>);
    transform(what, pk::exec::scalar, view, m, pk::points_view<float>(want.data(), n));
    transform(what, pk::exec::simd, view, m, pk::points_view<float>(simd.data(), n));
    EXPECT_EQ(want, simd) << name(what) << " simd";
#if POLYKERN_HAS_OPENMP
    std::vector<float> omp(3 * n, sentinel<float>);
    transform(what, pk::exec::openmp, view, m, pk::points_view<float>(omp.data(), n));
    EXPECT_EQ(want, omp) << name(what) << " openmp";
#endif
    for (std::size_t i = 0; i < n; ++i) EXPECT_NE(want[3 * i], sentinel<float>);
  }
  munmap(mapping, bytes);
}

TEST(AffineEigen, ViewsConversionsAndErrors) {
  Eigen::MatrixXf dynamic(5, 4);
  EXPECT_THROW(pk::eigen::as_points(dynamic), pk::invalid_argument);  // col-major 5 rows
  Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> rm(5, 3);
  auto v = pk::eigen::as_points(rm);
  static_assert(std::is_same_v<decltype(v), pk::points_view<float>>);
  EXPECT_EQ(v.count, 5u);
  EXPECT_EQ(v.stride, 3);
  const auto& crm = rm;
  static_assert(std::is_same_v<decltype(pk::eigen::as_points(crm)), pk::points_view<const float>>);
  Eigen::Matrix<float, Eigen::Dynamic, 4, Eigen::RowMajor> rm4(5, 4);
  EXPECT_THROW(pk::eigen::as_points(rm4), pk::invalid_argument);  // 4 columns
  EXPECT_EQ(pk::eigen::as_points(rm4.leftCols(3)).stride, 4);

  auto mv = pk::eigen::as_matrix(rm4);
  EXPECT_EQ(mv.rows, 5u);
  EXPECT_EQ(mv.cols, 4u);
  EXPECT_EQ(mv.row_stride, 4);
  EXPECT_EQ(&mv(2, 1), &rm4(2, 1));
  auto block = pk::eigen::as_matrix(rm4.block(1, 1, 3, 2));
  EXPECT_EQ(block.row_stride, 4);
  EXPECT_EQ(&block(0, 0), &rm4(1, 1));
  Eigen::VectorXd column(6);
  EXPECT_EQ(pk::eigen::as_matrix(column).cols, 1u);

  Eigen::Matrix4d projective = Eigen::Matrix4d::Identity();
  projective(3, 2) = 0.5;
  EXPECT_THROW(pk::eigen::to_affine3(projective), pk::invalid_argument);
  Eigen::Transform<double, 3, Eigen::Projective> p(projective);
  EXPECT_THROW(pk::eigen::to_affine3(p), pk::invalid_argument);
  Eigen::Isometry3d iso = Eigen::Isometry3d::Identity();
  iso.translate(Eigen::Vector3d(1, 2, 3));
  const auto a = pk::eigen::to_affine3(iso);
  EXPECT_EQ(a.m[1][3], 2.0);
  EXPECT_TRUE(pk::eigen::to_transform(a).matrix() == iso.matrix());

  const double h[4][4] = {{1, 0, 0, 4}, {0, 1, 0, 5}, {0, 0, 1, 6}, {0, 0, 0, 1}};
  EXPECT_EQ(pk::make_affine3(h).m[2][3], 6.0);
  const double bad[4][4] = {{1, 0, 0, 4}, {0, 1, 0, 5}, {0, 0, 1, 6}, {0, 0, 1, 1}};
  EXPECT_THROW(pk::make_affine3(bad), pk::invalid_argument);
}

// ---- Vulkan: chunking, double, fallback ----------------------------------------------------------

#if POLYKERN_HAS_VULKAN
namespace vk = polykern::vulkan;

namespace {
// Validation messages of a context the test created itself (the test main watches only the
// default context).
void expect_no_validation_messages(const vk::context& ctx) {
  for (const auto& message : ctx.validation_messages()) ADD_FAILURE() << "[validation] " << message;
}
}  // namespace

TEST(AffineVulkan, vulkan_MoreThanOneBindingOfPoints) {
  // 12M float points of stride 3 = 144 MB > 128 MiB (lavapipe's maxStorageBufferRange).
  auto& ctx = vk::default_context();
  const std::size_t n = 12'000'000;
  ASSERT_GT(n * 3 * sizeof(float), ctx.max_binding_bytes()) << "not chunked on this device";
  std::vector<float> in(3 * n);
  for (std::size_t i = 0; i < 3 * n; ++i) in[i] = static_cast<float>(static_cast<std::int64_t>(i * 2654435761u % 2001) - 1000) * 0.1f;
  const auto m = random_affine<float>(77);
  std::vector<float> out(3 * n, sentinel<float>);
  pk::transform_points(pk::exec::vulkan, pk::points_view<const float>(in.data(), n), m, pk::points_view<float>(out.data(), n));
  expect_transformed<float>(kind::points, in, 3, out, 3, n, [&](std::size_t) -> const auto& { return m; });
}

TEST(AffineVulkan, vulkan_ChunkedWithALoweredBindingLimit) {
  vk::context ctx;
  for (std::uint64_t limit : {4096u, 1000u, 100000u}) {
    ctx.limit_binding_bytes_for_testing(limit);
    const pk::exec::vulkan_policy policy{ctx};
    SCOPED_TRACE(::testing::Message() << "binding limit " << limit);
    for (kind what : {kind::points, kind::normals}) {
      check_single<float>(policy, what, 20011, 3, 3, 1);
      check_single<float>(policy, what, 20011, 8, 4, 2);
      check_single<double>(policy, what, 5003, 3, 3, 3);
      check_batched<float>(policy, what, 20011, 7, 3, false, 4);
      check_batched<float>(policy, what, 30011, 900, 3, false, 5);  // more segments than a chunk's table holds
      check_batched<float>(policy, what, 30011, 50, 3, true, 6);    // in place over several submissions
      check_batched<double>(policy, what, 20011, 400, 4, true, 7);
    }
  }
  expect_no_validation_messages(ctx);
}

TEST(AffineVulkan, vulkan_DoubleNeedsShaderFloat64) {
  auto& ctx = vk::default_context();
  std::vector<double> in = {1, 2, 3}, out(3, -1);
  const pk::affine3<double> m = {{{1, 0, 0, 1}, {0, 2, 0, 0}, {0, 0, 3, 0}}};
  if (ctx.info().shader_float64) {
    pk::transform_points(pk::exec::vulkan, pk::points_view<double>(in.data(), 1), m, pk::points_view<double>(out.data(), 1));
    EXPECT_EQ(out, (std::vector<double>{2, 4, 9}));
  } else {
    try {
      pk::transform_points(pk::exec::vulkan, pk::points_view<double>(in.data(), 1), m, pk::points_view<double>(out.data(), 1));
      FAIL() << "no vulkan_error without shaderFloat64";
    } catch (const pk::vulkan_error& e) {
      EXPECT_EQ(e.result(), "VK_ERROR_FEATURE_NOT_PRESENT");
      EXPECT_EQ(out, (std::vector<double>{-1, -1, -1}));
    }
  }
}

#if POLYKERN_HAS_OPENMP
TEST(AffineVulkan, vulkan_WithFallbackEqualsOpenmpAndNeverCorruptsInPlaceInput) {
  const auto policy = pk::exec::with_fallback(pk::exec::vulkan, pk::exec::openmp);
  const std::size_t n = 100003;
  const auto in = random_points<float>(n, 4, 91);
  const auto offsets = random_offsets(n, 5, 92);
  std::vector<pk::affine3<float>> ms;
  for (unsigned s = 0; s < 5; ++s) ms.push_back(random_affine<float>(93 + s));
  std::vector<float> want = in;
  pk::transform_normals_batched(pk::exec::openmp, pk::points_view<float>(want.data(), n, 4), offsets, ms,
                                pk::points_view<float>(want.data(), n, 4));
  for (long fail_at = 0; fail_at < 4; ++fail_at) {  // the call makes 4 device allocations
    SCOPED_TRACE(::testing::Message() << "allocation " << fail_at << " fails");
    std::vector<float> data = in;
    {
      vk::testing::scoped_allocation_failure fail(fail_at);
      pk::transform_normals_batched(policy, pk::points_view<float>(data.data(), n, 4), offsets, ms,
                                    pk::points_view<float>(data.data(), n, 4));
    }
    EXPECT_EQ(0, std::memcmp(data.data(), want.data(), want.size() * sizeof(float)));
    // Without a fallback, the error surfaces and the in-place input is left as it was.
    std::vector<float> untouched = in;
    {
      vk::testing::scoped_allocation_failure fail(fail_at);
      try {
        pk::transform_points(pk::exec::vulkan, pk::points_view<float>(untouched.data(), n, 4), ms[0],
                             pk::points_view<float>(untouched.data(), n, 4));
        ADD_FAILURE() << "no vulkan_error";
      } catch (const pk::vulkan_error& e) {
        EXPECT_EQ(e.result(), "VK_ERROR_OUT_OF_DEVICE_MEMORY");
        EXPECT_EQ(untouched, in);
      }
    }
  }
  // An in-place call planned as several submissions also falls back cleanly.
  vk::context ctx;
  ctx.limit_binding_bytes_for_testing(4096);
  const auto small = pk::exec::with_fallback(pk::exec::vulkan_policy{ctx}, pk::exec::openmp);
  std::vector<float> data = in;
  {
    vk::testing::scoped_allocation_failure fail(3);
    pk::transform_normals_batched(small, pk::points_view<float>(data.data(), n, 4), offsets, ms,
                                  pk::points_view<float>(data.data(), n, 4));
  }
  EXPECT_EQ(0, std::memcmp(data.data(), want.data(), want.size() * sizeof(float)));
  expect_no_validation_messages(ctx);
}
#endif
#endif
