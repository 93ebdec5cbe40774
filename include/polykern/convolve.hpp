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

template <class T>
void check_image(std::string_view fn, std::string_view what, const image_view<T>& v) {
  require(v.width > 0 && v.height > 0, fn, what, " is ", v.width, "x", v.height, "; both sizes must be >= 1");
  require(v.channels >= 1 && v.channels <= 4, fn, what, " has ", v.channels, " channels; must be 1 to 4");
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
  require(dst.width == src.width && dst.height == src.height && dst.channels == src.channels, fn, dst_name, " is ",
          dst.width, "x", dst.height, "x", dst.channels, "; must match ", src_name, " ", src.width, "x", src.height, "x",
          src.channels);
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

template <class P, class S, class K, class D>
void correlate_call(std::string_view fn, const P& policy, image_view<S> src, image_view<K> kernel, image_view<D> dst,
                    border_spec border, conv_method method, bool flip) {
  check_pair(fn, src, dst);
  check_border(fn, border);
  check_method(fn, method);
  request req;
  req.method = method;
  req.border = border;
  req.kernel = take_kernel(fn, kernel, flip);
  if (method == conv_method::separable)
    require(req.terms_up_to(1) != nullptr, fn, "method is separable but the ", req.kernel.width, "x",
            req.kernel.height, " kernel has rank >= 2; use low_rank or automatic");
  const job<std::remove_const_t<S>, D> one{src, dst};
  execute<true>(policy, req, std::span(&one, 1));
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
  detail::conv::check_border(fn, border);
  detail::conv::request req;
  req.border = border;
  req.given.push_back({detail::conv::take_taps(fn, "kx", kx), detail::conv::take_taps(fn, "ky", ky)});
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
  detail::conv::check_border(fn, border);
  detail::require(!terms.empty(), fn, "terms is empty; give at least one term");
  detail::conv::request req;
  req.border = border;
  for (std::size_t t = 0; t < terms.size(); ++t) {
    const std::string kx = detail::concat("terms[", t, "].kx"), ky = detail::concat("terms[", t, "].ky");
    detail::require(std::isfinite(terms[t].weight), fn, "terms[", t, "].weight is ", terms[t].weight,
                    "; must be finite");
    detail::conv::term term{detail::conv::take_taps(fn, kx, terms[t].kx), detail::conv::take_taps(fn, ky, terms[t].ky)};
    for (std::size_t i = 0; i < term.ky.size(); ++i) {
      const auto weighted = static_cast<float>(term.ky[i] * terms[t].weight);
      detail::require(std::isfinite(weighted), fn, "terms[", t, "].ky[", i, "] * weight is ", weighted, " (",
                      term.ky[i], " * ", terms[t].weight, "); the weighted taps must be finite floats");
      term.ky[i] = weighted;
    }
    req.given.push_back(std::move(term));
  }
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
  detail::require(std::isfinite(sigma_x), fn, "sigma_x is ", sigma_x, "; must be finite");
  detail::require(std::isfinite(sigma_y), fn, "sigma_y is ", sigma_y, "; must be finite");
  detail::require(ksize >= 0, fn, "ksize is ", ksize, "; must be odd and > 0, or 0 to derive it from sigma");
  detail::require(ksize == 0 || ksize % 2 == 1, fn, "ksize is ", ksize, "; must be odd (as in OpenCV), or 0");
  detail::require(ksize > 0 || sigma_x > 0, fn, "sigma_x is ", sigma_x,
                  " and ksize is 0; give a sigma > 0 or an odd ksize");
  detail::conv::check_pair(fn, src, dst);
  detail::conv::check_border(fn, border);
  const double sx = sigma_x, sy = sigma_y > 0 ? sigma_y : sigma_x;
  constexpr bool u8 = std::is_same_v<std::remove_const_t<S>, std::uint8_t>;
  const auto side = [&](double sigma, const char* what) -> std::size_t {
    if (ksize > 0) {
      detail::require(static_cast<std::size_t>(ksize) <= detail::conv::max_kernel_taps, fn, "ksize is ", ksize,
                      "; must be <= ", detail::conv::max_kernel_taps, " (the bound of a size derived from sigma)");
      return static_cast<std::size_t>(ksize);
    }
    const long n = detail::conv::gaussian_auto_size(sigma, u8);
    detail::require(n > 0 && static_cast<std::size_t>(n) <= detail::conv::max_kernel_taps, fn, what, " is ", sigma,
                    "; the kernel would have ", n, " taps, more than ", detail::conv::max_kernel_taps);
    return static_cast<std::size_t>(n);
  };
  const std::size_t nx = side(sx, "sigma_x"), ny = side(sy, "sigma_y");
  detail::conv::request req;
  req.border = border;
  req.given.push_back({detail::conv::gaussian_taps(nx, sx), detail::conv::gaussian_taps(ny, sy)});
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
    const std::string src_name = detail::concat("srcs[", i, "]"), dst_name = detail::concat("dsts[", i, "]");
    detail::conv::check_pair(fn, src, dst, src_name, dst_name);
    for (std::size_t j = 0; j < i; ++j) {
      detail::require(!detail::ranges_overlap(dst.data, dst.end(), jobs[j].dst.data, jobs[j].dst.end()), fn,
                      dst_name, " overlaps dsts[", j, "]");
      detail::require(!detail::ranges_overlap(dst.data, dst.end(), jobs[j].src.data, jobs[j].src.end()), fn,
                      dst_name, " overlaps srcs[", j, "]");
      detail::require(!detail::ranges_overlap(jobs[j].dst.data, jobs[j].dst.end(), src.data, src.end()), fn, "dsts[",
                      j, "] overlaps ", src_name);
    }
    jobs.push_back({src, dst});
  }
  detail::conv::request req;
  req.method = method;
  req.border = border;
  req.kernel = detail::conv::take_kernel(fn, kernel, false);
  if (method == conv_method::separable)
    detail::require(req.terms_up_to(1) != nullptr, fn, "method is separable but the ", req.kernel.width, "x",
                    req.kernel.height, " kernel has rank >= 2; use low_rank or automatic");
  if (jobs.empty()) return;
  detail::conv::execute<true>(policy, req, std::span<const detail::conv::job<In, Out>>(jobs));
}

}  // namespace polykern
