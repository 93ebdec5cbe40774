// Python bindings of the image warps (<polykern/warp.hpp>): warp_affine, resize, compose.
#include <polykern/warp.hpp>

#include "common.hpp"

namespace polykern::python {
namespace {

interpolation parse_interpolation(std::string_view function, const std::string& name) {
  if (name == "bilinear" || name == "linear") return interpolation::bilinear;
  if (name == "nearest") return interpolation::nearest;
  if (name == "area") return interpolation::area;
  throw_value_error(function, "interpolation is '" + name + "'; must be 'bilinear', 'nearest' or 'area'");
}

// A 2 x 3 matrix (cv2.warpAffine's M), as doubles.
affine2<double> take_affine2(std::string_view function, const char* argument, const py::handle& obj) {
  const auto a = small_array<double>(function, argument, obj);
  if (a.ndim() != 2 || a.shape(0) != 2 || a.shape(1) != 3)
    throw_type_error(function, std::string(argument) + " has shape " + shape_text(a) + "; must be 2 x 3");
  affine2<double> m;
  for (int r = 0; r < 2; ++r)
    for (int c = 0; c < 3; ++c) m.m[r][c] = a.at(r, c);
  return m;
}

// The destination shape from dsize = (width, height) (cv2's order), or from out= when dsize is None.
image_shape destination(std::string_view function, const image_shape& src, const py::object& dsize, const py::object& out) {
  image_shape d = src;
  if (dsize.is_none()) {
    if (out.is_none() || !py::isinstance<py::array>(out))
      throw_type_error(function, "dsize is None and no out= array gives the size; pass dsize=(width, height)");
    const py::array o = py::reinterpret_borrow<py::array>(out);
    if (o.ndim() < 2) throw_type_error(function, "out has shape " + shape_text(o) + "; must be an image");
    d.height = static_cast<std::size_t>(o.shape(0));
    d.width = static_cast<std::size_t>(o.shape(1));
    return d;
  }
  const auto size = dsize.cast<std::vector<long long>>();
  if (size.size() != 2) throw_type_error(function, "dsize must be (width, height)");
  if (size[0] < 0 || size[1] < 0)
    throw_value_error(function, "dsize is (" + std::to_string(size[0]) + ", " + std::to_string(size[1]) +
                                    "); sizes must be >= 0");
  d.width = static_cast<std::size_t>(size[0]);
  d.height = static_cast<std::size_t>(size[1]);
  return d;
}

template <class Call>
py::object warp_call(std::string_view function, const py::handle& img_obj, const py::object& dsize,
                     const py::object& out_obj, const policy_choice& policy, Call&& call) {
  py::array img = as_array(function, "img", img_obj);
  return by_pixel(function, "img", img, [&](auto pixel) -> py::object {
    using T = decltype(pixel);
    const image_view<const T> src = input_image<T>(function, "img", img);
    const image_shape d = destination(function, shape_of_image(function, "img", img), dsize, out_obj);
    py::array out = make_or_check_output<T>(function, "out", out_obj, d.dims());
    const image_view<T> dst = view_output_image<T>(function, "out", out, d);
    run_released(policy, [&](const auto& p) { call(p, src, dst); });
    return out;
  });
}

}  // namespace

void register_warp(py::module_& m) {
  using namespace py::literals;
  m.def(
      "warp_affine",
      [](const py::handle& img, const py::handle& M, const py::object& dsize, const std::string& interp,
         const std::string& border, double value, const py::object& out, const std::string& policy, int threads) {
        constexpr std::string_view fn = "warp_affine";
        const policy_choice pol = parse_policy(fn, policy, threads);
        const interpolation i = parse_interpolation(fn, interp);
        const border_spec b = parse_border(fn, border, value);
        const affine2<double> matrix = take_affine2(fn, "M", M);
        return warp_call(fn, img, dsize, out, pol, [&](const auto& p, auto src, auto dst) {
          polykern::warp_affine(p, src, matrix, dst, i, b);
        });
      },
      "img"_a, "M"_a, "dsize"_a = py::none(), "interpolation"_a = "bilinear", "border"_a = "constant", "value"_a = 0.0,
      "out"_a = py::none(), "policy"_a = "openmp", "threads"_a = 0,
      "cv2.warpAffine: M (2 x 3) maps source to destination; dsize = (width, height).");
  m.def(
      "resize",
      [](const py::handle& img, const py::object& dsize, const std::string& interp, const py::object& out,
         const std::string& policy, int threads) {
        constexpr std::string_view fn = "resize";
        const policy_choice pol = parse_policy(fn, policy, threads);
        const interpolation i = parse_interpolation(fn, interp);
        return warp_call(fn, img, dsize, out, pol, [&](const auto& p, auto src, auto dst) {
          polykern::resize(p, src, dst, i);
        });
      },
      "img"_a, "dsize"_a = py::none(), "interpolation"_a = "bilinear", "out"_a = py::none(), "policy"_a = "openmp",
      "threads"_a = 0, "cv2.resize with half-pixel centres; 'bilinear', 'nearest' or 'area'.");
  m.def(
      "compose",
      [](const py::handle& tiles, const py::handle& canvas_obj, const std::string& interp, const std::string& policy,
         int threads) -> py::object {
        constexpr std::string_view fn = "compose";
        const policy_choice pol = parse_policy(fn, policy, threads);
        const interpolation i = parse_interpolation(fn, interp);
        if (!py::isinstance<py::array>(canvas_obj)) throw_type_error(fn, "canvas must be a numpy.ndarray");
        py::array canvas = py::reinterpret_borrow<py::array>(canvas_obj);
        const py::list list = py::list(py::reinterpret_borrow<py::object>(tiles));
        return by_pixel(fn, "canvas", canvas, [&](auto pixel) -> py::object {
          using T = decltype(pixel);
          const image_shape cs = shape_of_image(fn, "canvas", canvas);
          check_output_array(fn, "canvas", canvas, element_for<T>(), cs.dims());
          const image_view<T> view = view_output_image<T>(fn, "canvas", canvas, cs);
          std::vector<py::array> keep;  // the tiles' arrays (or copies) stay alive during the call
          keep.reserve(list.size());
          std::vector<tile<T>> parts;
          for (std::size_t t = 0; t < list.size(); ++t) {
            const std::string name = "tiles[" + std::to_string(t) + "]";
            const py::tuple pair = py::tuple(py::reinterpret_borrow<py::object>(list[t]));
            if (pair.size() != 2) throw_type_error(fn, name + " must be (image, M)");
            keep.push_back(as_array(fn, name.c_str(), pair[0]));
            if (element_of(keep.back()) != element_for<T>())
              throw_type_error(fn, name + " has dtype " + dtype_name(keep.back()) + "; must be the canvas's " +
                                       dtype_name(canvas));
            const image_view<const T> image = input_image<T>(fn, name.c_str(), keep.back());
            parts.push_back({image, take_affine2(fn, (name + " M").c_str(), pair[1])});
          }
          run_released(pol, [&](const auto& p) {
            polykern::compose(p, std::span<const tile<T>>(parts), view, i);
          });
          return canvas;
        });
      },
      "tiles"_a, "canvas"_a, "interpolation"_a = "bilinear", "policy"_a = "openmp", "threads"_a = 0,
      "Draws every (image, M tile->canvas) into canvas in place (later on top) and returns canvas.");
}

}  // namespace polykern::python
