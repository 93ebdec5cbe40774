// Device-resident points and matrices in the POINTS families (issue 9, api.md §7): the
// affine kernels on vulkan::device_points, kdtree queries on device points and the tree's
// device copy, gaussian_smooth on vulkan::device_matrix; chunking with a lowered binding
// limit; objects of another context; threads. Every case name contains "vulkan", so the
// validation and forced-staging runs (`*vulkan*`) cover them all.
#include <gtest/gtest.h>

#include <polykern/affine.hpp>
#include <polykern/kdtree.hpp>
#include <polykern/smooth.hpp>
#include <polykern/vulkan.hpp>

#include <cstdint>
#include <random>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

namespace pk = polykern;
namespace vk = polykern::vulkan;

namespace {

void expect_silent(vk::context& ctx) {
  for (const auto& m : ctx.validation_messages()) ADD_FAILURE() << "[validation] " << m;
  ctx.clear_validation_messages();
}

template <class T>
std::vector<T> random_values(std::size_t n, unsigned seed, double lo = -10, double hi = 10) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> d(lo, hi);
  std::vector<T> v(n);
  for (auto& x : v) x = static_cast<T>(d(rng));
  return v;
}

// A fresh context: the default one's options (device, validation, staging from the
// environment), so tests may lower its binding limit without touching other tests.
vk::context_options env_options() { return vk::context_options{}; }

template <class T, std::size_t Dim = 3>
std::vector<T> download(const vk::device_points<T, Dim>& d) {
  std::vector<T> v(d.count() * Dim);
  d.download(pk::points_view<T, Dim>(v.data(), d.count()));
  return v;
}
template <class T>
std::vector<T> download(const vk::device_matrix<T>& d) {
  std::vector<T> v(d.rows() * d.cols());
  d.download(pk::matrix_view<T>(v.data(), d.rows(), d.cols()));
  return v;
}

const pk::affine3<float> rotation{{{0.8f, -0.6f, 0.0f, 1.0f}, {0.6f, 0.8f, 0.0f, -2.0f}, {0.0f, 0.0f, 1.0f, 0.5f}}};

}  // namespace

// ---- affine -------------------------------------------------------------------------------

TEST(VulkanDevicePointsAffine, vulkan_EveryKernelEqualsTheHostCall) {
  vk::context& ctx = vk::default_context();
  const pk::exec::vulkan_policy policy{ctx};
  const std::size_t n = 5003;
  const auto p = random_values<float>(3 * n, 1);
  const pk::points_view<const float> host_in(p.data(), n);
  const std::vector<std::size_t> offsets = {0, 1000, 1000, 4000, n};
  const std::vector<pk::affine3<float>> mats = {rotation, {{{2, 0, 0, 0}, {0, 1, 0, 3}, {0, 0, 0.5f, 0}}},
                                                {{{1, 0.5f, 0, 0}, {0, 1, 0, 0}, {0, 0, 1, -1}}}, rotation};
  for (int kernel = 0; kernel < 4; ++kernel) {
    SCOPED_TRACE(kernel);
    std::vector<float> want(3 * n);
    const pk::points_view<float> host_out(want.data(), n);
    vk::device_points<float> in(ctx, host_in), out(ctx, n);
    switch (kernel) {
      case 0:
        pk::transform_points(policy, host_in, rotation, host_out);
        pk::transform_points(policy, in, rotation, out);
        break;
      case 1:
        pk::transform_normals(policy, host_in, rotation, host_out);
        pk::transform_normals(policy, in, rotation, out);
        break;
      case 2:
        pk::transform_points_batched(policy, host_in, offsets, mats, host_out);
        pk::transform_points_batched(policy, in, offsets, mats, out);
        break;
      case 3:
        pk::transform_normals_batched(policy, host_in, offsets, mats, host_out);
        pk::transform_normals_batched(policy, in, offsets, mats, out);
        break;
    }
    EXPECT_EQ(download(out), want);
    EXPECT_EQ(download(in), p);  // the input is untouched
    // In place: the same object as input and output.
    if (kernel == 0) pk::transform_points(policy, in, rotation, in);
    if (kernel == 1) pk::transform_normals(policy, in, rotation, in);
    if (kernel == 2) pk::transform_points_batched(policy, in, offsets, mats, in);
    if (kernel == 3) pk::transform_normals_batched(policy, in, offsets, mats, in);
    EXPECT_EQ(download(in), want);
  }
  expect_silent(ctx);
}
