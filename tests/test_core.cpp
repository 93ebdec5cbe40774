// Core: policies, views, images, border index maps, errors, and the Vulkan runtime.
#include <gtest/gtest.h>

#include <polykern/border.hpp>
#include <polykern/error.hpp>
#include <polykern/execution.hpp>
#include <polykern/image.hpp>
#include <polykern/view.hpp>
// The overflow cases below call one kernel of every family through the public API.
#include <polykern/affine.hpp>
#include <polykern/convolve.hpp>
#include <polykern/kdtree.hpp>
#include <polykern/smooth.hpp>
#include <polykern/warp.hpp>

#include <functional>
#include <limits>

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

// ---- overflow-safe shape arithmetic ----------------------------------------------------
// Every product of sizes, strides and element sizes is checked (detail/checked.hpp): a view
// that cannot be addressed is an invalid_argument naming the function and the argument,
// before anything is read or written, on every policy — never a wrapped product that
// passes a bound check and then reads wild memory.

TEST(Checked, ProductsAndSumsThatDoNotFitAreInvalidArguments) {
  EXPECT_EQ(pk::detail::checked_mul("f", 3, 5, 15, "x * y"), 15u);
  EXPECT_EQ(pk::detail::checked_add("f", 3, 5, 8, "x + y"), 8u);
  try {
    pk::detail::checked_mul("f", std::size_t{1} << 33, std::size_t{1} << 31, pk::detail::max_object_bytes, "x * y");
    FAIL();
  } catch (const pk::invalid_argument& e) {
    EXPECT_STREQ(e.what(), "f: x * y is 8589934592 * 2147483648, more than 9223372036854775807; does not fit in "
                           "addressable memory");
  }
  EXPECT_THROW(pk::detail::checked_mul("f", 3, 5, 14, "x * y"), pk::invalid_argument);  // over the limit
  EXPECT_THROW(pk::detail::checked_add("f", SIZE_MAX, 1, SIZE_MAX, "x + y"), pk::invalid_argument);  // wraps
}

TEST(Checked, ImageAllocationSizeIsChecked) {
  constexpr std::size_t half = std::size_t{1} << 63;
  const auto rejected = [](const std::function<void()>& make, const char* what) {
    try {
      make();
      ADD_FAILURE() << "accepted: " << what;
    } catch (const pk::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find("image: "), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
    }
  };
  rejected([&] { pk::image<std::uint8_t>(half + 1, 1, 2); }, "width * channels");         // wraps to 2
  rejected([&] { pk::image<float>(std::size_t{1} << 62, 1, 1); }, "width * channels");    // 2^64 bytes
  rejected([&] { pk::image<float>(1 << 20, std::size_t{1} << 44, 1); }, "padded row stride * height");
  rejected([&] { pk::image<std::uint8_t>(pk::detail::max_object_bytes - 8, 1, 1); }, "alignment");  // rounding up
}

namespace {
constexpr std::size_t wraps_times_2 = (std::size_t{1} << 63) + 1;  // * 2 == 2 (mod 2^64)

// The call throws invalid_argument naming `function` and `argument`, and `untouched`
// (the output) keeps its sentinel.
template <class T>
void expect_rejected(const std::function<void()>& call, const std::vector<T>& untouched, const char* function,
                     const char* argument) {
  try {
    call();
    ADD_FAILURE() << function << " accepted an unaddressable " << argument;
  } catch (const pk::invalid_argument& e) {
    const std::string what = e.what();
    EXPECT_EQ(what.rfind(std::string(function) + ": ", 0), 0u) << what;
    EXPECT_NE(what.find(argument), std::string::npos) << what;
  }
  for (const T& v : untouched) ASSERT_EQ(v, T(7)) << function << " wrote before rejecting";
}
}  // namespace

template <class P>
class Overflow : public ::testing::Test {
 protected:
  P policy = pk::testing::make_policy<P>();
};
TYPED_TEST_SUITE(Overflow, pk::testing::all_policies, pk::testing::policy_name);

// width * channels wraps to 2 and row_stride 2 passed the old check (row_stride >=
// width * channels); (height - 1) * row_stride wraps; a kernel row stride no object has.
TYPED_TEST(Overflow, ImageViewsThatCannotBeAddressedAreRejected) {
  const auto& p = this->policy;
  std::vector<float> pixels(64, 0.5f), out(64, 7.0f);
  const pk::image_view<float> dst(out.data(), 4, 4, 2);
  const pk::image_view<const float> good(pixels.data(), 4, 4, 2);
  pk::image_view<const float> wide(pixels.data(), wraps_times_2, 1, 2, 2);
  pk::image_view<const float> tall(pixels.data(), 4, std::size_t{1} << 62, 2, 8);
  const pk::image_view<float> wide_dst(out.data(), wraps_times_2, 1, 2, 2);
  const float k[9] = {0, 0, 0, 0, 1, 0, 0, 0, 0};
  const pk::image_view<const float> kernel(k, 3, 3, 1, std::numeric_limits<std::ptrdiff_t>::max());
  const pk::image_view<const float> identity(k, 3, 3);

  expect_rejected<float>([&] { pk::correlate(p, wide, identity, wide_dst); }, out, "correlate", "src");
  expect_rejected<float>([&] { pk::correlate(p, tall, identity, dst); }, out, "correlate", "src");
  expect_rejected<float>([&] { pk::correlate(p, good, kernel, dst); }, out, "correlate", "kernel");
  expect_rejected<float>([&] { pk::gaussian_blur(p, good, wide_dst, 1.0); }, out, "gaussian_blur", "dst");
  const std::vector<pk::image_view<const float>> srcs{good, wide};
  const std::vector<pk::image_view<float>> dsts{dst, wide_dst};
  expect_rejected<float>([&] { pk::correlate_batch(p, srcs, identity, dsts); }, out, "correlate_batch", "srcs[1]");

  const pk::affine2<double> shift{{{1, 0, 0.5}, {0, 1, 0}}};
  expect_rejected<float>([&] { pk::warp_affine(p, wide, shift, dst); }, out, "warp_affine", "src");
  expect_rejected<float>([&] { pk::resize(p, good, wide_dst); }, out, "resize", "dst");
  const pk::tile<float> tiles[] = {{tall, shift}};
  expect_rejected<float>([&] { pk::compose(p, std::span<const pk::tile<float>>(tiles), dst); }, out, "compose",
                         "tiles[0].image");
}

// count * stride: 2^31 points 2^32 elements apart passed the tree's own count check.
TYPED_TEST(Overflow, PointViewsThatCannotBeAddressedAreRejected) {
  const auto& p = this->policy;
  std::vector<float> coords(96, 1.0f), out(96, 7.0f);
  const pk::points_view<const float> far(coords.data(), std::size_t{1} << 31, std::ptrdiff_t{1} << 32);
  const pk::points_view<const float> good(coords.data(), 32);
  expect_rejected<float>([&] { pk::kdtree<float>(p, far); }, out, "kdtree", "points");
  const pk::kdtree<float> tree(p, good);
  expect_rejected<float>([&] { (void)pk::radius_neighbors(p, tree, far, 1.0f); }, out, "radius_neighbors", "queries");
  expect_rejected<float>([&] { (void)pk::knn_neighbors(p, tree, far, 3); }, out, "knn_neighbors", "queries");
  const pk::affine3<float> m{{{1, 0, 0, 0}, {0, 1, 0, 0}, {0, 0, 1, 0}}};
  const pk::points_view<float> far_out(out.data(), std::size_t{1} << 31, std::ptrdiff_t{1} << 32);
  expect_rejected<float>([&] { pk::transform_points(p, far, m, far_out); }, out, "transform_points", "in");
  const pk::matrix_view<const float> values(coords.data(), std::size_t{1} << 31, 1, std::ptrdiff_t{1} << 32);
  const pk::matrix_view<float> smoothed(out.data(), std::size_t{1} << 31, 1, std::ptrdiff_t{1} << 32);
  expect_rejected<float>([&] { pk::smooth_neighbors(p, far, values, smoothed, 1.0f, {1.0}); }, out,
                         "smooth_neighbors", "points");
}

// rows * row_stride of the per-point values.
TYPED_TEST(Overflow, MatrixViewsThatCannotBeAddressedAreRejected) {
  const auto& p = this->policy;
  std::vector<float> coords(12, 0.0f), values(16, 1.0f), out(16, 7.0f);
  for (std::size_t i = 0; i < 12; ++i) coords[i] = float(i);
  const pk::points_view<const float> pts(coords.data(), 4);
  const pk::matrix_view<const float> huge_stride(values.data(), 4, 2, std::numeric_limits<std::ptrdiff_t>::max() / 2);
  const pk::matrix_view<const float> wide(values.data(), 4, wraps_times_2, 2);
  const pk::matrix_view<float> good_out(out.data(), 4, 2);
  expect_rejected<float>([&] { pk::smooth_neighbors(p, pts, huge_stride, good_out, 1.0f, {1.0}); }, out,
                         "smooth_neighbors", "values");
  const auto graph = pk::radius_neighbors(pk::exec::scalar, pk::kdtree<float>(pk::exec::scalar, pts), pts, 1.5f);
  expect_rejected<float>([&] { pk::gaussian_smooth(p, graph, huge_stride, good_out, {1.0}); }, out, "gaussian_smooth",
                         "values");
  const pk::matrix_view<float> wide_out(out.data(), 4, wraps_times_2, 2);
  expect_rejected<float>([&] { pk::gaussian_smooth(p, graph, wide, wide_out, {1.0}); }, out, "gaussian_smooth",
                         "values");
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
