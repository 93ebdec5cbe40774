// Python bindings of KD-tree neighbour search and smoothing (<polykern/kdtree.hpp>,
// <polykern/smooth.hpp>): KDTree, NeighborGraph, gaussian_smooth, smooth_neighbors.
#include <polykern/kdtree.hpp>
#include <polykern/smooth.hpp>

#include <variant>

#include "common.hpp"

namespace polykern::python {
namespace {

// N x C values (or N, seen as N x 1) of the expected type.
template <class T>
matrix_view<const T> input_values(std::string_view function, py::array& a) {
  if (a.ndim() != 1 && a.ndim() != 2)
    throw_type_error(function, "values has shape " + shape_text(a) + "; must be N x C or N");
  if (element_of(a) != element_for<T>())
    throw_type_error(function, "values has dtype " + dtype_name(a) + "; must be " +
                                   (std::is_same_v<T, float> ? "float32" : "float64") + " (the points' dtype)");
  auto stride = viewable_matrix_stride(a, sizeof(T));
  const auto cols = static_cast<std::size_t>(a.ndim() == 2 ? a.shape(1) : 1);
  if (!stride) {
    a = py::array_t<T, py::array::c_style>::ensure(a);
    stride = static_cast<std::ptrdiff_t>(cols);
  }
  return {static_cast<const T*>(a.data()), static_cast<std::size_t>(a.shape(0)), cols, *stride};
}

template <class T>
matrix_view<T> output_values(std::string_view function, py::array& out) {
  const auto stride = viewable_matrix_stride(out, sizeof(T));
  require_viewable(stride.has_value(), function, "out");
  const auto cols = static_cast<std::size_t>(out.ndim() == 2 ? out.shape(1) : 1);
  return {static_cast<T*>(out.mutable_data()), static_cast<std::size_t>(out.shape(0)), cols, *stride};
}

std::vector<py::ssize_t> shape_vector(const py::array& a) {
  return std::vector<py::ssize_t>(a.shape(), a.shape() + a.ndim());
}

// Queries must have the tree's dtype (TypeError otherwise).
template <class T>
points_view<const T, 3> tree_queries(std::string_view function, py::array& q) {
  if (element_of(q) != element_for<T>())
    throw_type_error(function, "queries has dtype " + dtype_name(q) + "; must be the tree's " +
                                   (std::is_same_v<T, float> ? "float32" : "float64"));
  return input_points<T>(function, "queries", q);
}

struct py_graph {
  std::variant<neighbor_graph<float>, neighbor_graph<double>> graph;
  std::size_t columns = 0;  // points of the tree (for to_scipy)
};

struct py_tree {
  std::variant<kdtree<float>, kdtree<double>> tree;
};

// Runs query(policy, tree, queries view) -> neighbor_graph with the GIL released.
template <class Query>
py_graph query_graph(std::string_view function, const py_tree& self, const py::handle& queries_obj,
                     const std::string& policy, int threads, Query&& query) {
  const policy_choice pol = parse_policy(function, policy, threads);
  py::array q = as_array(function, "queries", queries_obj);
  return std::visit(
      [&](const auto& tree) {
        using T = typename std::remove_cvref_t<decltype(tree)>::value_type;
        const points_view<const T, 3> view = tree_queries<T>(function, q);
        return run_released(pol, [&](const auto& p) { return py_graph{query(p, tree, view), tree.size()}; });
      },
      self.tree);
}

// A read-only array over a vector the Python object `owner` keeps alive.
template <class T>
py::array borrowed(const std::vector<T>& v, const py::object& owner) {
  py::array_t<T> a({static_cast<py::ssize_t>(v.size())}, {static_cast<py::ssize_t>(sizeof(T))}, v.data(), owner);
  py::detail::array_proxy(a.ptr())->flags &= ~py::detail::npy_api::NPY_ARRAY_WRITEABLE_;
  return a;
}

template <class T>
py::array gaussian_smooth_typed(std::string_view fn, const neighbor_graph<T>& g, py::array& values, double sigma,
                                std::size_t iterations, const py::object& out_obj, const policy_choice& pol) {
  const matrix_view<const T> v = input_values<T>(fn, values);
  py::array out = make_or_check_output<T>(fn, "out", out_obj, shape_vector(values));
  const matrix_view<T> o = output_values<T>(fn, out);
  run_released(pol, [&](const auto& p) { polykern::gaussian_smooth(p, g, v, o, smooth_options{sigma, iterations}); });
  return out;
}

}  // namespace

void register_smooth(py::module_& m) {
  using namespace py::literals;

  py::class_<py_graph>(m, "NeighborGraph", "Neighbours of each query in CSR form, rows sorted by (dist2, index).")
      .def_property_readonly("offsets",
                             [](const py::object& self) {
                               return std::visit([&](const auto& g) { return borrowed(g.offsets, self); },
                                                 self.cast<const py_graph&>().graph);
                             })
      .def_property_readonly("indices",
                             [](const py::object& self) {
                               return std::visit([&](const auto& g) { return borrowed(g.indices, self); },
                                                 self.cast<const py_graph&>().graph);
                             })
      .def_property_readonly("dist2",
                             [](const py::object& self) {
                               return std::visit([&](const auto& g) { return borrowed(g.dist2, self); },
                                                 self.cast<const py_graph&>().graph);
                             })
      .def_property_readonly("rows",
                             [](const py_graph& g) { return std::visit([](const auto& x) { return x.rows(); }, g.graph); })
      .def_property_readonly("columns", [](const py_graph& g) { return g.columns; })
      .def("__len__", [](const py_graph& g) { return std::visit([](const auto& x) { return x.rows(); }, g.graph); })
      .def(
          "to_scipy",
          [](const py::object& self) {
            const auto& g = self.cast<const py_graph&>();
            const py::object csr = py::module_::import("scipy.sparse").attr("csr_matrix");
            const std::size_t rows = std::visit([](const auto& x) { return x.rows(); }, g.graph);
            return csr(py::make_tuple(self.attr("dist2"), self.attr("indices"), self.attr("offsets")),
                       "shape"_a = py::make_tuple(rows, g.columns), "copy"_a = true);
          },
          "scipy.sparse.csr_matrix of dist2 (rows = queries, columns = tree points; a point's own entry is an "
          "explicit 0).");

  py::class_<py_tree>(m, "KDTree", "A KD-tree over N x 3 float32 or float64 points, built once, queried many times.")
      .def(py::init([](const py::handle& points_obj, std::size_t leaf_size, const std::string& policy, int threads) {
             constexpr std::string_view fn = "kdtree";
             const policy_choice pol = parse_policy(fn, policy, threads);
             py::array pts = as_array(fn, "points", points_obj);
             return by_coordinate(fn, "points", pts, [&](auto coordinate) {
               using T = decltype(coordinate);
               const points_view<const T, 3> view = input_points<T>(fn, "points", pts);
               return run_released(pol, [&](const auto& p) { return py_tree{kdtree<T>(p, view, leaf_size)}; });
             });
           }),
           "points"_a, "leaf_size"_a = 16, "policy"_a = "openmp", "threads"_a = 0)
      .def_property_readonly("size", [](const py_tree& t) { return std::visit([](const auto& x) { return x.size(); }, t.tree); })
      .def_property_readonly("dtype",
                             [](const py_tree& t) {
                               return t.tree.index() == 0 ? py::dtype::of<float>() : py::dtype::of<double>();
                             })
      .def("__len__", [](const py_tree& t) { return std::visit([](const auto& x) { return x.size(); }, t.tree); })
      .def(
          "radius_neighbors",
          [](const py_tree& self, const py::handle& queries, double radius, std::size_t max_neighbors,
             const std::string& policy, int threads) {
            return query_graph("radius_neighbors", self, queries, policy, threads,
                               [&](const auto& p, const auto& tree, auto view) {
                                 using T = typename std::remove_cvref_t<decltype(tree)>::value_type;
                                 return polykern::radius_neighbors(p, tree, view, static_cast<T>(radius), max_neighbors);
                               });
          },
          "queries"_a, "radius"_a, "max_neighbors"_a = 0, "policy"_a = "openmp", "threads"_a = 0,
          "Every tree point within radius (inclusive) of each query; max_neighbors > 0 keeps the nearest ones.")
      .def(
          "knn_neighbors",
          [](const py_tree& self, const py::handle& queries, std::size_t k, const std::string& policy, int threads) {
            return query_graph("knn_neighbors", self, queries, policy, threads,
                               [&](const auto& p, const auto& tree, auto view) {
                                 return polykern::knn_neighbors(p, tree, view, k);
                               });
          },
          "queries"_a, "k"_a, "policy"_a = "openmp", "threads"_a = 0,
          "The min(k, size) nearest tree points of each query.");

  m.def(
      "gaussian_smooth",
      [](const py_graph& g, const py::handle& values_obj, double sigma, std::size_t iterations, const py::object& out,
         const std::string& policy, int threads) {
        constexpr std::string_view fn = "gaussian_smooth";
        const policy_choice pol = parse_policy(fn, policy, threads);
        py::array values = as_array(fn, "values", values_obj);
        return std::visit(
            [&](const auto& graph) { return gaussian_smooth_typed(fn, graph, values, sigma, iterations, out, pol); },
            g.graph);
      },
      "graph"_a, "values"_a, "sigma"_a, "iterations"_a = 1, "out"_a = py::none(), "policy"_a = "openmp",
      "threads"_a = 0, "Jacobi iterations of out_i = sum_j w_ij v_j / sum_j w_ij, w_ij = exp(-dist2_ij / (2 sigma^2)).");
  m.def(
      "smooth_neighbors",
      [](const py::handle& points_obj, const py::handle& values_obj, double radius, double sigma, std::size_t iterations,
         std::size_t max_neighbors, const py::object& out_obj, const std::string& policy, int threads) {
        constexpr std::string_view fn = "smooth_neighbors";
        const policy_choice pol = parse_policy(fn, policy, threads);
        py::array pts = as_array(fn, "points", points_obj);
        py::array values = as_array(fn, "values", values_obj);
        return by_coordinate(fn, "points", pts, [&](auto coordinate) -> py::object {
          using T = decltype(coordinate);
          const points_view<const T, 3> view = input_points<T>(fn, "points", pts);
          const matrix_view<const T> v = input_values<T>(fn, values);
          py::array out = make_or_check_output<T>(fn, "out", out_obj, shape_vector(values));
          const matrix_view<T> o = output_values<T>(fn, out);
          const auto r = static_cast<T>(radius);
          run_released(pol, [&](const auto& p) {
            polykern::smooth_neighbors(p, view, v, o, r, smooth_options{sigma, iterations}, max_neighbors);
          });
          return out;
        });
      },
      "points"_a, "values"_a, "radius"_a, "sigma"_a, "iterations"_a = 1, "max_neighbors"_a = 0, "out"_a = py::none(),
      "policy"_a = "openmp", "threads"_a = 0,
      "KD-tree + radius graph of the points themselves + gaussian_smooth, in one call.");
}

}  // namespace polykern::python
