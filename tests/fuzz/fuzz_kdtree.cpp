// libFuzzer harness: kdtree (build, radius_search, knn_search), radius_neighbors and
// knn_neighbors, float and double, 2D and 3D, on every CPU policy (common.hpp has the
// protocol), each result also checked against a brute-force search written here from
// docs/smooth.md's semantics: dist2 = ((0 + d0*d0) + d1*d1) + ... (d = p - q, no FMA),
// within radius means dist2 <= T(radius * radius), rows sorted by (dist2, index),
// max_neighbors keeps the first ones, knn rows have min(k, n) entries. Whether a call is
// rejected is predicted too (docs/smooth.md's error table): leaf_size 0 or > 2^20, a
// stride < Dim for more than one point, null data with points, an unaddressable view, a
// non-finite coordinate, radius < 0 or NaN, k == 0, a null query.
//
// The input chooses the points (0..64, sometimes up to 300; on a half-integer grid, so
// that duplicates, ties and points exactly at the radius are common, or uniform; one
// NaN/inf/huge coordinate now and then), the stride, null and unaddressable views,
// leaf_size, the queries (their own view, the tree's points themselves, or an
// overlapping view), radius (grid distances, uniform, special), max_neighbors, k, and
// whether the tree is built by the policy under test or by scalar.
#include <polykern/kdtree.hpp>

#include "common.hpp"

namespace {

using namespace fuzz;

// fuzz_kdtree's odds (common.hpp's defaults): strides Dim..Dim+2; one in 24 each of a
// short stride (Dim-1 down to Dim-5), null data, an unaddressable count or stride
// (PTRDIFF_MAX), stride 0 (valid for at most one point).
constexpr points_odds kdtree_odds{};

template <class T, std::size_t Dim>
T dist2(const T* p, const T* q) {
  T s = 0;
  for (std::size_t k = 0; k < Dim; ++k) {
    const T d = p[k] - q[k];
    const T sq = d * d;  // separate statements: clang contracts only within one
    s = s + sq;
  }
  return s;
}

template <class T>
bool before(const pk::neighbor<T>& a, const pk::neighbor<T>& b) {
  return a.dist2 < b.dist2 || (a.dist2 == b.dist2 && a.index < b.index);
}

template <class T, std::size_t Dim>
std::vector<pk::neighbor<T>> brute_radius(const pk::points_view<const T, Dim>& pts, const T* q, T radius,
                                          std::size_t max_neighbors) {
  const T r2 = radius * radius;
  std::vector<pk::neighbor<T>> row;
  for (std::size_t i = 0; i < pts.count; ++i) {
    const T d2 = dist2<T, Dim>(pts[i], q);
    if (d2 <= r2) row.push_back({static_cast<std::uint32_t>(i), d2});
  }
  std::sort(row.begin(), row.end(), before<T>);
  if (max_neighbors > 0 && row.size() > max_neighbors) row.resize(max_neighbors);
  return row;
}

template <class T, std::size_t Dim>
std::vector<pk::neighbor<T>> brute_knn(const pk::points_view<const T, Dim>& pts, const T* q, std::size_t k) {
  std::vector<pk::neighbor<T>> row;
  for (std::size_t i = 0; i < pts.count; ++i) row.push_back({static_cast<std::uint32_t>(i), dist2<T, Dim>(pts[i], q)});
  std::sort(row.begin(), row.end(), before<T>);
  if (row.size() > k) row.resize(k);
  return row;
}

template <class T>
void append_row(pk::neighbor_graph<T>& g, const std::vector<pk::neighbor<T>>& row) {
  if (g.offsets.empty()) g.offsets.push_back(0);
  for (const auto& n : row) g.indices.push_back(n.index), g.dist2.push_back(n.dist2);
  g.offsets.push_back(g.indices.size());
}

template <class T>
bool same_graph(const pk::neighbor_graph<T>& a, const pk::neighbor_graph<T>& b) {
  if (a.offsets != b.offsets || a.indices != b.indices || a.dist2.size() != b.dist2.size()) return false;
  for (std::size_t i = 0; i < a.dist2.size(); ++i)
    if (!same_value(a.dist2[i], b.dist2[i])) return false;
  return true;
}

template <class T, std::size_t Dim>
bool finite_points(const pk::points_view<const T, Dim>& v) {
  for (std::size_t i = 0; i < v.count; ++i)
    for (std::size_t k = 0; k < Dim; ++k)
      if (!std::isfinite(v[i][k])) return false;
  return true;
}

template <class T>
T coordinate(input& in, bool grid) {
  if (grid) return static_cast<T>(0.5 * static_cast<double>(in.ConsumeIntegralInRange(-6, 6)));
  return static_cast<T>(-4 + 8 * in.ConsumeProbability<double>());
}

template <class T, std::size_t Dim>
void one_input(input& in) {
  const int kernel = in.ConsumeIntegralInRange(0, 3);  // radius_neighbors, knn_neighbors, radius_search, knn_search
  const std::size_t n = in.ConsumeIntegralInRange(0, 7) == 0 ? pick(in, 0, 300) : pick(in, 0, 64);
  const bool grid = in.ConsumeBool();
  points_plan points = draw_points(in, n, Dim, kdtree_odds);
  const int query_kind = in.ConsumeIntegralInRange(0, 3);  // 0: the points themselves, 1: overlapping, else own
  points_plan queries = query_kind == 0 ? points : draw_points(in, pick(in, 0, 24), Dim, kdtree_odds);
  std::size_t next = pick(in, 0, 2);
  points.offset = next, next += points.span(Dim) + pick(in, 0, 2);
  if (query_kind == 1) queries.offset = points.offset + pick(in, 0, 5);
  else if (query_kind == 0) queries.offset = points.offset;
  else queries.offset = next, next += queries.span(Dim);
  arena a((std::max(next, queries.offset + queries.span(Dim)) + 8) * sizeof(T));
  for (std::size_t i = 0; i < points.span(Dim); ++i) a.at<T>(points.offset)[i] = coordinate<T>(in, grid);
  if (query_kind >= 2)
    for (std::size_t i = 0; i < queries.span(Dim); ++i) a.at<T>(queries.offset)[i] = coordinate<T>(in, grid);
  if (in.ConsumeIntegralInRange(0, 7) == 0) {  // one hostile coordinate somewhere in the arena's views
    const std::size_t total = next + 1;
    a.at<T>(0)[pick(in, 0, total - 1)] = static_cast<T>(special_double(in));
  }

  std::vector<T> single(Dim);
  const bool single_null = in.ConsumeIntegralInRange(0, 31) == 0;
  for (auto& c : single) c = in.ConsumeIntegralInRange(0, 31) == 0 ? static_cast<T>(special_double(in)) : coordinate<T>(in, grid);
  // leaf_size: usually 1..20, sometimes larger than the point count; rarely invalid (0,
  // above 2^20), and very rarely the largest valid one (the tree pads its leaves to
  // leaf_size, so 2^20 costs tens of MB per build: rare, or the fuzzer slows down 50x).
  std::size_t leaf = pick(in, 1, 20);
  switch (in.ConsumeIntegralInRange(0, 31)) {
    case 0: leaf = 0; break;
    case 1: leaf = (std::size_t{1} << 20) + pick(in, 1, 2); break;
    case 2: leaf = in.ConsumeIntegralInRange(0, 15) == 0 ? std::size_t{1} << 20 : pick(in, 21, 600); break;
    default: break;
  }
  T radius;
  switch (in.ConsumeIntegralInRange(0, 3)) {
    case 0: radius = static_cast<T>(special_double(in)); break;
    case 1: radius = static_cast<T>(some_double(in, 0, 5)); break;
    default: radius = static_cast<T>(std::sqrt(0.25 * static_cast<double>(pick(in, 0, 80))));  // grid distances
  }
  const std::size_t max_neighbors = in.ConsumeBool() ? 0 : pick(in, 1, 8);
  const std::size_t k = pick(in, 0, 12) + (in.ConsumeIntegralInRange(0, 15) == 0 ? 400 : 0);
  const bool scalar_tree = in.ConsumeIntegralInRange(0, 3) == 0;
  a.commit();

  const pk::points_view<const T, Dim> pv{points.null ? nullptr : a.at<T>(points.offset), points.count, points.stride};
  const pk::points_view<const T, Dim> qv{queries.null ? nullptr : a.at<T>(queries.offset), queries.count,
                                         queries.stride};
  const T* q = single_null ? nullptr : single.data();

  // What the brute force expects: rejected, or this graph (one row per query).
  const bool build_bad = leaf == 0 || leaf > (std::size_t{1} << 20) || !points.valid(Dim) || !finite_points(pv);
  bool query_bad = false;
  if (kernel == 0 || kernel == 2) query_bad = std::isnan(radius) || radius < 0;
  else query_bad = k == 0;
  if (kernel <= 1) query_bad = query_bad || !queries.valid(Dim) || !finite_points(qv);
  else query_bad = query_bad || q == nullptr || !std::all_of(single.begin(), single.end(), [](T c) { return std::isfinite(c); });
  const bool expect_reject = build_bad || query_bad;
  pk::neighbor_graph<T> expected;
  if (!expect_reject) {
    if (kernel <= 1) {
      for (std::size_t i = 0; i < qv.count; ++i)
        append_row(expected, kernel == 0 ? brute_radius<T, Dim>(pv, qv[i], radius, max_neighbors)
                                         : brute_knn<T, Dim>(pv, qv[i], k));
      if (qv.count == 0) expected.offsets.assign(1, 0);
    } else {
      append_row(expected, kernel == 2 ? brute_radius<T, Dim>(pv, q, radius, 0) : brute_knn<T, Dim>(pv, q, k));
    }
  }

  const auto call = [&](const auto& policy) -> pk::neighbor_graph<T> {
    pk::neighbor_graph<T> g;
    bool rejected = true;
    try {
      const auto tree = [&] {
        if (scalar_tree) return pk::kdtree<T, Dim>(pk::exec::scalar, pv, leaf);
        return pk::kdtree<T, Dim>(policy, pv, leaf);
      }();
      check(tree.size() == n && tree.leaf_size() == leaf, "the tree's size or leaf_size is not what it was given");
      switch (kernel) {
        case 0: g = pk::radius_neighbors(policy, tree, qv, radius, max_neighbors); break;
        case 1: g = pk::knn_neighbors(policy, tree, qv, k); break;
        default: {
          std::vector<pk::neighbor<T>> row(3, pk::neighbor<T>{7, 7});  // stale contents must go
          if (kernel == 2) tree.radius_search(q, radius, row);
          else tree.knn_search(q, k, row);
          append_row(g, row);
        }
      }
      rejected = false;
    } catch (const pk::invalid_argument&) {
      check(expect_reject, "a valid call was rejected");
      throw;
    }
    check(!rejected && !expect_reject, "an invalid call was accepted");
    if (!same_graph(g, expected)) {
      std::fprintf(stderr, "kdtree: call %d, n %zu, leaf %zu, queries %zu, radius %.17g, max %zu, k %zu: got %zu entries, "
                   "brute force %zu\n", kernel, n, leaf, qv.count, double(radius), max_neighbors, k, g.indices.size(),
                   expected.indices.size());
      check(false, "the result differs from the brute-force search");
    }
    return g;
  };
  const auto agree = [&](const auto&, arena&, const std::vector<unsigned char>&, const pk::neighbor_graph<T>& got,
                         const pk::neighbor_graph<T>& want) {
    check(same_graph(got, want), "a policy's graph differs from scalar's");
  };
  across_policies(a, call, agree);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider in(data, size);
  switch (in.ConsumeIntegralInRange(0, 3)) {
    case 0: one_input<float, 3>(in); break;
    case 1: one_input<double, 3>(in); break;
    case 2: one_input<float, 2>(in); break;
    default: one_input<double, 2>(in);
  }
  return 0;
}
