// KD-tree neighbour search (api.md §5): kdtree, radius_neighbors, knn_neighbors.
// Semantics, tie order, limits and the Vulkan design are in docs/smooth.md. This header
// holds the public types and every argument check; the engine is detail/kdtree/, the
// backends backend/<policy>/kdtree.hpp (one `run(tag, policy, plan)` each).
#pragma once
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <type_traits>
#include <vector>

#include "backend/openmp/kdtree.hpp"
#include "backend/scalar/kdtree.hpp"
#include "backend/simd/kdtree.hpp"
#include "detail/kdtree/checks.hpp"
#include "detail/kdtree/knn.hpp"
#include "detail/kdtree/plans.hpp"
#include "detail/kdtree/radius.hpp"
#include "detail/kdtree/simd_lanes.hpp"
#include "error.hpp"
#include "execution.hpp"
#include "view.hpp"
#if POLYKERN_HAS_VULKAN
#include "backend/vulkan/kdtree.hpp"
#endif

namespace polykern {

// One neighbour of a query: the point's index in the caller's numbering and the squared
// Euclidean distance.
template <class T>
struct neighbor {
  std::uint32_t index = 0;
  T dist2 = 0;
  friend bool operator==(const neighbor&, const neighbor&) = default;
};

// Neighbours of every query in CSR form: row r is [offsets[r], offsets[r+1]) of
// `indices` and `dist2`, sorted by (dist2, index). A default graph has 0 rows.
template <class T>
struct neighbor_graph {
  std::vector<std::uint64_t> offsets{0};  // rows() + 1 entries
  std::vector<std::uint32_t> indices;
  std::vector<T> dist2;

  std::size_t rows() const { return offsets.empty() ? 0 : offsets.size() - 1; }
  std::size_t entries() const { return indices.size(); }
  std::span<const std::uint32_t> row_indices(std::size_t r) const {
    return {indices.data() + offsets[r], static_cast<std::size_t>(offsets[r + 1] - offsets[r])};
  }
  std::span<const T> row_dist2(std::size_t r) const {
    return {dist2.data() + offsets[r], static_cast<std::size_t>(offsets[r + 1] - offsets[r])};
  }
  friend bool operator==(const neighbor_graph&, const neighbor_graph&) = default;
};

// A KD-tree over `Dim`-dimensional points of float or double, built once and queried
// many times. It keeps its own copy of the points, reordered so that each leaf of
// `leaf_size` points is contiguous (leaves are scanned with SIMD); every result is
// reported in the caller's indices. Queries are const and thread-safe.
template <class T, std::size_t Dim = 3>
class kdtree {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>, "kdtree: T must be float or double");
  static_assert(Dim >= 1, "kdtree: Dim must be >= 1");

 public:
  using value_type = T;
  static constexpr std::size_t dimensions = Dim;

  kdtree() = default;

  // Builds the tree with `policy` (openmp: in parallel; vulkan: on the CPU, then copied
  // to the device, where the context keeps it for every later query; docs/smooth.md). Rejects leaf_size 0 or above 2^20, bad views, non-finite
  // coordinates, and more points than the tree's 32-bit links address (docs/smooth.md).
  template <execution_policy Policy, class U>
    requires std::is_same_v<std::remove_const_t<U>, T>
  kdtree(const Policy& policy, points_view<U, Dim> points, std::size_t leaf_size = 16) {
    const points_view<const T, Dim> pts = points;
    detail::require(leaf_size >= 1, "kdtree", "leaf_size is 0; must be >= 1");
    detail::kd::check_view("kdtree", "points", pts);
    detail::require(leaf_size <= (std::size_t{1} << 20), "kdtree", "leaf_size is ", leaf_size, "; must be <= 2^20");
    detail::kd::check_leaves("kdtree", "points", pts.count, leaf_size);
    detail::kd::check_finite("kdtree", "points", pts, detail::kd::host_executor_for(policy));
    data_ = detail::dispatch(policy, [&](auto tag, const auto& p) {
      return detail::kd::run(tag, p, detail::kd::build_plan<T, Dim>{pts, leaf_size});
    });
  }

  std::size_t size() const { return data_.n; }
  bool empty() const { return data_.n == 0; }
  std::size_t leaf_size() const { return data_.leaf_size; }

  // Every point within `radius` of q (inclusive), sorted by (dist2, index).
  void radius_search(const T* q, std::type_identity_t<T> radius, std::vector<neighbor<T>>& out) const {
    check_query("kdtree::radius_search", q);
    detail::require(radius >= 0, "kdtree::radius_search", "radius is ", radius, "; must be >= 0");
    detail::kd::radius_worker<detail::kd::batch<T>, T, Dim> worker(data_, radius * radius, 0,
                                                                   detail::kd::row_order::distance);
    detail::kd::hit_buffer<T> hits;
    worker.query_single(q, hits);
    out.resize(hits.size);
    for (std::size_t i = 0; i < hits.size; ++i) out[i] = {hits.orig[i], hits.d2[i]};
  }

  // The min(k, size()) nearest points to q, sorted by (dist2, index); ties at the k-th
  // place go to the smaller index.
  void knn_search(const T* q, std::size_t k, std::vector<neighbor<T>>& out) const {
    check_query("kdtree::knn_search", q);
    detail::require(k >= 1, "kdtree::knn_search", "k is 0; must be >= 1");
    detail::kd::knn_worker<detail::kd::batch<T>, T, Dim> worker(data_, k);
    const auto& hits = worker.query(q);
    out.resize(hits.size());
    for (std::size_t i = 0; i < hits.size(); ++i) out[i] = {hits[i].orig, hits[i].d2};
  }

  // The layout the backends work on (not part of the stable API).
  const detail::kd::tree_data<T, Dim>& data() const { return data_; }

 private:
  static void check_query(const char* function, const T* q) {
    detail::require(q != nullptr, function, "q is null");
    for (std::size_t d = 0; d < Dim; ++d)
      detail::require(std::isfinite(q[d]), function, "q[", d, "] is ", q[d], "; coordinates must be finite");
  }

  detail::kd::tree_data<T, Dim> data_;
};

template <class Policy, class U, std::size_t Dim>
kdtree(const Policy&, points_view<U, Dim>, std::size_t = 16) -> kdtree<std::remove_const_t<U>, Dim>;

// All points of `tree` within `radius` of each query (inclusive), as a CSR graph with
// one row per query sorted by (dist2, index). max_neighbors > 0 keeps the nearest ones.
template <execution_policy Policy, class T, std::size_t Dim, class U>
  requires std::is_same_v<std::remove_const_t<U>, T>
neighbor_graph<T> radius_neighbors(const Policy& policy, const kdtree<T, Dim>& tree, points_view<U, Dim> queries,
                                   std::type_identity_t<T> radius, std::size_t max_neighbors = 0) {
  const points_view<const T, Dim> q = queries;
  detail::require(radius >= 0, "radius_neighbors", "radius is ", radius, "; must be >= 0");
  detail::kd::check_view("radius_neighbors", "queries", q);
  detail::kd::check_finite("radius_neighbors", "queries", q, detail::kd::host_executor_for(policy));
  const detail::kd::radius_plan<T, Dim> plan{tree.data(), q, radius * radius, max_neighbors};
  return detail::dispatch(policy, [&](auto tag, const auto& p) { return detail::kd::run(tag, p, plan); });
}

// The min(k, tree.size()) nearest points of `tree` to each query, sorted by (dist2, index).
template <execution_policy Policy, class T, std::size_t Dim, class U>
  requires std::is_same_v<std::remove_const_t<U>, T>
neighbor_graph<T> knn_neighbors(const Policy& policy, const kdtree<T, Dim>& tree, points_view<U, Dim> queries,
                                std::size_t k) {
  const points_view<const T, Dim> q = queries;
  detail::require(k >= 1, "knn_neighbors", "k is 0; must be >= 1");
  detail::kd::check_view("knn_neighbors", "queries", q);
  detail::kd::check_finite("knn_neighbors", "queries", q, detail::kd::host_executor_for(policy));
  const detail::kd::knn_plan<T, Dim> plan{tree.data(), q, k};
  return detail::dispatch(policy, [&](auto tag, const auto& p) { return detail::kd::run(tag, p, plan); });
}

#if POLYKERN_HAS_VULKAN
namespace detail::kd {
// Device queries: of the policy's context, and few enough for 32-bit rows. (A CPU policy
// has already failed the build at require_vulkan_policy_for_device_objects.)
template <class Policy, class T, std::size_t Dim>
void check_device_queries(const char* function, const Policy& policy, const vulkan::device_points<T, Dim>& queries) {
  if constexpr (std::is_same_v<Policy, exec::vulkan_policy>)
    require_same_context(function, "queries", context_of(policy), queries);
  require(queries.count() < std::numeric_limits<std::uint32_t>::max(), function, "queries has ", queries.count(),
          " points; at most 2^32 - 2 are supported");
}
template <class Policy, class Plan>
neighbor_graph<typename Plan::value_type> run_device(const Policy& policy, const Plan& plan, const vulkan::buffer& queries) {
  if constexpr (std::is_same_v<Policy, exec::vulkan_policy>) {
    const device_queries<Plan> d{plan, &queries};
    return dispatch(policy, [&](auto tag, const auto& p) { return run(tag, p, d); });
  } else {
    return {};  // unreachable: the gate's static_assert has failed
  }
}
}  // namespace detail::kd

// The same queries with the query points on the device (api.md §7), under exec::vulkan or
// exec::vulkan_policy{ctx} only (a CPU policy is a compile error); `queries` belongs to the
// policy's context (invalid_argument otherwise). The graph comes back to the host. The
// query coordinates are not checked for finiteness (that would need a download): a
// non-finite query's row is unspecified.
template <execution_policy Policy, class T, std::size_t Dim>
neighbor_graph<T> radius_neighbors(const Policy& policy, const kdtree<T, Dim>& tree,
                                   const vulkan::device_points<T, Dim>& queries, std::type_identity_t<T> radius,
                                   std::size_t max_neighbors = 0) {
  detail::require_vulkan_policy_for_device_objects<Policy>();
  detail::require(radius >= 0, "radius_neighbors", "radius is ", radius, "; must be >= 0");
  detail::kd::check_device_queries("radius_neighbors", policy, queries);
  const detail::kd::radius_plan<T, Dim> plan{tree.data(), {nullptr, queries.count()}, radius * radius, max_neighbors};
  return detail::kd::run_device(policy, plan, queries.storage());
}

template <execution_policy Policy, class T, std::size_t Dim>
neighbor_graph<T> knn_neighbors(const Policy& policy, const kdtree<T, Dim>& tree,
                                const vulkan::device_points<T, Dim>& queries, std::size_t k) {
  detail::require_vulkan_policy_for_device_objects<Policy>();
  detail::require(k >= 1, "knn_neighbors", "k is 0; must be >= 1");
  detail::kd::check_device_queries("knn_neighbors", policy, queries);
  const detail::kd::knn_plan<T, Dim> plan{tree.data(), {nullptr, queries.count()}, k};
  return detail::kd::run_device(policy, plan, queries.storage());
}
#endif

}  // namespace polykern
