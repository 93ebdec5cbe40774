// The Vulkan runtime as an accelerator (issue 9): forced staging (the discrete-GPU path),
// threads sharing one context, the buffer pool, transfer statistics, device-resident
// data, lifetime on failure, and fault injection. Every case name contains "vulkan", so
// the validation runs (`*vulkan*`, with and without forced staging) cover them all.
#include <gtest/gtest.h>

#include <polykern/affine.hpp>
#include <polykern/convolve.hpp>
#include <polykern/image.hpp>
#include <polykern/kdtree.hpp>
#include <polykern/smooth.hpp>
#include <polykern/warp.hpp>
#include <polykern/vulkan.hpp>

#include <cstdint>
#include <cstring>
#include <memory>
#include <numeric>
#include <random>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

namespace pk = polykern;
namespace vk = polykern::vulkan;

namespace {

// Contexts other than the default one report their own validation messages.
void expect_silent(vk::context& ctx) {
  for (const auto& m : ctx.validation_messages()) ADD_FAILURE() << "[validation] " << m;
  ctx.clear_validation_messages();
}

template <class T>
std::vector<T> random_values(std::size_t n, unsigned seed, double lo = -10, double hi = 10) {
  std::mt19937 rng(seed);
  std::vector<T> v(n);
  if constexpr (std::is_same_v<T, std::uint8_t>) {
    std::uniform_int_distribution<int> d(0, 255);
    for (auto& x : v) x = static_cast<T>(d(rng));
  } else {
    std::uniform_real_distribution<double> d(lo, hi);
    for (auto& x : v) x = static_cast<T>(d(rng));
  }
  return v;
}

template <class T>
pk::image<T> random_image(std::size_t w, std::size_t h, std::size_t c, unsigned seed) {
  pk::image<T> img(w, h, c);
  const auto v = random_values<T>(w * h * c, seed, 0, 1);
  for (std::size_t y = 0; y < h; ++y) std::copy_n(v.data() + y * w * c, w * c, img.view().row(y));
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

// A context that behaves as a discrete GPU, with validation as the environment says.
vk::context& staging_context() {
  static vk::context ctx([] {
    vk::context_options options;  // device and validation from the environment
    options.force_staging = true;
    return options;
  }());
  return ctx;
}

// One call of each family on `policy`; the results, flattened, for comparison.
struct family_results {
  std::vector<float> points, blurred, warped, smoothed;
  std::vector<std::uint64_t> graph_offsets;
  std::vector<std::uint32_t> graph_indices;
  std::vector<float> graph_dist2;
  bool operator==(const family_results&) const = default;
};

struct family_inputs {
  std::vector<float> points = random_values<float>(3 * 5000, 11);
  pk::image<float> image = random_image<float>(97, 61, 3, 12);
  std::vector<float> cloud = random_values<float>(3 * 2000, 13, 0, 1);
  std::vector<float> values = random_values<float>(2000 * 2, 14);
  pk::affine3<float> matrix{{{0.8f, -0.6f, 0.0f, 1.0f}, {0.6f, 0.8f, 0.0f, -2.0f}, {0.0f, 0.0f, 1.0f, 0.5f}}};
  pk::affine2<double> warp{{{0.9, 0.2, 3.0}, {-0.1, 0.95, 2.0}}};
};

family_results run_families(const pk::exec::vulkan_policy& policy, const family_inputs& in) {
  family_results r;
  const std::size_t n = in.points.size() / 3;
  r.points.resize(in.points.size());
  pk::transform_points(policy, pk::points_view<const float>(in.points.data(), n), in.matrix,
                       pk::points_view<float>(r.points.data(), n));
  const auto src = in.image.view();
  pk::image<float> blurred(src.width, src.height, src.channels), warped(src.width, src.height, src.channels);
  pk::gaussian_blur(policy, src, blurred.view(), 2.0);
  pk::warp_affine(policy, src, in.warp, warped.view());
  for (const auto* img : {&blurred, &warped}) {
    auto& out = img == &blurred ? r.blurred : r.warped;
    for (std::size_t y = 0; y < src.height; ++y)
      out.insert(out.end(), img->view().row(y), img->view().row(y) + src.width * src.channels);
  }
  const std::size_t m = in.cloud.size() / 3;
  const pk::points_view<const float> cloud(in.cloud.data(), m);
  const pk::kdtree<float> tree(policy, cloud);
  const auto graph = pk::radius_neighbors(policy, tree, cloud, 0.08f);
  r.graph_offsets = graph.offsets, r.graph_indices = graph.indices, r.graph_dist2 = graph.dist2;
  r.smoothed.resize(in.values.size());
  pk::gaussian_smooth(policy, graph, pk::matrix_view<const float>(in.values.data(), m, 2),
                      pk::matrix_view<float>(r.smoothed.data(), m, 2), pk::smooth_options{.sigma = 0.05, .iterations = 2});
  return r;
}

}  // namespace

// ---- forced staging -------------------------------------------------------------------

TEST(VulkanStaging, vulkan_ForcedStagingUnmapsDeviceBuffersAndRoundTripsExactly) {
  vk::context& ctx = staging_context();
  EXPECT_TRUE(ctx.staging_forced());
  EXPECT_FALSE(ctx.maps_device_memory());
  vk::buffer device(ctx, 1000);
  EXPECT_EQ(device.mapped(), nullptr);
  vk::buffer host(ctx, 1000, vk::buffer::kind::host);
  EXPECT_NE(host.mapped(), nullptr);  // staging memory is always mapped

  const auto bytes = random_values<std::uint8_t>(1000, 21);
  std::vector<std::uint8_t> back(1000, 0);
  vk::commands cmd(ctx);
  cmd.upload(device, bytes.data(), 1000);
  cmd.download(device, back.data() + 10, 990, 10);  // a sub-range
  cmd.submit();
  EXPECT_TRUE(std::equal(bytes.begin() + 10, bytes.end(), back.begin() + 10));
  EXPECT_EQ(back[0], 0);
  expect_silent(ctx);
}

TEST(VulkanStaging, vulkan_EnvironmentSelectsStaging) {
  // The default options read the environment (the *_vulkan_staging ctest runs set it).
  const bool env = vk::context_options::env_flag("POLYKERN_VULKAN_FORCE_STAGING");
  EXPECT_EQ(vk::context_options{}.force_staging, env);
  EXPECT_EQ(vk::default_context().staging_forced(), env);
}

// ---- device-resident data ---------------------------------------------------------------

static_assert(!std::is_copy_constructible_v<vk::device_image<float>>);
static_assert(std::is_nothrow_move_constructible_v<vk::device_image<float>>);
static_assert(!std::is_copy_assignable_v<vk::device_points<double>>);
static_assert(!std::is_copy_constructible_v<vk::device_matrix<float>>);

TEST(VulkanDeviceData, vulkan_RoundTripsOnMappedAndStagedContexts) {
  for (vk::context* ctx : {&vk::default_context(), &staging_context()}) {
    SCOPED_TRACE(ctx->staging_forced() ? "staged" : "default");
    // uint8 rows whose width*channels is not a multiple of 4 (rows padded to words).
    const auto rgb = random_image<std::uint8_t>(37, 5, 3, 31);
    vk::device_image<std::uint8_t> d_rgb(*ctx, rgb.view());
    EXPECT_EQ(d_rgb.width(), 37u);
    EXPECT_EQ(d_rgb.height(), 5u);
    EXPECT_EQ(d_rgb.channels(), 3u);
    EXPECT_EQ(d_rgb.row_pitch(), 112u);  // 111 bytes -> 28 words
    EXPECT_EQ(&d_rgb.owner(), ctx);
    pk::image<std::uint8_t> rgb_back(37, 5, 3, 0);
    d_rgb.download(rgb_back.view());
    EXPECT_TRUE(same_pixels(rgb, rgb_back));

    const auto f = random_image<float>(19, 7, 4, 32);
    vk::device_image<float> d_f(*ctx, f.view());
    EXPECT_EQ(d_f.row_pitch(), 19u * 4 * 4);
    pk::image<float> f_back(19, 7, 4, -1.0f);
    d_f.download(f_back.view());
    EXPECT_TRUE(same_pixels(f, f_back));

    // Points from a strided view come back packed into another strided view.
    const auto p = random_values<double>(4 * 301, 33);
    vk::device_points<double> d_p(*ctx, pk::points_view<const double>(p.data(), 301, 4));
    EXPECT_EQ(d_p.count(), 301u);
    std::vector<double> p_back(5 * 301, 7.0);
    d_p.download(pk::points_view<double>(p_back.data(), 301, 5));
    for (std::size_t i = 0; i < 301; ++i)
      for (std::size_t k = 0; k < 5; ++k) ASSERT_EQ(p_back[5 * i + k], k < 3 ? p[4 * i + k] : 7.0) << i;

    const auto m = random_values<float>(6 * 40, 34);
    vk::device_matrix<float> d_m(*ctx, pk::matrix_view<const float>(m.data(), 40, 5, 6));
    EXPECT_EQ(d_m.rows(), 40u);
    EXPECT_EQ(d_m.cols(), 5u);
    std::vector<float> m_back(40 * 5);
    d_m.download(pk::matrix_view<float>(m_back.data(), 40, 5));
    for (std::size_t r = 0; r < 40; ++r)
      for (std::size_t c = 0; c < 5; ++c) ASSERT_EQ(m_back[r * 5 + c], m[r * 6 + c]);

    // A new object is zero-filled; a moved-to object keeps the data and the context.
    vk::device_matrix<float> zeros(*ctx, 3, 3);
    std::vector<float> z(9, 1.0f);
    zeros.download(pk::matrix_view<float>(z.data(), 3, 3));
    EXPECT_EQ(z, std::vector<float>(9, 0.0f));
    vk::device_image<float> moved = std::move(d_f);
    EXPECT_EQ(&moved.owner(), ctx);
    moved.download(f_back.view());
    EXPECT_TRUE(same_pixels(f, f_back));
    expect_silent(*ctx);
  }
}

TEST(VulkanDeviceData, vulkan_ShapeMismatchIsAnInvalidArgumentBeforeAnythingIsWritten) {
  for (vk::context* ctx : {&vk::default_context(), &staging_context()}) {
    const auto a = random_image<float>(8, 6, 1, 41);
    vk::device_image<float> img(*ctx, a.view());
    const pk::image<float> wrong(6, 8, 1, 5.0f);
    try {
      img.upload(wrong.view());
      ADD_FAILURE() << "no invalid_argument";
    } catch (const pk::invalid_argument& e) {
      EXPECT_STREQ(e.what(),
                   "device_image::upload: host is 6x8x1 (width x height x channels); the device image is 8x6x1");
    }
    pk::image<float> out(8, 6, 2, 3.0f);
    EXPECT_THROW(img.download(out.view()), pk::invalid_argument);
    EXPECT_EQ(out(7, 5, 1), 3.0f);  // untouched
    pk::image<float> back(8, 6, 1);
    img.download(back.view());
    EXPECT_TRUE(same_pixels(a, back));  // the failed upload wrote nothing

    std::vector<float> pts(30);
    vk::device_points<float> d_p(*ctx, 10);
    EXPECT_THROW(d_p.upload(pk::points_view<const float>(pts.data(), 9)), pk::invalid_argument);
    EXPECT_THROW(d_p.download(pk::points_view<float>(pts.data(), 9)), pk::invalid_argument);
    vk::device_matrix<float> d_m(*ctx, 5, 6);
    EXPECT_THROW(d_m.upload(pk::matrix_view<const float>(pts.data(), 6, 5)), pk::invalid_argument);
    EXPECT_THROW(d_m.download(pk::matrix_view<float>(pts.data(), 5, 5)), pk::invalid_argument);
    expect_silent(*ctx);
  }
}

TEST(VulkanDeviceData, vulkan_ObjectLargerThanOneBinding) {
  vk::context& ctx = staging_context();
  const std::size_t n = ctx.info().max_storage_buffer_range / 12 + 4099;  // > one binding of xyz floats
  std::vector<float> p(3 * n);
  for (std::size_t i = 0; i < p.size(); ++i) p[i] = static_cast<float>(i % 1000003);
  vk::device_points<float> d(ctx, pk::points_view<const float>(p.data(), n));
  EXPECT_GT(d.bytes(), ctx.info().max_storage_buffer_range);
  std::vector<float> back(3 * n, -1.0f);
  d.download(pk::points_view<float>(back.data(), n));
  EXPECT_TRUE(back == p);
  expect_silent(ctx);
}

// ---- statistics ---------------------------------------------------------------------------

TEST(VulkanStats, vulkan_CountWhatCrossedTheBus) {
  vk::context& ctx = staging_context();
  const auto m = random_values<float>(64 * 16, 51);
  vk::device_matrix<float> d(ctx, 64, 16);  // zero-filled on the device: no upload
  ctx.reset_stats();
  EXPECT_EQ(ctx.stats().bytes_uploaded, 0u);
  d.upload(pk::matrix_view<const float>(m.data(), 64, 16));
  auto s = ctx.stats();
  EXPECT_EQ(s.bytes_uploaded, 64u * 16 * 4);
  EXPECT_EQ(s.bytes_downloaded, 0u);
  EXPECT_EQ(s.submissions, 1u);
  std::vector<float> back(64 * 16);
  d.download(pk::matrix_view<float>(back.data(), 64, 16));
  s = ctx.stats();
  EXPECT_EQ(s.bytes_downloaded, 64u * 16 * 4);
  EXPECT_EQ(s.submissions, 2u);
  EXPECT_EQ(back, m);

  // A host-view kernel call uploads its input and downloads its output, in one submission.
  const std::size_t n = 1000;
  const auto pts = random_values<float>(3 * n, 52);
  std::vector<float> out(3 * n);
  const pk::affine3<float> shift{{{1, 0, 0, 1}, {0, 1, 0, 2}, {0, 0, 1, 3}}};
  ctx.reset_stats();
  pk::transform_points(pk::exec::vulkan_policy{ctx}, pk::points_view<const float>(pts.data(), n), shift,
                       pk::points_view<float>(out.data(), n));
  s = ctx.stats();
  EXPECT_GE(s.bytes_uploaded, 3 * n * sizeof(float));
  EXPECT_LE(s.bytes_uploaded, 3 * n * sizeof(float) + 1024);  // + the small segment table
  EXPECT_EQ(s.bytes_downloaded, 3 * n * sizeof(float));
  EXPECT_EQ(s.submissions, 1u);
  EXPECT_EQ(out[3], pts[3] + 1);
  expect_silent(ctx);
}

// ---- the pool ---------------------------------------------------------------------------

TEST(VulkanPool, vulkan_SteadyStateCallsAllocateNoDeviceMemory) {
  const family_inputs in;
  for (vk::context* ctx : {&vk::default_context(), &staging_context()}) {
    SCOPED_TRACE(ctx->staging_forced() ? "staged" : "default");
    const pk::exec::vulkan_policy policy{*ctx};
    const family_results first = run_families(policy, in);  // warm-up
    ctx->reset_stats();
    for (int call = 0; call < 20; ++call) ASSERT_TRUE(run_families(policy, in) == first) << call;
    EXPECT_EQ(ctx->stats().device_allocations, 0u);
    EXPECT_GT(ctx->pool_idle_bytes(), 0u);
    EXPECT_LE(ctx->pool_idle_bytes(), ctx->pool_limit());
    expect_silent(*ctx);
  }
}

TEST(VulkanPool, vulkan_PoolIsBoundedAndTrimmed) {
  vk::context ctx;
  EXPECT_GT(ctx.pool_limit(), 0u);
  EXPECT_LE(ctx.pool_limit(), ctx.memory_budget());
  { vk::buffer a(ctx, 1 << 20), b(ctx, 1 << 20), c(ctx, 3000); }
  EXPECT_EQ(ctx.pool_idle_bytes(), 2 * vk::context::pool_capacity(1 << 20) + vk::context::pool_capacity(3000));
  ctx.reset_stats();
  { vk::buffer again(ctx, 1 << 20); }  // reused
  EXPECT_EQ(ctx.stats().device_allocations, 0u);
  ctx.set_pool_limit(1 << 20);  // the least recently used go first
  EXPECT_LE(ctx.pool_idle_bytes(), std::size_t{1} << 20);
  ctx.trim_pool();
  EXPECT_EQ(ctx.pool_idle_bytes(), 0u);
  { vk::buffer fresh(ctx, 1 << 20); }
  EXPECT_EQ(ctx.stats().device_allocations, 1u);
  ctx.set_pool_limit(0);  // no pooling at all
  { vk::buffer unpooled(ctx, 100); }
  EXPECT_EQ(ctx.pool_idle_bytes(), 0u);
  // Size classes waste at most a quarter.
  for (std::size_t bytes : {1u, 256u, 257u, 1000u, 4096u, 5000u, 100000u, 300000000u}) {
    const std::size_t c = vk::context::pool_capacity(bytes);
    EXPECT_GE(c, bytes);
    EXPECT_LE(c, std::max<std::size_t>(256, bytes + bytes / 4)) << bytes;
  }
  expect_silent(ctx);
}

TEST(VulkanPool, vulkan_MemoryBudgetIsPositiveAndShrinksWithUse) {
  vk::context ctx;
  const std::uint64_t before = ctx.memory_budget();
  EXPECT_GT(before, 0u);
  EXPECT_LE(before, ctx.info().device_local_bytes());
  if (!ctx.has_memory_budget_extension()) {  // lavapipe: the documented fraction, minus what is held
    vk::buffer held(ctx, 64 << 20);
    EXPECT_EQ(ctx.memory_budget(), before - vk::context::pool_capacity(64 << 20));
  }
  expect_silent(ctx);
}

// ---- threads ----------------------------------------------------------------------------

TEST(VulkanThreads, vulkan_FourThreadsOnOneContextEqualOneThread) {
  const family_inputs in;
  for (vk::context* ctx : {&vk::default_context(), &staging_context()}) {
    SCOPED_TRACE(ctx->staging_forced() ? "staged" : "default");
    const pk::exec::vulkan_policy policy{*ctx};
    const family_results want = run_families(policy, in);
    constexpr int threads = 4, rounds = 3;
    std::vector<std::vector<family_results>> got(threads);
    std::vector<std::string> errors(threads);
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t)
      pool.emplace_back([&, t] {
        try {
          for (int r = 0; r < rounds; ++r) got[t].push_back(run_families(policy, in));
        } catch (const std::exception& e) {
          errors[t] = e.what();
        }
      });
    for (auto& th : pool) th.join();
    for (int t = 0; t < threads; ++t) {
      EXPECT_EQ(errors[t], "") << "thread " << t;
      for (const auto& r : got[t]) EXPECT_TRUE(r == want) << "thread " << t;
    }
    expect_silent(*ctx);
  }
}

// ---- lifetime -------------------------------------------------------------------------

TEST(VulkanLifetime, vulkan_ConstructorFailureLeaksNoInstance) {
  const long live = vk::testing::live_instances.load();
  for (bool validation : {false, true}) {
    try {
      vk::context bad({.device = "no-such-device", .validation = validation});
      ADD_FAILURE() << "no vulkan_error";
    } catch (const pk::vulkan_error& e) {
      EXPECT_NE(std::string(e.what()).find("no-such-device"), std::string::npos);
    }
    EXPECT_EQ(vk::testing::live_instances.load(), live);
  }
}

TEST(VulkanLifetime, vulkan_DefaultContextFailureIsRememberedNotRetried) {
  const long live = vk::testing::live_instances.load();
  const vk::detail::context_once once({.device = "no-such-device"});  // what default_context() holds
  const long attempts = vk::testing::instance_attempts.load();
  std::string first;
  for (int call = 0; call < 3; ++call) {
    try {
      once.get();
      ADD_FAILURE() << "no vulkan_error";
    } catch (const pk::vulkan_error& e) {
      if (call == 0) first = e.what();
      EXPECT_EQ(e.what(), first);
      EXPECT_EQ(e.call(), "POLYKERN_VULKAN_DEVICE");
    }
  }
  EXPECT_EQ(vk::testing::instance_attempts.load(), attempts);  // no new instance per call
  EXPECT_EQ(vk::testing::live_instances.load(), live);
  // A good one is made once and handed out every time.
  const vk::detail::context_once good;
  EXPECT_EQ(&good.get(), &good.get());
}

TEST(VulkanLifetime, vulkan_DownloadKeepsItsSourceUntilTheSubmission) {
  for (vk::context* ctx : {&vk::default_context(), &staging_context()}) {
    const auto bytes = random_values<std::uint8_t>(4096, 61);
    std::vector<std::uint8_t> back(4096);
    vk::commands cmd(*ctx);
    {
      vk::buffer temporary(*ctx, 4096);
      cmd.upload(temporary, bytes.data(), 4096);
      cmd.download(temporary, back.data(), 4096);
    }  // the buffer object is gone; its memory is still referenced by the recorded copy
    { vk::buffer other(*ctx, 4096); }  // and is not handed out again meanwhile
    cmd.submit();
    EXPECT_EQ(back, bytes);
    expect_silent(*ctx);
  }
}

// ---- fault injection ------------------------------------------------------------------

TEST(VulkanFaults, vulkan_AllocationFailureDuringUploadsLeavesObjectsUsable) {
  vk::context& ctx = staging_context();
  const auto a = random_image<float>(30, 20, 2, 71), b = random_image<float>(30, 20, 2, 72);
  {
    vk::testing::scoped_allocation_failure fail(0);  // the device buffer itself
    EXPECT_THROW(vk::device_image<float>(ctx, a.view()), pk::vulkan_error);
  }
  {
    vk::testing::scoped_allocation_failure fail(1);  // the staging buffer of the upload
    EXPECT_THROW(vk::device_image<float>(ctx, a.view()), pk::vulkan_error);
  }
  vk::device_image<float> img(ctx, a.view());
  {
    vk::testing::scoped_allocation_failure fail(0);
    EXPECT_THROW(img.upload(b.view()), pk::vulkan_error);
  }
  {
    vk::testing::scoped_allocation_failure fail(0);
    pk::image<float> out(30, 20, 2, 9.0f);
    EXPECT_THROW(img.download(out.view()), pk::vulkan_error);  // the download's staging
    EXPECT_EQ(out(3, 4, 1), 9.0f);
  }
  img.upload(b.view());
  pk::image<float> out(30, 20, 2);
  img.download(out.view());
  EXPECT_TRUE(same_pixels(b, out));

  // A kernel call failing at each of its buffers in turn: a vulkan_error, then it works.
  const family_inputs in;
  const pk::exec::vulkan_policy policy{ctx};
  const family_results want = run_families(policy, in);
  int failures = 0;
  for (long fail_at = 0; fail_at < 40; ++fail_at) {
    try {
      vk::testing::scoped_allocation_failure fail(fail_at);
      run_families(policy, in);
    } catch (const pk::vulkan_error& e) {
      ++failures;
      EXPECT_EQ(e.result(), "VK_ERROR_OUT_OF_DEVICE_MEMORY");
    }
  }
  EXPECT_GT(failures, 10);
  EXPECT_TRUE(run_families(policy, in) == want);
  expect_silent(ctx);
}
