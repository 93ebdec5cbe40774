// Gaussian smoothing, part 4: the Vulkan policy. The graph lives on the device in chunks
// of rows (each within one binding) for all iterations: smooth_weights_* turns each
// chunk's dist2 into normalised weights once, then every Jacobi pass is one dispatch of
// smooth_pass_* per chunk, ping-ponging between two value buffers, all in one submission.
// The values are cut into groups of channels so that one group of all rows fits a
// binding (and a share of the memory budget); host values are uploaded and downloaded
// per group, vulkan::device_matrix values copied on the device, through the same code
// (smooth_on_device). A row longer than one chunk holds is cut into pieces over
// consecutive chunks (kd::gpu::cut_rows): its weight sum and each pass's fold carry over
// from piece to piece, in the same order. Values whose one channel exceeds a binding are
// gathered per chunk from blocks of rows (smooth_gather_*.comp) and written through an
// output window. A graph that with two channel buffers would take more than half the
// memory budget is streamed instead, one chunk on the device at a time (smooth_streamed).
// Host `out` is written only after every submission has succeeded (so with_fallback
// can rerun on the CPU, even in place). The passes are the CPU's sequence of operations;
// only exp and the division differ in the last bits, so values agree with the CPU
// policies to a few ulps per iteration rather than bitwise.
#pragma once
#include "../../execution.hpp"

#if POLYKERN_HAS_VULKAN
#include <algorithm>
#include <cstdint>
#include <numeric>
#include <utility>
#include <vector>

#include "../../detail/executor.hpp"
#include "../../detail/smooth/plans.hpp"
#include "kdtree.hpp"
#include "shaders/smooth_gather_f32.spv.hpp"
#include "shaders/smooth_gather_f64.spv.hpp"
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
struct weights_push {  // matches Push in smooth_weights_body.glsl
  std::uint32_t rows, row0, flags, slot1;
  T a;
};
struct pass_push {  // matches Push in smooth_pass_body.glsl
  std::uint32_t rows, row0, cols, flags, out_base, entries, pad0, pad1;
};
struct gather_push {  // matches Push in smooth_gather_body.glsl
  std::uint32_t entries, rows, row0, cols, first, last, base, pad0;
};
inline constexpr std::uint32_t piece_resume = 1, piece_more = 2, piece_finish = 4;

template <class T>
std::uint32_t piece_flags(const device_rows<T>& d) {
  return (d.resume ? piece_resume : 0u) | (d.more ? piece_more : 0u);
}

// The running sums of the rows cut into pieces (smooth_weights_body.glsl): one slot of
// two T per split row, a slot a binding alignment apart, each chunk binding the window
// of its (at most two, consecutive) slots.
template <class T>
struct carry_slots {
  std::uint64_t stride = 2 * sizeof(T);
  std::vector<std::size_t> first;  // per chunk: the slot of its first split row
  vulkan::buffer buffer;
  carry_slots(vulkan::context& ctx, const std::vector<device_rows<T>>& rows) {
    stride = std::lcm<std::uint64_t>(std::max<std::uint64_t>(1, ctx.info().min_storage_buffer_offset_alignment), stride);
    std::size_t used = 0, current = 0;  // slots taken; the slot of the row in progress
    first.resize(rows.size());
    for (std::size_t k = 0; k < rows.size(); ++k) {
      const auto& d = rows[k];
      if (d.more && !(d.resume && d.rows == 1)) current = used++;  // a new row is cut here
      first[k] = d.resume && d.more && d.rows > 1 ? current - 1 : current;
    }
    buffer = vulkan::buffer(ctx, (used + 2) * stride);  // a window reaches into the slot after its first
  }
  std::uint32_t slot1() const { return static_cast<std::uint32_t>(stride / sizeof(T)); }
  vulkan::binding window(std::size_t chunk) const {
    return vulkan::binding(buffer, first[chunk] * stride, stride + 2 * sizeof(T));
  }
};

template <class T>
const vulkan::pipeline& weights_pipeline(vulkan::context& ctx) {
  const std::uint32_t spec[] = {local_size};
  if constexpr (sizeof(T) == 4)
    return ctx.get_pipeline({"smooth.weights_f32", vulkan::shaders::smooth_weights_f32, 5, sizeof(weights_push<T>), spec});
  else
    return ctx.get_pipeline({"smooth.weights_f64", vulkan::shaders::smooth_weights_f64, 5, sizeof(weights_push<T>), spec});
}
template <class T>
const vulkan::pipeline& pass_pipeline(vulkan::context& ctx, bool gathered) {
  const std::uint32_t spec[] = {local_size, kd::use_fma ? 1u : 0u, gathered ? 1u : 0u};
  if constexpr (sizeof(T) == 4)
    return ctx.get_pipeline({"smooth.pass_f32", vulkan::shaders::smooth_pass_f32, 6, sizeof(pass_push), spec});
  else
    return ctx.get_pipeline({"smooth.pass_f64", vulkan::shaders::smooth_pass_f64, 6, sizeof(pass_push), spec});
}
template <class T>
const vulkan::pipeline& gather_pipeline(vulkan::context& ctx) {
  const std::uint32_t spec[] = {local_size};
  if constexpr (sizeof(T) == 4)
    return ctx.get_pipeline({"smooth.gather_f32", vulkan::shaders::smooth_gather_f32, 3, sizeof(gather_push), spec});
  else
    return ctx.get_pipeline({"smooth.gather_f64", vulkan::shaders::smooth_gather_f64, 3, sizeof(gather_push), spec});
}

// Values whose one channel (all n rows) is larger than one binding cannot be bound
// whole: each chunk's values are gathered from blocks of rows (smooth_gather_body.glsl)
// and its output bound as a window. Then a chunk's entries plus rows must fit one binding
// with an alignment to spare: graph_rows_cap() is what cut_rows allows of each (0: the
// usual limits).
template <class = void>  // a template: instantiated only where it is used
std::uint64_t offset_alignment(vulkan::context& ctx, std::size_t element) {
  return std::lcm<std::uint64_t>(std::max<std::uint64_t>(1, ctx.info().min_storage_buffer_offset_alignment), element);
}
template <class T>
bool channel_exceeds_binding(vulkan::context& ctx, std::size_t n) {
  return std::uint64_t{n} * sizeof(T) > ctx.max_binding_bytes();
}
template <class T>
std::uint64_t graph_rows_cap(vulkan::context& ctx, std::size_t n) {
  if (!channel_exceeds_binding<T>(ctx, n)) return 0;
  const std::uint64_t binding = ctx.max_binding_bytes(), align = offset_alignment(ctx, sizeof(T));
  return std::max<std::uint64_t>(1, (binding > align ? binding - align : 0) / (2 * sizeof(T)));
}
// The binding of rows [first, first + rows) of an n x cols buffer (cols channels a row)
// from an aligned offset, and the element where row `first` starts in it.
template <class T>
std::pair<vulkan::binding, std::uint32_t> row_window(vulkan::context& ctx, const vulkan::buffer& b, std::size_t first,
                                                     std::size_t rows, std::size_t cols) {
  const std::uint64_t align = offset_alignment(ctx, sizeof(T)), at = std::uint64_t{first} * cols * sizeof(T),
                      from = at / align * align;
  return {vulkan::binding(b, from, at - from + std::uint64_t{rows} * cols * sizeof(T)),
          static_cast<std::uint32_t>((at - from) / sizeof(T))};
}

// Weighs and smooths over the device chunks `rows` (the graph of n rows) a matrix of
// n x cols values, in groups of channels that fit one binding (and a share of the memory
// budget): load(cmd, c0, cg, buf) records putting channels [c0, c0 + cg) of every row
// into buf (n x cg, packed), store(cmd, c0, cg, buf) taking the result from there. The
// one device path of both kinds of values: host views upload and download, device
// matrices copy on the device.
template <class T, class Load, class Store>
void smooth_on_device(vulkan::context& ctx, const std::vector<device_rows<T>>& rows, std::size_t n, std::size_t cols,
                      T a, std::size_t iterations, const Load& load, const Store& store) {
  if (n == 0 || cols == 0) return;
  const bool gathered = channel_exceeds_binding<T>(ctx, n);  // then one channel a group
  const std::uint64_t limit = std::max<std::uint64_t>(kd::gpu::chunk_bytes(ctx), n * sizeof(T));
  const std::size_t group = std::min<std::size_t>(cols, limit / (n * sizeof(T)));
  vulkan::commands cmd(ctx);
  std::vector<vulkan::buffer> keep;
  const carry_slots<T> carry(ctx, rows);
  // Weights: a chunk that resumes a row waits for the chunk before (its running sum);
  // then the pieces before each split row's last are normalised with the row's total.
  for (std::size_t k = 0; k < rows.size(); ++k) {
    const auto& d = rows[k];
    keep.emplace_back(ctx, std::max<std::size_t>(d.rows, 1) * 4);
    if (d.resume) cmd.barrier();
    const weights_push<T> push{static_cast<std::uint32_t>(d.rows), static_cast<std::uint32_t>(d.row0), piece_flags(d), carry.slot1(), a};
    const auto g = grid_for(ctx, d.rows);
    cmd.dispatch(weights_pipeline<T>(ctx), {d.offsets, d.index, d.dist, keep.back(), carry.window(k)}, push, g.x, g.y);
  }
  cmd.barrier();
  bool finished = false;
  for (std::size_t k = 0; k < rows.size(); ++k) {
    const auto& d = rows[k];
    if (!d.more) continue;
    const weights_push<T> push{static_cast<std::uint32_t>(d.rows), static_cast<std::uint32_t>(d.row0),
                               piece_flags(d) | piece_finish, carry.slot1(), a};
    const auto g = grid_for(ctx, d.rows);
    cmd.dispatch(weights_pipeline<T>(ctx), {d.offsets, d.index, d.dist, keep[k], carry.window(k)}, push, g.x, g.y);
    finished = true;
  }
  if (finished) cmd.barrier();
  vulkan::buffer buf[2] = {vulkan::buffer(ctx, n * group * sizeof(T)), vulkan::buffer(ctx, n * group * sizeof(T))};
  std::vector<vulkan::buffer> gathered_values;  // per chunk: its entries' values, then its rows'
  std::size_t block_rows = n;                   // rows of the values one gather dispatch binds
  if (gathered) {
    for (const auto& d : rows) gathered_values.emplace_back(ctx, (d.entries + d.rows) * sizeof(T));
    const std::uint64_t align = offset_alignment(ctx, sizeof(T)), binding = ctx.max_binding_bytes();
    block_rows = std::max<std::uint64_t>(1, (binding > align ? binding - align : 0) / (group * sizeof(T)));
  }
  for (std::size_t c0 = 0; c0 < cols; c0 += group) {
    const std::size_t cg = std::min(group, cols - c0);
    load(cmd, c0, cg, buf[0]);
    cmd.barrier();
    std::size_t cur = 0;
    for (std::size_t it = 0; it < iterations; ++it) {
      if (gathered) {
        for (std::size_t k = 0; k < rows.size(); ++k) {
          const auto& d = rows[k];
          const auto g = grid_for(ctx, (d.entries + d.rows) * cg);
          for (std::size_t first = 0; first < n; first += block_rows) {
            const std::size_t last = std::min(n, first + block_rows);
            const auto [block, base] = row_window<T>(ctx, buf[cur], first, last - first, cg);
            const gather_push push{static_cast<std::uint32_t>(d.entries), static_cast<std::uint32_t>(d.rows),
                                   static_cast<std::uint32_t>(d.row0), static_cast<std::uint32_t>(cg),
                                   static_cast<std::uint32_t>(first), static_cast<std::uint32_t>(last), base, 0};
            cmd.dispatch(gather_pipeline<T>(ctx), {d.index, block, gathered_values[k]}, push, g.x, g.y);
          }
        }
        cmd.barrier();
      }
      for (std::size_t k = 0; k < rows.size(); ++k) {
        const auto& d = rows[k];
        if (d.resume) cmd.barrier();  // it goes on from the partial sums of the chunk before
        const auto [out_rows, out_base] = gathered ? row_window<T>(ctx, buf[1 - cur], d.row0, d.rows, cg)
                                                   : std::pair{vulkan::binding(buf[1 - cur]),
                                                               static_cast<std::uint32_t>(d.row0 * cg)};
        const vulkan::binding in = gathered ? vulkan::binding(gathered_values[k]) : vulkan::binding(buf[cur]);
        const pass_push push{static_cast<std::uint32_t>(d.rows), static_cast<std::uint32_t>(d.row0),
                             static_cast<std::uint32_t>(cg), d.resume ? piece_resume : 0u, out_base,
                             static_cast<std::uint32_t>(d.entries), 0, 0};
        const auto g = grid_for(ctx, d.rows * cg);
        cmd.dispatch(pass_pipeline<T>(ctx, gathered), {d.offsets, d.index, d.dist, keep[k], in, out_rows}, push, g.x,
                     g.y);
      }
      cmd.barrier();
      cur = 1 - cur;
    }
    store(cmd, c0, cg, buf[cur]);
    cmd.submit();
  }
}

// Host values: smooths into `result` (n x cols, contiguous), read from `values` only.
template <class T>
void smooth_host_values(vulkan::context& ctx, const std::vector<device_rows<T>>& rows, std::size_t n,
                        matrix_view<const T> values, T a, std::size_t iterations, std::vector<T>& result) {
  const std::size_t cols = values.cols;
  result.assign(n * cols, T(0));
  std::vector<T> packed;
  const auto load = [&](vulkan::commands& cmd, std::size_t c0, std::size_t cg, const vulkan::buffer& b) {
    packed.resize(n * cg);
    for (std::size_t r = 0; r < n; ++r) std::copy_n(values.row(r) + c0, cg, packed.data() + r * cg);
    cmd.upload(b, packed.data(), n * cg * sizeof(T));
  };
  const auto store = [&](vulkan::commands& cmd, std::size_t c0, std::size_t cg, const vulkan::buffer& b) {
    cmd.download(b, n * cg * sizeof(T), 0, [&result, n, cols, c0, cg](const void* data) {
      const T* from = static_cast<const T*>(data);
      for (std::size_t r = 0; r < n; ++r) std::copy_n(from + r * cg, cg, result.data() + r * cols + c0);
    });
  };
  smooth_on_device<T>(ctx, rows, n, cols, a, iterations, load, store);
}

// Copies channels [c0, c0 + cg) of an n x cols device matrix to or from an n x cg buffer:
// one copy when they are every channel, else one per row.
template <class T>
void copy_channels(vulkan::commands& cmd, const vulkan::buffer& matrix, const vulkan::buffer& packed, std::size_t n,
                   std::size_t cols, std::size_t c0, std::size_t cg, bool to_packed) {
  if (cg == cols) {
    to_packed ? cmd.copy(matrix, packed, n * cols * sizeof(T)) : cmd.copy(packed, matrix, n * cols * sizeof(T));
    return;
  }
  for (std::size_t r = 0; r < n; ++r) {
    const std::size_t in_matrix = (r * cols + c0) * sizeof(T), in_packed = r * cg * sizeof(T);
    if (to_packed)
      cmd.copy(matrix, packed, cg * sizeof(T), in_matrix, in_packed);
    else
      cmd.copy(packed, matrix, cg * sizeof(T), in_packed, in_matrix);
  }
}

// A host graph's rows uploaded in chunks that fit one binding each (cut_rows: a row
// longer than that is cut into pieces over consecutive chunks).
template <class T>
std::vector<device_rows<T>> upload_graph(vulkan::context& ctx, const neighbor_graph<T>& g, std::uint64_t cap) {
  std::vector<device_rows<T>> out;
  const std::uint64_t limit = ctx.max_binding_bytes();
  std::uint64_t max_entries = limit / std::max<std::size_t>(sizeof(T), 4), max_rows = limit / 4 - 1;
  if (cap) max_entries = std::min(max_entries, cap), max_rows = std::min(max_rows, cap);
  vulkan::commands cmd(ctx);
  for (const kd::gpu::row_cut& c : kd::gpu::cut_rows(g.offsets, g.rows(), max_entries, max_rows, [](std::size_t) { return false; })) {
    device_rows<T>& d = kd::gpu::add_rows(out, c);
    const std::vector<std::uint32_t> offsets = c.offsets(g.offsets);
    d.offsets = vulkan::buffer(ctx, offsets.size() * 4);
    d.index = vulkan::buffer(ctx, std::max<std::size_t>(d.entries, 1) * 4);
    d.dist = vulkan::buffer(ctx, std::max<std::size_t>(d.entries, 1) * sizeof(T));
    cmd.upload(d.offsets, offsets.data(), offsets.size() * 4);
    cmd.upload(d.index, g.indices.data() + c.e0, d.entries * 4);
    cmd.upload(d.dist, g.dist2.data() + c.e0, d.entries * sizeof(T));
    cmd.submit();  // one chunk's staging at a time
  }
  return out;
}

// ---- A graph larger than the device's memory: streamed ------------------------------
// Whether the resident path (smooth_on_device) would keep more than half the memory
// budget at once: the graph's chunks (indices, weights, offsets, keep flags) for every
// iteration, two value buffers of (at least) one channel, and each chunk's gathered
// values when one channel exceeds a binding.
template <class T>
bool graph_exceeds_memory(vulkan::context& ctx, std::uint64_t n, std::uint64_t entries) {
  std::uint64_t bytes = entries * (4 + sizeof(T)) + (2 * n + 1) * 4 + 2 * n * sizeof(T);
  if (channel_exceeds_binding<T>(ctx, n)) bytes += (entries + n) * sizeof(T);
  return bytes > ctx.memory_budget() / 2;
}

// Smooths a host graph that does not fit the device by streaming it: the device holds one
// chunk's arrays at a time (each at most kd::gpu::chunk_bytes), uploaded, dispatched,
// downloaded and submitted before the next. The weights are computed once, chunk after
// chunk in order (so a split row's running sum carries over in its slot of `carry`, which
// stays on the device), then the earlier pieces of split rows are normalised (FINISH);
// they are kept on the host. Every pass then goes over the chunks one channel at a time:
// the host gathers the chunk's neighbour values in entry order, then its own rows' (the
// layout smooth_gather_*.comp makes on the device), and the same gathered pass runs on
// them; a resumed row's partial sum goes up with its chunk. The same shaders on the same
// operands in the same order: bitwise the resident result. The price: the graph crosses
// the bus once per pass per channel, and one submission per chunk each time.
template <class T>
void smooth_streamed(vulkan::context& ctx, const neighbor_graph<T>& g, matrix_view<const T> values, T a,
                     std::size_t iterations, std::vector<T>& result) {
  const std::size_t n = g.rows(), cols = values.cols;
  result.assign(n * cols, T(0));
  if (n == 0 || cols == 0) return;
  const std::uint64_t cap = std::max<std::uint64_t>(1, kd::gpu::chunk_bytes(ctx) / (2 * sizeof(T)));
  const std::vector<kd::gpu::row_cut> cuts = kd::gpu::cut_rows(g.offsets, n, cap, cap, [](std::size_t) { return false; });
  std::vector<device_rows<T>> rows;  // the chunks' shapes; their buffers live for one submission
  for (const kd::gpu::row_cut& c : cuts) kd::gpu::add_rows(rows, c);
  const carry_slots<T> carry(ctx, rows);
  struct host_chunk {
    std::vector<std::uint32_t> offsets, keep;
    std::vector<T> weights;
  };
  std::vector<host_chunk> host(cuts.size());
  vulkan::commands cmd(ctx);
  for (const bool finish : {false, true}) {
    for (std::size_t k = 0; k < cuts.size(); ++k) {
      const device_rows<T>& d = rows[k];
      host_chunk& h = host[k];
      if (finish && !d.more) continue;
      if (!finish) {
        h.offsets = cuts[k].offsets(g.offsets);
        h.weights.assign(g.dist2.begin() + cuts[k].e0, g.dist2.begin() + cuts[k].e1);
        h.keep.assign(d.rows, 0);
      }
      vulkan::buffer offsets(ctx, h.offsets.size() * 4), index(ctx, std::max<std::size_t>(d.entries, 1) * 4),
          w(ctx, std::max<std::size_t>(d.entries, 1) * sizeof(T)), keep(ctx, d.rows * 4);
      cmd.upload(offsets, h.offsets.data(), h.offsets.size() * 4);
      cmd.upload(index, g.indices.data() + cuts[k].e0, d.entries * 4);
      cmd.upload(w, h.weights.data(), d.entries * sizeof(T));
      if (finish) cmd.upload(keep, h.keep.data(), d.rows * 4);
      const weights_push<T> push{static_cast<std::uint32_t>(d.rows), static_cast<std::uint32_t>(d.row0),
                                 piece_flags(d) | (finish ? piece_finish : 0u), carry.slot1(), a};
      const auto grid = grid_for(ctx, d.rows);
      cmd.dispatch(weights_pipeline<T>(ctx), {offsets, index, w, keep, carry.window(k)}, push, grid.x, grid.y);
      cmd.download(w, h.weights.data(), d.entries * sizeof(T));
      cmd.download(keep, h.keep.data(), d.rows * 4);
      cmd.submit();
    }
  }
  std::vector<T> cur(n), next(n);
  for (std::size_t c0 = 0; c0 < cols; ++c0) {
    for (std::size_t r = 0; r < n; ++r) cur[r] = values.row(r)[c0];
    for (std::size_t it = 0; it < iterations; ++it) {
      for (std::size_t k = 0; k < cuts.size(); ++k) {
        const device_rows<T>& d = rows[k];
        const host_chunk& h = host[k];
        vulkan::buffer offsets(ctx, h.offsets.size() * 4), w(ctx, std::max<std::size_t>(d.entries, 1) * sizeof(T)),
            keep(ctx, d.rows * 4), in(ctx, (d.entries + d.rows) * sizeof(T)), out(ctx, d.rows * sizeof(T));
        cmd.upload(offsets, h.offsets.data(), h.offsets.size() * 4);
        cmd.upload(w, h.weights.data(), d.entries * sizeof(T));
        cmd.upload(keep, h.keep.data(), d.rows * 4);
        T* gathered = static_cast<T*>(cmd.upload_area(in, (d.entries + d.rows) * sizeof(T)));
        const std::uint32_t* index = g.indices.data() + cuts[k].e0;
        for (std::size_t j = 0; j < d.entries; ++j) gathered[j] = cur[index[j]];
        std::copy_n(cur.data() + d.row0, d.rows, gathered + d.entries);
        if (d.resume) cmd.upload(out, next.data() + d.row0, sizeof(T));  // the piece before's partial sum
        const pass_push push{static_cast<std::uint32_t>(d.rows), static_cast<std::uint32_t>(d.row0), 1,
                             d.resume ? piece_resume : 0u, 0, static_cast<std::uint32_t>(d.entries), 0, 0};
        const auto grid = grid_for(ctx, d.rows);
        // Binding 1 (the indices) is not read by the gathered pass: the offsets stand in.
        cmd.dispatch(pass_pipeline<T>(ctx, true), {offsets, offsets, w, keep, in, out}, push, grid.x, grid.y);
        cmd.download(out, next.data() + d.row0, d.rows * sizeof(T));
        cmd.submit();
      }
      std::swap(cur, next);
    }
    for (std::size_t r = 0; r < n; ++r) result[r * cols + c0] = cur[r];
  }
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
  } else if (gpu::graph_exceeds_memory<T>(ctx, g.rows(), g.entries())) {
    gpu::smooth_streamed(ctx, g, values, a, iterations, result);
  } else {
    const auto rows = gpu::upload_graph(ctx, g, gpu::graph_rows_cap<T>(ctx, g.rows()));
    gpu::smooth_host_values(ctx, rows, g.rows(), values, a, iterations, result);
  }
  gpu::write_out(result, out);
}

// gaussian_smooth on device matrices: the plan (its views {nullptr, rows, cols}) and the
// objects' buffers (the same buffer in place). Only the graph goes up; nothing comes down.
template <class T>
struct device_graph_plan {
  graph_plan<T> plan;
  const vulkan::buffer* values;
  const vulkan::buffer* out;
};

template <class T>
void run(vulkan_tag, const exec::vulkan_policy& policy, const device_graph_plan<T>& d) {
  const graph_plan<T>& plan = d.plan;
  const std::size_t n = plan.values.rows, cols = plan.values.cols;
  vulkan::context& ctx = context_of(policy);
  kd::gpu::require_type<T>(ctx);
  if (n == 0 || cols == 0) return;
  if (plan.iterations == 0) {
    if (d.values == d.out) return;
    vulkan::commands cmd(ctx);
    cmd.copy(*d.values, *d.out, n * cols * sizeof(T));
    cmd.submit();
    return;
  }
  if (gpu::graph_exceeds_memory<T>(ctx, n, plan.graph.entries())) {  // streamed through the host
    std::vector<T> values(n * cols), result;
    {
      vulkan::commands cmd(ctx);
      cmd.download(*d.values, values.data(), values.size() * sizeof(T));
      cmd.submit();
    }
    gpu::smooth_streamed(ctx, plan.graph, matrix_view<const T>(values.data(), n, cols), plan.a, plan.iterations, result);
    vulkan::commands cmd(ctx);
    cmd.upload(*d.out, result.data(), result.size() * sizeof(T));
    cmd.submit();
    return;
  }
  const auto rows = gpu::upload_graph(ctx, plan.graph, gpu::graph_rows_cap<T>(ctx, n));
  const auto load = [&](vulkan::commands& cmd, std::size_t c0, std::size_t cg, const vulkan::buffer& b) {
    gpu::copy_channels<T>(cmd, *d.values, b, n, cols, c0, cg, true);
  };
  const auto store = [&](vulkan::commands& cmd, std::size_t c0, std::size_t cg, const vulkan::buffer& b) {
    gpu::copy_channels<T>(cmd, *d.out, b, n, cols, c0, cg, false);
  };
  gpu::smooth_on_device<T>(ctx, rows, n, cols, plan.a, plan.iterations, load, store);
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
  std::uint64_t entries = 0;
  for (const std::uint64_t l : lengths) entries += l;
  std::vector<T> result;
  if (iterations > 0 && gpu::graph_exceeds_memory<T>(ctx, points.count, entries)) {  // streamed through the host
    neighbor_graph<T> g = kd::gpu::host_graph<T>(lengths);
    builder.fill(lengths, m, r2, false, kd::gpu::graph_download<T>{g});
    gpu::smooth_streamed(ctx, g, values, a, iterations, result);
    gpu::write_out(result, out);
    return;
  }
  const auto rows = builder.fill(lengths, m, r2, true, [](vulkan::commands&, const auto&) {},
                                 gpu::graph_rows_cap<T>(ctx, points.count));
  if (iterations == 0) {
    result.resize(values.rows * values.cols);
    for (std::size_t r = 0; r < values.rows; ++r) std::copy_n(values.row(r), values.cols, result.data() + r * values.cols);
  } else {
    gpu::smooth_host_values(ctx, rows, points.count, values, a, iterations, result);
  }
  gpu::write_out(result, out);
}

}  // namespace polykern::detail::sm
#endif
