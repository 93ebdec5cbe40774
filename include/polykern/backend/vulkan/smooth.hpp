// Gaussian smoothing, part 4: the Vulkan policy. The graph lives on the device in chunks
// of rows (each within one binding) for all iterations: smooth_weights_* turns each
// chunk's dist2 into normalised weights once, then every Jacobi pass is one dispatch of
// smooth_pass_* per chunk, ping-ponging between two value buffers, all in one submission.
// The values are cut into groups of channels so that one group of all rows fits a
// binding. `out` is written only after every submission has succeeded (so with_fallback
// can rerun on the CPU, even in place). The passes are the CPU's sequence of operations;
// only exp and the division differ in the last bits, so values agree with the CPU
// policies to a few ulps per iteration rather than bitwise.
#pragma once
#include "../../execution.hpp"

#if POLYKERN_HAS_VULKAN
#include <algorithm>
#include <cstdint>
#include <vector>

#include "../../detail/executor.hpp"
#include "../../detail/smooth/plans.hpp"
#include "kdtree.hpp"
#include "shaders/smooth_pass_f32.spv.hpp"
#include "shaders/smooth_pass_f64.spv.hpp"
#include "shaders/smooth_weights_f32.spv.hpp"
#include "shaders/smooth_weights_f64.spv.hpp"

namespace polykern::detail::sm {

namespace gpu {
using kd::gpu::device_rows;
using kd::gpu::grid_for;
using kd::gpu::local_size;

template <class T>
struct weights_push {
  std::uint32_t rows, row0, pad0, pad1;
  T a;
};
struct pass_push {
  std::uint32_t rows, row0, cols, pad0;
};

template <class T>
const vulkan::pipeline& weights_pipeline(vulkan::context& ctx) {
  const std::uint32_t spec[] = {local_size};
  if constexpr (sizeof(T) == 4)
    return ctx.get_pipeline({"smooth.weights_f32", vulkan::shaders::smooth_weights_f32, 4, sizeof(weights_push<T>), spec});
  else
    return ctx.get_pipeline({"smooth.weights_f64", vulkan::shaders::smooth_weights_f64, 4, sizeof(weights_push<T>), spec});
}
template <class T>
const vulkan::pipeline& pass_pipeline(vulkan::context& ctx) {
  const std::uint32_t spec[] = {local_size, kd::use_fma ? 1u : 0u};
  if constexpr (sizeof(T) == 4)
    return ctx.get_pipeline({"smooth.pass_f32", vulkan::shaders::smooth_pass_f32, 6, sizeof(pass_push), spec});
  else
    return ctx.get_pipeline({"smooth.pass_f64", vulkan::shaders::smooth_pass_f64, 6, sizeof(pass_push), spec});
}

// Weighs and smooths over the device chunks `rows` (the graph of n rows); the result lands
// in `result` (n x cols, contiguous) on the host. Values are read from `values` only.
template <class T>
void smooth_on_device(vulkan::context& ctx, const std::vector<device_rows<T>>& rows, std::size_t n,
                      matrix_view<const T> values, T a, std::size_t iterations, std::vector<T>& result) {
  const std::size_t cols = values.cols;
  result.assign(n * cols, T(0));
  if (n == 0 || cols == 0) return;
  const std::uint64_t limit = ctx.max_binding_bytes();
  kd::gpu::require_binding(ctx, n * sizeof(T), "one channel of the values");
  const std::size_t group = std::min<std::size_t>(cols, limit / (n * sizeof(T)));
  vulkan::commands cmd(ctx);
  std::vector<vulkan::buffer> keep;
  for (const auto& d : rows) {
    keep.emplace_back(ctx, std::max<std::size_t>(d.rows, 1) * 4);
    const weights_push<T> push{static_cast<std::uint32_t>(d.rows), static_cast<std::uint32_t>(d.row0), 0, 0, a};
    const auto g = grid_for(ctx, d.rows);
    cmd.dispatch(weights_pipeline<T>(ctx), {d.offsets, d.index, d.dist, keep.back()}, push, g.x, g.y);
  }
  cmd.barrier();
  vulkan::buffer buf[2] = {vulkan::buffer(ctx, n * group * sizeof(T)), vulkan::buffer(ctx, n * group * sizeof(T))};
  std::vector<T> packed(n * group);
  for (std::size_t c0 = 0; c0 < cols; c0 += group) {
    const std::size_t cg = std::min(group, cols - c0);
    for (std::size_t r = 0; r < n; ++r) std::copy_n(values.row(r) + c0, cg, packed.data() + r * cg);
    cmd.upload(buf[0], packed.data(), n * cg * sizeof(T));
    std::size_t cur = 0;
    for (std::size_t it = 0; it < iterations; ++it) {
      for (std::size_t k = 0; k < rows.size(); ++k) {
        const auto& d = rows[k];
        const pass_push push{static_cast<std::uint32_t>(d.rows), static_cast<std::uint32_t>(d.row0),
                             static_cast<std::uint32_t>(cg), 0};
        const auto g = grid_for(ctx, d.rows * cg);
        cmd.dispatch(pass_pipeline<T>(ctx), {d.offsets, d.index, d.dist, keep[k], buf[cur], buf[1 - cur]}, push, g.x,
                     g.y);
      }
      cmd.barrier();
      cur = 1 - cur;
    }
    cmd.download(buf[cur], packed.data(), n * cg * sizeof(T));
    cmd.submit();
    for (std::size_t r = 0; r < n; ++r) std::copy_n(packed.data() + r * cg, cg, result.data() + r * cols + c0);
  }
}

// A host graph's rows uploaded in chunks that fit one binding each.
template <class T>
std::vector<device_rows<T>> upload_graph(vulkan::context& ctx, const neighbor_graph<T>& g) {
  std::vector<device_rows<T>> out;
  const std::size_t n = g.rows();
  const std::uint64_t limit = ctx.max_binding_bytes();
  const std::uint64_t max_entries = limit / std::max<std::size_t>(sizeof(T), 4), max_rows = limit / 4 - 1;
  vulkan::commands cmd(ctx);
  std::vector<std::uint32_t> offsets;
  std::size_t r0 = 0;
  while (r0 < n) {
    std::size_t r1 = r0;
    while (r1 < n && r1 - r0 < max_rows && g.offsets[r1 + 1] - g.offsets[r0] <= max_entries) ++r1;
    if (r1 == r0)
      throw vulkan_error("gaussian_smooth", vulkan::result_name(VK_ERROR_OUT_OF_DEVICE_MEMORY),
                         concat("row ", r0, " has more neighbours than one binding holds"));
    device_rows<T>& d = out.emplace_back();
    d.row0 = r0;
    d.rows = r1 - r0;
    d.entries = g.offsets[r1] - g.offsets[r0];
    offsets.resize(d.rows + 1);
    for (std::size_t i = 0; i <= d.rows; ++i) offsets[i] = static_cast<std::uint32_t>(g.offsets[r0 + i] - g.offsets[r0]);
    d.offsets = vulkan::buffer(ctx, offsets.size() * 4);
    d.index = vulkan::buffer(ctx, d.entries * 4);
    d.dist = vulkan::buffer(ctx, d.entries * sizeof(T));
    cmd.upload(d.offsets, offsets.data(), offsets.size() * 4);
    cmd.upload(d.index, g.indices.data() + g.offsets[r0], d.entries * 4);
    cmd.upload(d.dist, g.dist2.data() + g.offsets[r0], d.entries * sizeof(T));
    cmd.submit();  // the offsets staging vector is reused
    r0 = r1;
  }
  return out;
}

template <class T>
void write_out(const std::vector<T>& result, matrix_view<T> out) {
  for (std::size_t r = 0; r < out.rows; ++r) std::copy_n(result.data() + r * out.cols, out.cols, out.row(r));
}

}  // namespace gpu

template <class T>
void run(vulkan_tag, const exec::vulkan_policy& policy, const graph_plan<T>& plan) {
  const neighbor_graph<T>& g = plan.graph;
  const matrix_view<const T> values = plan.values;
  const matrix_view<T> out = plan.out;
  const T a = plan.a;
  const std::size_t iterations = plan.iterations;
  vulkan::context& ctx = context_of(policy);
  kd::gpu::require_type<T>(ctx);
  std::vector<T> result;
  if (iterations == 0) {
    result.resize(values.rows * values.cols);
    for (std::size_t r = 0; r < values.rows; ++r) std::copy_n(values.row(r), values.cols, result.data() + r * values.cols);
  } else {
    const auto rows = gpu::upload_graph(ctx, g);
    gpu::smooth_on_device(ctx, rows, g.rows(), values, a, iterations, result);
  }
  gpu::write_out(result, out);
}

template <class T, std::size_t Dim>
void run(vulkan_tag, const exec::vulkan_policy& policy, const neighbors_plan<T, Dim>& plan) {
  const points_view<const T, Dim> points = plan.points;
  const matrix_view<const T> values = plan.values;
  const matrix_view<T> out = plan.out;
  const T r2 = plan.r2, a = plan.a;
  const std::size_t iterations = plan.iterations, keep = plan.keep;
  const host_executor each{};
  kd::tree_data<T, Dim> t;
  kd::build_tree(t, points, own_leaf_size, each);
  vulkan::context& ctx = context_of(policy);
  kd::gpu::require_type<T>(ctx);
  const kd::query_order order = kd::make_order(t, points, kd::space::caller, each);
  // This tree lives for this call only: its device copy too (not kept by the context).
  kd::gpu::graph_builder<T, Dim> builder(ctx, t, std::make_shared<const kd::gpu::device_tree<T, Dim>>(ctx, t), {points},
                                         &order);
  const std::vector<std::uint64_t> lengths = builder.radius_lengths(r2, keep);
  // All hits in tree order (as the CPU sums them), or the nearest `keep` by distance.
  const auto m = keep ? kd::gpu::mode::fill_distance : kd::gpu::mode::fill_position;
  const auto rows = builder.fill(lengths, m, r2, true, [](vulkan::commands&, const auto&) {});
  std::vector<T> result;
  if (iterations == 0) {
    result.resize(values.rows * values.cols);
    for (std::size_t r = 0; r < values.rows; ++r) std::copy_n(values.row(r), values.cols, result.data() + r * values.cols);
  } else {
    gpu::smooth_on_device(ctx, rows, points.count, values, a, iterations, result);
  }
  gpu::write_out(result, out);
}

}  // namespace polykern::detail::sm
#endif
