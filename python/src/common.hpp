// Shared helpers of the Python bindings: policy names, border/method names, and NumPy
// arrays as polykern views (no copy where the strides allow). Only public headers.
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <polykern/border.hpp>
#include <polykern/error.hpp>
#include <polykern/execution.hpp>
#include <polykern/view.hpp>
#if POLYKERN_HAS_VULKAN
#include <polykern/vulkan.hpp>
#endif

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace polykern::python {

namespace py = pybind11;

// The module's families register themselves from their own translation units.
void register_convolve(py::module_& m);
void register_warp(py::module_& m);
void register_affine(py::module_& m);
void register_smooth(py::module_& m);

// ---- policies ----
enum class policy_kind { scalar, simd, openmp, vulkan, vulkan_openmp };

struct policy_choice {
  policy_kind kind = policy_kind::openmp;
  int threads = 0;
};

// The names this build offers, in the order policies() lists them.
std::vector<std::string> policy_names();
// Parses policy= and threads=; an unknown or unavailable name is a ValueError.
policy_choice parse_policy(std::string_view function, const std::string& name, int threads);

// Calls f with the policy object (the GIL is released around the call by the caller).
template <class F>
decltype(auto) visit_policy(const policy_choice& p, F&& f) {
  switch (p.kind) {
#if POLYKERN_HAS_OPENMP
    case policy_kind::openmp: return f(exec::openmp_policy{.threads = p.threads});
#endif
#if POLYKERN_HAS_VULKAN
    case policy_kind::vulkan: return f(exec::vulkan);
    case policy_kind::vulkan_openmp:
#if POLYKERN_HAS_OPENMP
      return f(exec::with_fallback(exec::vulkan, exec::openmp_policy{.threads = p.threads}));
#else
      return f(exec::with_fallback(exec::vulkan, exec::simd));
#endif
#endif
    case policy_kind::simd: return f(exec::simd);
    default: return f(exec::scalar);
  }
}

// Runs f(policy) with the GIL released: threads calling polykern run in parallel.
template <class F>
decltype(auto) run_released(const policy_choice& p, F&& f) {
  py::gil_scoped_release release;
  return visit_policy(p, std::forward<F>(f));
}

// ---- names of enums ----
border_spec parse_border(std::string_view function, const std::string& name, double value);

[[noreturn]] void throw_value_error(std::string_view function, const std::string& message);
[[noreturn]] void throw_type_error(std::string_view function, const std::string& message);

// ---- element types ----
enum class element { u8, f32, f64, other };
element element_of(const py::array& a);
std::string dtype_name(const py::array& a);
std::string shape_text(const py::array& a);  // "(3, 4)"

template <class T>
element element_for() {
  if constexpr (std::is_same_v<T, std::uint8_t>) return element::u8;
  else if constexpr (std::is_same_v<T, float>) return element::f32;
  else return element::f64;
}

// Any array-like as an ndarray (lists become arrays; dtype kept).
py::array as_array(std::string_view function, const char* argument, const py::handle& obj);

// ---- images: H x W or H x W x C; pixels within a row contiguous, rows at any stride ----
struct image_shape {
  std::size_t height = 0, width = 0, channels = 1;
  bool has_channel_axis = false;
  std::vector<py::ssize_t> dims() const {
    if (has_channel_axis) return {py::ssize_t(height), py::ssize_t(width), py::ssize_t(channels)};
    return {py::ssize_t(height), py::ssize_t(width)};
  }
};

image_shape shape_of_image(std::string_view function, const char* argument, const py::array& a,
                           std::size_t first_axis = 0);
// Row stride in elements when `a` (from first_axis on) can be viewed without a copy.
std::optional<std::ptrdiff_t> viewable_row_stride(const py::array& a, std::size_t item, std::size_t first_axis = 0);

// An input image: a view of `a` itself when possible, else of a C-contiguous copy kept in `keep`.
template <class T>
image_view<const T> input_image(std::string_view function, const char* argument, py::array& a) {
  const image_shape s = shape_of_image(function, argument, a);
  auto stride = viewable_row_stride(a, sizeof(T));
  if (!stride) {
    a = py::array_t<T, py::array::c_style>::ensure(a);
    stride = static_cast<std::ptrdiff_t>(s.width * s.channels);
  }
  return image_view<const T>(static_cast<const T*>(a.data()), s.width, s.height, s.channels, *stride);
}

// Checks that out has the dtype (TypeError), the expected shape, is writeable and can be
// viewed without a copy (ValueError); nothing is written here.
void check_output_array(std::string_view function, const char* argument, py::array& out, element want,
                        const std::vector<py::ssize_t>& expected);

// A new C-contiguous array whose data starts on a 64-byte boundary (as polykern::image's
// rows do): NumPy's own allocations are 16-byte aligned, which costs the AVX-512 passes
// ~20% (W1 in docs/python.md).
py::array aligned_empty(const py::dtype& dtype, const std::vector<py::ssize_t>& shape);

// out= given: checked and viewed; None: a new 64-byte aligned C-contiguous array of that shape.
template <class T>
py::array make_or_check_output(std::string_view function, const char* argument, const py::object& out,
                               const std::vector<py::ssize_t>& shape) {
  if (out.is_none()) return aligned_empty(py::dtype::of<T>(), shape);
  if (!py::isinstance<py::array>(out))
    throw_type_error(function, std::string(argument) + " must be a numpy.ndarray or None");
  py::array a = py::reinterpret_borrow<py::array>(out);
  check_output_array(function, argument, a, element_for<T>(), shape);
  return a;
}

// ValueError unless ok: an out= array polykern cannot write without a copy.
void require_viewable(bool ok, std::string_view function, const char* argument);

template <class T>
image_view<T> view_output_image(std::string_view function, const char* argument, py::array& out,
                                const image_shape& s, std::size_t first_axis = 0) {
  const auto stride = viewable_row_stride(out, sizeof(T), first_axis);
  require_viewable(stride.has_value(), function, argument);
  return image_view<T>(static_cast<T*>(out.mutable_data()), s.width, s.height, s.channels, *stride);
}

// Calls f(T{}) for the image's pixel type (uint8 or float32); anything else is a TypeError.
template <class F>
decltype(auto) by_pixel(std::string_view function, const char* argument, const py::array& a, F&& f) {
  switch (element_of(a)) {
    case element::u8: return f(std::uint8_t{});
    case element::f32: return f(float{});
    default:
      throw_type_error(function, std::string(argument) + " has dtype " + dtype_name(a) + "; must be uint8 or float32");
  }
}

// ---- rows of values: N x C (points, per-point values); columns contiguous ----
std::optional<std::ptrdiff_t> viewable_matrix_stride(const py::array& a, std::size_t item);

// Calls f(T{}) for the points' coordinate type (float32 or float64); else a TypeError.
template <class F>
decltype(auto) by_coordinate(std::string_view function, const char* argument, const py::array& a, F&& f) {
  switch (element_of(a)) {
    case element::f32: return f(float{});
    case element::f64: return f(double{});
    default:
      throw_type_error(function, std::string(argument) + " has dtype " + dtype_name(a) + "; must be float32 or float64");
  }
}

// N x 3 points: a view of `a` when its coordinates are contiguous, else of a copy kept in `a`.
template <class T>
points_view<const T, 3> input_points(std::string_view function, const char* argument, py::array& a) {
  if (a.ndim() != 2) throw_type_error(function, std::string(argument) + " has shape " + shape_text(a) + "; must be N x 3");
  if (a.shape(1) != 3) throw_value_error(function, std::string(argument) + " has shape " + shape_text(a) + "; must be N x 3");
  auto stride = viewable_matrix_stride(a, sizeof(T));
  if (!stride) {
    a = py::array_t<T, py::array::c_style>::ensure(a);
    stride = 3;
  }
  return {static_cast<const T*>(a.data()), static_cast<std::size_t>(a.shape(0)), *stride};
}

// A float array of the given dtype (copied/converted when needed), for small parameters.
template <class T>
py::array_t<T, py::array::c_style> small_array(std::string_view function, const char* argument,
                                               const py::handle& obj) {
  auto a = py::array_t<T, py::array::c_style | py::array::forcecast>::ensure(obj);
  if (!a) {
    PyErr_Clear();
    throw_type_error(function, std::string(argument) + " must be an array of numbers");
  }
  return a;
}

}  // namespace polykern::python
