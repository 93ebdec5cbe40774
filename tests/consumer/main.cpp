// A user's program: include the umbrella header, pick a policy, check one result.
#include <polykern/polykern.hpp>

#include <cstdio>

int main() {
  float p[3] = {1, 2, 3};
  const polykern::affine3<float> shift{{{1, 0, 0, 10}, {0, 1, 0, 20}, {0, 0, 1, 30}}};
  polykern::points_view<float> points(p, 1);
  polykern::transform_points(polykern::exec::default_policy{}, points, shift, points);
  std::printf("%s: (%g, %g, %g)\n", polykern::exec::default_policy::name.data(), p[0], p[1], p[2]);
  return p[0] == 11 && p[1] == 22 && p[2] == 33 ? 0 : 1;
}
