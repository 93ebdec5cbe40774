// Image warps (api.md §6, second part): warp_affine, resize, compose.
//
//   polykern::warp_affine(exec::openmp, src, src_to_dst, dst);            // OpenCV warpAffine
//   polykern::resize(exec::simd, src, dst, interpolation::area);           // OpenCV resize
//   polykern::compose(exec::vulkan, tiles, canvas);                        // many tiles, one call
//
// Element types uint8_t and float, 1 to 4 interleaved channels; source and destination
// have the same type and channel count. Semantics, choices and limits: docs/warp.md.
#pragma once
#include <cmath>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "affine_matrix.hpp"
#include "backend/openmp/warp.hpp"
#include "backend/scalar/warp.hpp"
#include "backend/simd/warp.hpp"
#include "border.hpp"
#include "detail/warp/plan.hpp"
#include "error.hpp"
#include "execution.hpp"
#include "view.hpp"
#if POLYKERN_HAS_VULKAN
#include "backend/vulkan/warp.hpp"
#endif

namespace polykern {

// How a destination pixel is computed from the source.
enum class interpolation {
  bilinear,  // 2x2 taps, OpenCV INTER_LINEAR
  nearest,   // 1 tap, OpenCV INTER_NEAREST
  area,      // pixel-area average, OpenCV INTER_AREA (resize, compose)
};

constexpr std::string_view name(interpolation i) {
  switch (i) {
    case interpolation::bilinear: return "bilinear";
    case interpolation::nearest: return "nearest";
    case interpolation::area: return "area";
  }
  return "?";
}

// One image of a compose() call and where it goes: to_canvas maps tile pixel coordinates
// (centres at integers) to canvas pixel coordinates, as warp_affine's src_to_dst does.
template <class T>
struct tile {
  image_view<const T> image;
  affine2<double> to_canvas;
};

namespace detail::warp {

template <class T>
inline constexpr bool supported_element = std::is_same_v<T, std::uint8_t> || std::is_same_v<T, float>;

// The checks of an image's shape, shared by host views and device images.
inline void check_shape(std::string_view fn, std::string_view arg, std::size_t width, std::size_t height,
                        std::size_t channels) {
  require(width > 0 && height > 0, fn, arg, " is ", width, "x", height, "; must not be empty");
  require(channels >= 1 && channels <= 4, fn, arg, " has ", channels, " channels; must be 1 to 4");
  require(width <= static_cast<std::size_t>(max_coordinate) && height <= static_cast<std::size_t>(max_coordinate), fn,
          arg, " is ", width, "x", height, "; sides must be at most 4194304 (2^22)");
}

template <class T>
void check_image(std::string_view fn, std::string_view arg, const image_view<T>& v) {
  check_shape(fn, arg, v.width, v.height, v.channels);
  require(v.data != nullptr, fn, arg, " has no data (nullptr)");
  check_addressable(fn, arg, v);
  require(v.row_stride >= static_cast<std::ptrdiff_t>(v.width * v.channels), fn, arg, ".row_stride is ",
          v.row_stride, "; must be >= width*channels = ", v.width * v.channels);
}

template <class A, class B>
void check_disjoint(std::string_view fn, std::string_view a_name, const image_view<A>& a, std::string_view b_name,
                    const image_view<B>& b) {
  require(!ranges_overlap(a.data, a.end(), b.data, b.end()), fn, a_name, " and ", b_name,
          " overlap in memory; warps cannot run in place");
}

inline void check_matrix(std::string_view fn, std::string_view arg, const affine2<double>& f, double inv[2][3]) {
  for (const auto& row : f.m)
    for (double v : row) require(std::isfinite(v), fn, arg, " has a non-finite entry (", v, ")");
  require(invert(f.m, inv), fn, arg, " = [", f.m[0][0], " ", f.m[0][1], " ", f.m[0][2], "; ", f.m[1][0], " ", f.m[1][1], " ",
          f.m[1][2], "] is not invertible (determinant ", f.m[0][0] * f.m[1][1] - f.m[0][1] * f.m[1][0], ")");
}

template <class T>
void check_reach(std::string_view fn, std::string_view arg, const job<T>& j) {
  const double r = reach(j.m, j.x0 - 1.0, j.y0 - 1.0, j.x1 + 1.0, j.y1 + 1.0);
  require(r <= max_coordinate, fn, arg, " maps destination pixels to source coordinates up to ", r,
          "; at most 4194304 (2^22) is supported");
}

// The sampler a checked interpolation becomes in each function (plan.hpp's builders):
// resize takes nearest and area through OpenCV's tables, compose area through box tables
// (supersampling for rotated tiles).
inline sampler resize_sampler(interpolation i) {
  return i == interpolation::nearest ? sampler::nearest_table
         : i == interpolation::area  ? sampler::area_table
                                     : sampler::bilinear;
}
inline sampler compose_sampler(interpolation i) {
  return i == interpolation::nearest ? sampler::nearest
         : i == interpolation::area  ? sampler::area_table
                                     : sampler::bilinear;
}

inline void check_interpolation(std::string_view fn, interpolation interp, bool area_allowed) {
  if (area_allowed)
    require(interp == interpolation::bilinear || interp == interpolation::nearest || interp == interpolation::area, fn,
            "interpolation is ", static_cast<int>(interp), "; not a polykern::interpolation");
  else
    require(interp == interpolation::bilinear || interp == interpolation::nearest, fn, "interpolation is ", name(interp),
            "; must be bilinear or nearest (area: use resize or compose)");
}

template <class A, class B>
void check_channels(std::string_view fn, std::string_view a_name, const image_view<A>& a, std::string_view b_name,
                    const image_view<B>& b) {
  require(a.channels == b.channels, fn, a_name, " has ", a.channels, " channels and ", b_name, " ", b.channels,
          "; they must match");
}

// The rest of each function's checks and its plan, over views whose shapes are checked (a
// device image's view carries its shape only: no data).
template <class T>
plan<T> warp_affine_plan(std::string_view fn, image_view<const T> s, const affine2<double>& src_to_dst, image_view<T> dst,
                         interpolation interp, border_spec border) {
  double inv[2][3];
  check_matrix(fn, "src_to_dst", src_to_dst, inv);
  plan<T> work{{warp_job(s, inv, dst.width, dst.height,
                         interp == interpolation::nearest ? sampler::nearest : sampler::bilinear, border)},
               dst};
  check_reach(fn, "src_to_dst", work.jobs[0]);
  return work;
}

// compose: the jobs of the visible tiles; `kept` receives the index of each job's tile.
template <class T, class Image>
plan<T> compose_plan(std::string_view fn, std::size_t count, const Image& image_of, const affine2<double>* const* maps,
                     image_view<T> canvas, interpolation interp, std::vector<std::size_t>& kept) {
  plan<T> work{{}, canvas};
  work.jobs.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    double inv[2][3];
    const std::string transform = concat("tiles[", i, "].to_canvas");
    check_matrix(fn, transform, *maps[i], inv);
    job<T> j;
    if (!compose_job(image_of(i), maps[i]->m, inv, canvas.width, canvas.height, compose_sampler(interp), j)) continue;
    check_reach(fn, transform, j);
    work.jobs.push_back(std::move(j));
    kept.push_back(i);
  }
  return work;
}

template <class Policy, class T>
void execute(const Policy& policy, const plan<T>& work) {
  dispatch(policy, [&](auto tag, const auto& p) { run(tag, p, work); });
}

}  // namespace detail::warp

// dst = src warped by the affine map src_to_dst (OpenCV warpAffine(src, dst, M, dst.size(),
// flags, borderMode, borderValue) with M = src_to_dst): each destination pixel samples the
// source at inverse(src_to_dst) * (x, y), pixel centres at integer coordinates.
// interpolation: bilinear or nearest; border: how taps outside the source read.
template <execution_policy Policy, class In, class Out>
void warp_affine(const Policy& policy, image_view<In> src, const affine2<double>& src_to_dst, image_view<Out> dst,
                 interpolation interp = interpolation::bilinear, border_spec border = {border::constant, 0}) {
  static_assert(std::is_same_v<std::remove_const_t<In>, Out>, "warp_affine: src and dst must have the same element type");
  static_assert(detail::warp::supported_element<Out>, "warp_affine: element type must be std::uint8_t or float");
  constexpr std::string_view fn = "warp_affine";
  using namespace detail::warp;
  const image_view<const Out> s = src;
  check_image(fn, "src", s);
  check_image(fn, "dst", dst);
  check_channels(fn, "src", s, "dst", dst);
  check_interpolation(fn, interp, false);
  detail::require(border.mode >= border::reflect && border.mode <= border::wrap, fn, "border.mode is ",
                  static_cast<int>(border.mode), "; not a polykern::border");
  check_disjoint(fn, "src", s, "dst", dst);
  execute(policy, warp_affine_plan(fn, s, src_to_dst, dst, interp, border));
}

// dst = src resized to dst's size (OpenCV resize): bilinear with half-pixel centres
// (INTER_LINEAR), nearest (INTER_NEAREST: source index floor(x * src/dst)), area
// (INTER_AREA: pixel-area averaging when shrinking, the right choice below half size).
template <execution_policy Policy, class In, class Out>
void resize(const Policy& policy, image_view<In> src, image_view<Out> dst, interpolation interp = interpolation::bilinear) {
  static_assert(std::is_same_v<std::remove_const_t<In>, Out>, "resize: src and dst must have the same element type");
  static_assert(detail::warp::supported_element<Out>, "resize: element type must be std::uint8_t or float");
  constexpr std::string_view fn = "resize";
  using namespace detail::warp;
  const image_view<const Out> s = src;
  check_image(fn, "src", s);
  check_image(fn, "dst", dst);
  check_channels(fn, "src", s, "dst", dst);
  check_interpolation(fn, interp, true);
  check_disjoint(fn, "src", s, "dst", dst);
  execute(policy, plan<Out>{{resize_job(s, dst.width, dst.height, resize_sampler(interp))}, dst});
}

// Draws every tile into canvas with its own to_canvas map, in order (later tiles on top),
// in one call (one dispatch on Vulkan). A canvas pixel is written by a tile when its centre
// maps inside the tile's pixel area [-0.5, w-0.5) x [-0.5, h-0.5); taps past the tile's
// edge repeat the edge. Pixels outside every tile are left untouched (OpenCV
// BORDER_TRANSPARENT). interpolation::area averages the covered source area (exact box
// coverage for axis-aligned tiles, supersampling for rotated ones): use it for tiles
// shrunk by more than 2x.
template <execution_policy Policy, class T>
void compose(const Policy& policy, std::span<const tile<std::type_identity_t<T>>> tiles, image_view<T> canvas,
             interpolation interp = interpolation::bilinear) {
  static_assert(!std::is_const_v<T>, "compose: canvas must be writable");
  static_assert(detail::warp::supported_element<T>, "compose: element type must be std::uint8_t or float");
  constexpr std::string_view fn = "compose";
  using namespace detail::warp;
  check_image(fn, "canvas", canvas);
  check_interpolation(fn, interp, true);
  std::vector<const affine2<double>*> maps;
  for (std::size_t i = 0; i < tiles.size(); ++i) {
    const std::string arg = detail::concat("tiles[", i, "].image");
    check_image(fn, arg, tiles[i].image);
    check_channels(fn, arg, tiles[i].image, "canvas", canvas);
    check_disjoint(fn, arg, tiles[i].image, "canvas", canvas);
    maps.push_back(&tiles[i].to_canvas);
  }
  std::vector<std::size_t> kept;
  const plan<T> work = compose_plan(fn, tiles.size(), [&](std::size_t i) { return tiles[i].image; }, maps.data(), canvas,
                                    interp, kept);
  if (work.jobs.empty()) return;
  execute(policy, work);
}

#if POLYKERN_HAS_VULKAN
// ---- Device images (api.md §7): the same functions on vulkan::device_image objects. ----
// Under exec::vulkan or exec::vulkan_policy{ctx} only (a CPU policy or with_fallback is a
// compile error that says why); every image must belong to the policy's context. Such a
// call uploads only its plan (job records and tables); the pixels stay on the device.

namespace detail::warp {

// A device image as a view that carries its shape only (the checks and plans take views).
template <class T>
image_view<T> shape_view(const vulkan::device_image<std::remove_const_t<T>>& d) {
  return image_view<T>(nullptr, d.width(), d.height(), d.channels());
}

template <class T>
void check_device_image(std::string_view fn, std::string_view arg, const vulkan::context& ctx,
                        const vulkan::device_image<T>& d) {
  check_shape(fn, arg, d.width(), d.height(), d.channels());
  require_same_context(fn, arg, ctx, d);
}

template <class T>
void check_distinct(std::string_view fn, std::string_view a_name, const vulkan::device_image<T>& a, std::string_view b_name,
                    const vulkan::device_image<T>& b) {
  require(&a != &b, fn, a_name, " and ", b_name, " overlap in memory; warps cannot run in place");
}

// What every one-source device call checks of its two images: both on the policy's
// context, the same channels, not the same object.
template <class T>
void check_device_pair(std::string_view fn, const vulkan::context& ctx, const vulkan::device_image<T>& src,
                       const vulkan::device_image<T>& dst) {
  check_device_image(fn, "src", ctx, src);
  check_device_image(fn, "dst", ctx, dst);
  check_channels(fn, "src", shape_view<const T>(src), "dst", shape_view<T>(dst));
  check_distinct(fn, "src", src, "dst", dst);
}

}  // namespace detail::warp

template <execution_policy Policy, class T>
void warp_affine(const Policy& policy, const vulkan::device_image<T>& src, const affine2<double>& src_to_dst,
                 vulkan::device_image<T>& dst, interpolation interp = interpolation::bilinear,
                 border_spec border = {border::constant, 0}) {
  detail::require_vulkan_policy_for_device_objects<Policy>();
  static_assert(detail::warp::supported_element<T>, "warp_affine: element type must be std::uint8_t or float");
  if constexpr (std::is_same_v<Policy, exec::vulkan_policy>) {
    constexpr std::string_view fn = "warp_affine";
    using namespace detail::warp;
    check_device_pair(fn, detail::context_of(policy), src, dst);
    check_interpolation(fn, interp, false);
    detail::require(border.mode >= border::reflect && border.mode <= border::wrap, fn, "border.mode is ",
                    static_cast<int>(border.mode), "; not a polykern::border");
    const plan<T> work = warp_affine_plan(fn, shape_view<const T>(src), src_to_dst, shape_view<T>(dst), interp, border);
    run(detail::vulkan_tag{}, policy, device_plan<T>{work, {&src}, &dst});
  }
}

template <execution_policy Policy, class T>
void resize(const Policy& policy, const vulkan::device_image<T>& src, vulkan::device_image<T>& dst,
            interpolation interp = interpolation::bilinear) {
  detail::require_vulkan_policy_for_device_objects<Policy>();
  static_assert(detail::warp::supported_element<T>, "resize: element type must be std::uint8_t or float");
  if constexpr (std::is_same_v<Policy, exec::vulkan_policy>) {
    constexpr std::string_view fn = "resize";
    using namespace detail::warp;
    check_device_pair(fn, detail::context_of(policy), src, dst);
    check_interpolation(fn, interp, true);
    const auto d = shape_view<T>(dst);
    const plan<T> work{{resize_job(shape_view<const T>(src), d.width, d.height, resize_sampler(interp))}, d};
    run(detail::vulkan_tag{}, policy, device_plan<T>{work, {&src}, &dst});
  }
}

// compose of device tiles into a device canvas: the tiles' pixels are copied on the device
// (nothing crosses the bus but the plan), one dispatch per piece as for host views.
template <execution_policy Policy, class T>
void compose(const Policy& policy, std::span<const vulkan::device_tile<std::type_identity_t<T>>> tiles,
             vulkan::device_image<T>& canvas, interpolation interp = interpolation::bilinear) {
  detail::require_vulkan_policy_for_device_objects<Policy>();
  static_assert(detail::warp::supported_element<T>, "compose: element type must be std::uint8_t or float");
  if constexpr (std::is_same_v<Policy, exec::vulkan_policy>) {
    constexpr std::string_view fn = "compose";
    using namespace detail::warp;
    const vulkan::context& ctx = detail::context_of(policy);
    check_device_image(fn, "canvas", ctx, canvas);
    check_interpolation(fn, interp, true);
    const auto c = shape_view<T>(canvas);
    std::vector<const affine2<double>*> maps;
    for (std::size_t i = 0; i < tiles.size(); ++i) {
      const std::string arg = detail::concat("tiles[", i, "].image");
      detail::require(tiles[i].image != nullptr, fn, arg, " is null");
      check_device_image(fn, arg, ctx, *tiles[i].image);
      check_channels(fn, arg, shape_view<const T>(*tiles[i].image), "canvas", c);
      check_distinct(fn, arg, *tiles[i].image, "canvas", canvas);
      maps.push_back(&tiles[i].to_canvas);
    }
    std::vector<std::size_t> kept;
    const plan<T> work = compose_plan(
        fn, tiles.size(), [&](std::size_t i) { return shape_view<const T>(*tiles[i].image); }, maps.data(), c, interp, kept);
    if (work.jobs.empty()) return;
    device_plan<T> call{work, {}, &canvas};
    for (std::size_t i : kept) call.sources.push_back(tiles[i].image);
    run(detail::vulkan_tag{}, policy, call);
  }
}
#endif  // POLYKERN_HAS_VULKAN

}  // namespace polykern
