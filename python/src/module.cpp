// The core of the Python module: policies(), devices(), the exception types, and the
// helpers of common.hpp. Each kernel family registers itself from its own file.
#include "common.hpp"

#include <sstream>

namespace polykern::python {

std::vector<std::string> policy_names() {
  std::vector<std::string> names{"scalar", "simd"};
#if POLYKERN_HAS_OPENMP
  names.emplace_back("openmp");
#endif
#if POLYKERN_HAS_VULKAN
  names.emplace_back("vulkan");
  names.emplace_back("vulkan,openmp");
#endif
  return names;
}

policy_choice parse_policy(std::string_view function, const std::string& name, int threads) {
  if (threads < 0) throw_value_error(function, "threads is " + std::to_string(threads) + "; must be >= 0 (0 = default)");
  policy_choice p;
  p.threads = threads;
  if (name == "scalar") p.kind = policy_kind::scalar;
  else if (name == "simd") p.kind = policy_kind::simd;
#if POLYKERN_HAS_OPENMP
  else if (name == "openmp") p.kind = policy_kind::openmp;
#endif
#if POLYKERN_HAS_VULKAN
  else if (name == "vulkan") p.kind = policy_kind::vulkan;
  else if (name == "vulkan,openmp") p.kind = policy_kind::vulkan_openmp;
#endif
  else {
    std::string known;
    for (const auto& n : policy_names()) known += (known.empty() ? "'" : ", '") + n + "'";
    throw_value_error(function, "policy is '" + name + "'; this build offers " + known);
  }
  return p;
}

border_spec parse_border(std::string_view function, const std::string& name, double value) {
  border_spec b;
  b.value = value;
  if (name == "reflect") b.mode = border::reflect;
  else if (name == "reflect101" || name == "mirror") b.mode = border::reflect101;
  else if (name == "replicate" || name == "nearest") b.mode = border::replicate;
  else if (name == "constant") b.mode = border::constant;
  else if (name == "wrap" || name == "grid-wrap") b.mode = border::wrap;
  else
    throw_value_error(function, "border is '" + name +
                                    "'; must be 'reflect', 'reflect101', 'replicate', 'constant' or 'wrap' "
                                    "(or SciPy's 'mirror', 'nearest', 'grid-wrap')");
  return b;
}

void throw_value_error(std::string_view function, const std::string& message) {
  throw py::value_error(std::string(function) + ": " + message);
}
void throw_type_error(std::string_view function, const std::string& message) {
  throw py::type_error(std::string(function) + ": " + message);
}

element element_of(const py::array& a) {
  if (py::isinstance<py::array_t<std::uint8_t, 0>>(a)) return element::u8;
  if (py::isinstance<py::array_t<float, 0>>(a)) return element::f32;
  if (py::isinstance<py::array_t<double, 0>>(a)) return element::f64;
  return element::other;
}

std::string dtype_name(const py::array& a) { return py::str(a.dtype()).cast<std::string>(); }

std::string shape_text(const py::array& a) {
  std::ostringstream s;
  s << "(";
  for (py::ssize_t i = 0; i < a.ndim(); ++i) s << (i ? ", " : "") << a.shape(i);
  s << (a.ndim() == 1 ? ",)" : ")");
  return s.str();
}

py::array as_array(std::string_view function, const char* argument, const py::handle& obj) {
  if (py::isinstance<py::array>(obj)) return py::reinterpret_borrow<py::array>(obj);
  if (obj.is_none()) throw_type_error(function, std::string(argument) + " is None; must be an array");
  py::array a = py::array::ensure(obj);
  if (!a) {
    PyErr_Clear();
    throw_type_error(function, std::string(argument) + " must be an array");
  }
  return a;
}

image_shape shape_of_image(std::string_view function, const char* argument, const py::array& a,
                           std::size_t first_axis) {
  const auto rank = static_cast<std::size_t>(a.ndim()) - first_axis;
  if (rank != 2 && rank != 3)
    throw_type_error(function, std::string(argument) + " has shape " + shape_text(a) +
                                   "; an image must be H x W or H x W x C");
  image_shape s;
  s.height = static_cast<std::size_t>(a.shape(first_axis));
  s.width = static_cast<std::size_t>(a.shape(first_axis + 1));
  s.has_channel_axis = rank == 3;
  s.channels = rank == 3 ? static_cast<std::size_t>(a.shape(first_axis + 2)) : 1;
  return s;
}

std::optional<std::ptrdiff_t> viewable_row_stride(const py::array& a, std::size_t item, std::size_t first_axis) {
  const auto rank = static_cast<std::size_t>(a.ndim()) - first_axis;
  const auto h = a.shape(first_axis), w = a.shape(first_axis + 1);
  const py::ssize_t c = rank == 3 ? a.shape(first_axis + 2) : 1;
  const auto sz = static_cast<py::ssize_t>(item);
  if (h == 0 || w == 0 || c == 0) return static_cast<std::ptrdiff_t>(w * c);  // empty: the kernel rejects it
  if (reinterpret_cast<std::uintptr_t>(a.data()) % item != 0) return std::nullopt;
  if (rank == 3 && c > 1 && a.strides(first_axis + 2) != sz) return std::nullopt;
  if (w > 1 && a.strides(first_axis + 1) != c * sz) return std::nullopt;
  if (h <= 1) return static_cast<std::ptrdiff_t>(w * c);
  const auto rs = a.strides(first_axis);
  if (rs % sz != 0 || rs < w * c * sz) return std::nullopt;
  return static_cast<std::ptrdiff_t>(rs / sz);
}

std::optional<std::ptrdiff_t> viewable_matrix_stride(const py::array& a, std::size_t item) {
  const auto n = a.shape(0);
  const py::ssize_t c = a.ndim() == 2 ? a.shape(1) : 1;
  const auto sz = static_cast<py::ssize_t>(item);
  if (n == 0 || c == 0) return static_cast<std::ptrdiff_t>(c);  // nothing to read or write
  if (reinterpret_cast<std::uintptr_t>(a.data()) % item != 0) return std::nullopt;
  if (a.ndim() == 2 && c > 1 && a.strides(1) != sz) return std::nullopt;
  if (n <= 1) return static_cast<std::ptrdiff_t>(c);
  const auto rs = a.strides(0);
  if (rs % sz != 0 || rs < c * sz) return std::nullopt;
  return static_cast<std::ptrdiff_t>(rs / sz);
}

void check_output_array(std::string_view function, const char* argument, py::array& out, element want,
                        const std::vector<py::ssize_t>& expected) {
  static const char* const names[] = {"uint8", "float32", "float64"};
  if (element_of(out) != want)
    throw_type_error(function, std::string(argument) + " has dtype " + dtype_name(out) + "; must be " +
                                   names[static_cast<int>(want)]);
  bool same = static_cast<std::size_t>(out.ndim()) == expected.size();
  for (std::size_t i = 0; same && i < expected.size(); ++i) same = out.shape(static_cast<py::ssize_t>(i)) == expected[i];
  if (!same) {
    std::string shape = "(";
    for (std::size_t i = 0; i < expected.size(); ++i) shape += (i ? ", " : "") + std::to_string(expected[i]);
    shape += expected.size() == 1 ? ",)" : ")";
    throw_value_error(function, std::string(argument) + " has shape " + shape_text(out) + "; must be " + shape);
  }
  if (!out.writeable()) throw_value_error(function, std::string(argument) + " is read-only");
}

py::array aligned_empty(const py::dtype& dtype, const std::vector<py::ssize_t>& shape) {
  constexpr std::size_t alignment = 64;
  py::ssize_t count = 1;
  for (const auto d : shape) count *= d;
  const auto item = static_cast<std::size_t>(dtype.itemsize());
  py::array_t<std::uint8_t> buffer(static_cast<py::ssize_t>(static_cast<std::size_t>(count) * item + alignment));
  std::uint8_t* raw = buffer.mutable_data();
  const std::size_t offset = (alignment - reinterpret_cast<std::uintptr_t>(raw) % alignment) % alignment;
  std::vector<py::ssize_t> strides(shape.size());
  py::ssize_t stride = static_cast<py::ssize_t>(item);
  for (std::size_t i = shape.size(); i-- > 0;) {
    strides[i] = stride;
    stride *= shape[i];
  }
  return py::array(dtype, shape, strides, raw + offset, buffer);
}

void require_viewable(bool ok, std::string_view function, const char* argument) {
  if (!ok)
    throw_value_error(function, std::string(argument) +
                                    " cannot be written in place: its elements within a row must be contiguous "
                                    "(rows may be strided), aligned, with a positive row stride");
}

}  // namespace polykern::python

namespace py = pybind11;
namespace pyk = polykern::python;

PYBIND11_MODULE(_polykern, m) {
  m.doc() = "polykern: compute kernels over execution policies (scalar, simd, openmp, vulkan)";
  // invalid_argument derives std::invalid_argument, which pybind11 maps to ValueError with
  // the message; vulkan_error gets its own RuntimeError subclass.
  static py::exception<polykern::vulkan_error> vulkan_error(m, "VulkanError", PyExc_RuntimeError);
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const polykern::vulkan_error& e) {
      vulkan_error(e.what());
    }
  });
  m.def("policies", &pyk::policy_names, "The policy names this build offers.");
  m.def(
      "devices",
      []() {
        py::list out;
#if POLYKERN_HAS_VULKAN
        std::vector<polykern::vulkan::device_info> found;
        try {
          py::gil_scoped_release release;
          found = polykern::vulkan::context::list_devices();
        } catch (const polykern::vulkan_error&) {
          return out;  // no loader or no instance: no devices
        }
        for (const auto& d : found) {
          py::dict entry;
          entry["index"] = d.index;
          entry["name"] = d.name;
          entry["type"] = d.type;
          entry["driver"] = d.driver;
          entry["device_local_bytes"] = d.device_local_bytes();
          entry["unified_memory"] = d.unified_memory;
          entry["max_storage_buffer_range"] = d.max_storage_buffer_range;
          out.append(entry);
        }
#endif
        return out;
      },
      "Vulkan devices as dicts (name, type, driver, device_local_bytes, unified_memory, "
      "max_storage_buffer_range); [] when none.");
  m.def(
      "empty",
      [](const std::vector<py::ssize_t>& shape, const py::object& dtype) {
        return pyk::aligned_empty(py::dtype::from_args(dtype), shape);
      },
      py::arg("shape"), py::arg("dtype") = py::dtype::of<float>(),
      "numpy.empty with the data on a 64-byte boundary (the layout polykern's kernels run fastest on).");
  m.attr("has_vulkan") = bool(POLYKERN_HAS_VULKAN);
  m.attr("has_openmp") = bool(POLYKERN_HAS_OPENMP);
  pyk::register_convolve(m);
  pyk::register_warp(m);
  pyk::register_affine(m);
  pyk::register_smooth(m);
}
