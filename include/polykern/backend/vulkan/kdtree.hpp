// KD-tree neighbour search, part 4: the Vulkan policy. The tree is built on the CPU
// (OpenMP when available) and uploaded; the queries run in radius_f32/f64.comp, one
// invocation per query, in the tree's order (nearby queries in the same workgroup).
// Radius rows take two passes: one counts each row, the host turns the counts into CSR
// offsets, one fills the rows. Work is cut into chunks of caller rows so that no binding
// exceeds ctx.max_binding_bytes(); every chunk has its own buffers (offset 0), so the
// offset alignment never comes into play. Distances are bitwise the CPU's (the same fold,
// `precise`, FMA as the CPU build does), and rows are ordered by the same unique keys, so
// the graph is the CPU's graph.
#pragma once
#include "../../execution.hpp"

#if POLYKERN_HAS_VULKAN
#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "../../detail/executor.hpp"
#include "../../detail/kdtree/plans.hpp"
#include "buffer.hpp"
#include "commands.hpp"
#include "context.hpp"
#include "shaders/radius_f32.spv.hpp"
#include "shaders/radius_f64.spv.hpp"

namespace polykern::detail::kd {

// The tree is built on the host (every core when OpenMP is on), then uploaded per call.
template <class T, std::size_t Dim>
tree_data<T, Dim> run(vulkan_tag, const exec::vulkan_policy&, const build_plan<T, Dim>& plan) {
  return run_cpu<T>(host_executor{}, plan);
}

namespace gpu {

inline constexpr std::uint32_t local_size = 64;

template <class T>
void require_type(vulkan::context& ctx) {
  if constexpr (sizeof(T) == 8)
    if (!ctx.info().shader_float64)
      throw vulkan_error("polykern::smooth", vulkan::result_name(VK_ERROR_FEATURE_NOT_PRESENT),
                         "double needs shaderFloat64, which this device lacks");
}

// Throws vulkan_error when `bytes` do not fit one binding (with_fallback then reruns on the CPU).
inline void require_binding(vulkan::context& ctx, std::uint64_t bytes, const char* what) {
  if (bytes > ctx.max_binding_bytes())
    throw vulkan_error("polykern::smooth", vulkan::result_name(VK_ERROR_OUT_OF_DEVICE_MEMORY),
                       concat(what, " needs ", bytes, " bytes in one binding; the device allows ",
                              ctx.max_binding_bytes()));
}

// A 2D grid of workgroups covering `invocations` (x is capped at 65535).
struct grid {
  std::uint32_t x = 0, y = 0;
};
inline grid grid_for(vulkan::context& ctx, std::size_t invocations) {
  const std::size_t groups = (invocations + local_size - 1) / local_size;
  if (groups == 0) return {};
  const std::size_t max_x = std::min<std::size_t>(ctx.info().max_workgroup_count[0], 65535);
  const std::size_t x = std::min(groups, max_x), y = (groups + x - 1) / x;
  if (y > ctx.info().max_workgroup_count[1])
    throw vulkan_error("vkCmdDispatch", vulkan::result_name(VK_ERROR_FEATURE_NOT_PRESENT), "dispatch too large");
  return {static_cast<std::uint32_t>(x), static_cast<std::uint32_t>(y)};
}

template <class T>
struct radius_push {
  std::uint32_t invocations, slots, leaf_stride, nodes, mode, pad[3];
  T r2;
};
enum mode : std::uint32_t { count = 0, fill_position = 1, fill_distance = 2, fill_knn = 3 };

template <class T>
const vulkan::pipeline& radius_pipeline(vulkan::context& ctx, std::size_t dim) {
  const std::uint32_t spec[] = {local_size, static_cast<std::uint32_t>(dim)};
  if constexpr (sizeof(T) == 4)
    return ctx.get_pipeline({"smooth.radius_f32", vulkan::shaders::radius_f32, 8, sizeof(radius_push<T>), spec});
  else
    return ctx.get_pipeline({"smooth.radius_f64", vulkan::shaders::radius_f64, 8, sizeof(radius_push<T>), spec});
}

template <class U>
void upload_vector(vulkan::commands& cmd, const vulkan::buffer& dst, const std::vector<U>& v) {
  cmd.upload(dst, v.data(), v.size() * sizeof(U));
}

// The tree on the device: coordinates, boxes, and perm followed by the links.
template <class T, std::size_t Dim>
struct device_tree {
  vulkan::buffer coords, boxes, tree_u;
  device_tree(vulkan::context& ctx, vulkan::commands& cmd, const tree_data<T, Dim>& t) {
    const std::size_t links = t.link.size();
    require_binding(ctx, t.coords.size() * sizeof(T), "the tree's coordinates");
    require_binding(ctx, t.box.size() * sizeof(T), "the tree's boxes");
    require_binding(ctx, (t.perm.size() + links) * sizeof(std::uint32_t), "the tree's indices");
    coords = vulkan::buffer(ctx, t.coords.size() * sizeof(T));
    boxes = vulkan::buffer(ctx, t.box.size() * sizeof(T));
    tree_u = vulkan::buffer(ctx, (t.perm.size() + links) * sizeof(std::uint32_t));
    cmd.upload(coords, t.coords.data(), t.coords.size() * sizeof(T));
    cmd.upload(boxes, t.box.data(), t.box.size() * sizeof(T));
    cmd.upload(tree_u, t.perm.data(), t.perm.size() * sizeof(std::uint32_t));
    cmd.upload(tree_u, t.link.data(), links * sizeof(std::uint32_t), t.perm.size() * sizeof(std::uint32_t));
  }
};

// A chunk of the graph on the device: rows [row0, row0 + rows) with relative offsets.
template <class T>
struct device_rows {
  std::size_t row0 = 0, rows = 0, entries = 0;
  vulkan::buffer offsets, index, dist;  // rows + 1, entries, entries
};

// Runs neighbour queries on the device and produces the graph's chunks there; the
// caller downloads them (radius_neighbors, knn_neighbors) or smooths over them.
template <class T, std::size_t Dim>
class graph_builder {
 public:
  graph_builder(vulkan::context& ctx, const tree_data<T, Dim>& t, points_view<const T, Dim> queries,
                const query_order& order)
      : ctx_(ctx), t_(t), queries_(queries), nq_(queries.count) {
    require_type<T>(ctx);
    {
      vulkan::commands cmd(ctx);
      tree_ = std::make_unique<device_tree<T, Dim>>(ctx, cmd, t);
      cmd.submit();
    }
    const std::uint64_t limit = ctx.max_binding_bytes();
    max_rows_ = std::max<std::uint64_t>(1, std::min<std::uint64_t>(limit / (Dim * sizeof(T)), limit / 4 - 1));
    // Each query's place in the order, kept per chunk of max_rows_ caller rows.
    const std::size_t chunks = (nq_ + max_rows_ - 1) / max_rows_;
    order_.resize(chunks);
    for (std::uint32_t q : order.order) order_[q / max_rows_].push_back(static_cast<std::uint32_t>(q % max_rows_));
  }

  // Row lengths of a radius query (count pass), with at most `keep` (0: all) per row.
  std::vector<std::uint64_t> radius_lengths(T r2, std::size_t keep) {
    std::vector<std::uint32_t> counts(nq_);
    if (nq_ == 0) return {};
    vulkan::commands cmd(ctx_);
    struct pass {
      vulkan::buffer q, o, c;
    };
    std::vector<pass> passes;
    passes.reserve(order_.size());  // downloads refer to these buffers until the submit
    for (std::size_t c = 0; c < order_.size(); ++c) {
      const std::size_t r0 = c * max_rows_, rows = std::min<std::size_t>(max_rows_, nq_ - r0);
      auto& p = passes.emplace_back();
      p.q = upload_queries(cmd, r0, rows);
      p.o = vulkan::buffer(ctx_, rows * 4);
      p.c = vulkan::buffer(ctx_, rows * 4);
      upload_vector(cmd, p.o, order_[c]);
      dispatch(cmd, p.q, p.o, p.c, p.c, p.c, rows, mode::count, r2);
      cmd.download(p.c, counts.data() + r0, rows * 4);
    }
    cmd.submit();
    std::vector<std::uint64_t> lengths(nq_);
    for (std::size_t q = 0; q < nq_; ++q) lengths[q] = keep ? std::min<std::uint64_t>(counts[q], keep) : counts[q];
    return lengths;
  }

  // Fills the rows (of the given lengths) on the device, in chunks that fit one binding.
  // `on_chunk(cmd, chunk)` runs once a chunk is recorded, so the caller can record its
  // download. keep_on_device: every chunk stays on the device and is returned (one
  // submission at the end); otherwise each chunk is submitted and dropped in turn.
  template <class OnChunk>
  std::vector<device_rows<T>> fill(const std::vector<std::uint64_t>& lengths, mode m, T r2, bool keep_on_device,
                                   const OnChunk& on_chunk) {
    std::vector<device_rows<T>> out;
    if (nq_ == 0) return out;
    const std::uint64_t limit = ctx_.max_binding_bytes();
    const std::uint64_t max_entries = limit / std::max<std::size_t>(sizeof(T), 4);
    vulkan::commands cmd(ctx_);
    std::vector<vulkan::buffer> keep_alive;  // queries and orders of chunks not yet submitted
    std::size_t r0 = 0;
    while (r0 < nq_) {
      // The longest run of rows from r0 that fits (and stays within one count chunk).
      const std::size_t end = std::min<std::size_t>(nq_, (r0 / max_rows_ + 1) * max_rows_);
      std::uint64_t entries = 0;
      std::size_t r1 = r0;
      while (r1 < end && entries + lengths[r1] <= max_entries) entries += lengths[r1++];
      if (r1 == r0)
        throw vulkan_error("polykern::smooth", vulkan::result_name(VK_ERROR_OUT_OF_DEVICE_MEMORY),
                           concat("row ", r0, " has ", lengths[r0], " neighbours, more than one binding holds"));
      device_rows<T>& d = out.emplace_back();
      d.row0 = r0;
      d.rows = r1 - r0;
      d.entries = entries;
      std::vector<std::uint32_t> offsets(d.rows + 1, 0);
      for (std::size_t i = 0; i < d.rows; ++i) offsets[i + 1] = offsets[i] + static_cast<std::uint32_t>(lengths[r0 + i]);
      // The chunk's order: the order of its count chunk restricted to [r0, r1).
      std::vector<std::uint32_t> order;
      order.reserve(d.rows);
      const std::size_t base = r0 / max_rows_ * max_rows_;
      for (std::uint32_t q : order_[r0 / max_rows_])
        if (base + q >= r0 && base + q < r1) order.push_back(static_cast<std::uint32_t>(base + q - r0));
      vulkan::buffer q = upload_queries(cmd, r0, d.rows);
      vulkan::buffer o(ctx_, d.rows * 4);
      upload_vector(cmd, o, order);
      d.offsets = vulkan::buffer(ctx_, (d.rows + 1) * 4);
      d.index = vulkan::buffer(ctx_, entries * 4);
      d.dist = vulkan::buffer(ctx_, entries * sizeof(T));
      upload_vector(cmd, d.offsets, offsets);
      dispatch(cmd, q, o, d.offsets, d.index, d.dist, d.rows, m, r2);
      on_chunk(cmd, d);
      if (keep_on_device) {
        keep_alive.push_back(std::move(q));
        keep_alive.push_back(std::move(o));
      } else {
        cmd.submit();
        out.pop_back();
      }
      r0 = r1;
    }
    if (keep_on_device) cmd.submit();
    return out;
  }

 private:
  vulkan::buffer upload_queries(vulkan::commands& cmd, std::size_t r0, std::size_t rows) {
    std::vector<T> packed(rows * Dim);
    for (std::size_t i = 0; i < rows; ++i)
      for (std::size_t d = 0; d < Dim; ++d) packed[i * Dim + d] = queries_[r0 + i][d];
    vulkan::buffer b(ctx_, packed.size() * sizeof(T));
    upload_vector(cmd, b, packed);
    return b;
  }

  void dispatch(vulkan::commands& cmd, const vulkan::buffer& q,
                const vulkan::buffer& o, const vulkan::buffer& rows, const vulkan::buffer& index,
                const vulkan::buffer& dist, std::size_t invocations, mode m, T r2) {
    const auto& pipe = radius_pipeline<T>(ctx_, Dim);
    radius_push<T> push{};
    push.invocations = static_cast<std::uint32_t>(invocations);
    push.slots = static_cast<std::uint32_t>(t_.slots);
    push.leaf_stride = static_cast<std::uint32_t>(t_.leaf_stride);
    push.nodes = static_cast<std::uint32_t>(t_.nodes());
    push.mode = m;
    push.r2 = r2;
    const grid g = grid_for(ctx_, invocations);
    cmd.barrier();
    cmd.dispatch(pipe, {tree_->coords, tree_->boxes, tree_->tree_u, q, o, rows, index, dist}, push, g.x, g.y);
    cmd.barrier();
  }

  vulkan::context& ctx_;
  const tree_data<T, Dim>& t_;
  points_view<const T, Dim> queries_;
  std::size_t nq_;
  std::size_t max_rows_ = 1;
  std::vector<std::vector<std::uint32_t>> order_;  // per count chunk: queries relative to its first row
  std::unique_ptr<device_tree<T, Dim>> tree_;
};

// Downloads the chunks' rows into a host graph.
template <class T>
struct graph_download {
  neighbor_graph<T>& g;
  void operator()(vulkan::commands& cmd, const device_rows<T>& d) const {
    const std::size_t at = g.offsets[d.row0];
    cmd.download(d.index, g.indices.data() + at, d.entries * 4);
    cmd.download(d.dist, g.dist2.data() + at, d.entries * sizeof(T));
  }
};

template <class T>
neighbor_graph<T> host_graph(const std::vector<std::uint64_t>& lengths) {
  neighbor_graph<T> g;
  g.offsets = std::vector<std::uint64_t>(lengths.size() + 1, 0);
  for (std::size_t r = 0; r < lengths.size(); ++r) g.offsets[r + 1] = g.offsets[r] + lengths[r];
  g.indices.resize(g.offsets.back());
  g.dist2.resize(g.offsets.back());
  return g;
}

}  // namespace gpu

template <class T, std::size_t Dim>
neighbor_graph<T> run(vulkan_tag, const exec::vulkan_policy& policy, const radius_plan<T, Dim>& plan) {
  const tree_data<T, Dim>& t = plan.tree;
  const points_view<const T, Dim> queries = plan.queries;
  const T r2 = plan.r2;
  const std::size_t keep = plan.keep;
  vulkan::context& ctx = context_of(policy);
  const query_order order = make_order(t, queries, space::caller, host_executor{});
  gpu::graph_builder<T, Dim> builder(ctx, t, queries, order);
  const std::vector<std::uint64_t> lengths = builder.radius_lengths(r2, keep);
  neighbor_graph<T> g = gpu::host_graph<T>(lengths);
  builder.fill(lengths, gpu::mode::fill_distance, r2, false, gpu::graph_download<T>{g});
  return g;
}

template <class T, std::size_t Dim>
neighbor_graph<T> run(vulkan_tag, const exec::vulkan_policy& policy, const knn_plan<T, Dim>& plan) {
  const tree_data<T, Dim>& t = plan.tree;
  const points_view<const T, Dim> queries = plan.queries;
  const std::size_t k = plan.k;
  vulkan::context& ctx = context_of(policy);
  const query_order order = make_order(t, queries, space::caller, host_executor{});
  gpu::graph_builder<T, Dim> builder(ctx, t, queries, order);
  const std::vector<std::uint64_t> lengths(queries.count, std::min(k, t.n));
  neighbor_graph<T> g = gpu::host_graph<T>(lengths);
  if (t.n > 0) builder.fill(lengths, gpu::mode::fill_knn, T(0), false, gpu::graph_download<T>{g});
  return g;
}

}  // namespace polykern::detail::kd
#endif
