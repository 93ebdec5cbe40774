// Python bindings of the batched affine transforms (<polykern/affine.hpp>).
#include <polykern/affine.hpp>

#include "common.hpp"

namespace polykern::python {
namespace {

template <class T>
points_view<T, 3> output_points(std::string_view function, py::array& out) {
  const auto stride = viewable_matrix_stride(out, sizeof(T));
  require_viewable(stride.has_value(), function, "out");
  return {static_cast<T*>(out.mutable_data()), static_cast<std::size_t>(out.shape(0)), *stride};
}

// One 3 x 4 [R | t] or 4 x 4 matrix (last row 0 0 0 1) from a (3|4) x 4 block of doubles.
template <class T>
affine3<T> matrix_from(const double* m, std::size_t rows) {
  if (rows == 4) {
    T full[4][4];
    for (int r = 0; r < 4; ++r)
      for (int c = 0; c < 4; ++c) full[r][c] = static_cast<T>(m[4 * r + c]);
    return make_affine3(full);  // rejects a last row other than (0, 0, 0, 1)
  }
  affine3<T> a;
  for (int r = 0; r < 3; ++r)
    for (int c = 0; c < 4; ++c) a.m[r][c] = static_cast<T>(m[4 * r + c]);
  return a;
}

template <class T>
std::vector<affine3<T>> take_matrices(std::string_view function, const char* argument, const py::handle& obj,
                                      bool batched) {
  const auto a = small_array<double>(function, argument, obj);
  const py::ssize_t rank = batched ? 3 : 2;
  const py::ssize_t rows = a.ndim() == rank ? a.shape(rank - 2) : 0;
  if (a.ndim() != rank || (rows != 3 && rows != 4) || a.shape(rank - 1) != 4)
    throw_type_error(function, std::string(argument) + " has shape " + shape_text(a) + "; must be " +
                                   (batched ? "S x 3 x 4 or S x 4 x 4" : "3 x 4 or 4 x 4"));
  const std::size_t count = batched ? static_cast<std::size_t>(a.shape(0)) : 1;
  std::vector<affine3<T>> out;
  out.reserve(count);
  for (std::size_t s = 0; s < count; ++s) out.push_back(matrix_from<T>(a.data() + s * rows * 4, static_cast<std::size_t>(rows)));
  return out;
}

enum class what { points, normals };

template <what W>
py::object transform_py(const py::handle& points_obj, const py::handle& matrix, const py::object& out_obj,
                        const std::string& policy, int threads) {
  constexpr std::string_view fn = W == what::points ? "transform_points" : "transform_normals";
  const policy_choice pol = parse_policy(fn, policy, threads);
  py::array pts = as_array(fn, "points", points_obj);
  return by_coordinate(fn, "points", pts, [&](auto coordinate) -> py::object {
    using T = decltype(coordinate);
    const points_view<const T, 3> in = input_points<T>(fn, "points", pts);
    const affine3<T> m = take_matrices<T>(fn, "M", matrix, false)[0];
    py::array out = make_or_check_output<T>(fn, "out", out_obj, {py::ssize_t(in.count), 3});
    const points_view<T, 3> o = output_points<T>(fn, out);
    run_released(pol, [&](const auto& p) {
      if constexpr (W == what::points) polykern::transform_points(p, in, m, o);
      else polykern::transform_normals(p, in, m, o);
    });
    return out;
  });
}

template <what W>
py::object transform_batched_py(const py::handle& points_obj, const py::handle& offsets_obj, const py::handle& matrices,
                                const py::object& out_obj, const std::string& policy, int threads) {
  constexpr std::string_view fn = W == what::points ? "transform_points_batched" : "transform_normals_batched";
  const policy_choice pol = parse_policy(fn, policy, threads);
  py::array pts = as_array(fn, "points", points_obj);
  py::array raw_offsets = as_array(fn, "offsets", offsets_obj);
  if (raw_offsets.ndim() != 1) throw_type_error(fn, "offsets has shape " + shape_text(raw_offsets) + "; must be 1D");
  if (raw_offsets.size() > 0 && !py::isinstance<py::array_t<std::int64_t, 0>>(raw_offsets) &&
      !py::isinstance<py::array_t<std::uint64_t, 0>>(raw_offsets) && raw_offsets.dtype().kind() != 'i' &&
      raw_offsets.dtype().kind() != 'u')
    throw_type_error(fn, "offsets has dtype " + dtype_name(raw_offsets) + "; must be integers");
  const auto signed_offsets = small_array<std::int64_t>(fn, "offsets", raw_offsets);
  std::vector<std::size_t> offsets(static_cast<std::size_t>(signed_offsets.size()));
  for (std::size_t i = 0; i < offsets.size(); ++i) {
    const std::int64_t v = signed_offsets.data()[i];
    if (v < 0) throw_value_error(fn, "offsets[" + std::to_string(i) + "] is " + std::to_string(v) + "; must be >= 0");
    offsets[i] = static_cast<std::size_t>(v);
  }
  if (offsets.empty()) throw_value_error(fn, "offsets is empty; must have one entry more than matrices");
  return by_coordinate(fn, "points", pts, [&](auto coordinate) -> py::object {
    using T = decltype(coordinate);
    const points_view<const T, 3> in = input_points<T>(fn, "points", pts);
    const std::vector<affine3<T>> ms = take_matrices<T>(fn, "matrices", matrices, true);
    py::array out = make_or_check_output<T>(fn, "out", out_obj, {py::ssize_t(in.count), 3});
    const points_view<T, 3> o = output_points<T>(fn, out);
    run_released(pol, [&](const auto& p) {
      if constexpr (W == what::points) polykern::transform_points_batched(p, in, offsets, ms, o);
      else polykern::transform_normals_batched(p, in, offsets, ms, o);
    });
    return out;
  });
}

}  // namespace

void register_affine(py::module_& m) {
  using namespace py::literals;
  m.def("transform_points", &transform_py<what::points>, "points"_a, "M"_a, "out"_a = py::none(), "policy"_a = "openmp",
        "threads"_a = 0, "out = R p + t for N x 3 points; M is 3 x 4 [R | t] or 4 x 4.");
  m.def("transform_normals", &transform_py<what::normals>, "normals"_a, "M"_a, "out"_a = py::none(),
        "policy"_a = "openmp", "threads"_a = 0, "out = normalize(inverse(R)^T n); a zero normal stays zero.");
  m.def("transform_points_batched", &transform_batched_py<what::points>, "points"_a, "offsets"_a, "matrices"_a,
        "out"_a = py::none(), "policy"_a = "openmp", "threads"_a = 0,
        "Segment s = points[offsets[s]:offsets[s+1]] transformed by matrices[s] (S x 3 x 4).");
  m.def("transform_normals_batched", &transform_batched_py<what::normals>, "normals"_a, "offsets"_a, "matrices"_a,
        "out"_a = py::none(), "policy"_a = "openmp", "threads"_a = 0,
        "transform_normals per segment, matrices S x 3 x 4.");
}

}  // namespace polykern::python
