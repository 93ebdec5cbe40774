// Convolution (api.md §4): correlate, convolve, separable_correlate, gaussian_blur and
// correlate_batch on every policy. Semantics follow OpenCV filter2D / sepFilter2D /
// GaussianBlur (anchor at the kernel centre, the five border modes with repeated
// reflection); accumulation is in float; uint8 outputs are rounded and saturated.
// See docs/convolve.md for the methods, the cost model and the Vulkan path.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <iterator>  // the range concepts (bits/ranges_base.h), without <ranges>
#include <limits>
#include <string>
#include <span>
#include <string_view>
#include <type_traits>
#include <vector>

#include "backend/openmp/convolve.hpp"
#include "backend/scalar/convolve.hpp"
#include "backend/simd/convolve.hpp"
#include "border.hpp"
#include "detail/convolve/cost.hpp"
#include "detail/convolve/gaussian.hpp"
#include "detail/convolve/plan.hpp"
#include "detail/convolve/rank.hpp"
#include "error.hpp"
#include "execution.hpp"
#include "view.hpp"
#if POLYKERN_HAS_VULKAN
#include "backend/vulkan/convolve.hpp"
#endif

namespace polykern {

// How correlate/convolve compute (api.md §4). `automatic` picks the fastest exact one for
// the kernel's size and rank with the cost model of detail/convolve/cost.hpp.
enum class conv_method {
  automatic,
  direct,     // every tap, vectorised over output pixels
  separable,  // one horizontal and one vertical 1D pass (the kernel must have rank 1)
  low_rank,   // rank r -> r separable passes (exact up to singular values < 1e-7 s_max)
  fft,        // overlap-save FFT tiles (CPU); Vulkan runs low_rank/direct instead
};

constexpr std::string_view name(conv_method method) {
  switch (method) {
    case conv_method::automatic: return "automatic";
    case conv_method::direct: return "direct";
    case conv_method::separable: return "separable";
    case conv_method::low_rank: return "low_rank";
    case conv_method::fft: return "fft";
  }
  return "?";
}

// One term of a sum of separable filters: weight * (ky as a column) x (kx as a row).
struct separable_term {
  std::span<const float> kx, ky;
  double weight = 1.0;
};

namespace detail::conv {

template <class T>
inline constexpr bool is_pixel = std::is_same_v<std::remove_const_t<T>, float> ||
                                 std::is_same_v<std::remove_const_t<T>, std::uint8_t>;
template <class T>
inline constexpr bool is_output_pixel = is_pixel<T> && !std::is_const_v<T>;
template <class T>
inline constexpr bool is_kernel_element = std::is_same_v<std::remove_const_t<T>, float>;

template <class V>
struct view_element {};
template <class T>
struct view_element<image_view<T>> {
  using type = T;
};
template <class R>
using range_element = typename view_element<std::remove_cvref_t<std::ranges::range_value_t<R>>>::type;

inline constexpr std::size_t max_kernel_taps = std::size_t{1} << 16;   // per side (1D taps, each side of a 2D kernel)
inline constexpr std::size_t max_kernel_area = std::size_t{1} << 26;   // taps of a 2D kernel (8192 x 8192, 256 MB)

// The shape of an image, a host view or a device image: what every check below needs
// except the host views' memory (data, stride, overlap), checked once for both kinds.
struct shape {
  std::size_t width, height, channels;
};
template <class T>
shape shape_of(const image_view<T>& v) {
  return {v.width, v.height, v.channels};
}

inline void check_shape(std::string_view fn, std::string_view what, const shape& s) {
  require(s.width > 0 && s.height > 0, fn, what, " is ", s.width, "x", s.height, "; both sizes must be >= 1");
  require(s.channels >= 1 && s.channels <= 4, fn, what, " has ", s.channels, " channels; must be 1 to 4");
}

inline void check_same_shape(std::string_view fn, std::string_view src_name, const shape& src, std::string_view dst_name,
                             const shape& dst) {
  require(dst.width == src.width && dst.height == src.height && dst.channels == src.channels, fn, dst_name, " is ",
          dst.width, "x", dst.height, "x", dst.channels, "; must match ", src_name, " ", src.width, "x", src.height, "x",
          src.channels);
}

template <class T>
void check_image(std::string_view fn, std::string_view what, const image_view<T>& v) {
  check_shape(fn, what, shape_of(v));
  require(v.data != nullptr, fn, what, ".data is null");
  check_addressable(fn, what, v);
  require(v.row_stride >= static_cast<std::ptrdiff_t>(v.width * v.channels), fn, what, ".row_stride is ",
          v.row_stride, "; must be >= width*channels = ", v.width * v.channels);
}

template <class S, class D>
bool may_share(const image_view<S>& src, const image_view<D>& dst) {
  if constexpr (std::is_same_v<std::remove_const_t<S>, std::remove_const_t<D>>) {
    return same_or_disjoint(src.data, src.end(), src.row_stride, dst.data, dst.end(), dst.row_stride);
  } else {
    return !ranges_overlap(src.data, src.end(), dst.data, dst.end());
  }
}

template <class S, class D>
void check_pair(std::string_view fn, const image_view<S>& src, const image_view<D>& dst, std::string_view src_name = "src",
                std::string_view dst_name = "dst") {
  check_image(fn, src_name, src);
  check_image(fn, dst_name, dst);
  check_same_shape(fn, src_name, shape_of(src), dst_name, shape_of(dst));
  require(may_share(src, dst), fn, dst_name, " overlaps ", src_name,
          " partially; it must be the same image (in place, same element type and stride) or not touch it");
}

inline void check_border(std::string_view fn, const border_spec& b) {
  const int mode = static_cast<int>(b.mode);
  require(mode >= 0 && mode <= static_cast<int>(border::wrap), fn, "border.mode is ", mode, "; not a polykern::border");
  // A non-finite constant would reach outputs through zero taps (inf * 0 = NaN) on some
  // methods and not on others; it is rejected rather than made policy-dependent. The
  // engine pads with the value as float, so a finite double beyond FLT_MAX (-1e300 turns
  // into -inf) is rejected too.
  require(b.mode != border::constant || std::abs(b.value) <= std::numeric_limits<float>::max(), fn,
          "border.value is ", b.value, "; a constant border's value must be finite as a float (|value| <= ",
          std::numeric_limits<float>::max(), ")");
}

inline void check_method(std::string_view fn, conv_method m) {
  const int v = static_cast<int>(m);
  require(v >= 0 && v <= static_cast<int>(conv_method::fft), fn, "method is ", v, "; not a polykern::conv_method");
}

// Copies the kernel, checking it. flip: for convolve, the kernel turned by 180 degrees;
// an even side then gets a leading zero so that the anchor stays on the same tap
// (OpenCV's advice for filter2D, and what SciPy's convolve does).
template <class K>
kernel2d take_kernel(std::string_view fn, const image_view<K>& k, bool flip) {
  require(k.width >= 1 && k.height >= 1, fn, "kernel is ", k.width, "x", k.height, "; both sizes must be >= 1");
  require(k.width <= max_kernel_taps && k.height <= max_kernel_taps, fn, "kernel is ", k.width, "x", k.height,
          "; sides must be <= ", max_kernel_taps);
  require(k.width * k.height <= max_kernel_area, fn, "kernel is ", k.width, "x", k.height, " = ", k.width * k.height,
          " taps; must be <= ", max_kernel_area);
  require(k.channels == 1, fn, "kernel has ", k.channels, " channels; must be 1");
  require(k.data != nullptr, fn, "kernel.data is null");
  check_addressable(fn, "kernel", k);
  require(k.row_stride >= static_cast<std::ptrdiff_t>(k.width), fn, "kernel.row_stride is ", k.row_stride,
          "; must be >= width = ", k.width);
  for (std::size_t j = 0; j < k.height; ++j)
    for (std::size_t i = 0; i < k.width; ++i)
      require(std::isfinite(k(i, j)), fn, "kernel(", i, ", ", j, ") is ", k(i, j), "; kernel entries must be finite");
  kernel2d out;
  if (!flip) {
    out.width = k.width, out.height = k.height;
    out.values.resize(k.width * k.height);
    for (std::size_t j = 0; j < k.height; ++j)
      for (std::size_t i = 0; i < k.width; ++i) out.values[j * k.width + i] = k(i, j);
    return out;
  }
  const std::size_t px = 1 - k.width % 2, py = 1 - k.height % 2;
  out.width = k.width + px, out.height = k.height + py;
  out.values.assign(out.width * out.height, 0.0f);
  for (std::size_t j = 0; j < k.height; ++j)
    for (std::size_t i = 0; i < k.width; ++i)
      out.values[(py + j) * out.width + px + i] = k(k.width - 1 - i, k.height - 1 - j);
  return out;
}

inline std::vector<float> take_taps(std::string_view fn, std::string_view what, std::span<const float> taps) {
  require(!taps.empty(), fn, what, " has 0 taps; must have >= 1");
  require(taps.size() <= max_kernel_taps, fn, what, " has ", taps.size(), " taps; must be <= ", max_kernel_taps);
  for (std::size_t i = 0; i < taps.size(); ++i)
    require(std::isfinite(taps[i]), fn, what, "[", i, "] is ", taps[i], "; taps must be finite");
  return {taps.begin(), taps.end()};
}

// What the caller asked for: a dense kernel with a method (correlate, convolve,
// correlate_batch), or separable terms given directly (separable_correlate, gaussian_blur).
struct request {
  conv_method method = conv_method::automatic;
  kernel2d kernel;          // empty when `given` holds the terms
  std::vector<term> given;  // separable_correlate / gaussian_blur
  border_spec border;
  kernel_ranks ranks;  // the kernel's rank analysis, cached across the images of a call

  const std::vector<term>* terms_up_to(std::size_t max_rank) const { return ranks.terms_up_to(kernel, max_rank); }
};

// The method for one image, on the CPU or the GPU. The GPU has no FFT: there `fft` and
// `automatic` choose between low-rank passes and the direct method.
inline image_plan resolve(const request& req, bool gpu, std::size_t width, std::size_t height, std::size_t channels) {
  image_plan p;
  p.border = req.border;
  const auto as_terms = [&](const std::vector<term>& terms) {
    p.method = engine::separable;
    p.terms = terms;
    return p;
  };
  const auto as_kernel = [&](engine e) {
    p.method = e;
    p.kernel = req.kernel;
    return p;
  };
  if (!req.given.empty()) return as_terms(req.given);
  const std::size_t kw = req.kernel.width, kh = req.kernel.height;
  switch (req.method) {
    case conv_method::direct: return as_kernel(engine::direct);
    case conv_method::separable: {
      const auto* terms = req.terms_up_to(1);  // the entry point has checked the rank
      return terms ? as_terms(*terms) : as_kernel(engine::direct);
    }
    case conv_method::low_rank: return as_terms(req.ranks.all_terms(req.kernel));
    case conv_method::fft:
      if (!gpu) return as_kernel(engine::fft);
      break;  // GPU: as automatic
    case conv_method::automatic: break;
  }
  double best = direct_cost(kw, kh);
  engine best_engine = engine::direct;
  if (!gpu && kw * kh >= 64) {
    const double f = choose_fft_tiling(width, height, channels, kw, kh).cost;
    if (f < best) best = f, best_engine = engine::fft;
  }
  // Low-rank passes pay off up to the rank where they cost as much as the best other method.
  const double affordable = (best - 0.5) / separable_term_cost(kw, kh);
  // ... and while finding the rank (about 1 ns per tap and rank) costs less than the method
  // it might replace: a small image with a huge kernel goes straight to the best method.
  const double analysable = best * static_cast<double>(width * height * channels) / rank_analysis_cost(kw, kh);
  const auto max_rank = static_cast<std::size_t>(
      std::clamp(std::min(affordable, analysable), 0.0, static_cast<double>(std::min(kw, kh))));
  if (max_rank >= 1)
    if (const auto* terms = req.terms_up_to(max_rank)) return as_terms(*terms);
  return as_kernel(best_engine);
}

template <class Tag>
inline constexpr bool runs_on_gpu = false;
#if POLYKERN_HAS_VULKAN
template <>
inline constexpr bool runs_on_gpu<vulkan_tag> = true;
#endif

// Resolves the method of every image for the backend the policy picks (again for the
// fallback of with_fallback; the rank analysis is cached) and runs it. Dense = false for
// calls that give separable terms: they instantiate only the separable engine.
template <bool Dense, class P, class In, class Out>
void execute(const P& policy, const request& req, std::span<const job<In, Out>> jobs) {
  dispatch(policy, [&](auto tag, const auto& backend_policy) {
    plan<In, Out, Dense> work{jobs, {}};
    work.images.reserve(jobs.size());
    for (const job<In, Out>& j : jobs)
      work.images.push_back(resolve(req, runs_on_gpu<decltype(tag)>, j.src.width, j.src.height, j.src.channels));
    run(tag, backend_policy, work);
  });
}

// correlate_batch: the last of `jobs` (src, dst) against the earlier ones; `overlap(a, b)`
// tells whether two images share memory (host views: address ranges; device images: the
// same object).
template <class Job, class Overlap>
void check_batch_aliasing(std::string_view fn, std::span<const Job> jobs, const Overlap& overlap) {
  const std::size_t i = jobs.size() - 1;
  for (std::size_t j = 0; j < i; ++j) {
    require(!overlap(jobs[i].dst, jobs[j].dst), fn, "dsts[", i, "] overlaps dsts[", j, "]");
    require(!overlap(jobs[i].dst, jobs[j].src), fn, "dsts[", i, "] overlaps srcs[", j, "]");
    require(!overlap(jobs[j].dst, jobs[i].src), fn, "dsts[", j, "] overlaps srcs[", i, "]");
  }
}

// The request of correlate / convolve (the images are checked by the caller).
template <class K>
request correlate_request(std::string_view fn, image_view<K> kernel, border_spec border, conv_method method, bool flip) {
  check_border(fn, border);
  check_method(fn, method);
  request req;
  req.method = method;
  req.border = border;
  req.kernel = take_kernel(fn, kernel, flip);
  if (method == conv_method::separable)
    require(req.terms_up_to(1) != nullptr, fn, "method is separable but the ", req.kernel.width, "x",
            req.kernel.height, " kernel has rank >= 2; use low_rank or automatic");
  return req;
}

template <class P, class S, class K, class D>
void correlate_call(std::string_view fn, const P& policy, image_view<S> src, image_view<K> kernel, image_view<D> dst,
                    border_spec border, conv_method method, bool flip) {
  check_pair(fn, src, dst);
  const request req = correlate_request(fn, kernel, border, method, flip);
  const job<std::remove_const_t<S>, D> one{src, dst};
  execute<true>(policy, req, std::span(&one, 1));
}

// The requests of separable_correlate (one term, or weighted terms) and gaussian_blur.
inline request separable_request(std::string_view fn, std::span<const float> kx, std::span<const float> ky,
                                 border_spec border) {
  check_border(fn, border);
  request req;
  req.border = border;
  req.given.push_back({take_taps(fn, "kx", kx), take_taps(fn, "ky", ky)});
  return req;
}

inline request terms_request(std::string_view fn, std::span<const separable_term> terms, border_spec border) {
  check_border(fn, border);
  require(!terms.empty(), fn, "terms is empty; give at least one term");
  request req;
  req.border = border;
  for (std::size_t t = 0; t < terms.size(); ++t) {
    const std::string kx = concat("terms[", t, "].kx"), ky = concat("terms[", t, "].ky");
    require(std::isfinite(terms[t].weight), fn, "terms[", t, "].weight is ", terms[t].weight, "; must be finite");
    term one{take_taps(fn, kx, terms[t].kx), take_taps(fn, ky, terms[t].ky)};
    for (std::size_t i = 0; i < one.ky.size(); ++i) {
      const auto weighted = static_cast<float>(one.ky[i] * terms[t].weight);
      require(std::isfinite(weighted), fn, "terms[", t, "].ky[", i, "] * weight is ", weighted, " (", one.ky[i], " * ",
              terms[t].weight, "); the weighted taps must be finite floats");
      one.ky[i] = weighted;
    }
    req.given.push_back(std::move(one));
  }
  return req;
}

// gaussian_blur's arguments other than the images; `checks_images` runs between the sigma
// checks and the border check (the order of the messages the host overload always had).
template <class Images>
request gaussian_request(std::string_view fn, double sigma_x, double sigma_y, int ksize, border_spec border, bool u8,
                         const Images& checks_images) {
  require(std::isfinite(sigma_x), fn, "sigma_x is ", sigma_x, "; must be finite");
  require(std::isfinite(sigma_y), fn, "sigma_y is ", sigma_y, "; must be finite");
  require(ksize >= 0, fn, "ksize is ", ksize, "; must be odd and > 0, or 0 to derive it from sigma");
  require(ksize == 0 || ksize % 2 == 1, fn, "ksize is ", ksize, "; must be odd (as in OpenCV), or 0");
  require(ksize > 0 || sigma_x > 0, fn, "sigma_x is ", sigma_x, " and ksize is 0; give a sigma > 0 or an odd ksize");
  checks_images();
  check_border(fn, border);
  const double sx = sigma_x, sy = sigma_y > 0 ? sigma_y : sigma_x;
  const auto side = [&](double sigma, const char* what) -> std::size_t {
    if (ksize > 0) {
      require(static_cast<std::size_t>(ksize) <= max_kernel_taps, fn, "ksize is ", ksize, "; must be <= ",
              max_kernel_taps, " (the bound of a size derived from sigma)");
      return static_cast<std::size_t>(ksize);
    }
    const long n = gaussian_auto_size(sigma, u8);
    require(n > 0 && static_cast<std::size_t>(n) <= max_kernel_taps, fn, what, " is ", sigma, "; the kernel would have ",
            n, " taps, more than ", max_kernel_taps);
    return static_cast<std::size_t>(n);
  };
  const std::size_t nx = side(sx, "sigma_x"), ny = side(sy, "sigma_y");
  request req;
  req.border = border;
  req.given.push_back({gaussian_taps(nx, sx), gaussian_taps(ny, sy)});
  return req;
}

}  // namespace detail::conv

// dst(x, y) = sum_{i,j} kernel(i, j) * src(x + i - kw/2, y + j - kh/2), per channel, with
// the border's index map outside the image. = OpenCV filter2D with the default anchor.
template <execution_policy P, class S, class K, class D>
  requires detail::conv::is_pixel<S> && detail::conv::is_kernel_element<K> && detail::conv::is_output_pixel<D>
void correlate(const P& policy, image_view<S> src, image_view<K> kernel, image_view<D> dst, border_spec border = {},
               conv_method method = conv_method::automatic) {
  detail::conv::correlate_call("correlate", policy, src, kernel, dst, border, method, false);
}

// correlate with the kernel turned by 180 degrees (SciPy convolve; for even sizes the
// anchor turns with the kernel, as OpenCV's filter2D documentation advises).
template <execution_policy P, class S, class K, class D>
  requires detail::conv::is_pixel<S> && detail::conv::is_kernel_element<K> && detail::conv::is_output_pixel<D>
void convolve(const P& policy, image_view<S> src, image_view<K> kernel, image_view<D> dst, border_spec border = {},
              conv_method method = conv_method::automatic) {
  detail::conv::correlate_call("convolve", policy, src, kernel, dst, border, method, true);
}

// correlate with the kernel ky (column) x kx (row): OpenCV sepFilter2D. The vertical pass
// runs first; both passes accumulate in float.
template <execution_policy P, class S, class D>
  requires detail::conv::is_pixel<S> && detail::conv::is_output_pixel<D>
void separable_correlate(const P& policy, image_view<S> src, std::span<const float> kx, std::span<const float> ky,
                         image_view<D> dst, border_spec border = {}) {
  constexpr std::string_view fn = "separable_correlate";
  detail::conv::check_pair(fn, src, dst);
  const detail::conv::request req = detail::conv::separable_request(fn, kx, ky, border);
  const detail::conv::job<std::remove_const_t<S>, D> one{src, dst};
  detail::conv::execute<false>(policy, req, std::span(&one, 1));
}

// sum over the terms of weight * separable_correlate(src, kx, ky), in one pass: no
// intermediate image, one rounding at the end for uint8. Sizes may differ per term (each
// anchored at its centre). The film app's halation is three weighted Gaussians:
//   separable_correlate(policy, src, {{g61, g61, 0.5}, {g121, g121, 0.3}, {g151, g151, 0.2}}, dst)
template <execution_policy P, class S, class D>
  requires detail::conv::is_pixel<S> && detail::conv::is_output_pixel<D>
void separable_correlate(const P& policy, image_view<S> src, std::span<const separable_term> terms, image_view<D> dst,
                         border_spec border = {}) {
  constexpr std::string_view fn = "separable_correlate";
  detail::conv::check_pair(fn, src, dst);
  const detail::conv::request req = detail::conv::terms_request(fn, terms, border);
  const detail::conv::job<std::remove_const_t<S>, D> one{src, dst};
  detail::conv::execute<false>(policy, req, std::span(&one, 1));
}
template <execution_policy P, class S, class D>
  requires detail::conv::is_pixel<S> && detail::conv::is_output_pixel<D>
void separable_correlate(const P& policy, image_view<S> src, std::initializer_list<separable_term> terms,
                         image_view<D> dst, border_spec border = {}) {
  separable_correlate(policy, src, std::span<const separable_term>(terms.begin(), terms.size()), dst, border);
}

// The Gaussian taps gaussian_blur uses for one side: OpenCV getGaussianKernel(ksize, sigma,
// CV_32F). ksize must be odd and >= 1; sigma <= 0 derives sigma from ksize.
inline std::vector<float> gaussian_kernel(int ksize, double sigma) {
  detail::require(ksize >= 1 && ksize % 2 == 1 && static_cast<std::size_t>(ksize) <= detail::conv::max_kernel_taps,
                  "gaussian_kernel", "ksize is ", ksize, "; must be odd and in [1, ", detail::conv::max_kernel_taps, "]");
  detail::require(std::isfinite(sigma), "gaussian_kernel", "sigma is ", sigma, "; must be finite");
  return detail::conv::gaussian_taps(static_cast<std::size_t>(ksize), sigma);
}

// OpenCV GaussianBlur: sigma_y <= 0 means sigma_x; ksize 0 derives each side from its
// sigma (round(sigma * (uint8 source ? 3 : 4) * 2 + 1) | 1); sigma <= 0 with ksize > 0
// means 0.3*((ksize-1)*0.5 - 1) + 0.8 (and OpenCV's fixed taps for ksize <= 7). ksize
// must be odd. The result is separable_correlate with those taps.
template <execution_policy P, class S, class D>
  requires detail::conv::is_pixel<S> && detail::conv::is_output_pixel<D>
void gaussian_blur(const P& policy, image_view<S> src, image_view<D> dst, double sigma_x, double sigma_y = 0,
                   int ksize = 0, border_spec border = {}) {
  constexpr std::string_view fn = "gaussian_blur";
  constexpr bool u8 = std::is_same_v<std::remove_const_t<S>, std::uint8_t>;
  const detail::conv::request req = detail::conv::gaussian_request(fn, sigma_x, sigma_y, ksize, border, u8,
                                                                   [&] { detail::conv::check_pair(fn, src, dst); });
  const detail::conv::job<std::remove_const_t<S>, D> one{src, dst};
  detail::conv::execute<false>(policy, req, std::span(&one, 1));
}

// correlate for every (srcs[i], dsts[i]) with one kernel; on Vulkan, in one submission.
// Any contiguous range of image views works (std::vector, std::array, std::span).
template <execution_policy P, std::ranges::contiguous_range SR, class K, std::ranges::contiguous_range DR>
  requires detail::conv::is_pixel<detail::conv::range_element<SR>> && detail::conv::is_kernel_element<K> &&
           detail::conv::is_output_pixel<detail::conv::range_element<DR>>
void correlate_batch(const P& policy, const SR& srcs, image_view<K> kernel, const DR& dsts, border_spec border = {},
                     conv_method method = conv_method::automatic) {
  constexpr std::string_view fn = "correlate_batch";
  using In = std::remove_const_t<detail::conv::range_element<SR>>;
  using Out = detail::conv::range_element<DR>;
  const std::size_t n = std::ranges::size(srcs);
  detail::require(std::ranges::size(dsts) == n, fn, "dsts has ", std::ranges::size(dsts), " images; srcs has ", n);
  detail::conv::check_border(fn, border);
  detail::conv::check_method(fn, method);
  std::vector<detail::conv::job<In, Out>> jobs;
  jobs.reserve(n);
  auto s = std::ranges::begin(srcs);
  auto d = std::ranges::begin(dsts);
  for (std::size_t i = 0; i < n; ++i, ++s, ++d) {
    const image_view<const In> src = *s;
    const image_view<Out> dst = *d;
    detail::conv::check_pair(fn, src, dst, detail::concat("srcs[", i, "]"), detail::concat("dsts[", i, "]"));
    jobs.push_back({src, dst});
    detail::conv::check_batch_aliasing(fn, std::span<const detail::conv::job<In, Out>>(jobs), [](const auto& a, const auto& b) {
      return detail::ranges_overlap(a.data, a.end(), b.data, b.end());
    });
  }
  const detail::conv::request req = detail::conv::correlate_request(fn, kernel, border, method, false);
  if (jobs.empty()) return;
  detail::conv::execute<true>(policy, req, std::span<const detail::conv::job<In, Out>>(jobs));
}

#if POLYKERN_HAS_VULKAN
// ---- Device images (api.md §7): the same functions on vulkan::device_image objects. ----
// Under exec::vulkan or exec::vulkan_policy{ctx} only (a CPU policy or with_fallback is a
// compile error that says why); every image must belong to the policy's context. The
// kernel, taps and terms are analysed on the host (rank, separability, method) and travel
// in the call's parameter block, the only upload such a call makes; a kernel given as a
// device image is downloaded for that first (its bytes, once per call).

namespace detail::conv {

template <class T>
shape shape_of(const vulkan::device_image<T>& d) {
  return {d.width(), d.height(), d.channels()};
}

// The checks of a pair of device images: the host views' shape checks (same messages), and
// the context. In place is the same object; distinct objects never share memory.
template <class S, class D>
void check_device_pair(std::string_view fn, const vulkan::context& ctx, const vulkan::device_image<S>& src,
                       const vulkan::device_image<D>& dst, std::string_view src_name = "src",
                       std::string_view dst_name = "dst") {
  check_shape(fn, src_name, shape_of(src));
  check_shape(fn, dst_name, shape_of(dst));
  check_same_shape(fn, src_name, shape_of(src), dst_name, shape_of(dst));
  require_same_context(fn, src_name, ctx, src);
  require_same_context(fn, dst_name, ctx, dst);
}

template <class In, class Out>
void execute_device(const exec::vulkan_policy& policy, const request& req, std::span<const device_job<In, Out>> jobs) {
  device_plan<In, Out> work{jobs, {}};
  work.images.reserve(jobs.size());
  for (const auto& j : jobs) work.images.push_back(resolve(req, true, j.src->width(), j.src->height(), j.src->channels()));
  run(vulkan_tag{}, policy, work);
}

template <class S, class D>
void execute_device_one(const exec::vulkan_policy& policy, const request& req, const vulkan::device_image<S>& src,
                        vulkan::device_image<D>& dst) {
  const device_job<S, D> one{&src, &dst};
  execute_device(policy, req, std::span(&one, 1));
}

// Elements of a range of device images: the objects, or pointers to them.
template <class V>
struct device_image_of {};
template <class T>
struct device_image_of<vulkan::device_image<T>> {
  using type = T;
  static vulkan::device_image<T>* get(vulkan::device_image<T>& d) { return &d; }
  static const vulkan::device_image<T>* get(const vulkan::device_image<T>& d) { return &d; }
};
template <class T>
struct device_image_of<vulkan::device_image<T>*> {
  using type = T;
  static vulkan::device_image<T>* get(vulkan::device_image<T>* d) { return d; }
};
template <class T>
struct device_image_of<const vulkan::device_image<T>*> {
  using type = T;
  static const vulkan::device_image<T>* get(const vulkan::device_image<T>* d) { return d; }
};
template <class R>
using device_range_of = device_image_of<std::remove_cvref_t<std::ranges::range_value_t<R>>>;
template <class R>
using device_range_element = typename device_range_of<R>::type;

// A device kernel's values on the host, where the method is chosen from them; checked as a
// host kernel afterwards (the same messages).
template <class = void>  // a template: instantiated only where it is called (the runtime behind it too)
std::vector<float> host_kernel(std::string_view fn, const vulkan::context& ctx,
                               const vulkan::device_image<float>& kernel) {
  require_same_context(fn, "kernel", ctx, kernel);
  std::vector<float> k(kernel.width() * kernel.height() * kernel.channels());
  if (!k.empty()) kernel.download(image_view<float>(k.data(), kernel.width(), kernel.height(), kernel.channels()));
  return k;
}

}  // namespace detail::conv

template <execution_policy P, class S, class K, class D>
  requires detail::conv::is_pixel<S> && detail::conv::is_kernel_element<K> && detail::conv::is_output_pixel<D>
void correlate(const P& policy, const vulkan::device_image<S>& src, image_view<K> kernel, vulkan::device_image<D>& dst,
               border_spec border = {}, conv_method method = conv_method::automatic) {
  detail::require_vulkan_policy_for_device_objects<P>();
  if constexpr (std::is_same_v<P, exec::vulkan_policy>) {
    constexpr std::string_view fn = "correlate";
    detail::conv::check_device_pair(fn, detail::context_of(policy), src, dst);
    detail::conv::execute_device_one(policy, detail::conv::correlate_request(fn, kernel, border, method, false), src, dst);
  }
}

template <execution_policy P, class S, class K, class D>
  requires detail::conv::is_pixel<S> && detail::conv::is_kernel_element<K> && detail::conv::is_output_pixel<D>
void convolve(const P& policy, const vulkan::device_image<S>& src, image_view<K> kernel, vulkan::device_image<D>& dst,
              border_spec border = {}, conv_method method = conv_method::automatic) {
  detail::require_vulkan_policy_for_device_objects<P>();
  if constexpr (std::is_same_v<P, exec::vulkan_policy>) {
    constexpr std::string_view fn = "convolve";
    detail::conv::check_device_pair(fn, detail::context_of(policy), src, dst);
    detail::conv::execute_device_one(policy, detail::conv::correlate_request(fn, kernel, border, method, true), src, dst);
  }
}

// The kernel as a device image too (all arguments device objects): downloaded, then as above.
template <execution_policy P, class S, class D>
  requires detail::conv::is_pixel<S> && detail::conv::is_output_pixel<D>
void correlate(const P& policy, const vulkan::device_image<S>& src, const vulkan::device_image<float>& kernel,
               vulkan::device_image<D>& dst, border_spec border = {}, conv_method method = conv_method::automatic) {
  detail::require_vulkan_policy_for_device_objects<P>();
  if constexpr (std::is_same_v<P, exec::vulkan_policy>) {
    const std::vector<float> k = detail::conv::host_kernel("correlate", detail::context_of(policy), kernel);
    correlate(policy, src, image_view<const float>(k.data(), kernel.width(), kernel.height(), kernel.channels()), dst,
              border, method);
  }
}

template <execution_policy P, class S, class D>
  requires detail::conv::is_pixel<S> && detail::conv::is_output_pixel<D>
void convolve(const P& policy, const vulkan::device_image<S>& src, const vulkan::device_image<float>& kernel,
              vulkan::device_image<D>& dst, border_spec border = {}, conv_method method = conv_method::automatic) {
  detail::require_vulkan_policy_for_device_objects<P>();
  if constexpr (std::is_same_v<P, exec::vulkan_policy>) {
    const std::vector<float> k = detail::conv::host_kernel("convolve", detail::context_of(policy), kernel);
    convolve(policy, src, image_view<const float>(k.data(), kernel.width(), kernel.height(), kernel.channels()), dst,
             border, method);
  }
}

template <execution_policy P, class S, class D>
  requires detail::conv::is_pixel<S> && detail::conv::is_output_pixel<D>
void separable_correlate(const P& policy, const vulkan::device_image<S>& src, std::span<const float> kx,
                         std::span<const float> ky, vulkan::device_image<D>& dst, border_spec border = {}) {
  detail::require_vulkan_policy_for_device_objects<P>();
  if constexpr (std::is_same_v<P, exec::vulkan_policy>) {
    constexpr std::string_view fn = "separable_correlate";
    detail::conv::check_device_pair(fn, detail::context_of(policy), src, dst);
    detail::conv::execute_device_one(policy, detail::conv::separable_request(fn, kx, ky, border), src, dst);
  }
}

template <execution_policy P, class S, class D>
  requires detail::conv::is_pixel<S> && detail::conv::is_output_pixel<D>
void separable_correlate(const P& policy, const vulkan::device_image<S>& src, std::span<const separable_term> terms,
                         vulkan::device_image<D>& dst, border_spec border = {}) {
  detail::require_vulkan_policy_for_device_objects<P>();
  if constexpr (std::is_same_v<P, exec::vulkan_policy>) {
    constexpr std::string_view fn = "separable_correlate";
    detail::conv::check_device_pair(fn, detail::context_of(policy), src, dst);
    detail::conv::execute_device_one(policy, detail::conv::terms_request(fn, terms, border), src, dst);
  }
}
template <execution_policy P, class S, class D>
  requires detail::conv::is_pixel<S> && detail::conv::is_output_pixel<D>
void separable_correlate(const P& policy, const vulkan::device_image<S>& src, std::initializer_list<separable_term> terms,
                         vulkan::device_image<D>& dst, border_spec border = {}) {
  separable_correlate(policy, src, std::span<const separable_term>(terms.begin(), terms.size()), dst, border);
}

template <execution_policy P, class S, class D>
  requires detail::conv::is_pixel<S> && detail::conv::is_output_pixel<D>
void gaussian_blur(const P& policy, const vulkan::device_image<S>& src, vulkan::device_image<D>& dst, double sigma_x,
                   double sigma_y = 0, int ksize = 0, border_spec border = {}) {
  detail::require_vulkan_policy_for_device_objects<P>();
  if constexpr (std::is_same_v<P, exec::vulkan_policy>) {
    constexpr std::string_view fn = "gaussian_blur";
    const detail::conv::request req = detail::conv::gaussian_request(
        fn, sigma_x, sigma_y, ksize, border, std::is_same_v<S, std::uint8_t>,
        [&] { detail::conv::check_device_pair(fn, detail::context_of(policy), src, dst); });
    detail::conv::execute_device_one(policy, req, src, dst);
  }
}

// correlate_batch over ranges of device images (the objects, or pointers to them). Chunked
// by the parameter block's binding; each chunk is one submission.
template <execution_policy P, std::ranges::contiguous_range SR, class K, std::ranges::contiguous_range DR>
  requires detail::conv::is_pixel<detail::conv::device_range_element<SR>> && detail::conv::is_kernel_element<K> &&
           detail::conv::is_output_pixel<detail::conv::device_range_element<DR>>
void correlate_batch(const P& policy, const SR& srcs, image_view<K> kernel, DR&& dsts, border_spec border = {},
                     conv_method method = conv_method::automatic) {
  detail::require_vulkan_policy_for_device_objects<P>();
  if constexpr (std::is_same_v<P, exec::vulkan_policy>) {
    constexpr std::string_view fn = "correlate_batch";
    using In = detail::conv::device_range_element<SR>;
    using Out = detail::conv::device_range_element<DR>;
    using job = detail::conv::device_job<In, Out>;
    const std::size_t n = std::ranges::size(srcs);
    detail::require(std::ranges::size(dsts) == n, fn, "dsts has ", std::ranges::size(dsts), " images; srcs has ", n);
    detail::conv::check_border(fn, border);
    detail::conv::check_method(fn, method);
    const vulkan::context& ctx = detail::context_of(policy);
    std::vector<job> jobs;
    jobs.reserve(n);
    auto s = std::ranges::begin(srcs);
    auto d = std::ranges::begin(dsts);
    for (std::size_t i = 0; i < n; ++i, ++s, ++d) {
      const vulkan::device_image<In>* src = detail::conv::device_range_of<SR>::get(*s);
      vulkan::device_image<Out>* dst = detail::conv::device_range_of<DR>::get(*d);
      static_assert(!std::is_const_v<std::remove_pointer_t<decltype(dst)>>, "correlate_batch: dsts must be writable");
      detail::require(src != nullptr, fn, "srcs[", i, "] is null");
      detail::require(dst != nullptr, fn, "dsts[", i, "] is null");
      detail::conv::check_device_pair(fn, ctx, *src, *dst, detail::concat("srcs[", i, "]"), detail::concat("dsts[", i, "]"));
      jobs.push_back({src, dst});
      detail::conv::check_batch_aliasing(fn, std::span<const job>(jobs), [](const auto* a, const auto* b) {
        return static_cast<const void*>(a) == static_cast<const void*>(b);
      });
    }
    const detail::conv::request req = detail::conv::correlate_request(fn, kernel, border, method, false);
    if (jobs.empty()) return;
    detail::conv::execute_device(policy, req, std::span<const job>(jobs));
  }
}
#endif  // POLYKERN_HAS_VULKAN

}  // namespace polykern
