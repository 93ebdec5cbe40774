// libFuzzer harness: kdtree (build, radius_search, knn_search), radius_neighbors,
// knn_neighbors, gaussian_smooth and smooth_neighbors, float and double, on every CPU
// policy (common.hpp has the protocol). The input chooses the points (count, stride,
// duplicates, NaN/inf coordinates, null, unaddressable), leaf_size, the queries, radius,
// max_neighbors, k, sigma, iterations, the values/out matrices (shapes, strides, in place,
// partial overlap) and, for gaussian_smooth, a graph that may be broken. docs/smooth.md
// promises bitwise equal graphs and smoothed values on every CPU policy.
#include <polykern/smooth.hpp>

#include "common.hpp"

namespace {

using namespace fuzz;

constexpr std::size_t dim = 3;

struct rows_plan {  // a points_view (row = one point of dim) or a matrix_view (row = cols)
  std::size_t rows = 0, cols = dim;
  std::ptrdiff_t stride = dim;
  std::size_t offset = 0;
  bool null = false, unaddressable = false;
  std::size_t span() const {
    if (null || unaddressable || rows == 0 || cols == 0) return 0;
    return stride <= 0 ? cols : (rows - 1) * static_cast<std::size_t>(stride) + cols;
  }
  bool writable() const { return span() > 0 && (rows <= 1 || stride >= static_cast<std::ptrdiff_t>(cols)); }
};

rows_plan draw_rows(input& in, std::size_t rows, std::size_t cols) {
  rows_plan p;
  p.rows = rows, p.cols = cols;
  p.unaddressable = rows >= (std::size_t{1} << 63);  // the row count of an unaddressable matrix
  p.stride = static_cast<std::ptrdiff_t>(cols + pick(in, 0, 2));
  switch (in.ConsumeIntegralInRange(0, 15)) {
    case 0: p.stride = static_cast<std::ptrdiff_t>(cols) - 1 - static_cast<std::ptrdiff_t>(pick(in, 0, 3)); break;
    case 1: p.null = true; break;
    case 2:
      p.unaddressable = true;
      if (in.ConsumeBool()) p.rows = unaddressable_size(in);
      else p.rows = std::max<std::size_t>(p.rows, 2), p.stride = std::numeric_limits<std::ptrdiff_t>::max();
      break;
    default: break;
  }
  return p;
}

template <class T>
void fill_rows(input& in, arena& a, const rows_plan& p, bool coarse) {
  for (std::size_t i = 0; i < p.span(); ++i) {
    double v = some_double(in, -4, 4);
    if (coarse) v = std::round(v);  // duplicates and ties
    a.at<T>(p.offset)[i] = static_cast<T>(v);
  }
}

template <class T>
pk::neighbor_graph<T> as_graph(const std::vector<pk::neighbor<T>>& row) {
  pk::neighbor_graph<T> g;
  for (const auto& n : row) g.indices.push_back(n.index), g.dist2.push_back(n.dist2);
  g.offsets.push_back(row.size());
  return g;
}

template <class T>
void one_input(input& in) {
  const int kernel = in.ConsumeIntegralInRange(0, 5);
  const std::size_t n = pick(in, 0, 48);
  const bool coarse = in.ConsumeBool();
  rows_plan points = draw_rows(in, n, dim);
  rows_plan queries = draw_rows(in, pick(in, 0, 16), dim);
  const std::size_t cols = pick(in, 0, 4);
  rows_plan values = draw_rows(in, in.ConsumeIntegralInRange(0, 15) == 0 ? pick(in, 0, 48) : n, cols);
  rows_plan out = draw_rows(in, values.rows, cols);
  if (in.ConsumeIntegralInRange(0, 15) == 0 && !out.unaddressable) out.cols = pick(in, 0, 4);
  std::size_t next = pick(in, 0, 2);
  for (rows_plan* p : {&points, &queries, &values}) p->offset = next, next += p->span() + pick(in, 0, 2);
  switch (in.ConsumeIntegralInRange(0, 5)) {
    case 0: out = values; break;                                          // in place
    case 1: out.offset = values.offset + pick(in, 0, 6); break;           // overlap values
    case 2: out.offset = points.offset + pick(in, 0, 6); break;           // overlap points
    default: out.offset = next;
  }
  arena a((std::max(next, out.offset + out.span()) + 8) * sizeof(T));
  fill_rows<T>(in, a, points, coarse);
  fill_rows<T>(in, a, queries, coarse);
  fill_rows<T>(in, a, values, false);
  if (out.writable())
    for (std::size_t r = 0; r < out.rows; ++r) a.allow(a.at<T>(out.offset) + r * out.stride, out.cols * sizeof(T));

  const std::size_t leaf = in.ConsumeIntegralInRange(0, 31) == 0 ? (std::size_t{1} << 21) : pick(in, 0, 20);
  const auto radius = static_cast<T>(some_double(in, 0, 4));
  const std::size_t max_neighbors = pick(in, 0, 6), k = pick(in, 0, 10);
  const pk::smooth_options options{some_double(in, 0.05, 3), pick(in, 0, 3)};
  const bool knn_graph = in.ConsumeBool();
  const int damage = in.ConsumeIntegralInRange(0, 11);  // gaussian_smooth: how to break the graph
  const std::size_t damage_at = pick(in, 0, 1000);
  a.commit();

  const pk::points_view<const T, dim> pv{points.null ? nullptr : a.at<T>(points.offset), points.rows, points.stride};
  const pk::points_view<const T, dim> qv{queries.null ? nullptr : a.at<T>(queries.offset), queries.rows, queries.stride};
  const pk::matrix_view<const T> vv{values.null ? nullptr : a.at<T>(values.offset), values.rows, values.cols,
                                    values.stride};
  const pk::matrix_view<T> ov{out.null ? nullptr : a.at<T>(out.offset), out.rows, out.cols, out.stride};
  const std::vector<T> single_query = [&] {
    std::vector<T> q(dim);
    for (auto& c : q) c = static_cast<T>(some_double(in, -4, 4));
    return q;
  }();

  const auto call = [&](const auto& policy) -> pk::neighbor_graph<T> {
    switch (kernel) {
      case 0: return pk::radius_neighbors(policy, pk::kdtree<T, dim>(policy, pv, leaf), qv, radius, max_neighbors);
      case 1: return pk::knn_neighbors(policy, pk::kdtree<T, dim>(policy, pv, leaf), qv, k);
      case 2: {
        const pk::kdtree<T, dim> tree(policy, pv, leaf);
        std::vector<pk::neighbor<T>> row;
        if (in.remaining_bytes() % 2) tree.radius_search(single_query.data(), radius, row);
        else tree.knn_search(single_query.data(), k, row);
        return as_graph(row);
      }
      case 3: {
        // The graph comes from the scalar policy (its equality across policies is case 0/1's
        // business), then may be broken on purpose.
        const pk::kdtree<T, dim> tree(pk::exec::scalar, pv, 16);
        pk::neighbor_graph<T> g = knn_graph ? pk::knn_neighbors(pk::exec::scalar, tree, pv, std::max<std::size_t>(k, 1))
                                            : pk::radius_neighbors(pk::exec::scalar, tree, pv, radius, max_neighbors);
        if (!g.indices.empty()) {
          const std::size_t i = damage_at % g.indices.size();
          switch (damage) {
            case 0: g.indices[i] = static_cast<std::uint32_t>(n + damage_at % 3); break;  // index out of range
            case 1: g.dist2[i] = -1; break;
            case 2: g.dist2[i] = std::numeric_limits<T>::quiet_NaN(); break;
            case 3: g.offsets[1 + i % (g.offsets.size() - 1)] += 1; break;  // offsets broken
            case 4: g.dist2.pop_back(); break;
            case 5: g.offsets.clear(); break;
            default: break;
          }
        }
        pk::gaussian_smooth(policy, g, vv, ov, options);
        return {};
      }
      default:
        pk::smooth_neighbors(policy, pv, vv, ov, radius, options, max_neighbors);
        return {};
    }
  };
  // Graphs are bitwise the same on every policy, Vulkan included (docs/smooth.md "Vulkan");
  // smoothed values too on the CPU policies, while Vulkan's exp and division are GLSL's:
  // "about 1e-7 relative (float)". Each output is a convex combination of inputs, so the
  // bound is relative to the largest |value| (1e-5: a hundred times the documented size).
  double value_scale = 0;
  if (values.span() > 0)
    for (std::size_t i = 0; i < values.span(); ++i)
      if (std::isfinite(a.at<T>(values.offset)[i])) value_scale = std::max(value_scale, std::abs(double(a.at<T>(values.offset)[i])));
  const auto agree = [&](const auto& policy, arena& live, const std::vector<unsigned char>& reference,
                         const pk::neighbor_graph<T>& got, const pk::neighbor_graph<T>& want) {
    check(got.offsets == want.offsets && got.indices == want.indices, "graphs differ from scalar");
    for (std::size_t i = 0; i < got.dist2.size(); ++i) check(same_value(got.dist2[i], want.dist2[i]), "dist2 differs");
    if (out.writable())
      for (std::size_t r = 0; r < ov.rows; ++r)
        for (std::size_t c = 0; c < ov.cols; ++c) {
          const T g = ov(r, c), w = *live.in_snapshot(reference, &ov(r, c));
          if constexpr (is_vulkan_policy<decltype(policy)>)
            check(same_value(g, w) || std::abs(double(g) - double(w)) <= 1e-5 * value_scale, "vulkan's smoothed values differ");
          else
            check(same_value(g, w), "smoothed values differ from scalar");
        }
  };
  across_policies(a, call, agree);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider in(data, size);
  if (in.ConsumeBool()) one_input<float>(in);
  else one_input<double>(in);
  return 0;
}
