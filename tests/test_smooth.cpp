// KD-tree neighbour search and Gaussian smoothing (api.md §5), on every policy.
//
// Graphs are compared exactly with a brute-force O(n^2) oracle. The oracle computes
// dist2 with the library's one formula (detail::kd::point_dist2: the same unfused fold
// every backend uses, so "which points are within r" has one answer); the
// formula itself is checked against double arithmetic, and exactly representable cases
// (points exactly at the radius) are checked without it. Smoothing is compared with a
// literal double implementation of the formula in api.md §5.
#include <gtest/gtest.h>

#include <polykern/kdtree.hpp>
#include <polykern/smooth.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "common.hpp"

namespace pk = polykern;
namespace kd = polykern::detail::kd;
using pk::testing::make_policy;

namespace {

// ---- point sets -------------------------------------------------------------------------

template <class T>
using cloud = std::vector<T>;  // xyz xyz ...

template <class T>
cloud<T> uniform(std::size_t n, unsigned seed, T scale = 1) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(0, 1);
  cloud<T> p(3 * n);
  for (auto& x : p) x = static_cast<T>(u(rng) * scale);
  return p;
}
template <class T>
cloud<T> clustered(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> g(0, 0.01);
  std::uniform_real_distribution<double> u(0, 1);
  const double centres[3][3] = {{0.2, 0.2, 0.2}, {0.8, 0.3, 0.5}, {0.5, 0.9, 0.1}};
  cloud<T> p(3 * n);
  for (std::size_t i = 0; i < n; ++i)
    for (int d = 0; d < 3; ++d)
      p[3 * i + d] = static_cast<T>(i % 10 == 9 ? u(rng) : centres[i % 3][d] + g(rng));  // 10% outliers
  return p;
}
template <class T>
cloud<T> all_equal(std::size_t n) {
  cloud<T> p(3 * n);
  for (std::size_t i = 0; i < n; ++i) p[3 * i] = T(0.5), p[3 * i + 1] = T(-2), p[3 * i + 2] = T(7);
  return p;
}
template <class T>
cloud<T> on_line(std::size_t n) {  // exactly representable, evenly spaced, shuffled
  cloud<T> p(3 * n);
  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::shuffle(order.begin(), order.end(), std::mt19937(5));
  for (std::size_t i = 0; i < n; ++i) p[3 * i] = T(order[i]) * T(0.25), p[3 * i + 1] = T(1), p[3 * i + 2] = T(2);
  return p;
}
template <class T>
cloud<T> on_plane(std::size_t n, unsigned seed) {
  cloud<T> p = uniform<T>(n, seed);
  for (std::size_t i = 0; i < n; ++i) p[3 * i + 2] = T(3);
  return p;
}
template <class T>
cloud<T> with_duplicates(std::size_t n, unsigned seed) {  // every point three times
  cloud<T> base = uniform<T>(n, seed), p;
  for (int rep = 0; rep < 3; ++rep) p.insert(p.end(), base.begin(), base.end());
  return p;
}
template <class T>
cloud<T> integer_grid(int side) {  // (x, y, z) in {0..side-1}^3, shuffled
  cloud<T> p;
  for (int x = 0; x < side; ++x)
    for (int y = 0; y < side; ++y)
      for (int z = 0; z < side; ++z) p.insert(p.end(), {T(x), T(y), T(z)});
  std::vector<std::size_t> order(p.size() / 3);
  std::iota(order.begin(), order.end(), 0);
  std::shuffle(order.begin(), order.end(), std::mt19937(11));
  cloud<T> q(p.size());
  for (std::size_t i = 0; i < order.size(); ++i) std::copy_n(&p[3 * order[i]], 3, &q[3 * i]);
  return q;
}

template <class T>
pk::points_view<const T> view(const cloud<T>& p) {
  return {p.data(), p.size() / 3};
}

// ---- oracles ------------------------------------------------------------------------------

template <class T>
T dist2(const T* a, const T* b) {
  return kd::point_dist2<T, 3>(a, b);
}

template <class T>
void finish_row(std::vector<std::pair<T, std::uint32_t>>& row, std::size_t keep, pk::neighbor_graph<T>& g) {
  std::sort(row.begin(), row.end());
  if (keep && row.size() > keep) row.resize(keep);
  for (auto& [d, j] : row) g.indices.push_back(j), g.dist2.push_back(d);
  g.offsets.push_back(g.indices.size());
}

template <class T>
pk::neighbor_graph<T> brute_radius(const cloud<T>& pts, const cloud<T>& qs, T radius, std::size_t keep = 0) {
  pk::neighbor_graph<T> g;
  const T r2 = radius * radius;
  for (std::size_t q = 0; q < qs.size() / 3; ++q) {
    std::vector<std::pair<T, std::uint32_t>> row;
    for (std::size_t j = 0; j < pts.size() / 3; ++j) {
      const T d = dist2(&qs[3 * q], &pts[3 * j]);
      if (d <= r2) row.push_back({d, static_cast<std::uint32_t>(j)});
    }
    finish_row(row, keep, g);
  }
  return g;
}

// Every point by (dist2, index) for each query; brute_knn truncates these rows.
template <class T>
std::vector<std::vector<std::pair<T, std::uint32_t>>> brute_all(const cloud<T>& pts, const cloud<T>& qs) {
  std::vector<std::vector<std::pair<T, std::uint32_t>>> rows(qs.size() / 3);
  for (std::size_t q = 0; q < rows.size(); ++q) {
    for (std::size_t j = 0; j < pts.size() / 3; ++j)
      rows[q].push_back({dist2(&qs[3 * q], &pts[3 * j]), static_cast<std::uint32_t>(j)});
    std::sort(rows[q].begin(), rows[q].end());
  }
  return rows;
}
template <class T>
pk::neighbor_graph<T> brute_knn(const std::vector<std::vector<std::pair<T, std::uint32_t>>>& all, std::size_t k) {
  pk::neighbor_graph<T> g;
  for (const auto& row : all) {
    for (std::size_t e = 0; e < std::min(k, row.size()); ++e) g.indices.push_back(row[e].second), g.dist2.push_back(row[e].first);
    g.offsets.push_back(g.indices.size());
  }
  return g;
}
template <class T>
pk::neighbor_graph<T> brute_knn(const cloud<T>& pts, const cloud<T>& qs, std::size_t k) {
  return brute_knn(brute_all(pts, qs), k);
}

template <class T>
::testing::AssertionResult same_graph(const pk::neighbor_graph<T>& a, const pk::neighbor_graph<T>& b) {
  if (a.offsets != b.offsets) {
    for (std::size_t r = 0; r + 1 < std::min(a.offsets.size(), b.offsets.size()); ++r)
      if (a.offsets[r + 1] - a.offsets[r] != b.offsets[r + 1] - b.offsets[r])
        return ::testing::AssertionFailure() << "row " << r << " has " << a.offsets[r + 1] - a.offsets[r] << " vs "
                                             << b.offsets[r + 1] - b.offsets[r] << " entries";
    return ::testing::AssertionFailure() << "offsets differ (" << a.offsets.size() << " vs " << b.offsets.size() << ")";
  }
  for (std::size_t e = 0; e < a.indices.size(); ++e)
    if (a.indices[e] != b.indices[e] || std::memcmp(&a.dist2[e], &b.dist2[e], sizeof(T)) != 0)
      return ::testing::AssertionFailure() << "entry " << e << ": (" << a.indices[e] << ", " << a.dist2[e] << ") vs ("
                                           << b.indices[e] << ", " << b.dist2[e] << ")";
  if (a.dist2.size() != b.dist2.size()) return ::testing::AssertionFailure() << "dist2 sizes differ";
  return ::testing::AssertionSuccess();
}

// The literal formula of api.md §5 in double: Jacobi iterations of
// out_i = sum_j w_ij v_j / sum_j w_ij, w_ij = exp(-d2_ij / (2 sigma^2)); a row with no
// neighbour other than itself keeps v_i.
template <class T>
std::vector<double> literal_smooth(const pk::neighbor_graph<T>& g, const std::vector<T>& values, std::size_t cols,
                                   double sigma, std::size_t iterations) {
  const std::size_t n = g.rows();
  std::vector<double> cur(values.begin(), values.end()), next(cur.size());
  for (std::size_t it = 0; it < iterations; ++it) {
    for (std::size_t i = 0; i < n; ++i) {
      bool other = false;
      double wsum = 0;
      std::vector<double> acc(cols, 0.0);
      for (std::uint64_t e = g.offsets[i]; e < g.offsets[i + 1]; ++e) {
        const std::uint32_t j = g.indices[e];
        other |= j != i;
        const double w = std::exp(-static_cast<double>(g.dist2[e]) / (2 * sigma * sigma));
        wsum += w;
        for (std::size_t c = 0; c < cols; ++c) acc[c] += w * cur[j * cols + c];
      }
      for (std::size_t c = 0; c < cols; ++c)
        next[i * cols + c] = other && wsum > 0 ? acc[c] / wsum : cur[i * cols + c];
    }
    cur.swap(next);
  }
  return cur;
}

template <class T>
std::vector<T> random_values(std::size_t n, std::size_t cols, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(0, 1);
  std::vector<T> v(n * cols);
  for (auto& x : v) x = static_cast<T>(u(rng));
  return v;
}

template <class T>
double tolerance() {
  return sizeof(T) == 4 ? 2e-5 : 1e-11;
}

template <class T>
::testing::AssertionResult close_to(const std::vector<T>& got, const std::vector<double>& want, double tol) {
  if (got.size() != want.size()) return ::testing::AssertionFailure() << "sizes differ";
  for (std::size_t i = 0; i < got.size(); ++i)
    if (!(std::abs(static_cast<double>(got[i]) - want[i]) <= tol))
      return ::testing::AssertionFailure() << "element " << i << ": " << got[i] << " vs " << want[i];
  return ::testing::AssertionSuccess();
}

template <class T>
bool bitwise_equal(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0;
}

// Radius giving about `k` neighbours among n uniform points in the unit cube.
double radius_for(std::size_t n, double k) { return std::cbrt(k * 3 / (4 * 3.14159265358979 * n)); }

// The named point sets of the graph tests.
template <class T>
std::vector<std::pair<std::string, cloud<T>>> point_sets() {
  return {{"uniform", uniform<T>(600, 1)},   {"clustered", clustered<T>(600, 2)}, {"all_equal", all_equal<T>(40)},
          {"line", on_line<T>(150)},         {"plane", on_plane<T>(400, 3)},      {"duplicates", with_duplicates<T>(150, 4)},
          {"one_point", uniform<T>(1, 5)},   {"empty", cloud<T>{}}};
}

// The message of the invalid_argument that f() throws, or "(no exception)".
template <class F>
std::string invalid_argument_message(F&& f) {
  try {
    f();
  } catch (const pk::invalid_argument& e) {
    return e.what();
  }
  return "(no exception)";
}

template <class P>
class Kdtree : public ::testing::Test {};
template <class P>
class Smooth : public ::testing::Test {};
TYPED_TEST_SUITE(Kdtree, pk::testing::all_policies, pk::testing::policy_name);
TYPED_TEST_SUITE(Smooth, pk::testing::all_policies, pk::testing::policy_name);

// ---- graphs ------------------------------------------------------------------------------

template <class P, class T>
void check_radius_sets(const P& policy) {
  const cloud<T> queries = uniform<T>(120, 9, T(1.1));
  for (const auto& [name, pts] : point_sets<T>()) {
    SCOPED_TRACE(name);
    const pk::kdtree<T> tree(policy, view(pts));
    ASSERT_EQ(tree.size(), pts.size() / 3);
    for (double radius : {0.0, 0.03, 0.12, 0.3}) {
      SCOPED_TRACE(radius);
      const T r = static_cast<T>(radius);
      EXPECT_TRUE(same_graph(pk::radius_neighbors(policy, tree, view(pts), r), brute_radius(pts, pts, r)));
      EXPECT_TRUE(same_graph(pk::radius_neighbors(policy, tree, view(queries), r), brute_radius(pts, queries, r)));
    }
  }
}
TYPED_TEST(Kdtree, RadiusMatchesBruteForce) {
  check_radius_sets<TypeParam, float>(make_policy<TypeParam>());
  check_radius_sets<TypeParam, double>(make_policy<TypeParam>());
}

template <class P, class T>
void check_max_neighbors(const P& policy) {
  for (const auto& [name, pts] : point_sets<T>()) {
    SCOPED_TRACE(name);
    const pk::kdtree<T> tree(policy, view(pts), 8);
    for (std::size_t keep : {1, 3, 17, 100000}) {
      SCOPED_TRACE(keep);
      EXPECT_TRUE(same_graph(pk::radius_neighbors(policy, tree, view(pts), T(0.2), keep),
                             brute_radius(pts, pts, T(0.2), keep)));
    }
  }
}
TYPED_TEST(Kdtree, MaxNeighborsKeepsTheNearest) {
  check_max_neighbors<TypeParam, float>(make_policy<TypeParam>());
  check_max_neighbors<TypeParam, double>(make_policy<TypeParam>());
}

template <class P, class T>
void check_knn(const P& policy) {
  const cloud<T> queries = uniform<T>(80, 19, T(1.2));
  for (const auto& [name, pts] : point_sets<T>()) {
    SCOPED_TRACE(name);
    const pk::kdtree<T> tree(policy, view(pts), 5);
    const std::size_t n = pts.size() / 3;
    const auto self = brute_all(pts, pts), other = brute_all(pts, queries);
    for (std::size_t k : {std::size_t{1}, std::size_t{6}, n + 3}) {
      if (k > n && n > 200) continue;  // k above n: checked on the small sets (cost is n^2 log n)
      SCOPED_TRACE(k);
      EXPECT_TRUE(same_graph(pk::knn_neighbors(policy, tree, view(pts), k), brute_knn(self, k)));
      EXPECT_TRUE(same_graph(pk::knn_neighbors(policy, tree, view(queries), k), brute_knn(other, k)));
    }
  }
}
TYPED_TEST(Kdtree, KnnMatchesBruteForceIncludingKAboveN) {
  check_knn<TypeParam, float>(make_policy<TypeParam>());
  check_knn<TypeParam, double>(make_policy<TypeParam>());
}

// Integer coordinates: every dist2 is an exact small integer, so "at exactly the radius"
// needs no floating-point oracle.
template <class P, class T>
void check_exact_radius(const P& policy) {
  const cloud<T> pts = integer_grid<T>(5);
  const pk::kdtree<T> tree(policy, view(pts), 4);
  for (int radius : {0, 1, 2, 3}) {
    const auto g = pk::radius_neighbors(policy, tree, view(pts), T(radius));
    std::size_t at_radius = 0;
    for (std::size_t q = 0; q < pts.size() / 3; ++q) {
      std::vector<std::uint32_t> want;
      for (std::size_t j = 0; j < pts.size() / 3; ++j) {
        int d2 = 0;
        for (int d = 0; d < 3; ++d) {
          const int x = static_cast<int>(pts[3 * q + d]) - static_cast<int>(pts[3 * j + d]);
          d2 += x * x;
        }
        if (d2 <= radius * radius) want.push_back(static_cast<std::uint32_t>(j));
        at_radius += d2 == radius * radius && radius > 0;
      }
      auto got = std::vector<std::uint32_t>(g.row_indices(q).begin(), g.row_indices(q).end());
      for (std::size_t e = g.offsets[q]; e < g.offsets[q + 1]; ++e) {
        const T d2 = g.dist2[e];
        EXPECT_EQ(d2, std::round(d2));
        EXPECT_LE(d2, T(radius * radius));
      }
      std::sort(got.begin(), got.end());
      ASSERT_EQ(got, want) << "radius " << radius << " query " << q;
    }
    if (radius > 0) {
      EXPECT_GT(at_radius, 0u);
    }
  }
}
TYPED_TEST(Kdtree, PointsExactlyAtTheRadiusAreIncluded) {
  check_exact_radius<TypeParam, float>(make_policy<TypeParam>());
  check_exact_radius<TypeParam, double>(make_policy<TypeParam>());
}

TYPED_TEST(Kdtree, RowsAreSortedByDistanceThenIndexAndDist2IsEuclidean) {
  const auto policy = make_policy<TypeParam>();
  const cloud<float> pts = with_duplicates<float>(300, 21);
  const pk::kdtree tree(policy, view(pts));
  const auto g = pk::radius_neighbors(policy, tree, view(pts), 0.15f);
  for (std::size_t q = 0; q < g.rows(); ++q) {
    const auto idx = g.row_indices(q);
    const auto d2 = g.row_dist2(q);
    ASSERT_FALSE(idx.empty());
    EXPECT_EQ(d2[0], 0.0f);  // a point is its own neighbour
    for (std::size_t e = 0; e < idx.size(); ++e) {
      double exact = 0;
      for (int d = 0; d < 3; ++d) {
        const double x = double(pts[3 * q + d]) - double(pts[3 * idx[e] + d]);
        exact += x * x;
      }
      EXPECT_NEAR(d2[e], exact, 1e-6 * exact + 1e-12);
      if (e > 0) {
        EXPECT_TRUE(d2[e - 1] < d2[e] || (d2[e - 1] == d2[e] && idx[e - 1] < idx[e]));
      }
    }
  }
}

TYPED_TEST(Kdtree, SingleQueriesMatchBruteForce) {
  const auto policy = make_policy<TypeParam>();
  const cloud<double> pts = clustered<double>(500, 31);
  const cloud<double> qs = uniform<double>(40, 32);
  const pk::kdtree tree(policy, view(pts), 7);
  const auto radius = brute_radius(pts, qs, 0.2);
  const auto knn = brute_knn(pts, qs, 9);
  std::vector<pk::neighbor<double>> out;
  for (std::size_t q = 0; q < qs.size() / 3; ++q) {
    tree.radius_search(&qs[3 * q], 0.2, out);
    ASSERT_EQ(out.size(), radius.row_indices(q).size());
    for (std::size_t e = 0; e < out.size(); ++e)
      EXPECT_EQ(out[e], (pk::neighbor<double>{radius.row_indices(q)[e], radius.row_dist2(q)[e]}));
    tree.knn_search(&qs[3 * q], 9, out);
    ASSERT_EQ(out.size(), 9u);
    for (std::size_t e = 0; e < out.size(); ++e)
      EXPECT_EQ(out[e], (pk::neighbor<double>{knn.row_indices(q)[e], knn.row_dist2(q)[e]}));
  }
  const pk::kdtree<double> empty(policy, pk::points_view<const double>());
  empty.radius_search(&qs[0], 1.0, out);
  EXPECT_TRUE(out.empty());
  empty.knn_search(&qs[0], 3, out);
  EXPECT_TRUE(out.empty());
}

TYPED_TEST(Kdtree, StridedPointsAndTwoDimensions) {
  const auto policy = make_policy<TypeParam>();
  const cloud<float> dense = uniform<float>(300, 41);
  std::vector<float> strided(300 * 5, -1e30f);  // stride 5: xyz plus two unused values
  for (std::size_t i = 0; i < 300; ++i) std::copy_n(&dense[3 * i], 3, &strided[5 * i]);
  const pk::points_view<float> sv(strided.data(), 300, 5);  // non-const: converts implicitly
  const pk::kdtree tree(policy, sv);
  EXPECT_TRUE(same_graph(pk::radius_neighbors(policy, tree, sv, 0.2f), brute_radius(dense, dense, 0.2f)));

  std::vector<float> flat(2 * 400);
  std::mt19937 rng(42);
  for (auto& x : flat) x = std::uniform_real_distribution<float>(0, 1)(rng);
  const pk::points_view<const float, 2> pv(flat.data(), 400);
  const pk::kdtree tree2(policy, pv, 6);
  static_assert(std::is_same_v<decltype(tree2), const pk::kdtree<float, 2>>);
  const auto g = pk::knn_neighbors(policy, tree2, pv, 5);
  for (std::size_t q = 0; q < 400; ++q) {
    std::vector<std::pair<float, std::uint32_t>> all;
    for (std::size_t j = 0; j < 400; ++j)
      all.push_back({kd::point_dist2<float, 2>(&flat[2 * q], &flat[2 * j]), static_cast<std::uint32_t>(j)});
    std::sort(all.begin(), all.end());
    for (std::size_t e = 0; e < 5; ++e) ASSERT_EQ(g.row_indices(q)[e], all[e].second);
  }
}

TYPED_TEST(Kdtree, BadArgumentsAreRejected) {
  const auto policy = make_policy<TypeParam>();
  cloud<float> pts = uniform<float>(50, 51);
  const pk::kdtree tree(policy, view(pts));
  const auto message = [](auto&& f) { return invalid_argument_message(f); };
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  EXPECT_EQ(message([&] { pk::radius_neighbors(policy, tree, view(pts), -1.0f); }),
            "radius_neighbors: radius is -1; must be >= 0");
  EXPECT_EQ(message([&] { pk::radius_neighbors(policy, tree, view(pts), nan); }),
            "radius_neighbors: radius is nan; must be >= 0");
  EXPECT_EQ(message([&] { pk::knn_neighbors(policy, tree, view(pts), 0); }), "knn_neighbors: k is 0; must be >= 1");
  EXPECT_EQ(message([&] { (void)pk::kdtree<float>(policy, view(pts), 0); }), "kdtree: leaf_size is 0; must be >= 1");
  cloud<float> bad = pts;
  bad[3 * 7 + 1] = nan;
  EXPECT_EQ(message([&] { (void)pk::kdtree<float>(policy, view(bad)); }),
            "kdtree: points[7][1] is nan; coordinates must be finite");
  bad[3 * 7 + 1] = inf;
  EXPECT_EQ(message([&] { pk::radius_neighbors(policy, tree, view(bad), 0.1f); }),
            "radius_neighbors: queries[7][1] is inf; coordinates must be finite");
  EXPECT_EQ(message([&] { pk::knn_neighbors(policy, tree, view(bad), 2); }),
            "knn_neighbors: queries[7][1] is inf; coordinates must be finite");
  std::vector<pk::neighbor<float>> out;
  EXPECT_EQ(message([&] { tree.radius_search(&pts[0], -0.5f, out); }),
            "kdtree::radius_search: radius is -0.5; must be >= 0");
  EXPECT_EQ(message([&] { tree.knn_search(&bad[21], 1, out); }),
            "kdtree::knn_search: q[1] is inf; coordinates must be finite");
  EXPECT_EQ(message([&] { tree.knn_search(&pts[0], 0, out); }), "kdtree::knn_search: k is 0; must be >= 1");
  EXPECT_EQ(message([&] { (void)pk::kdtree<float>(policy, pk::points_view<const float>(pts.data(), 10, 2)); }),
            "kdtree: points.stride is 2; must be >= 3");
}

// Issue 11: sizes the layout cannot address are rejected before any point is read (the
// views below point at 50 real points; reading past them would crash).
TYPED_TEST(Kdtree, SizesTheLayoutCannotAddressAreRejected) {
  const auto policy = make_policy<TypeParam>();
  const cloud<float> pts = uniform<float>(50, 53);
  const pk::kdtree tree(policy, view(pts));
  const auto message = [](auto&& f) { return invalid_argument_message(f); };
  // Node links are 32-bit: a tree of more than 2^31 leaves cannot be linked.
  const std::size_t too_many = (std::size_t{1} << 31) + 1;
  EXPECT_EQ(message([&] { (void)pk::kdtree<float>(policy, pk::points_view<const float>(pts.data(), too_many), 1); }),
            "kdtree: points has 2147483649 points; with leaf_size 1 that is 2147483649 leaves, and at most 2^31 are "
            "supported");
  // count * stride beyond the address space (the shared check of view.hpp).
  const std::ptrdiff_t huge = std::numeric_limits<std::ptrdiff_t>::max() / 2;
  const pk::points_view<const float> wrapped(pts.data(), 4, huge);
  EXPECT_EQ(message([&] { (void)pk::kdtree<float>(policy, wrapped); }),
            "kdtree: points stride is 4611686018427387903 elements of 4 bytes, more than 9223372036854775807 bytes; does not fit "
            "in addressable memory");
  EXPECT_EQ(message([&] { pk::radius_neighbors(policy, tree, wrapped, 0.1f); }),
            "radius_neighbors: queries stride is 4611686018427387903 elements of 4 bytes, more than 9223372036854775807 bytes; "
            "does not fit in addressable memory");
  EXPECT_EQ(message([&] { pk::knn_neighbors(policy, tree, wrapped, 2); }),
            "knn_neighbors: queries stride is 4611686018427387903 elements of 4 bytes, more than 9223372036854775807 bytes; "
            "does not fit in addressable memory");
  std::vector<float> values(8), out(8);
  EXPECT_EQ(message([&] {
              pk::smooth_neighbors(policy, wrapped, pk::matrix_view<const float>(values.data(), 4, 2),
                                   pk::matrix_view<float>(out.data(), 4, 2), 0.1f, {1.0, 1});
            }),
            "smooth_neighbors: points stride is 4611686018427387903 elements of 4 bytes, more than 9223372036854775807 bytes; "
            "does not fit in addressable memory");
  // rows * row_stride beyond the address space, for values and for out.
  const auto g = pk::radius_neighbors(policy, tree, pk::points_view<const float>(pts.data(), 4), 0.3f);
  EXPECT_EQ(message([&] {
              pk::gaussian_smooth(policy, g, pk::matrix_view<const float>(values.data(), 4, 2, huge),
                                  pk::matrix_view<float>(out.data(), 4, 2), {1.0, 1});
            }),
            "gaussian_smooth: values stride is 4611686018427387903 elements of 4 bytes, more than 9223372036854775807 bytes; "
            "does not fit in addressable memory");
  EXPECT_EQ(message([&] {
              pk::gaussian_smooth(policy, g, pk::matrix_view<const float>(values.data(), 4, 2),
                                  pk::matrix_view<float>(out.data(), 4, 2, huge), {1.0, 1});
            }),
            "gaussian_smooth: out stride is 4611686018427387903 elements of 4 bytes, more than 9223372036854775807 bytes; "
            "does not fit in addressable memory");
  // One point may have any stride (only point 0 is read); a single huge row likewise.
  EXPECT_EQ(pk::kdtree<float>(policy, pk::points_view<const float>(pts.data(), 1, huge)).size(), 1u);
}

// ---- smoothing ---------------------------------------------------------------------------

template <class P, class T>
void check_smooth_formula(const P& policy) {
  const cloud<T> pts = clustered<T>(500, 61);
  const std::size_t n = pts.size() / 3, cols = 4;
  const std::vector<T> values = random_values<T>(n, cols, 62);
  const pk::kdtree<T> tree(policy, view(pts));
  for (std::size_t keep : {0, 5}) {
    const auto g = pk::radius_neighbors(policy, tree, view(pts), T(0.05), keep);
    for (std::size_t iterations : {0, 1, 3}) {
      SCOPED_TRACE(testing::Message() << "keep " << keep << " iterations " << iterations);
      const double sigma = 0.025;
      const auto want = literal_smooth(g, values, cols, sigma, iterations);
      std::vector<T> out(n * cols, T(-7));
      pk::gaussian_smooth(policy, g, pk::matrix_view<const T>(values.data(), n, cols),
                          pk::matrix_view<T>(out.data(), n, cols), {sigma, iterations});
      EXPECT_TRUE(close_to(out, want, tolerance<T>()));
      std::vector<T> one(n * cols, T(-7));
      pk::smooth_neighbors(policy, view(pts), pk::matrix_view<const T>(values.data(), n, cols),
                           pk::matrix_view<T>(one.data(), n, cols), T(0.05), {sigma, iterations}, keep);
      EXPECT_TRUE(close_to(one, want, tolerance<T>()));
    }
  }
}
TYPED_TEST(Smooth, MatchesTheLiteralFormula) {
  check_smooth_formula<TypeParam, float>(make_policy<TypeParam>());
  check_smooth_formula<TypeParam, double>(make_policy<TypeParam>());
}

TYPED_TEST(Smooth, ManyChannelsStridesAndInPlace) {
  const auto policy = make_policy<TypeParam>();
  const cloud<float> pts = uniform<float>(700, 71);
  const std::size_t n = 700;
  const pk::kdtree tree(policy, view(pts));
  const auto g = pk::radius_neighbors(policy, tree, view(pts), 0.1f);
  for (std::size_t cols : {1, 3, 4, 11}) {
    SCOPED_TRACE(cols);
    const std::vector<float> dense = random_values<float>(n, cols, 72);
    const auto want = literal_smooth(g, dense, cols, 0.06, 2);
    // values with row_stride cols + 2, out with cols + 1
    std::vector<float> values(n * (cols + 2), 99.0f), out(n * (cols + 1), -1.0f);
    for (std::size_t r = 0; r < n; ++r) std::copy_n(&dense[r * cols], cols, &values[r * (cols + 2)]);
    pk::gaussian_smooth(policy, g, pk::matrix_view<float>(values.data(), n, cols, cols + 2),
                        pk::matrix_view<float>(out.data(), n, cols, cols + 1), {0.06, 2});
    std::vector<float> got(n * cols);
    for (std::size_t r = 0; r < n; ++r) {
      std::copy_n(&out[r * (cols + 1)], cols, &got[r * cols]);
      EXPECT_EQ(out[r * (cols + 1) + cols], -1.0f);  // padding untouched
    }
    EXPECT_TRUE(close_to(got, want, tolerance<float>()));
    // In place: out is values itself.
    std::vector<float> inplace = values;
    pk::gaussian_smooth(policy, g, pk::matrix_view<float>(inplace.data(), n, cols, cols + 2),
                        pk::matrix_view<float>(inplace.data(), n, cols, cols + 2), {0.06, 2});
    for (std::size_t r = 0; r < n; ++r)
      for (std::size_t c = 0; c < cols; ++c) ASSERT_EQ(inplace[r * (cols + 2) + c], got[r * cols + c]);
    std::vector<float> same = values;
    pk::smooth_neighbors(policy, view(pts), pk::matrix_view<float>(same.data(), n, cols, cols + 2),
                         pk::matrix_view<float>(same.data(), n, cols, cols + 2), 0.1f, {0.06, 2});
    for (std::size_t r = 0; r < n; ++r)
      for (std::size_t c = 0; c < cols; ++c) ASSERT_NEAR(same[r * (cols + 2) + c], want[r * cols + c], 2e-5);
  }
}

TYPED_TEST(Smooth, RowsWithoutOtherNeighboursKeepTheirValue) {
  const auto policy = make_policy<TypeParam>();
  // Two far-apart points and a pair: with radius 1 the singles see only themselves.
  const cloud<double> pts = {0, 0, 0, 100, 0, 0, 50, 50, 50, 50.5, 50, 50};
  const std::vector<double> values = {1, 10, 2, 20, 3, 30, 5, 50};
  std::vector<double> out(8);
  pk::smooth_neighbors(policy, view(pts), pk::matrix_view<const double>(values.data(), 4, 2),
                       pk::matrix_view<double>(out.data(), 4, 2), 1.0, {0.5, 3});
  EXPECT_EQ(out[0], 1);  // exactly
  EXPECT_EQ(out[1], 10);
  EXPECT_EQ(out[2], 2);
  EXPECT_EQ(out[3], 20);
  EXPECT_TRUE(close_to(out, literal_smooth(brute_radius(pts, pts, 1.0), values, 2, 0.5, 3), 1e-12));
  // A hand-made graph: an empty row, a row with only another point, a self-only row.
  pk::neighbor_graph<double> g;
  g.offsets = {0, 0, 1, 2};
  g.indices = {2, 2};
  g.dist2 = {0.25, 0};
  const std::vector<double> v3 = {1, 2, 3};
  std::vector<double> o3(3);
  pk::gaussian_smooth(policy, g, pk::matrix_view<const double>(v3.data(), 3, 1), pk::matrix_view<double>(o3.data(), 3, 1),
                      {1.0, 2});
  EXPECT_EQ(o3[0], 1);  // empty row: kept exactly
  EXPECT_NEAR(o3[1], 3, 1e-15);
  EXPECT_EQ(o3[2], 3);  // self only: kept exactly
  // Weights that underflow to 0 (tiny sigma, no self entry): the row keeps its value too.
  pk::neighbor_graph<double> far;
  far.offsets = {0, 1, 2};
  far.indices = {1, 0};
  far.dist2 = {1, 1};
  std::vector<double> o2(2);
  pk::gaussian_smooth(policy, far, pk::matrix_view<const double>(v3.data(), 2, 1),
                      pk::matrix_view<double>(o2.data(), 2, 1), {1e-3, 1});
  EXPECT_EQ(o2, (std::vector<double>{1, 2}));
}

TYPED_TEST(Smooth, EmptyAndSinglePointSets) {
  const auto policy = make_policy<TypeParam>();
  const pk::points_view<const float> none;
  const pk::kdtree tree(policy, none);
  const auto g = pk::radius_neighbors(policy, tree, none, 1.0f);
  EXPECT_EQ(g.rows(), 0u);
  EXPECT_EQ(g.offsets, std::vector<std::uint64_t>{0});
  const cloud<float> one = {1, 2, 3};
  EXPECT_EQ(pk::knn_neighbors(policy, tree, view(one), 3).offsets, (std::vector<std::uint64_t>{0, 0}));
  pk::smooth_neighbors(policy, none, pk::matrix_view<const float>(nullptr, 0, 4), pk::matrix_view<float>(nullptr, 0, 4),
                       1.0f, {1.0, 3});
  const std::vector<float> v = {4, 5};
  std::vector<float> out(2);
  pk::smooth_neighbors(policy, view(one), pk::matrix_view<const float>(v.data(), 1, 2),
                       pk::matrix_view<float>(out.data(), 1, 2), 1.0f, {1.0, 3});
  EXPECT_EQ(out, v);
}

TYPED_TEST(Smooth, ResultsEqualTheScalarPolicy) {
  const auto policy = make_policy<TypeParam>();
  const cloud<float> pts = clustered<float>(900, 81);
  const std::size_t n = 900;
  const std::vector<float> values = random_values<float>(n, 4, 82);
  const pk::kdtree ref_tree(pk::exec::scalar, view(pts));
  const pk::kdtree tree(policy, view(pts));
  const auto ref = pk::radius_neighbors(pk::exec::scalar, ref_tree, view(pts), 0.04f);
  const auto g = pk::radius_neighbors(policy, tree, view(pts), 0.04f);
  EXPECT_TRUE(same_graph(g, ref));
  std::vector<float> a(n * 4), b(n * 4), c(n * 4), d(n * 4);
  const pk::matrix_view<const float> vv(values.data(), n, 4);
  pk::gaussian_smooth(pk::exec::scalar, ref, vv, pk::matrix_view<float>(a.data(), n, 4), {0.02, 3});
  pk::gaussian_smooth(policy, g, vv, pk::matrix_view<float>(b.data(), n, 4), {0.02, 3});
  pk::smooth_neighbors(pk::exec::scalar, view(pts), vv, pk::matrix_view<float>(c.data(), n, 4), 0.04f, {0.02, 3});
  pk::smooth_neighbors(policy, view(pts), vv, pk::matrix_view<float>(d.data(), n, 4), 0.04f, {0.02, 3});
  if constexpr (pk::testing::is_vulkan<TypeParam>) {
    // exp and division on the device differ from the CPU's in the last bits.
    for (std::size_t i = 0; i < a.size(); ++i) {
      ASSERT_NEAR(a[i], b[i], 1e-5) << i;
      ASSERT_NEAR(c[i], d[i], 1e-5) << i;
    }
  } else {
    EXPECT_TRUE(bitwise_equal(a, b));  // the CPU policies agree bitwise
    EXPECT_TRUE(bitwise_equal(c, d));
  }
  for (std::size_t i = 0; i < a.size(); ++i) ASSERT_NEAR(a[i], c[i], 1e-5) << i;  // the same sums, other order
}

TYPED_TEST(Smooth, BadArgumentsAreRejectedAndNothingIsWritten) {
  const auto policy = make_policy<TypeParam>();
  const cloud<float> pts = uniform<float>(40, 91);
  const std::vector<float> values = random_values<float>(40, 2, 92);
  const pk::kdtree tree(policy, view(pts));
  const auto g = pk::radius_neighbors(policy, tree, view(pts), 0.3f);
  std::vector<float> out(80, -3.0f);
  const pk::matrix_view<const float> vv(values.data(), 40, 2);
  const pk::matrix_view<float> ov(out.data(), 40, 2);
  const auto message = [&](auto&& f) -> std::string {
    std::fill(out.begin(), out.end(), -3.0f);
    std::string text = "(no exception)";
    try {
      f();
    } catch (const pk::invalid_argument& e) {
      text = e.what();
    }
    for (float x : out)
      if (x != -3.0f) return "output was written: " + text;
    return text;
  };
  const float nan = std::numeric_limits<float>::quiet_NaN();
  EXPECT_EQ(message([&] { pk::gaussian_smooth(policy, g, vv, ov, {0.0, 1}); }),
            "gaussian_smooth: options.sigma is 0; must be > 0");
  EXPECT_EQ(message([&] { pk::gaussian_smooth(policy, g, vv, ov, {-1.0, 1}); }),
            "gaussian_smooth: options.sigma is -1; must be > 0");
  EXPECT_EQ(message([&] { pk::gaussian_smooth(policy, g, vv, ov, {double(nan), 1}); }),
            "gaussian_smooth: options.sigma is nan; must be > 0");
  EXPECT_EQ(message([&] {
              pk::gaussian_smooth(policy, g, pk::matrix_view<const float>(values.data(), 39, 2),
                                  pk::matrix_view<float>(out.data(), 39, 2), {1.0, 1});
            }),
            "gaussian_smooth: values has 39 rows but the graph has 40; they must match");
  EXPECT_EQ(message([&] { pk::gaussian_smooth(policy, g, vv, pk::matrix_view<float>(out.data(), 40, 1), {1.0, 1}); }),
            "gaussian_smooth: out is 40x1; must match values (40x2)");
  std::vector<float> shared(100);
  EXPECT_EQ(message([&] {
              pk::gaussian_smooth(policy, g, pk::matrix_view<const float>(shared.data(), 40, 2),
                                  pk::matrix_view<float>(shared.data() + 1, 40, 2), {1.0, 1});
            }),
            "gaussian_smooth: out overlaps values without being values itself (same data and row_stride)");
  auto broken = g;
  broken.indices[5] = 40;
  EXPECT_EQ(message([&] { pk::gaussian_smooth(policy, broken, vv, ov, {1.0, 1}); }),
            "gaussian_smooth: graph.indices[5] is 40; must be < 40 (the number of rows of values)");
  broken = g;
  broken.dist2[3] = -1;
  EXPECT_EQ(message([&] { pk::gaussian_smooth(policy, broken, vv, ov, {1.0, 1}); }),
            "gaussian_smooth: graph.dist2[3] is -1; must be >= 0");
  broken = g;
  broken.offsets.back() += 1;
  EXPECT_EQ(message([&] { pk::gaussian_smooth(policy, broken, vv, ov, {1.0, 1}); }).rfind("gaussian_smooth: graph.", 0),
            0u);
  EXPECT_EQ(message([&] { pk::smooth_neighbors(policy, view(pts), vv, ov, -0.1f, {1.0, 1}); }),
            "smooth_neighbors: radius is -0.10000000149011612; must be >= 0");
  EXPECT_EQ(message([&] { pk::smooth_neighbors(policy, view(pts), vv, ov, 0.1f, {0.0, 1}); }),
            "smooth_neighbors: options.sigma is 0; must be > 0");
  EXPECT_EQ(message([&] {
              pk::smooth_neighbors(policy, pk::points_view<const float>(pts.data(), 39), vv, ov, 0.1f, {1.0, 1});
            }),
            "smooth_neighbors: values has 40 rows but there are 39 points; they must match");
  cloud<float> bad = pts;
  bad[3 * 39 + 2] = -std::numeric_limits<float>::infinity();
  EXPECT_EQ(message([&] { pk::smooth_neighbors(policy, view(bad), vv, ov, 0.1f, {1.0, 1}); }),
            "smooth_neighbors: points[39][2] is -inf; coordinates must be finite");
}

// ---- thread counts, and the Vulkan specifics ------------------------------------------------

#if POLYKERN_HAS_OPENMP
TEST(SmoothThreads, OneTwoAndThreeThreadsGiveBitwiseEqualResults) {
  const cloud<float> pts = uniform<float>(12000, 101);
  const std::size_t n = 12000;
  const std::vector<float> values = random_values<float>(n, 4, 102);
  const float r = static_cast<float>(radius_for(n, 20));
  pk::neighbor_graph<float> graphs[3], knn[3];
  std::vector<float> smoothed[3], direct[3];
  for (int t = 0; t < 3; ++t) {
    const pk::exec::openmp_policy policy{.threads = t + 1};
    const pk::kdtree tree(policy, view(pts));
    graphs[t] = pk::radius_neighbors(policy, tree, view(pts), r);
    knn[t] = pk::knn_neighbors(policy, tree, view(pts), 7);
    smoothed[t].resize(n * 4);
    direct[t].resize(n * 4);
    pk::gaussian_smooth(policy, graphs[t], pk::matrix_view<const float>(values.data(), n, 4),
                        pk::matrix_view<float>(smoothed[t].data(), n, 4), {r / 2.0, 3});
    pk::smooth_neighbors(policy, view(pts), pk::matrix_view<const float>(values.data(), n, 4),
                         pk::matrix_view<float>(direct[t].data(), n, 4), r, {r / 2.0, 3});
  }
  for (int t = 1; t < 3; ++t) {
    EXPECT_TRUE(same_graph(graphs[t], graphs[0]));
    EXPECT_TRUE(same_graph(knn[t], knn[0]));
    EXPECT_TRUE(bitwise_equal(smoothed[t], smoothed[0]));
    EXPECT_TRUE(bitwise_equal(direct[t], direct[0]));
  }
  const pk::kdtree simd_tree(pk::exec::simd, view(pts));
  EXPECT_TRUE(same_graph(pk::radius_neighbors(pk::exec::simd, simd_tree, view(pts), r), graphs[0]));
}
#endif

#if POLYKERN_HAS_VULKAN
namespace vk = polykern::vulkan;

// A context whose bindings are capped at `bytes`, so small inputs take the chunked paths.
std::unique_ptr<vk::context> small_binding_context(std::uint64_t bytes) {
  auto ctx = std::make_unique<vk::context>();
  ctx->limit_binding_bytes_for_testing(bytes);
  return ctx;
}

TEST(SmoothVulkan, vulkan_ChunkedBindingsGiveTheSameResults) {
  // A tree of 1000 points (its arrays fit 16 KiB) and 3000 queries: with 16 KiB bindings
  // the queries take 3 count chunks, the rows ~4096 entries per fill chunk, and the 5
  // channels of the values go 4 + 1; with 64 KiB there are fewer, larger chunks.
  const cloud<float> pts = clustered<float>(1000, 111);
  const cloud<float> qs = clustered<float>(3000, 113);
  const std::size_t n = 1000, nq = 3000;
  const std::vector<float> values = random_values<float>(nq, 5, 112);
  const pk::kdtree tree(pk::exec::scalar, view(pts));
  const auto ref = pk::radius_neighbors(pk::exec::scalar, tree, view(qs), 0.03f);
  const auto ref_knn = pk::knn_neighbors(pk::exec::scalar, tree, view(qs), 9);
  ASSERT_GT(ref.entries() * 4, 4 * 16384u);
  std::vector<float> want(nq * 5), want_own(n * 5);
  pk::gaussian_smooth(pk::exec::scalar, ref, pk::matrix_view<const float>(values.data(), nq, 5),
                      pk::matrix_view<float>(want.data(), nq, 5), {0.015, 3});
  pk::smooth_neighbors(pk::exec::scalar, view(pts), pk::matrix_view<const float>(values.data(), n, 5),
                       pk::matrix_view<float>(want_own.data(), n, 5), 0.03f, {0.015, 3});
  for (std::uint64_t limit : {std::uint64_t{16384}, std::uint64_t{65536}}) {
    SCOPED_TRACE(limit);
    auto ctx = small_binding_context(limit);
    const pk::exec::vulkan_policy policy(*ctx);
    EXPECT_TRUE(same_graph(pk::radius_neighbors(policy, tree, view(qs), 0.03f), ref));
    EXPECT_TRUE(same_graph(pk::radius_neighbors(policy, tree, view(qs), 0.03f, 4), brute_radius(pts, qs, 0.03f, 4)));
    EXPECT_TRUE(same_graph(pk::knn_neighbors(policy, tree, view(qs), 9), ref_knn));
    std::vector<float> got(nq * 5), own(n * 5);
    pk::gaussian_smooth(policy, ref, pk::matrix_view<const float>(values.data(), nq, 5),
                        pk::matrix_view<float>(got.data(), nq, 5), {0.015, 3});
    pk::smooth_neighbors(policy, view(pts), pk::matrix_view<const float>(values.data(), n, 5),
                         pk::matrix_view<float>(own.data(), n, 5), 0.03f, {0.015, 3});
    for (std::size_t i = 0; i < want.size(); ++i) ASSERT_NEAR(got[i], want[i], 1e-5) << i;
    for (std::size_t i = 0; i < want_own.size(); ++i) ASSERT_NEAR(own[i], want_own[i], 1e-5) << i;
    EXPECT_TRUE(ctx->validation_messages().empty());
  }
  // One channel of 3000 rows does not fit 4 KiB: the values are gathered per chunk.
  auto tiny = small_binding_context(4096);
  std::vector<float> got(nq * 5);
  pk::gaussian_smooth(pk::exec::vulkan_policy(*tiny), ref, pk::matrix_view<const float>(values.data(), nq, 5),
                      pk::matrix_view<float>(got.data(), nq, 5), {0.015, 3});
  for (std::size_t i = 0; i < want.size(); ++i) ASSERT_NEAR(got[i], want[i], 1e-5) << i;
  EXPECT_TRUE(tiny->validation_messages().empty());
}

TEST(SmoothVulkan, vulkan_WithFallbackRerunsOnTheCpuAfterADeviceFailure) {
  const cloud<float> pts = uniform<float>(2000, 121);
  const std::size_t n = 2000;
  const std::vector<float> values = random_values<float>(n, 4, 122);
  const auto policy = pk::exec::with_fallback(pk::exec::vulkan, pk::exec::simd);
  std::vector<float> want(n * 4), got(n * 4);
  pk::smooth_neighbors(pk::exec::simd, view(pts), pk::matrix_view<const float>(values.data(), n, 4),
                       pk::matrix_view<float>(want.data(), n, 4), 0.08f, {0.04, 3});
  for (long after : {0L, 3L, 8L}) {  // fail at different points of the pipeline
    SCOPED_TRACE(after);
    std::vector<float> inplace = values;
    {
      vk::testing::scoped_allocation_failure fail(after);
      pk::smooth_neighbors(policy, view(pts), pk::matrix_view<float>(inplace.data(), n, 4),
                           pk::matrix_view<float>(inplace.data(), n, 4), 0.08f, {0.04, 3});
    }
    EXPECT_TRUE(bitwise_equal(inplace, want));  // exactly the fallback's result
  }
  {
    vk::testing::scoped_allocation_failure fail(0);
    EXPECT_THROW(pk::smooth_neighbors(pk::exec::vulkan, view(pts), pk::matrix_view<const float>(values.data(), n, 4),
                                      pk::matrix_view<float>(got.data(), n, 4), 0.08f, {0.04, 3}),
                 pk::vulkan_error);
  }
}

// One real workload over 128 MiB (lavapipe's maxStorageBufferRange): a graph of 1.1M rows
// of 32 neighbours (141 MB of indices) is cut into chunks at the device's own limit and
// smoothed there. (Queries of that size take minutes on lavapipe; the chunked query path
// runs above with lowered limits.)
TEST(SmoothVulkan, vulkan_GraphLargerThanOneBinding) {
  auto& ctx = vk::default_context();
  const std::size_t n = 1'100'000, k = 32;
  pk::neighbor_graph<float> g;
  g.offsets.resize(n + 1);
  g.indices.resize(n * k);
  g.dist2.resize(n * k);
  for (std::size_t i = 0; i < n; ++i) {
    g.offsets[i + 1] = (i + 1) * k;
    for (std::size_t o = 0; o < k; ++o) {
      g.indices[i * k + o] = static_cast<std::uint32_t>((i + o * 977) % n);
      g.dist2[i * k + o] = static_cast<float>(o) * 1e-3f;
    }
  }
  ASSERT_GT(g.entries() * sizeof(std::uint32_t), ctx.max_binding_bytes());
  const std::vector<float> values = random_values<float>(n, 1, 132);
  std::vector<float> a(n), b(n);
  pk::gaussian_smooth(pk::exec::simd, g, pk::matrix_view<const float>(values.data(), n, 1),
                      pk::matrix_view<float>(a.data(), n, 1), {0.1, 2});
  pk::gaussian_smooth(pk::exec::vulkan, g, pk::matrix_view<const float>(values.data(), n, 1),
                      pk::matrix_view<float>(b.data(), n, 1), {0.1, 2});
  for (std::size_t i = 0; i < n; ++i) ASSERT_NEAR(a[i], b[i], 1e-5) << i;
  EXPECT_TRUE(ctx.validation_messages().empty());
}
#endif

}  // namespace
