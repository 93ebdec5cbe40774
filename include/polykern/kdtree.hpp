// KD-tree neighbour search (api.md §5): kdtree, radius_neighbors, knn_neighbors.
// Semantics, tie order and the Vulkan design are in docs/smooth.md.
#pragma once
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <vector>

#include "backend/openmp/kdtree.hpp"
#include "backend/scalar/kdtree.hpp"
#include "backend/simd/kdtree.hpp"
#include "error.hpp"
#include "execution.hpp"
#include "view.hpp"
#if POLYKERN_HAS_VULKAN
#include "backend/vulkan/kdtree.hpp"
#endif

namespace polykern {

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

  // Builds the tree with `policy` (openmp: in parallel; vulkan: on the CPU, the queries
  // then run on the device). Non-finite coordinates and leaf_size == 0 are rejected.
  template <execution_policy Policy, class U>
    requires std::is_same_v<std::remove_const_t<U>, T>
  kdtree(const Policy& policy, points_view<U, Dim> points, std::size_t leaf_size = 16) {
    const points_view<const T, Dim> pts = points;
    detail::require(leaf_size >= 1, "kdtree", "leaf_size is 0; must be >= 1");
    detail::check_addressable("kdtree", "points", pts);
    detail::kd::check_view("kdtree", "points", pts);
    detail::require(leaf_size <= (std::size_t{1} << 20), "kdtree", "leaf_size is ", leaf_size, "; must be <= 2^20");
    detail::dispatch(policy, [&](auto tag, const auto& p) {
      detail::kd::build(tag, p, data_, pts, leaf_size);  // also rejects non-finite coordinates
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
    copy_out(worker.query(q), out);
  }

  // The layout the backends work on (not part of the stable API).
  const detail::kd::tree_data<T, Dim>& data() const { return data_; }

 private:
  static void check_query(const char* function, const T* q) {
    detail::require(q != nullptr, function, "q is null");
    for (std::size_t d = 0; d < Dim; ++d)
      detail::require(std::isfinite(q[d]), function, "q[", d, "] is ", q[d], "; coordinates must be finite");
  }
  static void copy_out(const std::vector<detail::kd::hit<T>>& hits, std::vector<neighbor<T>>& out) {
    out.resize(hits.size());
    for (std::size_t i = 0; i < hits.size(); ++i) out[i] = {hits[i].orig, hits[i].d2};
  }

  detail::kd::tree_data<T, Dim> data_;
};

template <class Policy, class U, std::size_t Dim>
kdtree(const Policy&, points_view<U, Dim>, std::size_t = 16) -> kdtree<std::remove_const_t<U>, Dim>;

namespace detail::kd {
// Rejects bad query points (non-finite coordinates, bad views) before any work.
template <class T, std::size_t Dim, class Policy>
void check_queries(const char* function, const char* argument, const Policy& policy,
                   points_view<const T, Dim> queries) {
  check_addressable(function, argument, queries);
  dispatch(policy, [&](auto tag, const auto& p) { check_points(function, argument, queries, executor(tag, p)); });
}
}  // namespace detail::kd

// All points of `tree` within `radius` of each query (inclusive), as a CSR graph with
// one row per query sorted by (dist2, index). max_neighbors > 0 keeps the nearest ones.
template <execution_policy Policy, class T, std::size_t Dim, class U>
  requires std::is_same_v<std::remove_const_t<U>, T>
neighbor_graph<T> radius_neighbors(const Policy& policy, const kdtree<T, Dim>& tree, points_view<U, Dim> queries,
                                   std::type_identity_t<T> radius, std::size_t max_neighbors = 0) {
  const points_view<const T, Dim> q = queries;
  detail::require(radius >= 0, "radius_neighbors", "radius is ", radius, "; must be >= 0");
  detail::kd::check_queries("radius_neighbors", "queries", policy, q);
  return detail::dispatch(policy, [&](auto tag, const auto& p) {
    return detail::kd::radius_graph(tag, p, tree.data(), q, radius * radius, max_neighbors);
  });
}

// The min(k, tree.size()) nearest points of `tree` to each query, sorted by (dist2, index).
template <execution_policy Policy, class T, std::size_t Dim, class U>
  requires std::is_same_v<std::remove_const_t<U>, T>
neighbor_graph<T> knn_neighbors(const Policy& policy, const kdtree<T, Dim>& tree, points_view<U, Dim> queries,
                                std::size_t k) {
  const points_view<const T, Dim> q = queries;
  detail::require(k >= 1, "knn_neighbors", "k is 0; must be >= 1");
  detail::kd::check_queries("knn_neighbors", "queries", policy, q);
  return detail::dispatch(policy, [&](auto tag, const auto& p) {
    return detail::kd::knn_graph(tag, p, tree.data(), q, k);
  });
}

}  // namespace polykern
