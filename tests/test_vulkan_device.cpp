// Device-resident images (api.md §7, issue 9 items 3 and 6): every image kernel takes
// vulkan::device_image objects under a Vulkan policy, equals its host-view call bitwise,
// transfers only its parameter block, allocates nothing in steady state, rejects objects of
// another context, survives allocation failures, and cuts batches by memory and binding.
// Every case name contains "vulkan" (the validation and staging ctests run them all).
#include <gtest/gtest.h>

#include <polykern/convolve.hpp>
#include <polykern/image.hpp>
#include <polykern/vulkan.hpp>
#include <polykern/warp.hpp>

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

namespace pk = polykern;
namespace vk = polykern::vulkan;

namespace {

void expect_silent(vk::context& ctx) {
  for (const auto& m : ctx.validation_messages()) ADD_FAILURE() << "[validation] " << m;
  ctx.clear_validation_messages();
}

vk::context& staging_context() {
  static vk::context ctx([] {
    vk::context_options options;  // device and validation from the environment
    options.force_staging = true;
    return options;
  }());
  return ctx;
}

// The default context (mapped on lavapipe unless the environment forces staging) and one
// that always stages.
std::vector<vk::context*> contexts() { return {&vk::default_context(), &staging_context()}; }

template <class T>
pk::image<T> random_image(std::size_t w, std::size_t h, std::size_t c, unsigned seed) {
  pk::image<T> img(w, h, c);
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(0, 1);
  for (std::size_t y = 0; y < h; ++y)
    for (std::size_t x = 0; x < w * c; ++x) {
      const float v = d(rng);
      img.view().row(y)[x] = std::is_same_v<T, std::uint8_t> ? static_cast<T>(v * 255) : static_cast<T>(v);
    }
  return img;
}

template <class T>
bool same_pixels(const pk::image<T>& a, const pk::image<T>& b) {
  const auto va = a.view(), vb = b.view();
  if (va.width != vb.width || va.height != vb.height || va.channels != vb.channels) return false;
  for (std::size_t y = 0; y < va.height; ++y)
    if (std::memcmp(va.row(y), vb.row(y), va.width * va.channels * sizeof(T)) != 0) return false;
  return true;
}

template <class T>
pk::image<T> download(const vk::device_image<T>& d) {
  pk::image<T> out(d.width(), d.height(), d.channels());
  d.download(out.view());
  return out;
}

const std::vector<float> box3 = {0.25f, 0.5f, 0.25f};
const std::vector<float> sharpen = {0, -1, 0, -1, 5, -1, 0, -1, 0};

template <class T>
class VulkanDeviceImages : public ::testing::Test {};
using element_types = ::testing::Types<std::uint8_t, float>;
TYPED_TEST_SUITE(VulkanDeviceImages, element_types);

// ---- each overload equals its host-view call -------------------------------------------

TYPED_TEST(VulkanDeviceImages, vulkan_ConvolveFamilyEqualsHostViews) {
  using T = TypeParam;
  for (vk::context* ctx : contexts()) {
    SCOPED_TRACE(ctx->staging_forced() ? "staged" : "default");
    const pk::exec::vulkan_policy policy{*ctx};
    const auto src = random_image<T>(67, 41, 3, 1);
    const vk::device_image<T> dsrc(*ctx, src.view());
    vk::device_image<T> ddst(*ctx, 67, 41, 3);
    pk::image<T> host(67, 41, 3);
    const pk::image_view<const float> k(sharpen.data(), 3, 3);
    const auto check = [&](const char* what) {
      SCOPED_TRACE(what);
      EXPECT_TRUE(same_pixels(download(ddst), host));
    };
    pk::correlate(policy, src.view(), k, host.view(), {pk::border::wrap});
    pk::correlate(policy, dsrc, k, ddst, {pk::border::wrap});
    check("correlate");
    pk::convolve(policy, src.view(), k, host.view(), {pk::border::reflect101}, pk::conv_method::direct);
    pk::convolve(policy, dsrc, k, ddst, {pk::border::reflect101}, pk::conv_method::direct);
    check("convolve");
    // The kernel as a device image too: downloaded, then the same call.
    const vk::device_image<float> dk(*ctx, k);
    pk::correlate(policy, src.view(), k, host.view(), {pk::border::reflect});
    ctx->reset_stats();
    pk::correlate(policy, dsrc, dk, ddst, {pk::border::reflect});
    EXPECT_EQ(ctx->stats().bytes_downloaded, 9 * sizeof(float));  // the kernel's bytes only
    check("correlate, device kernel");
    pk::convolve(policy, dsrc, dk, ddst, {pk::border::reflect101}, pk::conv_method::direct);
    pk::convolve(policy, src.view(), k, host.view(), {pk::border::reflect101}, pk::conv_method::direct);
    check("convolve, device kernel");
    pk::separable_correlate(policy, src.view(), box3, box3, host.view(), {pk::border::constant, 3});
    pk::separable_correlate(policy, dsrc, box3, box3, ddst, {pk::border::constant, 3});
    check("separable_correlate");
    const std::vector<pk::separable_term> terms = {{box3, box3, 0.7}, {sharpen, box3, 0.3}};
    pk::separable_correlate(policy, src.view(), terms, host.view());
    pk::separable_correlate(policy, dsrc, terms, ddst);
    check("separable_correlate terms");
    pk::gaussian_blur(policy, src.view(), host.view(), 2.5, 1.5);
    pk::gaussian_blur(policy, dsrc, ddst, 2.5, 1.5);
    check("gaussian_blur");

    // A batch: objects or pointers.
    std::vector<pk::image<T>> srcs, outs;
    std::vector<vk::device_image<T>> dsrcs, douts;
    for (unsigned i = 0; i < 3; ++i) {
      srcs.push_back(random_image<T>(20 + i * 7, 11 + i, 1 + i, 10 + i));
      outs.emplace_back(srcs.back().width(), srcs.back().height(), srcs.back().channels());
      dsrcs.emplace_back(*ctx, srcs.back().view());
      douts.emplace_back(*ctx, srcs.back().width(), srcs.back().height(), srcs.back().channels());
    }
    std::vector<pk::image_view<const T>> sv;
    std::vector<pk::image_view<T>> ov;
    for (unsigned i = 0; i < 3; ++i) sv.push_back(srcs[i].view()), ov.push_back(outs[i].view());
    pk::correlate_batch(policy, sv, k, ov);
    pk::correlate_batch(policy, dsrcs, k, douts);
    for (unsigned i = 0; i < 3; ++i) EXPECT_TRUE(same_pixels(download(douts[i]), outs[i])) << i;
    std::vector<const vk::device_image<T>*> psrcs;
    std::vector<vk::device_image<T>*> pouts;
    for (unsigned i = 0; i < 3; ++i) psrcs.push_back(&dsrcs[2 - i]), pouts.push_back(&douts[2 - i]);
    pk::correlate_batch(policy, psrcs, k, pouts);
    for (unsigned i = 0; i < 3; ++i) EXPECT_TRUE(same_pixels(download(douts[i]), outs[i])) << i;
    expect_silent(*ctx);
  }
}

TYPED_TEST(VulkanDeviceImages, vulkan_WarpFamilyEqualsHostViews) {
  using T = TypeParam;
  for (vk::context* ctx : contexts()) {
    SCOPED_TRACE(ctx->staging_forced() ? "staged" : "default");
    const pk::exec::vulkan_policy policy{*ctx};
    const auto src = random_image<T>(53, 37, 3, 2);
    const vk::device_image<T> dsrc(*ctx, src.view());
    pk::image<T> host(61, 45, 3);
    vk::device_image<T> ddst(*ctx, 61, 45, 3);
    const pk::affine2<double> m{{{0.9, -0.3, 12.5}, {0.25, 1.1, -3.0}}};
    pk::warp_affine(policy, src.view(), m, host.view(), pk::interpolation::bilinear, {pk::border::reflect});
    pk::warp_affine(policy, dsrc, m, ddst, pk::interpolation::bilinear, {pk::border::reflect});
    EXPECT_TRUE(same_pixels(download(ddst), host)) << "warp_affine";
    for (auto interp : {pk::interpolation::bilinear, pk::interpolation::nearest, pk::interpolation::area}) {
      pk::resize(policy, src.view(), host.view(), interp);
      pk::resize(policy, dsrc, ddst, interp);
      EXPECT_TRUE(same_pixels(download(ddst), host)) << "resize " << pk::name(interp);
    }
    // compose over a non-blank canvas: untouched pixels must survive on both paths.
    const auto t2 = random_image<T>(19, 23, 3, 3);
    const vk::device_image<T> dt2(*ctx, t2.view());
    const pk::affine2<double> a{{{1.5, 0, 4}, {0, 1.5, 2}}}, b{{{0.7, 0.4, 30}, {-0.4, 0.7, 25}}};
    pk::image<T> canvas = random_image<T>(61, 45, 3, 4);
    const vk::device_image<T> start(*ctx, canvas.view());
    ddst.upload(canvas.view());
    for (auto interp : {pk::interpolation::bilinear, pk::interpolation::area}) {
      const std::vector<pk::tile<T>> tiles = {{src.view(), a}, {t2.view(), b}};
      const std::vector<vk::device_tile<T>> dtiles = {{&dsrc, a}, {&dt2, b}};
      pk::compose<pk::exec::vulkan_policy, T>(policy, tiles, canvas.view(), interp);
      pk::compose<pk::exec::vulkan_policy, T>(policy, dtiles, ddst, interp);
      EXPECT_TRUE(same_pixels(download(ddst), canvas)) << "compose " << pk::name(interp);
    }
    expect_silent(*ctx);
  }
}

// In place on a device image behaves as in place on a host view.
TYPED_TEST(VulkanDeviceImages, vulkan_InPlaceEqualsHostInPlace) {
  using T = TypeParam;
  vk::context& ctx = staging_context();
  const pk::exec::vulkan_policy policy{ctx};
  pk::image<T> host = random_image<T>(45, 33, 2, 5);
  vk::device_image<T> d(ctx, host.view());
  pk::gaussian_blur(policy, host.view(), host.view(), 3.0);
  pk::gaussian_blur(policy, d, d, 3.0);
  EXPECT_TRUE(same_pixels(download(d), host));
  const pk::image_view<const float> k(sharpen.data(), 3, 3);
  pk::correlate(policy, host.view(), k, host.view(), {pk::border::wrap});
  pk::correlate(policy, d, k, d, {pk::border::wrap});
  EXPECT_TRUE(same_pixels(download(d), host));
  expect_silent(ctx);
}

// ---- chains, statistics, pool ----------------------------------------------------------

// The halation / grid-video shape of work: blur -> warp -> compose, all on the device.
TEST(VulkanDeviceChain, vulkan_BlurWarpComposeOnDeviceEqualsHostChain) {
  for (vk::context* ctx : contexts()) {
    const pk::exec::vulkan_policy policy{*ctx};
    const auto src = random_image<std::uint8_t>(96, 64, 3, 6);
    pk::image<std::uint8_t> blurred(96, 64, 3), warped(80, 60, 3), canvas(160, 90, 3);
    const pk::affine2<double> m{{{0.8, 0.1, 2}, {-0.1, 0.8, 6}}}, at{{{1, 0, 70}, {0, 1, 20}}};
    pk::gaussian_blur(policy, src.view(), blurred.view(), 2.0);
    pk::warp_affine(policy, blurred.view(), m, warped.view());
    const std::vector<pk::tile<std::uint8_t>> tiles = {{warped.view(), at}, {src.view(), {{{0.5, 0, 0}, {0, 0.5, 0}}}}};
    pk::compose<pk::exec::vulkan_policy, std::uint8_t>(policy, tiles, canvas.view());

    vk::device_image<std::uint8_t> d_src(*ctx, src.view()), d_blur(*ctx, 96, 64, 3), d_warp(*ctx, 80, 60, 3),
        d_canvas(*ctx, 160, 90, 3);
    ctx->reset_stats();
    pk::gaussian_blur(policy, d_src, d_blur, 2.0);
    pk::warp_affine(policy, d_blur, m, d_warp);
    const std::vector<vk::device_tile<std::uint8_t>> dtiles = {{&d_warp, at}, {&d_src, {{{0.5, 0, 0}, {0, 0.5, 0}}}}};
    pk::compose<pk::exec::vulkan_policy, std::uint8_t>(policy, dtiles, d_canvas);
    EXPECT_EQ(ctx->stats().bytes_downloaded, 0u);  // no host round trip in the chain
    EXPECT_TRUE(same_pixels(download(d_canvas), canvas));
    expect_silent(*ctx);
  }
}

TEST(VulkanDeviceStats, vulkan_BlurOfADeviceImageTransfersOnlyItsParameterBlock) {
  for (vk::context* ctx : contexts()) {
    const pk::exec::vulkan_policy policy{*ctx};
    const auto src = random_image<float>(256, 256, 3, 7);
    const vk::device_image<float> d(*ctx, src.view());
    vk::device_image<float> out(*ctx, 256, 256, 3);
    ctx->reset_stats();
    pk::gaussian_blur(policy, d, out, 2.0);  // 17 taps a side
    const auto s = ctx->stats();
    EXPECT_EQ(s.bytes_downloaded, 0u);
    // The parameter block: 2 x 17 taps + one row table of 256 + 16 + 8 entries, 4 bytes each.
    EXPECT_GT(s.bytes_uploaded, 0u);
    EXPECT_LE(s.bytes_uploaded, (2 * 17 + 256 + 16 + 8) * 4u);
    EXPECT_EQ(s.submissions, 1u);
    expect_silent(*ctx);
  }
}

TEST(VulkanDeviceStats, vulkan_TilesUploadedOnceServeManyFrames) {
  for (vk::context* ctx : contexts()) {
    const pk::exec::vulkan_policy policy{*ctx};
    std::vector<vk::device_image<std::uint8_t>> tiles;
    std::size_t tile_bytes = 0;
    for (unsigned i = 0; i < 16; ++i) {
      tiles.emplace_back(*ctx, random_image<std::uint8_t>(64, 36, 3, 20 + i).view());
      tile_bytes += 64 * 36 * 3;
    }
    vk::device_image<std::uint8_t> canvas(*ctx, 128, 72, 3);
    const int frames = 10;
    ctx->reset_stats();
    for (int f = 0; f < frames; ++f) {
      std::vector<vk::device_tile<std::uint8_t>> layout;
      for (unsigned i = 0; i < 16; ++i)
        layout.push_back({&tiles[i], {{{0.5, 0, 32.0 * (i % 4) + f}, {0, 0.5, 18.0 * (i / 4)}}}});
      pk::compose<pk::exec::vulkan_policy, std::uint8_t>(policy, layout, canvas);
    }
    const auto s = ctx->stats();
    EXPECT_EQ(s.bytes_downloaded, 0u);
    // Per frame: the plan, far below the tiles' pixels: per tile a 40-word record, a span
    // (2 words) per canvas row it covers (18) and a few words of empty tables.
    // (interpolation::area adds tables that grow with the canvas columns and rows each tile
    // covers, not with its pixels.)
    const std::size_t plan_bound = 16 * (40 + 2 * 18 + 8) * 4;
    EXPECT_LE(s.bytes_uploaded, frames * plan_bound);
    EXPECT_LT(s.bytes_uploaded / frames, tile_bytes / 10);
    EXPECT_EQ(s.submissions, static_cast<std::uint64_t>(frames));
    pk::image<std::uint8_t> frame(128, 72, 3);
    canvas.download(frame.view());
    EXPECT_EQ(ctx->stats().bytes_downloaded, 128u * 72 * 3);  // only the frame crosses back
    expect_silent(*ctx);
  }
}

TEST(VulkanDevicePool, vulkan_SteadyStateDeviceCallsAllocateNothing) {
  for (vk::context* ctx : contexts()) {
    const pk::exec::vulkan_policy policy{*ctx};
    const vk::device_image<float> src(*ctx, random_image<float>(70, 50, 1, 8).view());
    vk::device_image<float> a(*ctx, 70, 50, 1), b(*ctx, 40, 30, 1);
    const pk::affine2<double> m{{{0.5, 0.1, 1}, {0, 0.5, 2}}};
    const std::vector<vk::device_tile<float>> tiles = {{&a, {{{0.3, 0, 0}, {0, 0.3, 0}}}}, {&src, {{{0.2, 0, 20}, {0, 0.2, 10}}}}};
    const auto step = [&] {
      pk::gaussian_blur(policy, src, a, 1.5);
      pk::gaussian_blur(policy, a, a, 1.5);  // in place: a scratch result
      pk::warp_affine(policy, a, m, b);
      pk::compose<pk::exec::vulkan_policy, float>(policy, tiles, b);
    };
    step();  // warm-up
    const auto first = download(b);
    ctx->reset_stats();
    for (int i = 0; i < 20; ++i) step();
    EXPECT_EQ(ctx->stats().device_allocations, 0u);
    EXPECT_TRUE(same_pixels(download(b), first));  // warp_affine rewrites b before compose draws on it
    expect_silent(*ctx);
  }
}

// ---- errors ----------------------------------------------------------------------------

TEST(VulkanDeviceErrors, vulkan_ObjectOfAnotherContextIsAnInvalidArgumentOutputUntouched) {
  vk::context& mine = vk::default_context();
  vk::context& other = staging_context();
  const pk::exec::vulkan_policy policy{mine};
  const auto pixels = random_image<float>(30, 20, 1, 9);
  const vk::device_image<float> src(mine, pixels.view()), foreign(other, pixels.view());
  vk::device_image<float> dst(mine, pixels.view()), foreign_dst(other, pixels.view());
  const pk::image_view<const float> k(sharpen.data(), 3, 3);
  const auto expect_rejected = [&](auto call, const char* what) {
    try {
      call();
      ADD_FAILURE() << what << ": no exception";
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find("another vulkan::context"), std::string::npos) << e.what();
    }
    EXPECT_TRUE(same_pixels(download(dst), pixels)) << what;
    EXPECT_TRUE(same_pixels(download(foreign_dst), pixels)) << what;
  };
  expect_rejected([&] { pk::gaussian_blur(policy, foreign, dst, 1.0); }, "blur src");
  expect_rejected([&] { pk::gaussian_blur(policy, src, foreign_dst, 1.0); }, "blur dst");
  expect_rejected([&] { pk::correlate(policy, foreign, k, dst); }, "correlate");
  const vk::device_image<float> dk(mine, k), foreign_k(other, k);
  expect_rejected([&] { pk::correlate(policy, src, foreign_k, dst); }, "correlate kernel");
  expect_rejected([&] { pk::convolve(policy, foreign, dk, dst); }, "convolve device kernel, src");
  expect_rejected([&] { pk::warp_affine(policy, foreign, {{{1, 0, 0}, {0, 1, 0}}}, dst); }, "warp_affine");
  expect_rejected([&] { pk::resize(policy, src, foreign_dst); }, "resize");
  const std::vector<vk::device_tile<float>> tiles = {{&src, {{{1, 0, 0}, {0, 1, 0}}}}, {&foreign, {{{1, 0, 0}, {0, 1, 0}}}}};
  expect_rejected([&] { pk::compose<pk::exec::vulkan_policy, float>(policy, tiles, dst); }, "compose");
  std::vector<const vk::device_image<float>*> srcs = {&src, &foreign};
  std::vector<vk::device_image<float>*> dsts = {&dst, &dst};
  expect_rejected([&] { pk::correlate_batch(policy, srcs, k, dsts); }, "correlate_batch");
  expect_silent(mine);
  expect_silent(other);
}

TEST(VulkanDeviceErrors, vulkan_ShapeChecksGiveTheHostViewsMessages) {
  vk::context& ctx = vk::default_context();
  const pk::exec::vulkan_policy policy{ctx};
  const vk::device_image<float> src(ctx, 30, 20, 1);
  vk::device_image<float> wrong(ctx, 30, 21, 1), five(ctx, 4, 4, 5), same_src(ctx, 30, 20, 1);
  pk::image<float> hsrc(30, 20, 1), hwrong(30, 21, 1), hfive(4, 4, 5);
  const auto message = [](auto call) -> std::string {
    try {
      call();
    } catch (const std::invalid_argument& e) {
      return e.what();
    }
    return "no exception";
  };
  EXPECT_EQ(message([&] { pk::gaussian_blur(policy, src, wrong, 1.0); }),
            message([&] { pk::gaussian_blur(policy, hsrc.view(), hwrong.view(), 1.0); }));
  EXPECT_EQ(message([&] { pk::gaussian_blur(policy, five, five, 1.0); }),
            message([&] { pk::gaussian_blur(policy, hfive.view(), hfive.view(), 1.0); }));
  EXPECT_EQ(message([&] { pk::gaussian_blur(policy, src, same_src, 0.0); }),
            message([&] { pk::gaussian_blur(policy, hsrc.view(), hsrc.view(), 0.0); }));
  EXPECT_EQ(message([&] { pk::warp_affine(policy, same_src, {{{1, 0, 0}, {2, 0, 0}}}, wrong); }),
            message([&] { pk::warp_affine(policy, hsrc.view(), {{{1, 0, 0}, {2, 0, 0}}}, hwrong.view()); }));
  EXPECT_NE(message([&] { pk::warp_affine(policy, wrong, {{{1, 0, 0}, {0, 1, 0}}}, wrong); }).find("cannot run in place"),
            std::string::npos);
  std::vector<vk::device_image<float>*> dsts = {&same_src, &same_src};
  std::vector<const vk::device_image<float>*> srcs = {&src, &src};
  const pk::image_view<const float> k(sharpen.data(), 3, 3);
  EXPECT_EQ(message([&] { pk::correlate_batch(policy, srcs, k, dsts); }), "correlate_batch: dsts[1] overlaps dsts[0]");
  // A device kernel is checked as the host kernel it downloads into.
  const std::vector<float> two(18, 0.5f);
  const pk::image_view<const float> k2(two.data(), 3, 3, 2);
  const vk::device_image<float> dk2(ctx, k2);
  EXPECT_EQ(message([&] { pk::correlate(policy, src, dk2, same_src); }),
            message([&] { pk::correlate(policy, hsrc.view(), k2, hsrc.view()); }));
  EXPECT_NE(message([&] { pk::correlate(policy, src, dk2, same_src); }), "no exception");
}

// Allocation failure at every step of a device chain in turn: a vulkan_error, and the
// objects stay usable (the chain rerun without faults gives the right result).
TEST(VulkanDeviceErrors, vulkan_AllocationFailureAtEveryStepLeavesObjectsUsable) {
  for (vk::context* ctx : contexts()) {
    const pk::exec::vulkan_policy policy{*ctx};
    const auto pixels = random_image<std::uint8_t>(48, 32, 3, 11);
    vk::device_image<std::uint8_t> src(*ctx, pixels.view()), blur(*ctx, 48, 32, 3), canvas(*ctx, 64, 40, 3);
    const auto chain = [&] {
      pk::gaussian_blur(policy, src, blur, 1.5);
      pk::gaussian_blur(policy, blur, blur, 1.0);
      const std::vector<vk::device_tile<std::uint8_t>> tiles = {{&blur, {{{1, 0, 8}, {0, 1, 4}}}}};
      pk::compose<pk::exec::vulkan_policy, std::uint8_t>(policy, tiles, canvas);
    };
    chain();
    const auto expected = download(canvas);
    int failures = 0;
    for (long step = 0; step < 40; ++step) {
      bool failed = false;
      try {
        vk::testing::scoped_allocation_failure fail(step);
        chain();
      } catch (const pk::vulkan_error&) {
        failed = true, ++failures;
      }
      chain();  // objects still usable
      ASSERT_TRUE(same_pixels(download(canvas), expected)) << step;
      if (!failed) break;  // the fault came after the chain's last allocation
    }
    EXPECT_GE(failures, 3);
    expect_silent(*ctx);
  }
}

// ---- chunking --------------------------------------------------------------------------

// Bands on device images: lowered binding limits force row bands, in-place bindings and,
// for wrap, windows copied on the device; warps get pieces.
TEST(VulkanDeviceChunks, vulkan_BandsAndPiecesEqualOneBinding) {
  vk::context small;
  small.limit_binding_bytes_for_testing(16 * 1024);
  const pk::exec::vulkan_policy whole{vk::default_context()}, banded{small};
  for (auto mode : {pk::border::reflect, pk::border::wrap, pk::border::constant}) {
    const auto src = random_image<float>(90, 120, 1, 12);
    pk::image<float> expected(90, 120, 1);
    pk::gaussian_blur(whole, src.view(), expected.view(), 4.0, 0, 0, {mode, 0.5});
    const vk::device_image<float> d(small, src.view());
    vk::device_image<float> out(small, 90, 120, 1);
    pk::gaussian_blur(banded, d, out, 4.0, 0, 0, {mode, 0.5});
    EXPECT_TRUE(same_pixels(download(out), expected)) << static_cast<int>(mode);
    const pk::image_view<const float> k(sharpen.data(), 3, 3);
    pk::correlate(whole, src.view(), k, expected.view(), {mode, 0.5});
    pk::correlate(banded, d, k, out, {mode, 0.5});
    EXPECT_TRUE(same_pixels(download(out), expected)) << static_cast<int>(mode);
  }
  const auto src = random_image<std::uint8_t>(150, 100, 3, 13);
  pk::image<std::uint8_t> expected = random_image<std::uint8_t>(170, 110, 3, 14);
  vk::device_image<std::uint8_t> d(small, src.view()), out(small, expected.view());
  const std::vector<pk::tile<std::uint8_t>> tiles = {{src.view(), {{{0.9, 0.2, 5}, {-0.2, 0.9, 20}}}}};
  const std::vector<vk::device_tile<std::uint8_t>> dtiles = {{&d, tiles[0].to_canvas}};
  pk::compose<pk::exec::vulkan_policy, std::uint8_t>(whole, tiles, expected.view());
  pk::compose<pk::exec::vulkan_policy, std::uint8_t>(banded, dtiles, out);
  EXPECT_TRUE(same_pixels(download(out), expected));
  expect_silent(small);
}

// A host image larger than the memory budget is streamed over the bus in row bands with
// their halos, one submission a band, rather than uploaded whole; in place too.
TEST(VulkanDeviceChunks, vulkan_HostImageLargerThanTheBudgetIsStreamedInBands) {
  const pk::exec::vulkan_policy whole{vk::default_context()};
  vk::context ctx;
  const pk::exec::vulkan_policy policy{ctx};
  ctx.limit_memory_budget_for_testing(2 * 64 * 1024);  // budget/2: 64 KiB of a 2 x 117 KB image
  const pk::image_view<const float> k(sharpen.data(), 3, 3);
  for (auto mode : {pk::border::reflect, pk::border::wrap, pk::border::constant}) {
    SCOPED_TRACE(static_cast<int>(mode));
    const auto src = random_image<float>(200, 150, 1, 15);
    pk::image<float> expected(200, 150, 1), out(200, 150, 1);
    pk::gaussian_blur(whole, src.view(), expected.view(), 1.5, 0, 0, {mode, 0.5});
    ctx.reset_stats();
    pk::gaussian_blur(policy, src.view(), out.view(), 1.5, 0, 0, {mode, 0.5});
    EXPECT_GE(ctx.stats().submissions, 4u);
    EXPECT_TRUE(same_pixels(out, expected));
    pk::correlate(whole, src.view(), k, expected.view(), {mode, 0.5});
    pk::correlate(policy, src.view(), k, out.view(), {mode, 0.5});
    EXPECT_TRUE(same_pixels(out, expected));
    pk::image<float> in_place = src;  // in place: every band reads the source as it was
    pk::correlate(policy, in_place.view(), k, in_place.view(), {mode, 0.5});
    EXPECT_TRUE(same_pixels(in_place, expected));
  }
  const auto src = random_image<std::uint8_t>(180, 130, 3, 16);
  pk::image<std::uint8_t> expected(180, 130, 3), out(180, 130, 3);
  pk::gaussian_blur(whole, src.view(), expected.view(), 2.0);
  ctx.reset_stats();
  pk::gaussian_blur(policy, src.view(), out.view(), 2.0);
  EXPECT_GE(ctx.stats().submissions, 2u);
  EXPECT_TRUE(same_pixels(out, expected));
  ctx.limit_memory_budget_for_testing(0);
  expect_silent(ctx);
}

// correlate_batch is cut into submissions by the memory budget and by the parameter
// block's binding, not one buffer for the whole batch.
TEST(VulkanDeviceChunks, vulkan_BatchIsChunkedByMemoryBudgetAndBinding) {
  const std::size_t n = 12;
  std::vector<pk::image<float>> srcs, expected, outs;
  std::vector<pk::image_view<const float>> sv;
  std::vector<pk::image_view<float>> ev, ov;
  for (std::size_t i = 0; i < n; ++i) {
    srcs.push_back(random_image<float>(64, 48, 1, 30 + static_cast<unsigned>(i)));
    expected.emplace_back(64, 48, 1);
    outs.emplace_back(64, 48, 1);
  }
  for (std::size_t i = 0; i < n; ++i) sv.push_back(srcs[i].view()), ev.push_back(expected[i].view()), ov.push_back(outs[i].view());
  const pk::image_view<const float> k(sharpen.data(), 3, 3);
  pk::correlate_batch(pk::exec::vulkan_policy{vk::default_context()}, sv, k, ev, {}, pk::conv_method::direct);

  vk::context ctx;
  const pk::exec::vulkan_policy policy{ctx};
  const std::size_t image_bytes = 64 * 48 * 4;
  ctx.limit_memory_budget_for_testing(2 * (3 * 2 * image_bytes));  // budget/2 holds 3 sources + 3 results
  ctx.reset_stats();
  pk::correlate_batch(policy, sv, k, ov, {}, pk::conv_method::direct);
  EXPECT_EQ(ctx.stats().submissions, n / 3);
  for (std::size_t i = 0; i < n; ++i) EXPECT_TRUE(same_pixels(outs[i], expected[i])) << i;
  ctx.limit_memory_budget_for_testing(0);

  // The parameter block: 9 taps + a 50-entry row table per image; a 1 KiB binding holds 4.
  std::vector<vk::device_image<float>> dsrcs, douts;
  for (std::size_t i = 0; i < n; ++i) dsrcs.emplace_back(ctx, srcs[i].view()), douts.emplace_back(ctx, 64, 48, 1);
  ctx.limit_binding_bytes_for_testing(1024);
  ctx.reset_stats();
  try {
    pk::correlate_batch(policy, dsrcs, k, douts, {}, pk::conv_method::direct);
  } catch (const pk::vulkan_error& e) {
    ADD_FAILURE() << e.what();
  }
  ctx.limit_binding_bytes_for_testing(0);
  EXPECT_GE(ctx.stats().submissions, 3u);
  for (std::size_t i = 0; i < n; ++i) EXPECT_TRUE(same_pixels(download(douts[i]), expected[i])) << i;
  expect_silent(ctx);
}

}  // namespace
