// libFuzzer harness: warp_affine, resize and compose, uint8 and float, on every CPU policy
// (common.hpp has the protocol). The input chooses the images (shapes, channels, strides,
// null, unaddressable), whether dst overlaps src (always rejected: no warp runs in place),
// the matrices (general, axis-aligned, translations, integer translations, and NaN, inf,
// 0, huge or singular entries), the interpolation and the border (also invalid enum
// values). docs/warp.md promises scalar = simd = openmp bit for bit.
#include <polykern/warp.hpp>

#include <string>

#include "common.hpp"

namespace {

using namespace fuzz;

pk::affine2<double> draw_matrix(input& in) {
  pk::affine2<double> m{{{1, 0, 0}, {0, 1, 0}}};
  switch (pick(in, 0, 4)) {
    case 0:  // general
      for (auto& row : m.m)
        for (double& v : row) v = some_double(in, -3, 3);
      m.m[0][2] *= 8, m.m[1][2] *= 8;
      break;
    case 1:  // axis-aligned scale
      m.m[0][0] = some_double(in, -4, 4), m.m[1][1] = some_double(in, -4, 4);
      m.m[0][2] = some_double(in, -20, 20), m.m[1][2] = some_double(in, -20, 20);
      break;
    case 2:  // translation
      m.m[0][2] = some_double(in, -20, 20), m.m[1][2] = some_double(in, -20, 20);
      break;
    case 3:  // integer translation
      m.m[0][2] = static_cast<double>(in.ConsumeIntegralInRange(-20, 20));
      m.m[1][2] = static_cast<double>(in.ConsumeIntegralInRange(-20, 20));
      break;
    default:  // one entry replaced by a special value
      m.m[pick(in, 0, 1)][pick(in, 0, 2)] = special_double(in);
  }
  return m;
}

template <class T>
void fill(input& in, arena& a, const image_plan& p) {
  for (std::size_t i = 0; i < p.span(); ++i) {
    T* e = a.at<T>(p.offset) + i;
    if constexpr (std::is_same_v<T, float>) *e = static_cast<float>(some_double(in, 0, 1));
    else *e = in.ConsumeIntegral<std::uint8_t>();
  }
}

// Marks every pixel of a valid output view writable.
template <class T>
void allow_output(arena& a, const image_plan& p) {
  if (p.span() == 0 || p.row_stride < static_cast<std::ptrdiff_t>(p.width * p.channels)) return;
  for (std::size_t y = 0; y < p.height; ++y) a.allow(a.at<T>(p.offset) + y * p.row_stride, p.width * p.channels * sizeof(T));
}

template <class T>
void compare_output(arena& a, const std::vector<unsigned char>& reference, const image_plan& p) {
  const pk::image_view<T> v = p.view<T>(a);
  for (std::size_t y = 0; y < p.height; ++y)
    for (std::size_t x = 0; x < p.width * p.channels; ++x)
      check(same_value(v.row(y)[x], *a.in_snapshot(reference, v.row(y) + x)), "a CPU policy differs from scalar");
}

// What Vulkan may differ by (docs/warp.md "Vulkan"; tests/test_warp.cpp holds every policy,
// Vulkan included, to a double reference: uint8 within 0.5, float within 1e-5 for values in
// [0, 1], and vulkan_BandsAndGroupsGiveTheUnchunkedResult holds Vulkan to simd within 1).
// The shader evaluates the same expressions, but its fma need not fuse (lavapipe's does
// not), so the last bits of a coordinate, a weight or a lerp may differ:
//  - bilinear and area: uint8 within 1 (each within 0.5 of the exact value); float within
//    2e-5 * the largest finite magnitude among the source pixels and the border value
//    (each within 1e-5 of it, scaled, as the weights sum to 1).
//  - Non-finite results: the same as scalar's, unless a source or the border holds a
//    non-finite value. Then a weight that is exactly 0 on one side and 1e-8 on the other
//    (the unfused coordinate fma) decides whether a tap of inf or NaN is read at all (taps
//    of zero weight are not read, docs/warp.md "NaN and Inf"), so either side may be
//    non-finite where the other is finite or another non-finite value. Found by
//    tests/fuzz/corpus/fuzz_warp/regression-vulkan-zero-weight-inf: a 1x1 source holding
//    -inf, bilinear; Vulkan's weights were 0 (the tap, -inf), scalar's not (-inf - -inf = NaN).
//  - nearest: a coordinate at a tie (x.5 up to the last bits) may round to the other
//    neighbour, so the value is scalar's or another pixel's: any source value or the
//    border value (the harness does not recompute coordinates; a wrong tap far away that
//    happens to hold one of those values would pass).
struct vulkan_rule {
  double scale = 0;                 // the largest finite |value| of any source or the border
  std::vector<double> values;       // every source value and the border value (nearest)
  bool nearest = false;
  bool nonfinite = false, nan = false;  // whether any source value or the border is (NaN)
  std::string what;                 // the call, for the report
};

template <class T>
void compare_vulkan(arena& a, const std::vector<unsigned char>& reference, const image_plan& p, const vulkan_rule& rule) {
  const pk::image_view<T> v = p.view<T>(a);
  for (std::size_t y = 0; y < p.height; ++y)
    for (std::size_t x = 0; x < p.width * p.channels; ++x) {
      const T got = v.row(y)[x], want = *a.in_snapshot(reference, v.row(y) + x);
      if (same_value(got, want)) continue;
      bool ok = false;
      if (rule.nearest) {
        ok = std::find(rule.values.begin(), rule.values.end(), double(got)) != rule.values.end() ||
             (std::isnan(double(got)) && rule.nan);
      } else if constexpr (std::is_same_v<T, float>) {
        if (std::isfinite(want) && std::isfinite(got))
          ok = std::abs(double(got) - double(want)) <= 2e-5 * std::max(1.0, rule.scale);
        else
          ok = rule.nonfinite;
      } else {
        ok = std::abs(int(got) - int(want)) <= 1;
      }
      if (!ok) {
        std::fprintf(stderr, "warp: vulkan %.9g, scalar %.9g at element %zu of row %zu (%zux%zux%zu), scale %.3g, %s\n",
                     double(got), double(want), x, y, p.width, p.height, p.channels, rule.scale, rule.what.c_str());
        check(false, "vulkan differs");
      }
    }
}

template <class T>
void one_input(input& in) {
  const int kernel = in.ConsumeIntegralInRange(0, 2);  // warp_affine, resize, compose
  const std::size_t tiles = kernel == 2 ? pick(in, 0, 3) : 1;
  std::vector<image_plan> srcs(tiles);
  std::size_t next = pick(in, 0, 3);
  for (auto& s : srcs) {
    s = draw_image(in, 12);
    s.offset = next;
    next += s.span() + pick(in, 0, 3);
  }
  image_plan dst = draw_image(in, 12);
  if (kernel != 2 && in.ConsumeIntegralInRange(0, 1) == 0) dst.channels = srcs[0].channels;  // mostly matching
  const int layout = in.ConsumeIntegralInRange(0, 7);
  if (layout == 0 && tiles > 0) dst = srcs[0];                                 // dst is src: rejected
  else if (layout == 1 && tiles > 0) dst.offset = srcs[0].offset + pick(in, 0, 8);  // overlap
  else dst.offset = next;
  arena a((std::max(next, dst.offset + dst.span()) + 8) * sizeof(T));
  for (const auto& s : srcs) fill<T>(in, a, s);
  allow_output<T>(a, dst);
  std::vector<pk::affine2<double>> matrices(tiles);
  for (auto& m : matrices) m = draw_matrix(in);
  const auto interp = static_cast<pk::interpolation>(in.ConsumeIntegralInRange(0, 8) == 0 ? 3 : in.ConsumeIntegralInRange(0, 2));
  pk::border_spec border{static_cast<pk::border>(in.ConsumeIntegralInRange(0, 9) == 0 ? 5 : in.ConsumeIntegralInRange(0, 4)),
                         some_double(in, 0, 255)};
  a.commit();

  std::vector<pk::tile<T>> tile_list;
  for (std::size_t i = 0; i < tiles; ++i) tile_list.push_back({srcs[i].view<const T>(a), matrices[i]});
  const auto call = [&](const auto& policy) {
    const pk::image_view<T> d = dst.view<T>(a);
    if (kernel == 0) pk::warp_affine(policy, srcs[0].view<const T>(a), matrices[0], d, interp, border);
    else if (kernel == 1) pk::resize(policy, srcs[0].view<const T>(a), d, interp);
    else pk::compose(policy, std::span<const pk::tile<T>>(tile_list), d, interp);
    return 0;
  };
  vulkan_rule rule;
  rule.nearest = interp == pk::interpolation::nearest;
  {
    char what[512];
    int n = std::snprintf(what, sizeof what, "%s, interpolation %d, border %d value %.9g, sources",
                          kernel == 0 ? "warp_affine" : kernel == 1 ? "resize" : "compose", int(interp), int(border.mode),
                          border.value);
    for (std::size_t i = 0; i < tiles && n > 0 && n < int(sizeof what) - 80; ++i)
      n += std::snprintf(what + n, sizeof what - std::size_t(n), " %zux%zux%zu [%.9g %.9g %.9g; %.9g %.9g %.9g]", srcs[i].width,
                         srcs[i].height, srcs[i].channels, matrices[i].m[0][0], matrices[i].m[0][1], matrices[i].m[0][2],
                         matrices[i].m[1][0], matrices[i].m[1][1], matrices[i].m[1][2]);
    rule.what = what;
  }
  if (border.mode == pk::border::constant) {
    // The value as the kernel pads with it (uint8: rounded and clamped; float: as float).
    const double b = std::is_same_v<T, float> ? double(static_cast<float>(border.value))
                                              : std::clamp(std::nearbyint(border.value), 0.0, 255.0);
    rule.values.push_back(b);
  }
  for (const auto& s : srcs) {
    const pk::image_view<const T> v = s.view<const T>(a);
    if (s.span() == 0 || s.row_stride < static_cast<std::ptrdiff_t>(s.width * s.channels)) continue;
    for (std::size_t y = 0; y < s.height; ++y)
      for (std::size_t x = 0; x < s.width * s.channels; ++x) rule.values.push_back(double(v.row(y)[x]));
  }
  for (double value : rule.values) {
    if (std::isfinite(value)) rule.scale = std::max(rule.scale, std::abs(value));
    else rule.nonfinite = true, rule.nan = rule.nan || std::isnan(value);
  }
  const auto agree = [&](const auto& policy, arena& live, const std::vector<unsigned char>& reference, int, int) {
    if constexpr (is_vulkan_policy<decltype(policy)>) compare_vulkan<T>(live, reference, dst, rule);
    else compare_output<T>(live, reference, dst);
  };
  across_policies(a, call, agree);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider in(data, size);
  if (in.ConsumeBool()) one_input<float>(in);
  else one_input<std::uint8_t>(in);
  return 0;
}
