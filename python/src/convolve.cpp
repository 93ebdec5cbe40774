// Python bindings of the convolution family (<polykern/convolve.hpp>).
#include <polykern/convolve.hpp>

#include "common.hpp"

namespace polykern::python {
namespace {

conv_method parse_method(std::string_view function, const std::string& name) {
  if (name == "automatic") return conv_method::automatic;
  if (name == "direct") return conv_method::direct;
  if (name == "separable") return conv_method::separable;
  if (name == "low_rank") return conv_method::low_rank;
  if (name == "fft") return conv_method::fft;
  throw_value_error(function, "method is '" + name + "'; must be 'automatic', 'direct', 'separable', 'low_rank' or 'fft'");
}

// The 2D kernel as a float32 view (float64 and other numbers are converted: kernels are small).
struct kernel_arg {
  py::array_t<float, py::array::c_style> array;
  image_view<const float> view() const {
    return {array.data(), static_cast<std::size_t>(array.shape(1)), static_cast<std::size_t>(array.shape(0)), 1};
  }
};
kernel_arg take_kernel(std::string_view function, const py::handle& obj) {
  kernel_arg k{small_array<float>(function, "kernel", obj)};
  if (k.array.ndim() != 2)
    throw_type_error(function, "kernel has shape " + shape_text(k.array) + "; must be 2D (kh x kw)");
  return k;
}

// 1D taps (a row or a column vector is accepted too, as cv2.getGaussianKernel returns).
py::array_t<float, py::array::c_style> take_taps(std::string_view function, const char* argument, const py::handle& obj) {
  auto t = small_array<float>(function, argument, obj);
  const bool vector = t.ndim() == 1 || (t.ndim() == 2 && (t.shape(0) == 1 || t.shape(1) == 1));
  if (!vector) throw_type_error(function, std::string(argument) + " has shape " + shape_text(t) + "; must be 1D");
  return t;
}

// One image in, one image of the same shape and dtype out (out= or new); call(policy, src, dst).
template <class Call>
py::object image_to_image(std::string_view function, const py::handle& img_obj, const py::object& out_obj,
                          const policy_choice& policy, Call&& call) {
  py::array img = as_array(function, "img", img_obj);
  return by_pixel(function, "img", img, [&](auto pixel) -> py::object {
    using T = decltype(pixel);
    const image_view<const T> src = input_image<T>(function, "img", img);
    const image_shape s = shape_of_image(function, "img", img);
    py::array out = make_or_check_output<T>(function, "out", out_obj, s.dims());
    const image_view<T> dst = view_output_image<T>(function, "out", out, s);
    run_released(policy, [&](const auto& p) { call(p, src, dst); });
    return out;
  });
}

template <bool Flip>
py::object correlate_py(const py::handle& img, const py::handle& kernel, const std::string& border, double value,
                        const std::string& method, const py::object& out, const std::string& policy, int threads) {
  constexpr std::string_view fn = Flip ? "convolve" : "correlate";
  const policy_choice pol = parse_policy(fn, policy, threads);
  const border_spec b = parse_border(fn, border, value);
  const conv_method m = parse_method(fn, method);
  const kernel_arg k = take_kernel(fn, kernel);
  return image_to_image(fn, img, out, pol, [&](const auto& p, auto src, auto dst) {
    if constexpr (Flip) polykern::convolve(p, src, k.view(), dst, b, m);
    else polykern::correlate(p, src, k.view(), dst, b, m);
  });
}

// The images of a batch: a list of arrays, or one N x H x W (x C) array.
template <class T>
struct batch {
  std::vector<image_view<const T>> srcs;
  std::vector<image_view<T>> dsts;
};

py::object correlate_batch_py(const py::handle& images, const py::handle& kernel, const std::string& border,
                              double value, const std::string& method, const py::object& out,
                              const std::string& policy, int threads) {
  constexpr std::string_view fn = "correlate_batch";
  const policy_choice pol = parse_policy(fn, policy, threads);
  const border_spec b = parse_border(fn, border, value);
  const conv_method m = parse_method(fn, method);
  const kernel_arg k = take_kernel(fn, kernel);
  const auto run = [&](auto& views) {
    run_released(pol, [&](const auto& p) { polykern::correlate_batch(p, views.srcs, k.view(), views.dsts, b, m); });
  };

  if (py::isinstance<py::array>(images)) {  // one N x H x W (x C) array
    py::array stack = py::reinterpret_borrow<py::array>(images);
    if (stack.ndim() != 3 && stack.ndim() != 4)
      throw_type_error(fn, "images has shape " + shape_text(stack) + "; must be N x H x W (x C) or a list of images");
    return by_pixel(fn, "images", stack, [&](auto pixel) -> py::object {
      using T = decltype(pixel);
      const image_shape s = shape_of_image(fn, "images", stack, 1);
      const auto n = static_cast<std::size_t>(stack.shape(0));
      auto stride = viewable_row_stride(stack, sizeof(T), 1);
      if (!stride || (n > 1 && stack.strides(0) % static_cast<py::ssize_t>(sizeof(T)) != 0)) {
        stack = py::array_t<T, py::array::c_style>::ensure(stack);
        stride = static_cast<std::ptrdiff_t>(s.width * s.channels);
      }
      std::vector<py::ssize_t> dims = s.dims();
      dims.insert(dims.begin(), static_cast<py::ssize_t>(n));
      py::array result = make_or_check_output<T>(fn, "out", out, dims);
      const auto out_stride = viewable_row_stride(result, sizeof(T), 1);
      require_viewable(out_stride.has_value() && (n <= 1 || result.strides(0) % static_cast<py::ssize_t>(sizeof(T)) == 0),
                       fn, "out");
      batch<T> views;
      const auto* base = static_cast<const char*>(stack.data());
      auto* out_base = static_cast<char*>(result.mutable_data());
      for (std::size_t i = 0; i < n; ++i) {
        const auto at = static_cast<py::ssize_t>(i);
        views.srcs.emplace_back(reinterpret_cast<const T*>(base + at * stack.strides(0)), s.width, s.height, s.channels,
                                *stride);
        views.dsts.emplace_back(reinterpret_cast<T*>(out_base + at * result.strides(0)), s.width, s.height, s.channels,
                                *out_stride);
      }
      run(views);
      return result;
    });
  }

  const py::list list = py::list(py::reinterpret_borrow<py::object>(images));
  const std::size_t n = list.size();
  if (!out.is_none() && (!py::isinstance<py::list>(out) && !py::isinstance<py::tuple>(out)))
    throw_type_error(fn, "out must be a list of arrays (images is a list) or None");
  const py::list outs = out.is_none() ? py::list() : py::list(out);
  if (!out.is_none() && outs.size() != n)
    throw_value_error(fn, "out has " + std::to_string(outs.size()) + " arrays; images has " + std::to_string(n));
  if (n == 0) {  // still validate the rest, as the C++ call does
    batch<float> none;
    run(none);
    return py::list();
  }
  std::vector<py::array> arrays;
  for (std::size_t i = 0; i < n; ++i) arrays.push_back(as_array(fn, "images[i]", list[i]));
  return by_pixel(fn, "images[0]", arrays[0], [&](auto pixel) -> py::object {
    using T = decltype(pixel);
    batch<T> views;
    py::list results;
    for (std::size_t i = 0; i < n; ++i) {
      const std::string name = "images[" + std::to_string(i) + "]", out_name = "out[" + std::to_string(i) + "]";
      if (element_of(arrays[i]) != element_for<T>())
        throw_type_error(fn, name + " has dtype " + dtype_name(arrays[i]) + "; must be " + dtype_name(arrays[0]) +
                                 " as images[0]");
      views.srcs.push_back(input_image<T>(fn, name.c_str(), arrays[i]));
      const image_shape s = shape_of_image(fn, name.c_str(), arrays[i]);
      py::array r = make_or_check_output<T>(fn, out_name.c_str(), out.is_none() ? py::object(py::none()) : outs[i], s.dims());
      views.dsts.push_back(view_output_image<T>(fn, out_name.c_str(), r, s));
      results.append(r);
    }
    run(views);
    return results;
  });
}

}  // namespace

void register_convolve(py::module_& m) {
  using namespace py::literals;
  m.def("correlate", &correlate_py<false>, "img"_a, "kernel"_a, "border"_a = "reflect", "value"_a = 0.0,
        "method"_a = "automatic", "out"_a = py::none(), "policy"_a = "openmp", "threads"_a = 0,
        "dst(x, y) = sum k(i, j) * img(x + i - kw/2, y + j - kh/2) per channel (cv2.filter2D).");
  m.def("convolve", &correlate_py<true>, "img"_a, "kernel"_a, "border"_a = "reflect", "value"_a = 0.0,
        "method"_a = "automatic", "out"_a = py::none(), "policy"_a = "openmp", "threads"_a = 0,
        "correlate with the kernel turned by 180 degrees (scipy.ndimage.convolve).");
  m.def(
      "separable_correlate",
      [](const py::handle& img, const py::handle& kx, const py::handle& ky, const std::string& border, double value,
         const py::object& out, const std::string& policy, int threads) {
        constexpr std::string_view fn = "separable_correlate";
        const policy_choice pol = parse_policy(fn, policy, threads);
        const border_spec b = parse_border(fn, border, value);
        const auto tx = take_taps(fn, "kx", kx), ty = take_taps(fn, "ky", ky);
        const std::span<const float> sx(tx.data(), static_cast<std::size_t>(tx.size()));
        const std::span<const float> sy(ty.data(), static_cast<std::size_t>(ty.size()));
        return image_to_image(fn, img, out, pol, [&](const auto& p, auto src, auto dst) {
          polykern::separable_correlate(p, src, sx, sy, dst, b);
        });
      },
      "img"_a, "kx"_a, "ky"_a, "border"_a = "reflect", "value"_a = 0.0, "out"_a = py::none(),
      "policy"_a = "openmp", "threads"_a = 0, "cv2.sepFilter2D: ky as a column times kx as a row.");
  m.def(
      "gaussian_blur",
      [](const py::handle& img, double sigma, double sigma_y, int ksize, const std::string& border, double value,
         const py::object& out, const std::string& policy, int threads) {
        constexpr std::string_view fn = "gaussian_blur";
        const policy_choice pol = parse_policy(fn, policy, threads);
        const border_spec b = parse_border(fn, border, value);
        return image_to_image(fn, img, out, pol, [&](const auto& p, auto src, auto dst) {
          polykern::gaussian_blur(p, src, dst, sigma, sigma_y, ksize, b);
        });
      },
      "img"_a, "sigma"_a, "sigma_y"_a = 0.0, "ksize"_a = 0, "border"_a = "reflect", "value"_a = 0.0,
      "out"_a = py::none(), "policy"_a = "openmp", "threads"_a = 0, "cv2.GaussianBlur (sigma_y 0 = sigma; ksize 0 = auto).");
  m.def("correlate_batch", &correlate_batch_py, "images"_a, "kernel"_a, "border"_a = "reflect",
        "value"_a = 0.0, "method"_a = "automatic", "out"_a = py::none(), "policy"_a = "openmp", "threads"_a = 0,
        "correlate every image of a list (or of an N x H x W (x C) array) with one kernel.");
  m.def(
      "gaussian_kernel",
      [](int ksize, double sigma) {
        std::vector<float> taps = polykern::gaussian_kernel(ksize, sigma);
        py::array_t<float> out(static_cast<py::ssize_t>(taps.size()));
        std::copy(taps.begin(), taps.end(), out.mutable_data());
        return out;
      },
      "ksize"_a, "sigma"_a, "The taps gaussian_blur uses for one side (cv2.getGaussianKernel(ksize, sigma, CV_32F)).");
}

}  // namespace polykern::python
