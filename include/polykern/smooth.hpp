// Gaussian smoothing of per-point values over a neighbour graph (api.md §5):
// gaussian_smooth, and smooth_neighbors (tree + graph + smoothing in one call).
// Semantics and the choices the contract leaves open are in docs/smooth.md.
#pragma once
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "backend/openmp/smooth.hpp"
#include "backend/scalar/smooth.hpp"
#include "backend/simd/smooth.hpp"
#include "error.hpp"
#include "execution.hpp"
#include "kdtree.hpp"
#include "view.hpp"
#if POLYKERN_HAS_VULKAN
#include "backend/vulkan/smooth.hpp"
#endif

namespace polykern {

namespace detail::sm {
template <class T>
void check_matrix(const char* function, const char* argument, matrix_view<const T> m) {
  check_addressable(function, argument, m);
  require(m.rows <= 1 || m.cols == 0 || m.row_stride >= static_cast<std::ptrdiff_t>(m.cols), function, argument,
          ".row_stride is ", m.row_stride, "; must be >= cols (", m.cols, ")");
  require(m.rows == 0 || m.cols == 0 || m.data != nullptr, function, argument, ".data is null with ", m.rows, "x",
          m.cols);
}
template <class T>
void check_out(const char* function, matrix_view<const T> values, matrix_view<T> out) {
  check_matrix<T>(function, "values", values);
  check_matrix<T>(function, "out", out);
  require(out.rows == values.rows && out.cols == values.cols, function, "out is ", out.rows, "x", out.cols,
          "; must match values (", values.rows, "x", values.cols, ")");
  require(same_or_disjoint(values.data, values.end(), values.row_stride, static_cast<const T*>(out.data),
                           static_cast<const T*>(out.end()), out.row_stride),
          function, "out overlaps values without being values itself (same data and row_stride)");
}
inline void check_sigma(const char* function, const smooth_options& options) {
  require(options.sigma > 0, function, "options.sigma is ", options.sigma, "; must be > 0");
}
template <class T>
void check_graph(const neighbor_graph<T>& g) {
  const char* f = "gaussian_smooth";
  require(!g.offsets.empty(), f, "graph.offsets is empty; must hold rows + 1 entries");
  require(g.offsets[0] == 0, f, "graph.offsets[0] is ", g.offsets[0], "; must be 0");
  require(g.indices.size() == g.dist2.size(), f, "graph has ", g.indices.size(), " indices and ", g.dist2.size(),
          " dist2 entries; must be equal");
  for (std::size_t r = 0; r + 1 < g.offsets.size(); ++r)
    require(g.offsets[r] <= g.offsets[r + 1], f, "graph.offsets[", r + 1, "] is ", g.offsets[r + 1],
            "; must be >= offsets[", r, "] (", g.offsets[r], ")");
  require(g.offsets.back() == g.indices.size(), f, "graph.offsets.back() is ", g.offsets.back(), "; must be ",
          g.indices.size(), " (the number of entries)");
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
  detail::sm::check_sigma("gaussian_smooth", options);
  detail::sm::check_graph(graph);
  detail::require(v.rows == graph.rows(), "gaussian_smooth", "values has ", v.rows, " rows but the graph has ",
                  graph.rows(), "; they must match");
  detail::sm::check_out<T>("gaussian_smooth", v, out);
  const T a = detail::sm::exponent_scale<T>(options.sigma);
  detail::dispatch(policy, [&](auto tag, const auto& p) {
    detail::sm::smooth(tag, p, graph, v, out, a, options.iterations);
  });
}

// The one-call pipeline: a KD-tree over `points`, the radius graph of the points
// themselves (max_neighbors > 0 keeps the nearest ones), then gaussian_smooth. The result
// equals radius_neighbors + gaussian_smooth with the same arguments, bitwise.
template <execution_policy Policy, class T, std::size_t Dim, class P, class U>
  requires std::is_same_v<std::remove_const_t<P>, T> && std::is_same_v<std::remove_const_t<U>, T>
void smooth_neighbors(const Policy& policy, points_view<P, Dim> points, matrix_view<U> values, matrix_view<T> out,
                      std::type_identity_t<T> radius, smooth_options options, std::size_t max_neighbors = 0) {
  const points_view<const T, Dim> pts = points;
  const matrix_view<const T> v = values;
  const char* f = "smooth_neighbors";
  detail::require(radius >= 0, f, "radius is ", radius, "; must be >= 0");
  detail::check_addressable(f, "points", pts);
  detail::sm::check_sigma(f, options);
  detail::require(v.rows == pts.count, f, "values has ", v.rows, " rows but there are ", pts.count,
                  " points; they must match");
  detail::sm::check_out<T>(f, v, out);
  detail::require(pts.count == 0 || out.rows == 0 || out.cols == 0 ||
                      !detail::ranges_overlap(pts.data, pts.end(), out.data, out.end()),
                  f, "out overlaps points");
  detail::kd::check_view(f, "points", pts);  // the tree's build rejects non-finite coordinates
  const T a = detail::sm::exponent_scale<T>(options.sigma);
  detail::dispatch(policy, [&](auto tag, const auto& p) {
    detail::sm::smooth_neighbors(tag, p, pts, v, out, radius * radius, a, options.iterations, max_neighbors);
  });
}

}  // namespace polykern
