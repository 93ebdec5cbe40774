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

#include <cmath>
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

TEST(VulkanDevicePointsAffine, vulkan_ChunkedByALoweredBindingLimitEqualsUnchunked) {
  vk::context small(env_options());
  small.limit_binding_bytes_for_testing(4096);  // 341 points a binding: many chunks
  const std::size_t n = 20011;
  const auto p = random_values<double>(3 * n, 2);
  const pk::points_view<const double> host_in(p.data(), n);
  const pk::affine3<double> m{{{0.5, -0.2, 0.1, 4}, {0.3, 0.9, 0.0, -1}, {0.0, 0.1, 1.1, 2}}};
  if (!small.info().shader_float64) GTEST_FAIL() << "the device lacks shaderFloat64";
  std::vector<double> want(3 * n);
  pk::transform_points(pk::exec::vulkan, host_in, m, pk::points_view<double>(want.data(), n));
  vk::device_points<double> in(small, host_in), out(small, n);
  pk::transform_points(pk::exec::vulkan_policy{small}, in, m, out);
  EXPECT_EQ(download(out), want);
  pk::transform_points(pk::exec::vulkan_policy{small}, in, m, in);
  EXPECT_EQ(download(in), want);
  expect_silent(small);
}

TEST(VulkanDevicePointsAffine, vulkan_NothingButTheMatricesCrossesTheBus) {
  vk::context& ctx = vk::default_context();
  const pk::exec::vulkan_policy policy{ctx};
  const std::size_t n = 4000;
  const auto p = random_values<float>(3 * n, 3);
  vk::device_points<float> in(ctx, pk::points_view<const float>(p.data(), n)), out(ctx, n);
  pk::transform_points(policy, in, rotation, out);  // warm-up: pipelines, pool
  ctx.reset_stats();
  for (int call = 0; call < 20; ++call) pk::transform_points(policy, in, rotation, out);
  const auto s = ctx.stats();
  EXPECT_EQ(s.device_allocations, 0u);
  EXPECT_EQ(s.bytes_downloaded, 0u);
  EXPECT_LE(s.bytes_uploaded, 20u * 256);  // the segment tables at most
  EXPECT_EQ(s.submissions, 20u);
  expect_silent(ctx);
}

TEST(VulkanDevicePointsAffine, vulkan_ObjectOfAnotherContextIsAnInvalidArgumentAndNothingIsWritten) {
  vk::context other(env_options());
  vk::context& ctx = vk::default_context();
  const std::size_t n = 100;
  const auto p = random_values<float>(3 * n, 4);
  const pk::points_view<const float> host(p.data(), n);
  vk::device_points<float> mine(ctx, host), theirs(other, host), out(ctx, n), short_out(ctx, n - 1);
  EXPECT_THROW(pk::transform_points(pk::exec::vulkan_policy{ctx}, theirs, rotation, out), std::invalid_argument);
  EXPECT_THROW(pk::transform_normals(pk::exec::vulkan_policy{ctx}, mine, rotation, theirs), std::invalid_argument);
  try {
    pk::transform_points(pk::exec::vulkan_policy{ctx}, mine, rotation, short_out);
    ADD_FAILURE() << "no exception";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("in.count is 100 but out.count is 99"), std::string::npos) << e.what();
  }
  const std::size_t offsets[] = {0, 50, n - 1};
  const pk::affine3<float> two[] = {rotation, rotation};
  EXPECT_THROW(pk::transform_points_batched(pk::exec::vulkan_policy{ctx}, mine, offsets, two, out), std::invalid_argument);
  EXPECT_EQ(download(out), std::vector<float>(3 * n, 0.0f));   // untouched: still zero-filled
  EXPECT_EQ(download(theirs), p);
  expect_silent(ctx);
  expect_silent(other);
}

// ---- kdtree -------------------------------------------------------------------------------

namespace {
struct cloud {
  std::size_t n, nq;
  std::vector<float> points, queries;
  cloud(std::size_t n_, std::size_t nq_, unsigned seed)
      : n(n_), nq(nq_), points(random_values<float>(3 * n_, seed, 0, 1)), queries(random_values<float>(3 * nq_, seed + 1, 0, 1)) {}
  pk::points_view<const float> p() const { return {points.data(), n}; }
  pk::points_view<const float> q() const { return {queries.data(), nq}; }
};
}  // namespace

TEST(VulkanDevicePointsKdtree, vulkan_DeviceQueriesEqualHostQueries) {
  vk::context& ctx = vk::default_context();
  const pk::exec::vulkan_policy policy{ctx};
  const cloud c(3000, 2001, 5);
  const pk::kdtree<float> tree(policy, c.p());
  const vk::device_points<float> dq(ctx, c.q());
  EXPECT_EQ(pk::radius_neighbors(policy, tree, dq, 0.07f), pk::radius_neighbors(policy, tree, c.q(), 0.07f));
  EXPECT_EQ(pk::radius_neighbors(policy, tree, dq, 0.07f, 5), pk::radius_neighbors(policy, tree, c.q(), 0.07f, 5));
  EXPECT_EQ(pk::knn_neighbors(policy, tree, dq, 7), pk::knn_neighbors(policy, tree, c.q(), 7));
  // And the CPU's graph.
  EXPECT_EQ(pk::knn_neighbors(policy, tree, dq, 7), pk::knn_neighbors(pk::exec::scalar, tree, c.q(), 7));
  // 2D points, an empty tree, no queries.
  const auto p2 = random_values<double>(2 * 500, 6, 0, 1);
  if (ctx.info().shader_float64) {
    const pk::kdtree<double, 2> t2(policy, pk::points_view<const double, 2>(p2.data(), 500));
    const vk::device_points<double, 2> q2(ctx, pk::points_view<const double, 2>(p2.data(), 500));
    EXPECT_EQ(pk::radius_neighbors(policy, t2, q2, 0.05), pk::radius_neighbors(pk::exec::scalar, t2,
                                                                              pk::points_view<const double, 2>(p2.data(), 500), 0.05));
  }
  const pk::kdtree<float> empty(policy, pk::points_view<const float>(nullptr, 0));
  EXPECT_EQ(pk::knn_neighbors(policy, empty, dq, 3).entries(), 0u);
  EXPECT_EQ(pk::radius_neighbors(policy, tree, vk::device_points<float>(ctx, 0), 0.1f).rows(), 0u);
  expect_silent(ctx);
}

TEST(VulkanDevicePointsKdtree, vulkan_TheTreeStaysOnTheDeviceLaterQueriesUploadOnlyTheQueries) {
  vk::context ctx(env_options());
  const pk::exec::vulkan_policy policy{ctx};
  const cloud c(20000, 1000, 7);
  const std::uint64_t query_bytes = c.nq * 3 * sizeof(float);
  for (int built_on_device = 0; built_on_device < 2; ++built_on_device) {
    SCOPED_TRACE(built_on_device ? "built under vulkan" : "built under scalar, first queried under vulkan");
    ctx.reset_stats();
    const pk::kdtree<float> tree = built_on_device ? pk::kdtree<float>(policy, c.p()) : pk::kdtree<float>(pk::exec::scalar, c.p());
    const std::uint64_t tree_bytes = ctx.stats().bytes_uploaded;  // zero when built on the CPU
    EXPECT_EQ(tree_bytes > 20000u * 12, built_on_device == 1);
    const auto want = pk::radius_neighbors(pk::exec::scalar, tree, c.q(), 0.03f);
    ASSERT_EQ(pk::radius_neighbors(policy, tree, c.q(), 0.03f), want);
    for (int round = 0; round < 2; ++round) {
      ctx.reset_stats();
      ASSERT_EQ(pk::radius_neighbors(policy, tree, c.q(), 0.03f), want);
      // The queries (once), their order in each pass and the row offsets: no tree.
      EXPECT_GE(ctx.stats().bytes_uploaded, query_bytes);
      EXPECT_LE(ctx.stats().bytes_uploaded, query_bytes + 3 * 4 * (c.nq + 1));
    }
    // Device queries: only the row offsets go up.
    const vk::device_points<float> dq(ctx, c.q());
    ctx.reset_stats();
    ASSERT_EQ(pk::radius_neighbors(policy, tree, dq, 0.03f), want);
    EXPECT_LE(ctx.stats().bytes_uploaded, 4 * (c.nq + 1));
    // Steady state: after a warm-up, 20 identical queries allocate no device memory.
    (void)pk::knn_neighbors(policy, tree, dq, 4), (void)pk::knn_neighbors(policy, tree, c.q(), 4);
    ctx.reset_stats();
    for (int call = 0; call < 20; ++call) {
      ASSERT_EQ(pk::knn_neighbors(policy, tree, dq, 4), pk::knn_neighbors(policy, tree, c.q(), 4)) << call;
    }
    EXPECT_EQ(ctx.stats().device_allocations, 0u);
  }
  expect_silent(ctx);
}

TEST(VulkanDevicePointsKdtree, vulkan_TreeOutlivesItsContextAndCopiesShareTheDeviceCopy) {
  const cloud c(2000, 300, 8);
  pk::kdtree<float> tree(pk::exec::scalar, c.p());
  const auto want = pk::knn_neighbors(pk::exec::scalar, tree, c.q(), 5);
  {
    vk::context ctx(env_options());
    EXPECT_EQ(pk::knn_neighbors(pk::exec::vulkan_policy{ctx}, tree, c.q(), 5), want);
    const pk::kdtree<float> copy = tree;
    ctx.reset_stats();
    EXPECT_EQ(pk::knn_neighbors(pk::exec::vulkan_policy{ctx}, copy, c.q(), 5), want);
    EXPECT_LE(ctx.stats().bytes_uploaded, 300u * 12 + 3 * 4 * 301);  // the copy's tree is already there
    expect_silent(ctx);
  }  // the context goes first: the tree keeps nothing of it
  EXPECT_EQ(pk::knn_neighbors(pk::exec::simd, tree, c.q(), 5), want);
  vk::context again(env_options());
  EXPECT_EQ(pk::knn_neighbors(pk::exec::vulkan_policy{again}, tree, c.q(), 5), want);
  expect_silent(again);
}

TEST(VulkanDevicePointsKdtree, vulkan_ChunkedByALoweredBindingLimitEqualsUnchunked) {
  const cloud c(3000, 20000, 9);
  const pk::kdtree<float> tree(pk::exec::scalar, c.p());
  const auto want_r = pk::radius_neighbors(pk::exec::scalar, tree, c.q(), 0.1f);
  const auto want_k = pk::knn_neighbors(pk::exec::scalar, tree, c.q(), 9);
  vk::context small(env_options());
  // The tree (about 60 KiB in its largest array) fits; 20000 queries (240 KB) and the
  // graph (about 230k entries) need many chunks.
  small.limit_binding_bytes_for_testing(96 << 10);
  const pk::exec::vulkan_policy policy{small};
  const vk::device_points<float> dq(small, c.q());
  EXPECT_EQ(pk::radius_neighbors(policy, tree, c.q(), 0.1f), want_r);
  EXPECT_EQ(pk::radius_neighbors(policy, tree, dq, 0.1f), want_r);
  EXPECT_EQ(pk::knn_neighbors(policy, tree, c.q(), 9), want_k);
  EXPECT_EQ(pk::knn_neighbors(policy, tree, dq, 9), want_k);
  EXPECT_GT(want_r.entries(), 4u * (96 << 10) / 4);  // the graph really was cut
  expect_silent(small);
}

namespace {
// A cloud with duplicates: every 7th point repeats an earlier one, and 40 points sit at
// one place (ties at equal distance, broken by index across the parts of a cut tree).
template <class T, std::size_t Dim>
std::vector<T> with_duplicates(std::size_t n, unsigned seed) {
  std::vector<T> p = random_values<T>(Dim * n, seed, 0, 1);
  for (std::size_t i = 7; i < n; i += 7)
    for (std::size_t d = 0; d < Dim; ++d) p[i * Dim + d] = p[(i / 7 - 1) * Dim + d];
  for (std::size_t i = 0; i < 40; ++i)
    for (std::size_t d = 0; d < Dim; ++d) p[(n / 2 + 3 * i) * Dim + d] = T(0.5);
  return p;
}

// The number of parts the device copy of `tree` takes on `ctx` (the tree's arrays cut to
// the context's binding limit).
template <class T, std::size_t Dim>
std::size_t parts_on(vk::context& ctx, const pk::kdtree<T, Dim>& tree) {
  return pk::detail::kd::gpu::device_tree<T, Dim>(ctx, tree.data()).cut.size();
}

// Radius (all, capped, zero radius: only the duplicates) and knn queries of `tree` on the
// cut tree of `small`, with host and device queries, equal the uncut tree's on `whole` and
// the openmp graph.
template <class T, std::size_t Dim>
void expect_cut_equals_uncut(vk::context& small, vk::context& whole, const pk::kdtree<T, Dim>& tree,
                             pk::points_view<const T, Dim> q, T radius) {
  const pk::exec::vulkan_policy cut{small}, uncut{whole};
  const vk::device_points<T, Dim> dq(small, q);
  for (const T r : {radius, T(0)}) {
    for (const std::size_t keep : {std::size_t{0}, std::size_t{1}, std::size_t{4}}) {
      SCOPED_TRACE(::testing::Message() << "radius " << r << " keep " << keep);
      const auto want = pk::radius_neighbors(pk::exec::openmp, tree, q, r, keep);
      EXPECT_EQ(pk::radius_neighbors(uncut, tree, q, r, keep), want);
      EXPECT_EQ(pk::radius_neighbors(cut, tree, q, r, keep), want);
      EXPECT_EQ(pk::radius_neighbors(cut, tree, dq, r, keep), want);
    }
  }
  for (const std::size_t k : {std::size_t{1}, std::size_t{9}, std::size_t{45}}) {
    SCOPED_TRACE(::testing::Message() << "k " << k);
    const auto want = pk::knn_neighbors(pk::exec::openmp, tree, q, k);
    EXPECT_EQ(pk::knn_neighbors(uncut, tree, q, k), want);
    EXPECT_EQ(pk::knn_neighbors(cut, tree, q, k), want);
    EXPECT_EQ(pk::knn_neighbors(cut, tree, dq, k), want);
  }
}
}  // namespace

TEST(VulkanDevicePointsKdtree, vulkan_ATreeLargerThanOneBindingIsCutIntoPartsAndEqualsTheUncutTree) {
  const std::size_t n = 4000, nq = 1500;
  const auto p = with_duplicates<float, 3>(n, 21);
  auto qv = random_values<float>(3 * nq, 22, -0.1, 1.1);
  for (std::size_t i = 0; i < 50; ++i)  // queries on points, and on the 40 coincident ones
    for (std::size_t d = 0; d < 3; ++d) qv[i * 3 + d] = i < 25 ? p[(i * 131) * 3 + d] : 0.5f;
  const pk::points_view<const float> pts(p.data(), n), q(qv.data(), nq);
  vk::context& whole = vk::default_context();
  vk::context small(env_options());
  // 12 KiB a binding: the coordinates (48 KB at leaf_size 16) need at least four parts;
  // the queries and rows are chunked too.
  small.limit_binding_bytes_for_testing(12 << 10);
  for (const std::size_t leaf : {std::size_t{16}, std::size_t{5}, std::size_t{1}}) {
    SCOPED_TRACE(::testing::Message() << "leaf_size " << leaf);
    const pk::kdtree<float> tree(pk::exec::scalar, pts, leaf);
    EXPECT_EQ(parts_on(whole, tree), 1u);
    EXPECT_GE(parts_on(small, tree), 3u);
    expect_cut_equals_uncut(small, whole, tree, q, 0.08f);
    // Built under the cut context: its parts are kept, and the self-query agrees too.
    const pk::kdtree<float> built(pk::exec::vulkan_policy{small}, pts, leaf);
    EXPECT_EQ(pk::radius_neighbors(pk::exec::vulkan_policy{small}, built, pts, 0.05f),
              pk::radius_neighbors(pk::exec::openmp, built, pts, 0.05f));
    EXPECT_EQ(pk::knn_neighbors(pk::exec::vulkan_policy{small}, built, pts, 12),
              pk::knn_neighbors(pk::exec::openmp, built, pts, 12));
  }
  // A leaf larger than the binding (64 points: 768 bytes of coordinates of 256) is cut
  // into runs of its points, each a part of its own; and a tree of one such leaf.
  vk::context tiny(env_options());
  tiny.limit_binding_bytes_for_testing(256);
  const pk::points_view<const float> some(qv.data(), 120);
  for (const std::size_t leaf : {std::size_t{64}, std::size_t{4096}}) {
    SCOPED_TRACE(::testing::Message() << "leaf_size " << leaf);
    const pk::kdtree<float> big_leaves(pk::exec::scalar, leaf == 64 ? pts : pk::points_view<const float>(p.data(), 200), leaf);
    EXPECT_GT(parts_on(tiny, big_leaves), leaf == 64 ? 3 * parts_on(small, big_leaves) : 2u);
    const vk::device_points<float> dq(tiny, some);
    for (const std::size_t keep : {std::size_t{0}, std::size_t{4}}) {
      const auto want = pk::radius_neighbors(pk::exec::openmp, big_leaves, some, 0.1f, keep);
      EXPECT_EQ(pk::radius_neighbors(pk::exec::vulkan_policy{tiny}, big_leaves, some, 0.1f, keep), want);
      EXPECT_EQ(pk::radius_neighbors(pk::exec::vulkan_policy{tiny}, big_leaves, dq, 0.1f, keep), want);
    }
    EXPECT_EQ(pk::knn_neighbors(pk::exec::vulkan_policy{tiny}, big_leaves, some, 7),
              pk::knn_neighbors(pk::exec::openmp, big_leaves, some, 7));
  }
  expect_silent(small);
  expect_silent(tiny);
  expect_silent(whole);
}

TEST(VulkanDevicePointsKdtree, vulkan_ATreeLargerThanTheMemoryBudgetIsStreamedAndEqualsTheCpuGraph) {
  // 300k points: about 6 MB of tree arrays against a budget of 4 MiB, so the context keeps
  // none of it; each query pass uploads the parts (arrays of at most 512 KiB) one at a time.
  const std::size_t n = 300000, nq = 3000;
  const auto p = with_duplicates<float, 3>(n, 31);
  auto qv = random_values<float>(3 * nq, 32, -0.05, 1.05);
  for (std::size_t d = 0; d < 3; ++d) qv[d] = 0.5f;  // on the 40 coincident points
  const pk::points_view<const float> pts(p.data(), n), q(qv.data(), nq);
  const pk::kdtree<float> tree(pk::exec::openmp, pts);
  vk::context ctx(env_options());
  const std::uint64_t budget = 4 << 20;
  ctx.limit_memory_budget_for_testing(budget);
  ctx.set_pool_limit(0);  // a buffer let go is freed at once: held bytes are bytes in use
  const pk::detail::kd::gpu::device_tree<float, 3> plan(ctx, tree.data());
  ASSERT_TRUE(plan.streamed);
  EXPECT_TRUE(plan.parts.empty());
  std::uint64_t tree_bytes = 0;
  for (const auto& s : plan.cut) tree_bytes += pk::detail::kd::gpu::shape_of(tree.data(), s).bytes;
  EXPECT_GT(tree_bytes, budget);  // more than the whole budget
  EXPECT_GE(plan.cut.size(), 8u);

  const pk::exec::vulkan_policy policy{ctx};
  const vk::device_points<float> dq(ctx, q);
  for (const std::size_t keep : {std::size_t{0}, std::size_t{4}}) {
    SCOPED_TRACE(::testing::Message() << "keep " << keep);
    const auto want = pk::radius_neighbors(pk::exec::openmp, tree, q, 0.02f, keep);
    ctx.reset_stats();
    EXPECT_EQ(pk::radius_neighbors(policy, tree, q, 0.02f, keep), want);
    EXPECT_GE(ctx.stats().bytes_uploaded, 2 * tree_bytes);  // the count pass and the fill pass
    EXPECT_GE(ctx.stats().submissions, 2 * plan.cut.size());
    EXPECT_LT(ctx.peak_held_bytes(), budget);
    EXPECT_EQ(pk::radius_neighbors(policy, tree, dq, 0.02f, keep), want);
  }
  const auto want_k = pk::knn_neighbors(pk::exec::openmp, tree, q, 9);
  ctx.reset_stats();
  EXPECT_EQ(pk::knn_neighbors(policy, tree, q, 9), want_k);
  EXPECT_EQ(pk::knn_neighbors(policy, tree, dq, 9), want_k);
  EXPECT_LT(ctx.peak_held_bytes(), budget);
  // Built under the policy: nothing is uploaded at the build, the queries stream it.
  ctx.reset_stats();
  const pk::kdtree<float> built(policy, pts);
  EXPECT_EQ(ctx.stats().bytes_uploaded, 0u);
  EXPECT_EQ(pk::knn_neighbors(policy, built, q, 3), pk::knn_neighbors(pk::exec::openmp, built, q, 3));
  EXPECT_LT(ctx.peak_held_bytes(), budget);
  expect_silent(ctx);
}

TEST(VulkanDevicePointsKdtree, vulkan_ACutDoubleTreeIn2DEqualsTheUncutTree) {
  vk::context& whole = vk::default_context();
  if (!whole.info().shader_float64) GTEST_FAIL() << "the device lacks shaderFloat64";
  const std::size_t n = 3001, nq = 700;
  const auto p = with_duplicates<double, 2>(n, 23);
  const auto qv = random_values<double>(2 * nq, 24, 0, 1);
  const pk::points_view<const double, 2> pts(p.data(), n), q(qv.data(), nq);
  vk::context small(env_options());
  small.limit_binding_bytes_for_testing(10 << 10);  // coordinates: 48 KB
  const pk::kdtree<double, 2> tree(pk::exec::scalar, pts, 7);
  EXPECT_GE(parts_on(small, tree), 3u);
  expect_cut_equals_uncut(small, whole, tree, q, 0.05);
  expect_silent(small);
}

namespace {

// smooth_neighbors on a context whose bindings hold `binding_bytes` equals it on the
// default context, bitwise, with every neighbour kept and with the nearest `keep`.
void expect_smooth_neighbors_cut_equals_uncut(pk::points_view<const float> pts, pk::matrix_view<const float> v,
                                              std::uint64_t binding_bytes, std::size_t keep_nearest) {
  const std::size_t n = v.rows, cols = v.cols;
  vk::context& whole = vk::default_context();
  vk::context small(env_options());
  small.limit_binding_bytes_for_testing(binding_bytes);
  const pk::smooth_options o{.sigma = 0.04, .iterations = 2};
  for (const std::size_t keep : {std::size_t{0}, keep_nearest}) {
    SCOPED_TRACE(keep);
    std::vector<float> want(n * cols), got(n * cols);
    pk::smooth_neighbors(pk::exec::vulkan_policy{whole}, pts, v, pk::matrix_view<float>(want.data(), n, cols), 0.08f, o, keep);
    pk::smooth_neighbors(pk::exec::vulkan_policy{small}, pts, v, pk::matrix_view<float>(got.data(), n, cols), 0.08f, o, keep);
    EXPECT_EQ(got, want);
  }
  expect_silent(small);
}

}  // namespace

TEST(VulkanDevicePointsSmooth, vulkan_SmoothNeighborsOnACutTreeEqualsTheUncutTree) {
  // smooth_neighbors' own tree is cut the same way; its rows (in tree order, or the
  // nearest `keep`) carry over from part to part.
  const std::size_t n = 2000, cols = 2;
  const auto p = with_duplicates<float, 3>(n, 25);
  const auto values = random_values<float>(n * cols, 26);
  const pk::points_view<const float> pts(p.data(), n);
  const pk::matrix_view<const float> v(values.data(), n, cols);
  // one channel (8000 bytes) fits 8 KiB; the tree (24 KB) does not
  expect_smooth_neighbors_cut_equals_uncut(pts, v, 8 << 10, 6);
}

TEST(VulkanDevicePointsKdtree, vulkan_ARowLongerThanOneBindingIsFilledInPiecesAndEqualsTheCpuRow) {
  // 700 of 3000 points at one place: a query there has 700+ neighbours, and a 2 KiB
  // binding holds 512 entries, so its row is filled in pieces (each taking the hits after
  // the last of the piece before), on a tree cut into parts as well.
  const std::size_t n = 3000, nq = 400;
  auto p = random_values<float>(3 * n, 41, 0, 1);
  for (std::size_t i = 0; i < 700; ++i)
    for (std::size_t d = 0; d < 3; ++d) p[(5 + 4 * i) * 3 + d] = 0.25f;
  auto qv = random_values<float>(3 * nq, 42, 0, 1);
  for (std::size_t i = 0; i < nq; i += 9)
    for (std::size_t d = 0; d < 3; ++d) qv[i * 3 + d] = i % 2 ? 0.25f : 0.26f;
  const pk::points_view<const float> pts(p.data(), n), q(qv.data(), nq), few(qv.data(), 40);
  vk::context small(env_options());
  small.limit_binding_bytes_for_testing(2 << 10);
  const pk::exec::vulkan_policy policy{small};
  const vk::device_points<float> dq(small, q);
  for (const std::size_t leaf : {std::size_t{16}, std::size_t{3}}) {
    SCOPED_TRACE(::testing::Message() << "leaf_size " << leaf);
    const pk::kdtree<float> tree(pk::exec::scalar, pts, leaf);
    EXPECT_GE(parts_on(small, tree), 3u);
    for (const std::size_t keep : {std::size_t{0}, std::size_t{600}, std::size_t{1500}}) {
      SCOPED_TRACE(::testing::Message() << "keep " << keep);
      const auto want = pk::radius_neighbors(pk::exec::openmp, tree, q, 0.05f, keep);
      EXPECT_GT(want.offsets[10] - want.offsets[9], 512u);  // query 9 is in the crowd
      EXPECT_EQ(pk::radius_neighbors(policy, tree, q, 0.05f, keep), want);
      EXPECT_EQ(pk::radius_neighbors(policy, tree, dq, 0.05f, keep), want);
    }
    // knn with k beyond one binding: every row in pieces.
    EXPECT_EQ(pk::knn_neighbors(policy, tree, few, 1100), pk::knn_neighbors(pk::exec::openmp, tree, few, 1100));
  }
  expect_silent(small);
}

TEST(VulkanDevicePointsKdtree, vulkan_QueriesOfAnotherContextAreAnInvalidArgument) {
  vk::context other(env_options());
  const cloud c(500, 50, 10);
  const pk::kdtree<float> tree(pk::exec::vulkan, c.p());
  const vk::device_points<float> theirs(other, c.q());
  EXPECT_THROW(pk::radius_neighbors(pk::exec::vulkan, tree, theirs, 0.1f), std::invalid_argument);
  EXPECT_THROW(pk::knn_neighbors(pk::exec::vulkan, tree, theirs, 3), std::invalid_argument);
  EXPECT_THROW(pk::radius_neighbors(pk::exec::vulkan_policy{other}, tree, theirs, -1.0f), std::invalid_argument);
  EXPECT_EQ(pk::knn_neighbors(pk::exec::vulkan_policy{other}, tree, theirs, 3),
            pk::knn_neighbors(pk::exec::scalar, tree, c.q(), 3));
  expect_silent(other);
}

// ---- smooth -------------------------------------------------------------------------------

namespace {
struct smooth_case {
  cloud c{2000, 0, 11};
  std::size_t cols = 5;
  std::vector<float> values = random_values<float>(2000 * 5, 12);
  pk::neighbor_graph<float> graph;
  pk::smooth_options options{.sigma = 0.04, .iterations = 3};
  smooth_case() { graph = pk::radius_neighbors(pk::exec::scalar, pk::kdtree<float>(pk::exec::scalar, c.p()), c.p(), 0.08f); }
  pk::matrix_view<const float> v() const { return {values.data(), c.n, cols}; }
  std::vector<float> host(vk::context& ctx, pk::smooth_options o) const {
    std::vector<float> out(values.size());
    pk::gaussian_smooth(pk::exec::vulkan_policy{ctx}, graph, v(), pk::matrix_view<float>(out.data(), c.n, cols), o);
    return out;
  }
};
}  // namespace

TEST(VulkanDevicePointsSmooth, vulkan_DeviceMatricesEqualHostViewsAndNothingComesDown) {
  vk::context& ctx = vk::default_context();
  const pk::exec::vulkan_policy policy{ctx};
  const smooth_case s;
  for (std::size_t iterations : {0, 1, 3}) {
    SCOPED_TRACE(iterations);
    pk::smooth_options o = s.options;
    o.iterations = iterations;
    const auto want = s.host(ctx, o);
    vk::device_matrix<float> in(ctx, s.v()), out(ctx, s.c.n, s.cols);
    ctx.reset_stats();
    pk::gaussian_smooth(policy, s.graph, in, out, o);
    EXPECT_EQ(ctx.stats().bytes_downloaded, 0u);
    EXPECT_LE(ctx.stats().bytes_uploaded, s.graph.entries() * 8 + (s.c.n + 1) * 4 + 64);  // the graph only
    EXPECT_EQ(download(out), want);
    EXPECT_EQ(download(in), s.values);
    pk::gaussian_smooth(policy, s.graph, in, in, o);  // in place
    EXPECT_EQ(download(in), want);
  }
  expect_silent(ctx);
}

TEST(VulkanDevicePointsSmooth, vulkan_ChannelsAndRowsChunkedByALoweredLimitEqualUnchunked) {
  const smooth_case s;
  vk::context& ctx = vk::default_context();
  const auto want = s.host(ctx, s.options);
  vk::context small(env_options());
  // One channel of 2000 rows is 8 KB: a 20 KB binding holds two of the five channels, and
  // a few hundred rows of the graph.
  small.limit_binding_bytes_for_testing(20 << 10);
  EXPECT_EQ(s.host(small, s.options), want);
  vk::device_matrix<float> in(small, s.v()), out(small, s.c.n, s.cols);
  pk::gaussian_smooth(pk::exec::vulkan_policy{small}, s.graph, in, out, s.options);
  EXPECT_EQ(download(out), want);
  pk::gaussian_smooth(pk::exec::vulkan_policy{small}, s.graph, in, in, s.options);
  EXPECT_EQ(download(in), want);
  expect_silent(small);
}

namespace {
// A graph of n rows with a few rows far longer than the rest (neighbours repeated, which
// gaussian_smooth allows), so that under a small binding they are cut into pieces.
template <class T = float>
pk::neighbor_graph<T> graph_with_long_rows(std::size_t n, const std::vector<std::size_t>& long_rows,
                                           const std::vector<std::size_t>& lengths, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<std::uint32_t> index(0, static_cast<std::uint32_t>(n - 1));
  std::uniform_int_distribution<std::size_t> short_length(0, 6);
  std::uniform_real_distribution<T> dist2(T(0), T(0.01));
  pk::neighbor_graph<T> g;
  g.offsets.assign(1, 0);
  for (std::size_t r = 0; r < n; ++r) {
    std::size_t len = short_length(rng);
    for (std::size_t k = 0; k < long_rows.size(); ++k)
      if (long_rows[k] == r) len = lengths[k];
    for (std::size_t j = 0; j < len; ++j) {
      g.indices.push_back(j == 0 ? static_cast<std::uint32_t>(r) : index(rng));
      g.dist2.push_back(j == 0 ? T(0) : dist2(rng));
    }
    g.offsets.push_back(g.indices.size());
  }
  return g;
}
}  // namespace

TEST(VulkanDevicePointsSmooth, vulkan_ARowLongerThanOneBindingIsCutIntoPiecesAndEqualsTheUncutRow) {
  const std::size_t n = 300, cols = 3;
  // A 2 KiB binding holds 512 entries: rows of 513, 700, 1500 and 2600 entries take two to
  // six pieces, one of them between two long rows in a row, one at the end.
  const auto g = graph_with_long_rows(n, {10, 11, 12, 150, 299}, {700, 1500, 513, 2600, 1100}, 31);
  const auto values = random_values<float>(n * cols, 32);
  const pk::matrix_view<const float> v(values.data(), n, cols);
  vk::context& whole = vk::default_context();
  vk::context small(env_options());
  small.limit_binding_bytes_for_testing(2 << 10);
  for (const std::size_t iterations : {std::size_t{1}, std::size_t{3}}) {
    SCOPED_TRACE(iterations);
    const pk::smooth_options o{.sigma = 0.05, .iterations = iterations};
    std::vector<float> want(n * cols), got(n * cols), cpu(n * cols);
    pk::gaussian_smooth(pk::exec::vulkan_policy{whole}, g, v, pk::matrix_view<float>(want.data(), n, cols), o);
    pk::gaussian_smooth(pk::exec::vulkan_policy{small}, g, v, pk::matrix_view<float>(got.data(), n, cols), o);
    EXPECT_EQ(got, want);  // the pieces' sums carried over: bitwise the uncut rows
    pk::gaussian_smooth(pk::exec::scalar, g, v, pk::matrix_view<float>(cpu.data(), n, cols), o);
    for (std::size_t i = 0; i < cpu.size(); ++i) EXPECT_NEAR(got[i], cpu[i], 1e-5f * (1 + std::abs(cpu[i]))) << i;
    // Device matrices, and in place.
    vk::device_matrix<float> in(small, v), out(small, n, cols);
    pk::gaussian_smooth(pk::exec::vulkan_policy{small}, g, in, out, o);
    EXPECT_EQ(download(out), want);
    pk::gaussian_smooth(pk::exec::vulkan_policy{small}, g, in, in, o);
    EXPECT_EQ(download(in), want);
  }
  expect_silent(small);
  expect_silent(whole);
}

TEST(VulkanDevicePointsSmooth, vulkan_AGraphLargerThanTheMemoryBudgetIsStreamedAndEqualsTheResidentResult) {
  // 20000 rows, three of them thousands of entries long (cut into pieces by a 16 KiB
  // binding): about 0.6 MB of graph against a 512 KiB budget, so nothing of it is kept
  // on the device; each pass streams the chunks (at most 16 KiB an array) one at a time.
  const std::size_t n = 20000, cols = 3;
  const auto g = graph_with_long_rows(n, {100, 101, n - 1}, {5000, 3000, 4000}, 41);
  const auto values = random_values<float>(n * cols, 42);
  const pk::matrix_view<const float> v(values.data(), n, cols);
  vk::context& whole = vk::default_context();
  vk::context small(env_options());
  const std::uint64_t budget = 512 << 10;
  small.limit_memory_budget_for_testing(budget);
  small.limit_binding_bytes_for_testing(16 << 10);
  small.set_pool_limit(0);  // a buffer let go is freed at once: held bytes are bytes in use
  ASSERT_TRUE(pk::detail::sm::gpu::graph_exceeds_memory<float>(small, n, g.entries()));
  ASSERT_FALSE(pk::detail::sm::gpu::graph_exceeds_memory<float>(whole, n, g.entries()));
  for (const std::size_t iterations : {std::size_t{1}, std::size_t{3}}) {
    SCOPED_TRACE(iterations);
    const pk::smooth_options o{.sigma = 0.05, .iterations = iterations};
    std::vector<float> want(n * cols), got(n * cols);
    pk::gaussian_smooth(pk::exec::vulkan_policy{whole}, g, v, pk::matrix_view<float>(want.data(), n, cols), o);
    small.reset_stats();
    pk::gaussian_smooth(pk::exec::vulkan_policy{small}, g, v, pk::matrix_view<float>(got.data(), n, cols), o);
    EXPECT_EQ(got, want);  // the same shaders on the same operands: bitwise
    EXPECT_LT(small.peak_held_bytes(), budget / 2);
    EXPECT_GE(small.stats().bytes_uploaded, iterations * cols * g.entries() * 2 * sizeof(float));  // per pass, per channel
    // Device matrices (through the host), and in place.
    vk::device_matrix<float> in(small, v), out(small, n, cols);
    pk::gaussian_smooth(pk::exec::vulkan_policy{small}, g, in, out, o);
    EXPECT_EQ(download(out), want);
    pk::gaussian_smooth(pk::exec::vulkan_policy{small}, g, in, in, o);
    EXPECT_EQ(download(in), want);
  }
  // smooth_neighbors builds a graph too large to keep (about 10 neighbours a point), then
  // streams it; its tree is streamed as well.
  const cloud c{n, 0, 43};
  const pk::smooth_options o{.sigma = 0.03, .iterations = 2};
  std::vector<float> want(n * cols), got(n * cols), cpu(n * cols);
  pk::smooth_neighbors(pk::exec::vulkan_policy{whole}, c.p(), v, pk::matrix_view<float>(want.data(), n, cols), 0.05f, o);
  small.reset_stats();
  pk::smooth_neighbors(pk::exec::vulkan_policy{small}, c.p(), v, pk::matrix_view<float>(got.data(), n, cols), 0.05f, o);
  EXPECT_EQ(got, want);
  // Under the budget, not half of it: the builder keeps every chunk of its 240 KB of
  // queries (and their counts) from the count pass to the fill pass.
  EXPECT_LT(small.peak_held_bytes(), budget);
  pk::smooth_neighbors(pk::exec::openmp, c.p(), v, pk::matrix_view<float>(cpu.data(), n, cols), 0.05f, o);
  for (std::size_t i = 0; i < cpu.size(); ++i) ASSERT_NEAR(got[i], cpu[i], 1e-5f * (1 + std::abs(cpu[i]))) << i;
  // double (the f64 shaders), with a row in pieces.
  if (!whole.info().shader_float64) GTEST_FAIL() << "the device lacks shaderFloat64";
  const auto gd = graph_with_long_rows<double>(n, {7}, {6000}, 44);
  const auto vd = random_values<double>(n * cols, 45);
  const pk::matrix_view<const double> vdv(vd.data(), n, cols);
  ASSERT_TRUE(pk::detail::sm::gpu::graph_exceeds_memory<double>(small, n, gd.entries()));
  std::vector<double> want_d(n * cols), got_d(n * cols);
  pk::gaussian_smooth(pk::exec::vulkan_policy{whole}, gd, vdv, pk::matrix_view<double>(want_d.data(), n, cols), o);
  small.reset_stats();
  pk::gaussian_smooth(pk::exec::vulkan_policy{small}, gd, vdv, pk::matrix_view<double>(got_d.data(), n, cols), o);
  EXPECT_EQ(got_d, want_d);
  EXPECT_LT(small.peak_held_bytes(), budget / 2);
  expect_silent(small);
  expect_silent(whole);
}

TEST(VulkanDevicePointsSmooth, vulkan_AChannelLargerThanOneBindingIsGatheredAndEqualsUnchunked) {
  // One channel of 2000 rows is 8 KB; a 4 KiB binding holds half of it, so each chunk's
  // values are gathered from blocks of rows and its output bound as a window.
  const smooth_case s;
  vk::context& ctx = vk::default_context();
  vk::context small(env_options());
  small.limit_binding_bytes_for_testing(4 << 10);
  for (const std::size_t iterations : {std::size_t{1}, std::size_t{3}}) {
    SCOPED_TRACE(iterations);
    pk::smooth_options o = s.options;
    o.iterations = iterations;
    const auto want = s.host(ctx, o);
    EXPECT_EQ(s.host(small, o), want);
    vk::device_matrix<float> in(small, s.v()), out(small, s.c.n, s.cols);
    pk::gaussian_smooth(pk::exec::vulkan_policy{small}, s.graph, in, out, o);
    EXPECT_EQ(download(out), want);
    pk::gaussian_smooth(pk::exec::vulkan_policy{small}, s.graph, in, in, o);
    EXPECT_EQ(download(in), want);
  }
  // With rows longer than a binding too (n = 300: a channel is 1200 bytes of 1 KiB).
  const std::size_t n = 300, cols = 2;
  const auto g = graph_with_long_rows(n, {0, 7, 299}, {400, 900, 300}, 33);
  const auto values = random_values<float>(n * cols, 34);
  const pk::matrix_view<const float> v(values.data(), n, cols);
  vk::context tiny(env_options());
  tiny.limit_binding_bytes_for_testing(1 << 10);
  std::vector<float> want(n * cols), got(n * cols);
  pk::gaussian_smooth(pk::exec::vulkan_policy{ctx}, g, v, pk::matrix_view<float>(want.data(), n, cols), s.options);
  pk::gaussian_smooth(pk::exec::vulkan_policy{tiny}, g, v, pk::matrix_view<float>(got.data(), n, cols), s.options);
  EXPECT_EQ(got, want);
  // double (the f64 shaders): a channel of 300 rows is 2400 bytes of 2 KiB, rows of 256+
  // entries in pieces.
  if (!ctx.info().shader_float64) GTEST_FAIL() << "the device lacks shaderFloat64";
  const auto gd = graph_with_long_rows<double>(n, {3, 4, 200}, {600, 257, 1000}, 37);
  const auto vd = random_values<double>(n * cols, 38);
  const pk::matrix_view<const double> vdv(vd.data(), n, cols);
  vk::context tiny_double(env_options());
  tiny_double.limit_binding_bytes_for_testing(2 << 10);
  std::vector<double> want_d(n * cols), got_d(n * cols);
  pk::gaussian_smooth(pk::exec::vulkan_policy{ctx}, gd, vdv, pk::matrix_view<double>(want_d.data(), n, cols), s.options);
  pk::gaussian_smooth(pk::exec::vulkan_policy{tiny_double}, gd, vdv, pk::matrix_view<double>(got_d.data(), n, cols),
                      s.options);
  EXPECT_EQ(got_d, want_d);
  vk::device_matrix<double> in(tiny_double, vdv), out(tiny_double, n, cols);
  pk::gaussian_smooth(pk::exec::vulkan_policy{tiny_double}, gd, in, out, s.options);
  EXPECT_EQ(download(out), want_d);
  expect_silent(small);
  expect_silent(tiny);
  expect_silent(tiny_double);
}

TEST(VulkanDevicePointsSmooth, vulkan_SmoothNeighborsWithRowsAndChannelsLargerThanOneBindingEqualsUncut) {
  // 300 of 2000 points at one place: their rows (300+ entries) and one channel (8 KB) are
  // larger than a 2 KiB binding (which holds chunks of 254 entries and rows here), and
  // the tree is cut into parts.
  const std::size_t n = 2000, cols = 2;
  auto p = random_values<float>(3 * n, 35, 0, 1);
  for (std::size_t i = 0; i < 300; ++i)
    for (std::size_t d = 0; d < 3; ++d) p[(3 * i + 1) * 3 + d] = 0.5f;
  const auto values = random_values<float>(n * cols, 36);
  const pk::points_view<const float> pts(p.data(), n);
  const pk::matrix_view<const float> v(values.data(), n, cols);
  expect_smooth_neighbors_cut_equals_uncut(pts, v, 2 << 10, 280);
}

TEST(VulkanDevicePointsSmooth, vulkan_MatrixOfAnotherContextOrShapeIsAnInvalidArgument) {
  vk::context other(env_options());
  vk::context& ctx = vk::default_context();
  const smooth_case s;
  vk::device_matrix<float> in(ctx, s.v()), out(ctx, s.c.n, s.cols), theirs(other, s.c.n, s.cols),
      narrow(ctx, s.c.n, s.cols - 1), short_in(ctx, s.c.n - 1, s.cols);
  EXPECT_THROW(pk::gaussian_smooth(pk::exec::vulkan, s.graph, in, theirs, s.options), std::invalid_argument);
  EXPECT_THROW(pk::gaussian_smooth(pk::exec::vulkan_policy{other}, s.graph, in, theirs, s.options), std::invalid_argument);
  EXPECT_THROW(pk::gaussian_smooth(pk::exec::vulkan, s.graph, in, narrow, s.options), std::invalid_argument);
  EXPECT_THROW(pk::gaussian_smooth(pk::exec::vulkan, s.graph, short_in, out, s.options), std::invalid_argument);
  pk::smooth_options bad = s.options;
  bad.sigma = 0;
  EXPECT_THROW(pk::gaussian_smooth(pk::exec::vulkan, s.graph, in, out, bad), std::invalid_argument);
  EXPECT_EQ(download(out), std::vector<float>(s.values.size(), 0.0f));
  EXPECT_EQ(download(theirs), std::vector<float>(s.values.size(), 0.0f));
  expect_silent(other);
}

// ---- threads ------------------------------------------------------------------------------

TEST(VulkanDevicePointsThreads, vulkan_FourThreadsOnOneContextEqualOneThread) {
  vk::context& ctx = vk::default_context();
  const pk::exec::vulkan_policy policy{ctx};
  const smooth_case s;
  const pk::kdtree<float> tree(policy, s.c.p());
  // One round: device points transformed, queried against the shared tree, and device
  // values smoothed over the graph; everything downloaded for comparison.
  const auto round = [&] {
    vk::device_points<float> pts(ctx, s.c.p()), moved(ctx, s.c.n);
    pk::transform_points(policy, pts, rotation, moved);
    const auto graph = pk::knn_neighbors(policy, tree, pts, 6);
    vk::device_matrix<float> in(ctx, s.v()), out(ctx, s.c.n, s.cols);
    pk::gaussian_smooth(policy, s.graph, in, out, s.options);
    std::vector<float> r = download(moved), sm = download(out);
    r.insert(r.end(), sm.begin(), sm.end());
    for (float d : graph.dist2) r.push_back(d);
    for (std::uint32_t i : graph.indices) r.push_back(static_cast<float>(i));
    return r;
  };
  const std::vector<float> want = round();
  constexpr int threads = 4, rounds = 3;
  std::vector<std::vector<std::vector<float>>> got(threads);
  std::vector<std::string> errors(threads);
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&, t] {
      try {
        for (int r = 0; r < rounds; ++r) got[t].push_back(round());
      } catch (const std::exception& e) {
        errors[t] = e.what();
      }
    });
  for (auto& th : pool) th.join();
  for (int t = 0; t < threads; ++t) {
    EXPECT_EQ(errors[t], "") << "thread " << t;
    for (const auto& r : got[t]) EXPECT_TRUE(r == want) << "thread " << t;
  }
  expect_silent(ctx);
}
