// A user's translation unit that calls every kernel of every family on every CPU policy
// (and Vulkan when the build has it), for each element type the API offers. It must
// compile with zero warnings under -Wall -Wextra -Wpedantic on GCC and clang at -O1, -O2
// and -O3 (tests/check_warnings.cmake); bench/compile_cost.sh times it.
#include <polykern/polykern.hpp>

#include <cstdint>
#include <vector>

namespace pk = polykern;

template <class Policy>
void images(const Policy& policy) {
  pk::image<float> f(33, 17, 3), g(33, 17, 3);
  pk::image<std::uint8_t> u(33, 17, 3), v(33, 17, 3);
  const float k9[9] = {0, 1, 0, 1, -4, 1, 0, 1, 0};
  const pk::image_view<const float> kernel(k9, 3, 3);
  const std::vector<float> taps = {0.25f, 0.5f, 0.25f};
  pk::correlate(policy, f.view(), kernel, g.view());
  pk::correlate(policy, u.view(), kernel, v.view(), {pk::border::reflect101});
  pk::convolve(policy, u.view(), kernel, g.view());
  pk::separable_correlate(policy, f.view(), taps, taps, g.view());
  pk::gaussian_blur(policy, f.view(), g.view(), 2.0);
  pk::gaussian_blur(policy, u.view(), v.view(), 1.5, 0.0, 7);
  const pk::image_view<const float> srcs[] = {f.view()};
  const pk::image_view<float> dsts[] = {g.view()};
  pk::correlate_batch(policy, srcs, kernel, dsts);
  const pk::affine2<double> shift{{{1, 0, 0.5}, {0, 1, -0.25}}};
  pk::warp_affine(policy, u.view(), shift, v.view());
  pk::warp_affine(policy, f.view(), shift, g.view(), pk::interpolation::nearest, {pk::border::wrap});
  pk::image<std::uint8_t> small(8, 4, 3);
  pk::resize(policy, u.view(), small.view(), pk::interpolation::area);
  const pk::tile<std::uint8_t> tiles[] = {{small.view(), {{{2, 0, 1}, {0, 2, 1}}}}};
  pk::compose(policy, std::span<const pk::tile<std::uint8_t>>(tiles), v.view());
}

template <class Policy, class T>
void points(const Policy& policy) {
  std::vector<T> p(3 * 100), q(3 * 100), values(100 * 4), out(100 * 4);
  for (std::size_t i = 0; i < p.size(); ++i) p[i] = static_cast<T>(i % 17) * T(0.1);
  const pk::points_view<T> pts(p.data(), 100), res(q.data(), 100);
  const pk::affine3<T> m{{{1, 0, 0, 1}, {0, 2, 0, 2}, {0, 0, 3, 3}}};
  pk::transform_points(policy, pts, m, res);
  pk::transform_normals(policy, pts, m, res);
  const std::size_t offsets[] = {0, 40, 100};
  const pk::affine3<T> ms[] = {m, m};
  pk::transform_points_batched(policy, pts, offsets, ms, res);
  pk::transform_normals_batched(policy, pts, offsets, ms, res);
  const pk::kdtree<T> tree(policy, pts);
  const auto graph = pk::radius_neighbors(policy, tree, pts, T(0.5));
  const auto knn = pk::knn_neighbors(policy, tree, pts, 4);
  const pk::matrix_view<T> vals(values.data(), 100, 4), smoothed(out.data(), 100, 4);
  pk::gaussian_smooth(policy, graph, vals, smoothed, {0.25, 2});
  pk::smooth_neighbors(policy, pts, vals, smoothed, T(0.5), {0.25, 1});
  (void)knn;
}

template <class Policy>
void every_family(const Policy& policy) {
  images(policy);
  points<Policy, float>(policy);
  points<Policy, double>(policy);
}

int main() {
  every_family(pk::exec::scalar);
  every_family(pk::exec::simd);
#if POLYKERN_HAS_OPENMP
  every_family(pk::exec::openmp);
#endif
#if POLYKERN_HAS_VULKAN
  if (pk::exec::vulkan.available()) every_family(pk::exec::with_fallback(pk::exec::vulkan, pk::exec::openmp));
#endif
  return 0;
}
