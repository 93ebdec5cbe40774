// libFuzzer harness: correlate, convolve (every conv_method), separable_correlate (taps
// and weighted terms), gaussian_blur and correlate_batch, float and uint8, on every CPU
// policy (common.hpp has the protocol). The input chooses the images (shapes, channels,
// strides, null, unaddressable), in place or partial overlap, the kernel (sides 0..24,
// also larger than the image; NaN, inf, huge entries; bad views), taps, term weights,
// sigmas, ksize, the border (also invalid enum values) and the method. docs/convolve.md:
// every method agrees within 1e-4 relative for float images in [0, 1]; uint8 results
// round, so they may differ by 1.
#include <polykern/convolve.hpp>

#include "common.hpp"

namespace {

using namespace fuzz;

template <class T>
void fill(input& in, arena& a, const image_plan& p) {
  for (std::size_t i = 0; i < p.span(); ++i) {
    T* e = a.at<T>(p.offset) + i;
    if constexpr (std::is_same_v<T, float>) *e = static_cast<float>(in.ConsumeProbability<double>());
    else *e = in.ConsumeIntegral<std::uint8_t>();
  }
}

std::vector<float> draw_taps(input& in, std::size_t max) {
  std::vector<float> taps(in.ConsumeIntegralInRange(0, 15) == 0 ? 0 : pick(in, 1, max));
  for (float& t : taps) t = static_cast<float>(some_double(in, -1, 1));
  return taps;
}

double sum_abs(const std::vector<float>& v) {
  double s = 0;
  for (float x : v) s += std::abs(double(x));
  return s;
}

template <class T>
void one_input(input& in) {
  const int kernel = in.ConsumeIntegralInRange(0, 5);
  const std::size_t images = kernel == 5 ? pick(in, 0, 2) : 1;
  std::vector<image_plan> srcs(images), dsts(images);
  std::size_t next = pick(in, 0, 3);
  for (auto& s : srcs) s = draw_image(in, 12), s.offset = next, next += s.span() + pick(in, 0, 3);
  for (std::size_t i = 0; i < images; ++i) {
    image_plan& d = dsts[i];
    switch (in.ConsumeIntegralInRange(0, 7)) {
      case 0: d = srcs[i]; break;                                               // in place
      case 1: d = srcs[i], d.offset += pick(in, 1, 6); break;                  // overlap
      case 2: d = draw_image(in, 12), d.offset = srcs[0].offset; break;        // other shape, same start
      default:
        d = srcs[i], d.offset = next;
        if (!d.unaddressable) d.row_stride += static_cast<std::ptrdiff_t>(pick(in, 0, 2));
    }
    if (in.ConsumeIntegralInRange(0, 15) == 0) d.width += 1;  // shape mismatch
    if (d.offset == next) next += d.span() + pick(in, 0, 3);
  }
  std::size_t end = next;
  for (const auto& d : dsts) end = std::max(end, d.offset + d.span());
  arena a((end + 8) * sizeof(T));
  for (const auto& s : srcs) fill<T>(in, a, s);
  for (const auto& d : dsts)
    if (d.span() > 0 && d.row_stride >= static_cast<std::ptrdiff_t>(d.width * d.channels))
      for (std::size_t y = 0; y < d.height; ++y)
        a.allow(a.at<T>(d.offset) + y * d.row_stride, d.width * d.channels * sizeof(T));

  // The kernel lives in its own buffer (it is float whatever the image type).
  image_plan kp;
  kp.width = in.ConsumeIntegralInRange(0, 7) == 0 ? pick(in, 0, 24) : pick(in, 1, 7);
  kp.height = in.ConsumeIntegralInRange(0, 7) == 0 ? pick(in, 0, 24) : pick(in, 1, 7);
  kp.channels = in.ConsumeIntegralInRange(0, 31) == 0 ? 2 : 1;
  kp.row_stride = static_cast<std::ptrdiff_t>(kp.width * kp.channels + pick(in, 0, 2));
  switch (in.ConsumeIntegralInRange(0, 31)) {
    case 0: kp.null = true; break;
    case 1: kp.unaddressable = true, kp.width = unaddressable_size(in); break;
    case 2: kp.row_stride = -1; break;
    default: break;
  }
  std::vector<float> kernel_values(kp.span() + 1);
  double kernel_scale = 0;
  for (std::size_t i = 0; i < kp.span(); ++i) {
    kernel_values[i] = static_cast<float>(some_double(in, -1, 1));
    kernel_scale += std::isfinite(kernel_values[i]) ? std::abs(double(kernel_values[i])) : 0;
  }
  pk::image_view<const float> kv(kp.null ? nullptr : kernel_values.data(), kp.width, kp.height, kp.channels);
  kv.row_stride = kp.row_stride;

  const auto method = static_cast<pk::conv_method>(in.ConsumeIntegralInRange(0, 15) == 0 ? 5 : in.ConsumeIntegralInRange(0, 4));
  const pk::border_spec border{
      static_cast<pk::border>(in.ConsumeIntegralInRange(0, 15) == 0 ? 5 : in.ConsumeIntegralInRange(0, 4)),
      some_double(in, 0, 1)};
  const std::vector<float> kx = draw_taps(in, 13), ky = draw_taps(in, 13), kx2 = draw_taps(in, 9), ky2 = draw_taps(in, 9);
  const double w1 = some_double(in, -2, 2), w2 = some_double(in, -2, 2);
  const double sigma_x = some_double(in, 0, 3), sigma_y = in.ConsumeBool() ? 0.0 : some_double(in, 0, 3);
  const int ksize = in.ConsumeIntegralInRange(0, 255) == 0 ? 65537 : in.ConsumeIntegralInRange(-2, 15);
  a.commit();

  // The largest |result| a call can produce per unit of input (tolerances scale with it).
  double scale = 1;
  if (kernel <= 1 || kernel == 5) scale = kernel_scale;
  else if (kernel == 2) scale = sum_abs(kx) * sum_abs(ky);
  else if (kernel == 3) scale = std::abs(w1) * sum_abs(kx) * sum_abs(ky) + std::abs(w2) * sum_abs(kx2) * sum_abs(ky2);
  if (std::is_same_v<T, std::uint8_t>) scale *= 255;
  // A constant border is an input too: sources lie in [0, 1] (uint8: [0, 255], which the
  // border saturates to), but the border value may be 1e9, whose float ulp is 64.
  else if (border.mode == pk::border::constant && std::isfinite(border.value))
    scale *= std::max(1.0, std::abs(border.value));

  const auto call = [&](const auto& policy) {
    std::vector<pk::image_view<const T>> s;
    std::vector<pk::image_view<T>> d;
    for (const auto& p : srcs) s.push_back(p.view<const T>(a));
    for (const auto& p : dsts) d.push_back(p.view<T>(a));
    switch (kernel) {
      case 0: pk::correlate(policy, s[0], kv, d[0], border, method); break;
      case 1: pk::convolve(policy, s[0], kv, d[0], border, method); break;
      case 2: pk::separable_correlate(policy, s[0], std::span<const float>(kx), std::span<const float>(ky), d[0], border); break;
      case 3: {
        const pk::separable_term terms[] = {{kx, ky, w1}, {kx2, ky2, w2}};
        pk::separable_correlate(policy, s[0], std::span<const pk::separable_term>(terms, in.remaining_bytes() % 2 + 1),
                                d[0], border);
        break;
      }
      case 4: pk::gaussian_blur(policy, s[0], d[0], sigma_x, sigma_y, ksize, border); break;
      default: pk::correlate_batch(policy, s, kv, d, border, method);
    }
    return 0;
  };
  const auto agree = [&](const auto&, arena& live, const std::vector<unsigned char>& reference, int, int) {
    const double tolerance = (std::is_same_v<T, std::uint8_t> ? 1.0 : 0.0) + 1e-4 * scale + 1e-6;
    for (const auto& p : dsts) {
      const pk::image_view<T> v = p.view<T>(live);
      for (std::size_t y = 0; y < p.height; ++y)
        for (std::size_t x = 0; x < p.width * p.channels; ++x) {
          const double got = v.row(y)[x], want = *live.in_snapshot(reference, v.row(y) + x);
          if (!(same_value(got, want) || std::abs(got - want) <= tolerance)) {
            std::fprintf(stderr,
                         "convolve: call %d, method %d, border %d (value %g), src %zux%zux%zu, kernel %zux%zu, "
                         "terms w %g %g, taps %zu %zu %zu %zu, sigma %g %g ksize %d: at (%zu, %zu) got %.9g want "
                         "%.9g tolerance %.9g (scale %g)\n",
                         kernel, int(method), int(border.mode), border.value, srcs[0].width, srcs[0].height,
                         srcs[0].channels, kp.width, kp.height, w1, w2, kx.size(), ky.size(), kx2.size(), ky2.size(),
                         sigma_x, sigma_y, ksize, x, y, got, want, tolerance, scale);
            check(false, "a policy differs from scalar");
          }
        }
    }
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
