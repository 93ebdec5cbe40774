// Gaussian smoothing's plans, one per kernel, and run_cpu: what every CPU backend runs.
//
//   graph_plan      gaussian_smooth: the weights of a given graph, then the passes
//   neighbors_plan  smooth_neighbors: tree, rows, weights and passes without a public graph
//
// The backends are `run(tag, policy, plan)` overloads (backend/<policy>/smooth.hpp).
// Every argument was checked by the entry point (checks.hpp).
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "../../view.hpp"
#include "../kdtree/build.hpp"
#include "../kdtree/graph.hpp"
#include "pass.hpp"
#include "weights.hpp"

namespace polykern::detail::sm {

// The leaf size of smooth_neighbors' own tree.
inline constexpr std::size_t own_leaf_size = 16;

template <class T>
struct graph_plan {
  using value_type = T;
  const neighbor_graph<T>& graph;
  matrix_view<const T> values;
  matrix_view<T> out;  // may be `values` itself
  T a;                 // exponent_scale(sigma)
  std::size_t iterations;
};

template <class T, std::size_t Dim>
struct neighbors_plan {
  using value_type = T;
  points_view<const T, Dim> points;
  matrix_view<const T> values;
  matrix_view<T> out;  // may be `values` itself
  T r2;                // radius * radius, rounded to T
  T a;                 // exponent_scale(sigma)
  std::size_t iterations;
  std::size_t keep;    // 0: every neighbour; else the nearest `keep`
};

// gaussian_smooth on the CPU: the weight table, then the passes (V is unused: the passes
// are the same loops for every policy).
template <class V, class T, class Executor>
void run_cpu(const Executor& ex, const graph_plan<T>& plan) {
  const neighbor_graph<T>& g = plan.graph;
  const std::size_t rows = g.rows(), nnz = g.entries();
  // Every weight is written before it is read: no zero fill of nnz elements.
  const auto w = std::make_unique_for_overwrite<T[]>(nnz);
  std::vector<std::uint8_t> keep(rows);
  const std::size_t chunks = (rows + rows_per_chunk - 1) / rows_per_chunk;
  const auto get = [&](std::size_t c) {
    const std::size_t r0 = c * rows_per_chunk, e0 = g.offsets[r0];
    return slice<T>{r0, std::min(rows, r0 + rows_per_chunk) - r0, g.offsets.data() + r0, g.indices.data() + e0,
                    w.get() + e0, keep.data() + r0};
  };
  ex.each(chunks, [&](std::size_t c) {
    const slice<T> s = get(c);
    const std::size_t e0 = g.offsets[s.row0];
    weigh_rows(s.row0, s.rows, s.offsets, s.indices, g.dist2.data() + e0, w.get() + e0, keep.data() + s.row0, plan.a);
  });
  run_passes<T>(get, chunks, plan.values, plan.out, plan.iterations, ex);
}

// smooth_neighbors on the CPU: the tree, then per chunk of ~512 points (in tree order) its
// rows, found in tree-position order with tree positions as indices, weighed in place
// while they are in cache, and its values gathered into tree order; then the passes (each
// reads neighbouring memory), the last one writing to the caller's rows. No graph is
// assembled: the chunks are the graph. `out` may be `values`: they are read in the first
// phase only.
template <class V, class T, std::size_t Dim, class Executor>
void run_cpu(const Executor& ex, const neighbors_plan<T, Dim>& plan) {
  const points_view<const T, Dim> points = plan.points;
  const matrix_view<const T> values = plan.values;
  kd::tree_data<T, Dim> t;
  kd::build_tree(t, points, own_leaf_size, ex);
  const kd::query_order o = kd::make_order(t, points, kd::space::tree, ex);
  const std::size_t n = t.n, cols = values.cols, chunks = o.chunks();
  std::vector<kd::chunk_rows<T>> rows(chunks);
  std::vector<std::vector<std::uint8_t>> keep(chunks);
  std::vector<std::uint32_t> caller(n);  // tree position -> caller row
  std::vector<T> in(n * cols);
  ex.each(chunks, [&](std::size_t c) {  // rows, weights and the values in tree order: one pass
    kd::chunk_rows<T>& cr = rows[c];
    kd::radius_chunk<V>(t, points, kd::space::tree, o, c, plan.r2, plan.keep, kd::row_order::position, cr);
    keep[c].resize(o.last(c) - o.first(c));
    weigh_rows(o.first(c), keep[c].size(), cr.offsets.data(), cr.hits.pos.data(), cr.hits.d2.data(),
               cr.hits.d2.data(), keep[c].data(), plan.a);
    cr.hits.orig = {};
    for (std::size_t p = o.first(c); p < o.last(c); ++p) {
      caller[p] = t.orig(p);
      std::copy_n(values.row(caller[p]), cols, in.data() + p * cols);
    }
  });
  const auto get = [&](std::size_t c) {
    return slice<T>{o.first(c), keep[c].size(), rows[c].offsets.data(), rows[c].hits.pos.data(),
                    rows[c].hits.d2.data(), keep[c].data()};
  };
  // The last pass writes each row straight to its caller row of `out`.
  run_passes<T>(get, chunks, matrix_view<const T>(in.data(), n, cols), plan.out, plan.iterations, ex, caller.data());
}

}  // namespace polykern::detail::sm
