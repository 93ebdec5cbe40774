// libFuzzer harness: warp_affine, resize and compose, uint8 and float, on every CPU policy
// (common.hpp has the protocol). The input chooses the images (shapes, channels, strides,
// null, unaddressable), whether dst overlaps src (always rejected: no warp runs in place),
// the matrices (general, axis-aligned, translations, integer translations, and NaN, inf,
// 0, huge or singular entries), the interpolation and the border (also invalid enum
// values). docs/warp.md promises scalar = simd = openmp bit for bit.
#include <polykern/warp.hpp>

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
  const auto agree = [&](const auto&, arena& live, const std::vector<unsigned char>& reference, int, int) {
    compare_output<T>(live, reference, dst);
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
