// The KD-tree's plans, one per kernel, and run_cpu: what every CPU backend runs.
//
//   build_plan   -> tree_data   the tree over checked points
//   radius_plan  -> neighbor_graph, rows sorted by (dist2, index), at most `keep` (0: all)
//   knn_plan     -> neighbor_graph, min(k, n) entries per row
//
// The backends are `run(tag, policy, plan)` overloads (backend/<policy>/kdtree.hpp): the
// scalar policy calls run_cpu<T> on the calling thread, simd run_cpu<batch<T>>, openmp the
// same on its threads; Vulkan has its own radius and knn.
#pragma once
#include <cstddef>

#include "../../view.hpp"
#include "build.hpp"
#include "graph.hpp"
#include "tree.hpp"

namespace polykern::detail::kd {

template <class T, std::size_t Dim>
struct build_plan {
  using value_type = T;
  points_view<const T, Dim> points;
  std::size_t leaf_size;
};

template <class T, std::size_t Dim>
struct radius_plan {
  using value_type = T;
  const tree_data<T, Dim>& tree;
  points_view<const T, Dim> queries;
  T r2;              // radius * radius, rounded to T
  std::size_t keep;  // 0: every neighbour; else the nearest `keep`
};

template <class T, std::size_t Dim>
struct knn_plan {
  using value_type = T;
  const tree_data<T, Dim>& tree;
  points_view<const T, Dim> queries;
  std::size_t k;
};

// V: the lane type of the bodies (T or batch<T>); ex: the executor of the chunks.
template <class V, class T, std::size_t Dim, class Executor>
tree_data<T, Dim> run_cpu(const Executor& ex, const build_plan<T, Dim>& plan) {
  tree_data<T, Dim> t;
  build_tree(t, plan.points, plan.leaf_size, ex);
  return t;
}
template <class V, class T, std::size_t Dim, class Executor>
neighbor_graph<T> run_cpu(const Executor& ex, const radius_plan<T, Dim>& plan) {
  return radius_graph_body<V>(plan.tree, plan.queries, plan.r2, plan.keep, ex);
}
template <class V, class T, std::size_t Dim, class Executor>
neighbor_graph<T> run_cpu(const Executor& ex, const knn_plan<T, Dim>& plan) {
  return knn_graph_body<V>(plan.tree, plan.queries, plan.k, ex);
}

}  // namespace polykern::detail::kd
