// Core: policies, views, images, border index maps, errors, and the Vulkan runtime.
#include <gtest/gtest.h>

#include <polykern/border.hpp>
#include <polykern/error.hpp>
#include <polykern/execution.hpp>
#include <polykern/image.hpp>
#include <polykern/view.hpp>

#include <cstdlib>
#include <numeric>
#include <string>
#include <vector>

#include "oracles.hpp"
#include "policies.hpp"

namespace pk = polykern;

// ---- policies -------------------------------------------------------------------------

static_assert(pk::execution_policy<pk::exec::scalar_policy>);
static_assert(pk::execution_policy<const pk::exec::simd_policy&>);
static_assert(!pk::execution_policy<int>);
static_assert(pk::exec::scalar.name == "scalar" && pk::exec::simd.name == "simd");
#if POLYKERN_HAS_OPENMP
static_assert(pk::exec::openmp.name == "openmp");
static_assert(std::is_same_v<pk::exec::default_policy, pk::exec::openmp_policy>);
static_assert(pk::execution_policy<decltype(pk::exec::with_fallback(pk::exec::simd, pk::exec::openmp))>);
#endif

namespace {
// Which backend body a policy reaches through the tag chain.
std::string body(pk::detail::scalar_tag, const auto&) { return "scalar body"; }
std::string body(pk::detail::simd_tag, const auto&) { return "simd body"; }
}  // namespace

TEST(Policies, FallBackAlongTheChainToTheNearestBody) {
  const auto run = [](auto tag, const auto& policy) { return body(tag, policy); };
  EXPECT_EQ(pk::detail::dispatch(pk::exec::scalar, run), "scalar body");
  EXPECT_EQ(pk::detail::dispatch(pk::exec::simd, run), "simd body");
#if POLYKERN_HAS_OPENMP
  // openmp has no body of its own here, so it runs the simd one.
  EXPECT_EQ(pk::detail::dispatch(pk::exec::openmp_policy{.threads = 1}, run), "simd body");
#endif
}

TEST(Policies, WithFallbackRerunsOnlyOnVulkanError) {
  const auto policy = pk::exec::with_fallback(pk::exec::simd, pk::exec::scalar);
  int calls = 0;
  const auto flaky = [&](auto tag, const auto&) -> std::string {
    ++calls;
    if constexpr (std::is_same_v<decltype(tag), pk::detail::simd_tag>)
      throw pk::vulkan_error("vkQueueSubmit", "VK_ERROR_DEVICE_LOST");
    return "scalar";
  };
  EXPECT_EQ(pk::detail::dispatch(policy, flaky), "scalar");
  EXPECT_EQ(calls, 2);
  const auto bad_argument = [](auto, const auto&) -> int { throw pk::invalid_argument("f: x is 3"); };
  EXPECT_THROW(pk::detail::dispatch(policy, bad_argument), pk::invalid_argument);
}

// ---- views and images -----------------------------------------------------------------

TEST(Views, ConvertToConstImplicitly) {
  std::vector<float> pixels(12);
  pk::image_view<float> v(pixels.data(), 2, 2, 3);
  pk::image_view<const float> c = v;
  EXPECT_EQ(c.row_stride, 6);
  EXPECT_EQ(c.end(), pixels.data() + 12);
  pk::points_view<const double> p = pk::points_view<double>(nullptr, 0);
  EXPECT_EQ(p.stride, 3);
  pk::matrix_view<const float> m = pk::matrix_view<float>(pixels.data(), 3, 4);
  EXPECT_EQ(&m(2, 3), pixels.data() + 11);
}

TEST(Views, InPlaceOrDisjointRule) {
  std::vector<float> buffer(100);
  float* a = buffer.data();
  EXPECT_TRUE(pk::detail::same_or_disjoint(a, a + 30, 3, a, a + 30, 3));        // in place
  EXPECT_FALSE(pk::detail::same_or_disjoint(a, a + 30, 3, a, a + 40, 4));       // same start, other stride
  EXPECT_FALSE(pk::detail::same_or_disjoint(a, a + 30, 3, a + 1, a + 31, 3));   // shifted
  EXPECT_TRUE(pk::detail::same_or_disjoint(a, a + 30, 3, a + 30, a + 60, 3));   // adjacent
}

TEST(Image, RowsAreAlignedAndPadded) {
  pk::image<std::uint8_t> rgb(3, 5, 3, 7);
  EXPECT_EQ(rgb.row_stride(), 64);
  for (std::size_t y = 0; y < 5; ++y) EXPECT_EQ(reinterpret_cast<std::uintptr_t>(rgb.view().row(y)) % 64, 0u);
  EXPECT_EQ(rgb(2, 4, 2), 7);
  pk::image<float> f(17, 2, 1);
  EXPECT_EQ(f.row_stride(), 32);
  pk::image<float> copy = f;
  copy(16, 1) = 3;
  EXPECT_EQ(f(16, 1), 0);
  pk::image<double> empty(0, 0);
  EXPECT_TRUE(empty.view().empty());
}

// ---- border maps ------------------------------------------------------------------------


TEST(Border, ClosedFormsMatchOpenCvLoops) {
  for (auto mode : {pk::border::reflect, pk::border::reflect101, pk::border::replicate, pk::border::constant,
                    pk::border::wrap})
    for (std::ptrdiff_t n : {1, 2, 3, 5, 8})
      for (std::ptrdiff_t p = -250; p < 250; ++p)
        ASSERT_EQ(pk::detail::border_index(p, n, mode), pk::testing::literal_border(p, n, mode))
            << pk::name(mode) << " p=" << p << " n=" << n;
}

TEST(Border, DocumentedPatterns) {
  const auto map = [](pk::border mode, std::ptrdiff_t n, std::ptrdiff_t from, std::ptrdiff_t to) {
    std::string s;
    for (auto p = from; p < to; ++p) s += char('a' + pk::detail::border_index(p, n, mode));
    return s;
  };
  EXPECT_EQ(map(pk::border::reflect, 6, -6, 12), "fedcbaabcdeffedcba");
  EXPECT_EQ(map(pk::border::reflect101, 4, -3, 7), "dcbabcdcba");
  EXPECT_EQ(map(pk::border::replicate, 3, -3, 6), "aaaabccc" "c");
  EXPECT_EQ(map(pk::border::wrap, 3, -2, 5), "bcabcab");
}

TEST(Errors, MessagesNameFunctionArgumentAndValue) {
  try {
    pk::detail::require(false, "correlate", "kernel is ", 0, "x", 3, "; both sizes must be >= 1");
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_STREQ(e.what(), "correlate: kernel is 0x3; both sizes must be >= 1");
  }
  const pk::vulkan_error v("vkAllocateMemory", "VK_ERROR_OUT_OF_DEVICE_MEMORY");
  EXPECT_EQ(std::string(v.what()), "vulkan: vkAllocateMemory failed: VK_ERROR_OUT_OF_DEVICE_MEMORY");
  EXPECT_EQ(v.result(), "VK_ERROR_OUT_OF_DEVICE_MEMORY");
}

// ---- the Vulkan runtime ---------------------------------------------------------------

#if POLYKERN_HAS_VULKAN
#include <bit>
#include <runtime_scale.spv.hpp>

namespace vk = polykern::vulkan;

namespace {
struct push_t {  // matches runtime_scale.comp
  std::uint32_t count;
  float offset;
};

// Runs the test shader over `values` on ctx, binding at most `chunk` floats per dispatch.
std::vector<float> scale_on_device(vk::context& ctx, const std::vector<float>& values, float factor, float offset,
                                   std::size_t chunk) {
  const std::uint32_t spec[] = {64, std::bit_cast<std::uint32_t>(factor)};
  const auto& pipe = ctx.get_pipeline({"runtime_scale", vk::shaders::runtime_scale, 2, 8, spec});
  const std::size_t bytes = values.size() * sizeof(float);
  vk::buffer in(ctx, bytes), out(ctx, bytes);
  vk::commands cmd(ctx);
  std::vector<float> result(values.size());
  cmd.upload(in, values.data(), bytes);
  for (std::size_t begin = 0; begin < values.size(); begin += chunk) {
    const std::size_t n = std::min(chunk, values.size() - begin);
    cmd.dispatch(pipe, {vk::binding(in, begin * 4, n * 4), vk::binding(out, begin * 4, n * 4)},
                 push_t{static_cast<std::uint32_t>(n), offset}, static_cast<std::uint32_t>((n + 63) / 64));
  }
  cmd.download(out, result.data(), bytes);
  cmd.submit();
  return result;
}
}  // namespace

TEST(VulkanRuntime, vulkan_ContextReportsTheDevice) {
  auto& ctx = vk::default_context();
  const auto& info = ctx.info();
  EXPECT_FALSE(info.name.empty());
  EXPECT_GE(info.max_storage_buffer_range, 1u << 27);  // the spec minimum
  EXPECT_GT(info.subgroup_size, 0u);
  EXPECT_GT(info.device_local_bytes(), 0u);
  EXPECT_TRUE(pk::exec::vulkan.available());
  const auto devices = vk::context::list_devices();
  ASSERT_FALSE(devices.empty());
  EXPECT_EQ(devices[info.index].name, info.name);
}

TEST(VulkanRuntime, vulkan_DeviceOverrideByIndexAndName) {
  const auto devices = vk::context::list_devices();
  vk::context by_index({.device = std::to_string(devices.size() - 1)});
  EXPECT_EQ(by_index.info().index, devices.size() - 1);
  const std::string part = devices[0].name.substr(0, 4);
  vk::context by_name({.device = part});
  EXPECT_NE(by_name.info().name.find(part), std::string::npos);
  try {
    vk::context none({.device = "no such device anywhere"});
    FAIL();
  } catch (const pk::vulkan_error& e) {
    EXPECT_NE(std::string(e.what()).find("no such device anywhere"), std::string::npos);
  }
}

TEST(VulkanRuntime, vulkan_DispatchWithSpecialisationAndChunkedBindings) {
  auto& ctx = vk::default_context();
  std::vector<float> values(1000);
  std::iota(values.begin(), values.end(), 0.0f);
  // Sub-range bindings must start on minStorageBufferOffsetAlignment.
  const std::size_t aligned = ctx.info().min_storage_buffer_offset_alignment / sizeof(float);
  for (std::size_t chunk : {std::size_t{1000}, 16 * aligned, 21 * aligned}) {
    const auto result = scale_on_device(ctx, values, 2.0f, 0.5f, chunk);
    for (std::size_t i = 0; i < values.size(); ++i) ASSERT_EQ(result[i], values[i] * 2.0f + 0.5f) << i;
  }
  EXPECT_TRUE(scale_on_device(ctx, {}, 2.0f, 0.5f, 64).empty());
}

TEST(VulkanRuntime, vulkan_CommandsCanBeReusedAfterSubmit) {
  auto& ctx = vk::default_context();
  const std::uint32_t spec[] = {64, std::bit_cast<std::uint32_t>(3.0f)};
  const auto& pipe = ctx.get_pipeline({"runtime_scale", vk::shaders::runtime_scale, 2, 8, spec});
  EXPECT_EQ(&pipe, &ctx.get_pipeline({"runtime_scale", vk::shaders::runtime_scale, 2, 8, spec}));  // cached
  vk::buffer a(ctx, 4 * 200), b(ctx, 4 * 200);
  vk::commands cmd(ctx);
  for (int round = 0; round < 3; ++round) {  // more dispatches than one descriptor pool holds
    std::vector<float> x(200, float(round)), y(200);
    cmd.upload(a, x.data(), 800);
    for (int k = 0; k < 100; ++k) cmd.dispatch(pipe, {a, b}, push_t{200u, 1.0f}, 4);
    cmd.download(b, y.data(), 800);
    cmd.submit();
    EXPECT_EQ(y[199], round * 3.0f + 1.0f);
  }
  EXPECT_THROW(cmd.dispatch(pipe, {a}, push_t{1u, 0.f}, 1), std::logic_error);
  EXPECT_THROW(cmd.dispatch(pipe, {vk::binding(a, 1, 4), b}, push_t{1u, 0.f}, 1), std::logic_error);
}

TEST(VulkanRuntime, vulkan_InjectedAllocationFailureIsAVulkanError) {
  auto& ctx = vk::default_context();
  {
    vk::testing::scoped_allocation_failure fail(1);  // the second allocation fails
    vk::buffer first(ctx, 64);
    try {
      vk::buffer second(ctx, 64);
      FAIL();
    } catch (const pk::vulkan_error& e) {
      EXPECT_EQ(e.result(), "VK_ERROR_OUT_OF_DEVICE_MEMORY");
      EXPECT_EQ(e.call(), "vkAllocateMemory");
    }
  }
  vk::buffer after(ctx, 64);  // back to normal
  EXPECT_EQ(after.size(), 64u);
}

TEST(VulkanRuntime, vulkan_BindingLimitCanBeLoweredForTests) {
  vk::context ctx;
  EXPECT_EQ(ctx.max_binding_bytes(), ctx.info().max_storage_buffer_range);
  ctx.limit_binding_bytes_for_testing(4096);
  EXPECT_EQ(ctx.max_binding_bytes(), 4096u);
  ctx.limit_binding_bytes_for_testing(0);
  EXPECT_EQ(ctx.max_binding_bytes(), ctx.info().max_storage_buffer_range);
}
#endif
