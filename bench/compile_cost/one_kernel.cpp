// One kernel of one family for one element type, as a user's TU calls it; KERNEL picks it
// (bench/compile_cost.sh compiles this file once per kernel).
#include <cstdint>
#include <vector>

#if KERNEL == 1
#include <polykern/convolve.hpp>
#include <polykern/image.hpp>
void call(polykern::image<float>& a, polykern::image<float>& b) {
  polykern::gaussian_blur(polykern::exec::default_policy{}, a.view(), b.view(), 3.0);
}
#elif KERNEL == 2
#include <polykern/convolve.hpp>
#include <polykern/image.hpp>
void call(polykern::image<float>& a, polykern::image<float>& b, polykern::image<float>& k) {
  polykern::correlate(polykern::exec::default_policy{}, a.view(), k.view(), b.view());
}
#elif KERNEL == 3
#include <polykern/image.hpp>
#include <polykern/warp.hpp>
void call(polykern::image<std::uint8_t>& a, polykern::image<std::uint8_t>& b) {
  polykern::warp_affine(polykern::exec::default_policy{}, a.view(), {{{1, 0, 2}, {0, 1, 3}}}, b.view());
}
#elif KERNEL == 4
#include <polykern/affine.hpp>
void call(std::vector<float>& p) {
  const polykern::points_view<float> v(p.data(), p.size() / 3);
  polykern::transform_points(polykern::exec::default_policy{}, v, polykern::affine3<float>{}, v);
}
#elif KERNEL == 5
#include <polykern/smooth.hpp>
void call(std::vector<float>& p, std::vector<float>& values, std::vector<float>& out) {
  const polykern::points_view<const float> v(p.data(), p.size() / 3);
  polykern::smooth_neighbors(polykern::exec::default_policy{}, v, polykern::matrix_view<const float>(values.data(), v.count, 4),
                             polykern::matrix_view<float>(out.data(), v.count, 4), 0.1f, {0.05, 3});
}
#endif
