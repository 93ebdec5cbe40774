// Gaussian smoothing of per-point values over a neighbour graph (api.md §5):
// gaussian_smooth, and smooth_neighbors (tree + graph + smoothing in one call).
// Semantics and the choices the contract leaves open are in docs/smooth.md. This header
// holds the public types and every argument check; the engine is detail/smooth/, the
// backends backend/<policy>/smooth.hpp (one `run(tag, policy, plan)` each).
#pragma once
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "backend/openmp/smooth.hpp"
#include "backend/scalar/smooth.hpp"
#include "backend/simd/smooth.hpp"
#include "detail/kdtree/checks.hpp"
#include "detail/smooth/checks.hpp"
#include "detail/smooth/plans.hpp"
#include "detail/smooth/weights.hpp"
#include "error.hpp"
#include "execution.hpp"
#include "kdtree.hpp"
#include "view.hpp"
#if POLYKERN_HAS_VULKAN
#include "backend/vulkan/smooth.hpp"
#endif

namespace polykern {

// sigma: the Gaussian's standard deviation in the points' units (> 0).
// iterations: Jacobi passes (0 copies the values).
struct smooth_options {
  double sigma = 1.0;
  std::size_t iterations = 1;
};

namespace detail::sm {
// gaussian_smooth's checks, written once for host views and device matrices (a device
// matrix's views are {nullptr, rows, cols}); check_values(function) checks where the
// values are (overlap, context) and their shapes.
template <class Policy, class T, class CheckValues>
graph_plan<T> checked_graph_plan(const Policy& policy, const neighbor_graph<T>& graph, matrix_view<const T> v,
                                 matrix_view<T> out, smooth_options options, const CheckValues& check_values) {
  const char* f = "gaussian_smooth";
  check_sigma(f, options.sigma);
  check_graph(graph);
  require(v.rows == graph.rows(), f, "values has ", v.rows, " rows but the graph has ", graph.rows(),
          "; they must match");
  check_values(f);
  check_graph_entries(graph, v.rows, kd::host_executor_for(policy));
  return {graph, v, out, exponent_scale<T>(options.sigma), options.iterations};
}
}  // namespace detail::sm

// Jacobi iterations of Gaussian-weighted neighbour averaging, all columns at once:
// out_i = sum_j w_ij v_j / sum_j w_ij, w_ij = exp(-dist2_ij / (2 sigma^2)), the weights
// computed once per call. A row with no neighbour other than itself keeps v_i. `out` may
// be `values` itself (same data and row_stride; an internal copy is made); any other
// overlap is rejected. Rows of the graph = rows of values; every index < rows.
template <execution_policy Policy, class T, class U>
  requires std::is_same_v<std::remove_const_t<U>, T>
void gaussian_smooth(const Policy& policy, const neighbor_graph<T>& graph, matrix_view<U> values, matrix_view<T> out,
                     smooth_options options) {
  const matrix_view<const T> v = values;
  const detail::sm::graph_plan<T> plan = detail::sm::checked_graph_plan(
      policy, graph, v, out, options, [&](const char* f) { detail::sm::check_out<T>(f, v, out); });
  detail::dispatch(policy, [&](auto tag, const auto& p) { detail::sm::run(tag, p, plan); });
}

#if POLYKERN_HAS_VULKAN
// The same on device-resident values (api.md §7), under exec::vulkan or
// exec::vulkan_policy{ctx} only (a CPU policy is a compile error): `values` and `out`
// belong to the policy's context (invalid_argument otherwise) and have the same shape;
// `out` may be `values` itself. The graph is uploaded; nothing is downloaded.
template <execution_policy Policy, class T>
void gaussian_smooth(const Policy& policy, const neighbor_graph<T>& graph, const vulkan::device_matrix<T>& values,
                     vulkan::device_matrix<T>& out, smooth_options options) {
  detail::require_vulkan_policy_for_device_objects<Policy>();
  const matrix_view<const T> v(nullptr, values.rows(), values.cols());
  const matrix_view<T> o(nullptr, out.rows(), out.cols());
  const detail::sm::graph_plan<T> plan = detail::sm::checked_graph_plan(policy, graph, v, o, options, [&](const char* f) {
    if constexpr (std::is_same_v<Policy, exec::vulkan_policy>) {
      detail::require_same_context(f, "values", detail::context_of(policy), values);
      detail::require_same_context(f, "out", detail::context_of(policy), out);
    }
    detail::require(o.rows == v.rows && o.cols == v.cols, f, "out is ", o.rows, "x", o.cols, "; must match values (",
                    v.rows, "x", v.cols, ")");
  });
  if constexpr (std::is_same_v<Policy, exec::vulkan_policy>) {
    const detail::sm::device_graph_plan<T> d{plan, &values.storage(), &out.storage()};
    detail::dispatch(policy, [&](auto tag, const auto& p) { detail::sm::run(tag, p, d); });
  }
}
#endif

// The one-call pipeline: a KD-tree over `points`, the radius graph of the points
// themselves (max_neighbors > 0 keeps the nearest ones), then gaussian_smooth. The result
// agrees with radius_neighbors + gaussian_smooth to rounding (docs/smooth.md).
template <execution_policy Policy, class T, std::size_t Dim, class P, class U>
  requires std::is_same_v<std::remove_const_t<P>, T> && std::is_same_v<std::remove_const_t<U>, T>
void smooth_neighbors(const Policy& policy, points_view<P, Dim> points, matrix_view<U> values, matrix_view<T> out,
                      std::type_identity_t<T> radius, smooth_options options, std::size_t max_neighbors = 0) {
  const points_view<const T, Dim> pts = points;
  const matrix_view<const T> v = values;
  const char* f = "smooth_neighbors";
  detail::require(radius >= 0, f, "radius is ", radius, "; must be >= 0");
  detail::check_addressable(f, "points", pts);  // before any size of it is compared
  detail::sm::check_sigma(f, options.sigma);
  detail::require(v.rows == pts.count, f, "values has ", v.rows, " rows but there are ", pts.count,
                  " points; they must match");
  detail::sm::check_out<T>(f, v, out);
  detail::kd::check_view(f, "points", pts);
  detail::require(pts.count == 0 || out.rows == 0 || out.cols == 0 ||
                      !detail::ranges_overlap(pts.data, pts.end(), out.data, out.end()),
                  f, "out overlaps points");
  detail::kd::check_leaves(f, "points", pts.count, detail::sm::own_leaf_size);
  detail::kd::check_finite(f, "points", pts, detail::kd::host_executor_for(policy));
  const detail::sm::neighbors_plan<T, Dim> plan{
      pts, v, out, radius * radius, detail::sm::exponent_scale<T>(options.sigma), options.iterations, max_neighbors};
  detail::dispatch(policy, [&](auto tag, const auto& p) { detail::sm::run(tag, p, plan); });
}

}  // namespace polykern
