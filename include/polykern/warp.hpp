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

#include "affine.hpp"
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

template <class T>
void check_image(std::string_view fn, std::string_view arg, const image_view<T>& v) {
  require(v.width > 0 && v.height > 0, fn, arg, " is ", v.width, "x", v.height, "; must not be empty");
  require(v.data != nullptr, fn, arg, " has no data (nullptr)");
  require(v.channels >= 1 && v.channels <= 4, fn, arg, " has ", v.channels, " channels; must be 1 to 4");
  check_addressable(fn, arg, v);
  require(v.row_stride >= static_cast<std::ptrdiff_t>(v.width * v.channels), fn, arg, ".row_stride is ",
          v.row_stride, "; must be >= width*channels = ", v.width * v.channels);
  require(v.width <= static_cast<std::size_t>(max_coordinate) && v.height <= static_cast<std::size_t>(max_coordinate), fn,
          arg, " is ", v.width, "x", v.height, "; sides must be at most 4194304 (2^22)");
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
  detail::require(s.channels == dst.channels, fn, "src has ", s.channels, " channels and dst ", dst.channels,
                  "; they must match");
  detail::require(interp == interpolation::bilinear || interp == interpolation::nearest, fn, "interpolation is ",
                  name(interp), "; must be bilinear or nearest (area: use resize or compose)");
  detail::require(border.mode >= border::reflect && border.mode <= border::wrap, fn, "border.mode is ",
                  static_cast<int>(border.mode), "; not a polykern::border");
  check_disjoint(fn, "src", s, "dst", dst);
  double inv[2][3];
  check_matrix(fn, "src_to_dst", src_to_dst, inv);
  plan<Out> work{{warp_job(s, inv, dst.width, dst.height,
                          interp == interpolation::nearest ? sampler::nearest : sampler::bilinear, border)},
                 dst};
  check_reach(fn, "src_to_dst", work.jobs[0]);
  execute(policy, work);
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
  detail::require(s.channels == dst.channels, fn, "src has ", s.channels, " channels and dst ", dst.channels,
                  "; they must match");
  detail::require(interp == interpolation::bilinear || interp == interpolation::nearest || interp == interpolation::area,
                  fn, "interpolation is ", static_cast<int>(interp), "; not a polykern::interpolation");
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
  detail::require(interp == interpolation::bilinear || interp == interpolation::nearest || interp == interpolation::area,
                  fn, "interpolation is ", static_cast<int>(interp), "; not a polykern::interpolation");
  plan<T> work{{}, canvas};
  work.jobs.reserve(tiles.size());
  for (std::size_t i = 0; i < tiles.size(); ++i) {
    const std::string arg = detail::concat("tiles[", i, "].image");
    check_image(fn, arg, tiles[i].image);
    detail::require(tiles[i].image.channels == canvas.channels, fn, arg, " has ", tiles[i].image.channels,
                    " channels and canvas ", canvas.channels, "; they must match");
    check_disjoint(fn, arg, tiles[i].image, "canvas", canvas);
    double inv[2][3];
    const std::string transform = detail::concat("tiles[", i, "].to_canvas");
    check_matrix(fn, transform, tiles[i].to_canvas, inv);
    job<T> j;
    if (!compose_job(tiles[i].image, tiles[i].to_canvas.m, inv, canvas.width, canvas.height, compose_sampler(interp), j))
      continue;
    check_reach(fn, transform, j);
    work.jobs.push_back(std::move(j));
  }
  if (work.jobs.empty()) return;
  execute(policy, work);
}

}  // namespace polykern
