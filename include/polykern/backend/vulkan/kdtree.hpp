// KD-tree neighbour search, part 4: the Vulkan policy. The tree is built on the CPU
// (OpenMP when available); its device copy is kept by the context (context::resident)
// from the build under a Vulkan policy, or the first Vulkan query, on for every later
// query on that context: a query uploads only its queries (host views), or nothing but
// row offsets (vulkan::device_points). The queries run in radius_f32/f64.comp, one
// invocation per query, host queries in the tree's order (nearby queries in the same
// workgroup), device queries in their own. Radius rows take two passes: one counts each
// row, the host turns the counts into CSR offsets, one fills the rows. Work is cut into
// chunks of caller rows so that no binding exceeds ctx.max_binding_bytes() nor a share of
// ctx.memory_budget(); queries are bound at aligned offsets with the rest of the offset
// in the push constants, row buffers have their own buffers. A tree whose arrays exceed
// that too is cut into subtrees under its top levels (device_tree), each uploaded as a
// tree of its own; every chunk of queries runs against each part in turn, the rows
// carrying over from part to part (counts add up, position rows append in part order,
// the heaps of distance and knn rows go on), so a row is the one the uncut tree gives; a
// leaf too large for a part is cut into runs of its points, each a part of one node. A
// row longer than one chunk holds is filled in pieces over consecutive chunks, each piece
// taking the hits after the last of the piece before (cut_rows, graph_builder::fill).
// Distances are bitwise the CPU's (the same fold, `precise`, FMA as the CPU build does),
// and rows are ordered by the same unique keys, so the graph is the CPU's graph.
#pragma once
#include "../../execution.hpp"

#if POLYKERN_HAS_VULKAN
#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstring>
#include <memory>
#include <numeric>
#include <optional>
#include <utility>
#include <vector>

#include "../../detail/executor.hpp"
#include "../../detail/kdtree/plans.hpp"
#include "buffer.hpp"
#include "commands.hpp"
#include "context.hpp"
#include "device_data.hpp"
#include "shaders/radius_f32.spv.hpp"
#include "shaders/radius_f64.spv.hpp"

namespace polykern::detail::kd {

// Queries of a call on device-resident points: the plan (its `queries` view is
// {nullptr, count}) and the buffer of the vulkan::device_points.
template <class Plan>
struct device_queries {
  Plan plan;
  const vulkan::buffer* queries;
};

namespace gpu {

inline constexpr std::uint32_t local_size = 64;

template <class T>
void require_type(vulkan::context& ctx) {
  if constexpr (sizeof(T) == 8)
    if (!ctx.info().shader_float64)
      throw vulkan_error("polykern::smooth", vulkan::result_name(VK_ERROR_FEATURE_NOT_PRESENT),
                         "double needs shaderFloat64, which this device lacks");
}

// Bytes one chunk of per-call work (queries, rows) may bind: one binding, and at most an
// eighth of the memory the device has left (never below 1 MiB, or the binding if smaller).
template <class = void>  // a template: instantiated only where it is used
std::uint64_t chunk_bytes(vulkan::context& ctx) {
  const std::uint64_t binding = ctx.max_binding_bytes();
  return std::min(binding, std::max<std::uint64_t>(ctx.memory_budget() / 8, std::uint64_t{1} << 20));
}

// A 2D grid of workgroups covering `invocations` (x is capped at 65535).
struct grid {
  std::uint32_t x = 0, y = 0;
};
template <class = void>
grid grid_for(vulkan::context& ctx, std::size_t invocations) {
  const std::size_t groups = (invocations + local_size - 1) / local_size;
  if (groups == 0) return {};
  const std::size_t max_x = std::min<std::size_t>(ctx.info().max_workgroup_count[0], 65535);
  const std::size_t x = std::min(groups, max_x), y = (groups + x - 1) / x;
  if (y > ctx.info().max_workgroup_count[1])
    throw vulkan_error("vkCmdDispatch", vulkan::result_name(VK_ERROR_FEATURE_NOT_PRESENT), "dispatch too large");
  return {static_cast<std::uint32_t>(x), static_cast<std::uint32_t>(y)};
}

template <class T>
struct radius_push {  // matches Push in radius_body.glsl
  std::uint32_t invocations, slots, leaf_stride, nodes, mode;
  std::uint32_t query_base;      // element of the bound queries where this chunk's query 0 starts
  std::uint32_t identity_order;  // 1: invocation i is query i (the Order binding is not read)
  std::uint32_t part;            // part_resume | part_last (an uncut tree: part_last)
  std::uint32_t slot0;           // the part's first slot in the whole tree
  std::uint32_t after;           // 1: query 0 resumes a row cut into pieces (piece_after)
  std::uint32_t after_slot, after_index;
  T r2;
  T after_dist;
};
inline constexpr std::uint32_t part_resume = 1, part_last = 2;
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

// Bytes a part of the tree may take in one array: one binding, and the share of the
// memory budget a chunk of per-call work may take.
template <class = void>
std::uint64_t part_bytes(vulkan::context& ctx) { return chunk_bytes(ctx); }

// One part of the tree on the device, a tree of its own: coordinates, boxes, and perm
// followed by the links (rebased to the part's first node and leaf).
struct tree_part {
  vulkan::buffer coords, boxes, tree_u;
  std::uint32_t slots = 0, nodes = 0, slot0 = 0;  // slot0: its first slot in the whole tree
};

// A subtree of the tree: `leaves` leaves from `first_leaf` under `node`. In the tree's
// depth-first, count-balanced numbering (tree.hpp) it owns nodes [node, node + 2 leaves - 1)
// and slots [first_leaf, first_leaf + leaves) * leaf_stride, so it is a contiguous range of
// every array and of the tree's point order. A leaf too large on its own is cut into
// pieces of its points: then `points` (> 0) of them from the leaf's point `first_point`,
// a tree of one node with the leaf's box (a bound of any of its points).
struct subtree {
  std::size_t node = 0, first_leaf = 0, leaves = 0;
  std::size_t first_point = 0, points = 0;
};

// The largest of the three arrays of a part of `leaves` leaves, in bytes.
template <class T, std::size_t Dim>
std::uint64_t part_array_bytes(const tree_data<T, Dim>& t, std::size_t leaves) {
  const std::uint64_t slots = std::uint64_t{leaves} * t.leaf_stride, nodes = leaves ? 2 * std::uint64_t{leaves} - 1 : 0;
  return std::max({Dim * slots * sizeof(T), nodes * 2 * Dim * sizeof(T), (slots + 2 * nodes) * 4});
}

// Cuts the tree into the fewest subtrees, from the root down, whose arrays fit `limit`
// bytes each, in increasing leaf order (so the parts' points, concatenated, are the
// tree's order). A single leaf too large for `limit` is cut into runs of its points, in
// order, each with as many points as one binding holds of coordinates and indices.
template <class T, std::size_t Dim>
void cut_tree(const tree_data<T, Dim>& t, subtree s, std::uint64_t limit, std::vector<subtree>& out) {
  if (part_array_bytes(t, s.leaves) <= limit) {
    out.push_back(s);
    return;
  }
  if (s.leaves == 1) {
    const std::size_t count = t.link[2 * s.node + 1] & ~leaf_flag;
    const std::uint64_t run = std::max<std::uint64_t>(1, std::min<std::uint64_t>(limit / (Dim * sizeof(T)), limit / 4 - 2));
    for (std::size_t first = 0; first < count; first += run)
      out.push_back({s.node, s.first_leaf, 1, first, std::min<std::size_t>(run, count - first)});
    return;
  }
  const std::size_t left = (s.leaves + 1) / 2;
  cut_tree(t, {s.node + 1, s.first_leaf, left}, limit, out);
  cut_tree(t, {s.node + 2 * left, s.first_leaf + left, s.leaves - left}, limit, out);
}

// Where a part lies in the whole tree's arrays, and the device bytes it takes.
struct part_shape {
  std::size_t slots = 0, nodes = 0, slot0 = 0;
  std::uint64_t bytes = 0;
};
template <class T, std::size_t Dim>
part_shape shape_of(const tree_data<T, Dim>& t, const subtree& s) {
  part_shape p;
  p.slots = s.points ? s.points : s.leaves * t.leaf_stride;
  p.nodes = s.leaves ? 2 * s.leaves - 1 : 0;
  p.slot0 = s.first_leaf * t.leaf_stride + s.first_point;
  p.bytes = (Dim * p.slots + p.nodes * 2 * Dim) * sizeof(T) + (p.slots + 2 * p.nodes) * sizeof(std::uint32_t);
  return p;
}

// Records the upload of subtree `s` of `t` as a tree of its own (`whole`: s is the whole
// tree, whose arrays go up as they are).
template <class T, std::size_t Dim>
tree_part upload_part(vulkan::commands& cmd, const tree_data<T, Dim>& t, const subtree& s, bool whole) {
  vulkan::context& ctx = cmd.ctx();
  const part_shape shape = shape_of(t, s);
  const std::size_t slots = shape.slots, nodes = shape.nodes, slot0 = shape.slot0;
  tree_part p;
  p.slots = static_cast<std::uint32_t>(slots);
  p.nodes = static_cast<std::uint32_t>(nodes);
  p.slot0 = static_cast<std::uint32_t>(slot0);
  p.coords = vulkan::buffer(ctx, Dim * slots * sizeof(T));
  p.boxes = vulkan::buffer(ctx, nodes * 2 * Dim * sizeof(T));
  p.tree_u = vulkan::buffer(ctx, (slots + 2 * nodes) * sizeof(std::uint32_t));
  if (whole) {
    cmd.upload(p.coords, t.coords.data(), t.coords.size() * sizeof(T));
    cmd.upload(p.boxes, t.box.data(), t.box.size() * sizeof(T));
    cmd.upload(p.tree_u, t.perm.data(), t.perm.size() * sizeof(std::uint32_t));
    cmd.upload(p.tree_u, t.link.data(), t.link.size() * sizeof(std::uint32_t), t.perm.size() * sizeof(std::uint32_t));
    return p;
  }
  for (std::size_t d = 0; d < Dim; ++d) cmd.upload(p.coords, t.coord(d) + slot0, slots * sizeof(T), d * slots * sizeof(T));
  cmd.upload(p.boxes, t.box.data() + s.node * 2 * Dim, nodes * 2 * Dim * sizeof(T));
  cmd.upload(p.tree_u, t.perm.data() + slot0, slots * sizeof(std::uint32_t));
  auto* links = static_cast<std::uint32_t*>(
      cmd.upload_area(p.tree_u, 2 * nodes * sizeof(std::uint32_t), slots * sizeof(std::uint32_t)));
  for (std::size_t j = 0; j < nodes; ++j) {
    const std::uint32_t first = t.link[2 * (s.node + j)], second = t.link[2 * (s.node + j) + 1];
    const std::size_t base = (second & leaf_flag) ? s.first_leaf : s.node;  // leaf number, or right child
    links[2 * j] = static_cast<std::uint32_t>(first - base);
    links[2 * j + 1] = second;
  }
  if (s.points) links[1] = leaf_flag | static_cast<std::uint32_t>(s.points);  // a run of the leaf's points
  return p;
}

// The tree on the device: one part when its arrays fit one binding (and a share of the
// memory budget), else the subtrees cut_tree chooses, each a tree of its own, queried in
// turn (radius_body.glsl: the rows carry over from part to part). The parts are uploaded
// once and kept (resident) when they take at most half the memory budget together;
// otherwise the tree is streamed: cut into parts of half that size, none kept, each call
// uploading one part at a time, querying it and submitting before the next
// (graph_builder::dispatch), so the device never holds more than one part of it.
template <class T, std::size_t Dim>
struct device_tree {
  std::vector<subtree> cut;      // the parts, in increasing leaf order
  std::vector<tree_part> parts;  // their buffers when resident; empty when streamed
  bool streamed = false;
  device_tree(vulkan::context& ctx, const tree_data<T, Dim>& t) {
    cut_tree(t, {0, 0, t.leaves}, part_bytes(ctx), cut);
    std::uint64_t total = 0;
    for (const subtree& s : cut) total += shape_of(t, s).bytes;
    if (total > ctx.memory_budget() / 2) {
      streamed = true;
      cut.clear();
      cut_tree(t, {0, 0, t.leaves}, std::max<std::uint64_t>(part_bytes(ctx) / 2, 1), cut);
      return;
    }
    parts.reserve(cut.size());
    for (const subtree& s : cut) {
      vulkan::commands cmd(ctx);
      parts.push_back(upload_part(cmd, t, s, cut.size() == 1 && !s.points));
      cmd.submit();  // one part's staging at a time
    }
  }
};

// The device copy `ctx` keeps of a kdtree's tree: uploaded on the first call for this
// tree (and its copies) on this context, then shared by every later call.
template <class T, std::size_t Dim>
std::shared_ptr<const device_tree<T, Dim>> resident_tree(vulkan::context& ctx, const tree_data<T, Dim>& t) {
  require_type<T>(ctx);
  return ctx.resident<device_tree<T, Dim>>(t.identity, [&] { return std::make_shared<const device_tree<T, Dim>>(ctx, t); });
}

// A chunk of the graph on the device: rows [row0, row0 + rows) with relative offsets.
// A row longer than one binding holds is cut into pieces over consecutive chunks: the
// chunk's first row may resume a row of the chunk before (resume), its last row go on in
// the next (more); the smoothing carries the row's sums from piece to piece.
template <class T>
struct device_rows {
  std::size_t row0 = 0, rows = 0, entries = 0;
  std::uint64_t first_entry = 0;  // where its entries start in the whole graph
  bool resume = false, more = false;
  vulkan::buffer offsets, index, dist;  // rows + 1, entries, entries
};

// Where a chunk of rows lies in the graph: rows [row0, row0 + rows), entries [e0, e1).
struct row_cut {
  std::size_t row0 = 0, rows = 0;
  std::uint64_t e0 = 0, e1 = 0;
  bool resume = false, more = false;
  // The chunk's row offsets, relative to e0 (a resumed row starts at 0, a continued one
  // ends at e1 - e0); `graph_offsets` are the whole graph's.
  template <class Offsets>
  std::vector<std::uint32_t> offsets(const Offsets& graph_offsets) const {
    std::vector<std::uint32_t> o(rows + 1);
    for (std::size_t i = 0; i <= rows; ++i)
      o[i] = static_cast<std::uint32_t>(std::clamp<std::uint64_t>(graph_offsets[row0 + i], e0, e1) - e0);
    return o;
  }
};

// Appends the chunk that cut `c` describes to `out` (its buffers are the caller's to make).
template <class T>
device_rows<T>& add_rows(std::vector<device_rows<T>>& out, const row_cut& c) {
  device_rows<T>& d = out.emplace_back();
  d.row0 = c.row0;
  d.rows = c.rows;
  d.entries = c.e1 - c.e0;
  d.first_entry = c.e0;
  d.resume = c.resume;
  d.more = c.more;
  return d;
}

// Cuts the n rows of a graph (CSR `offsets`, n + 1 of them) into chunks of at most
// max_entries entries and max_rows rows, in order. Rows stay whole where they fit one
// chunk; a row longer than max_entries starts in the room the chunk before leaves and
// goes on over as many chunks as it needs, so every chunk is full but a row's last.
// `stop_before(r)` ends a chunk before row r without cutting it (graph_builder: rows of
// one count chunk only).
template <class Offsets, class StopBefore>
std::vector<row_cut> cut_rows(const Offsets& offsets, std::size_t n, std::uint64_t max_entries, std::uint64_t max_rows,
                              const StopBefore& stop_before) {
  std::vector<row_cut> out;
  max_entries = std::max<std::uint64_t>(max_entries, 1);
  max_rows = std::max<std::uint64_t>(max_rows, 1);
  std::size_t r0 = 0;
  std::uint64_t e0 = n ? offsets[0] : 0;
  while (r0 < n) {
    row_cut c;
    c.row0 = r0;
    c.e0 = e0;
    c.resume = e0 > offsets[r0];
    std::size_t r1 = r0;
    while (r1 < n && r1 - r0 < max_rows && (r1 == r0 || !stop_before(r1)) && offsets[r1 + 1] - e0 <= max_entries) ++r1;
    c.e1 = r1 > r0 ? offsets[r1] : e0;
    // Row r1 fits no chunk of its own (or is the rest of a resumed row that does not fit
    // here): its next piece fills the room this chunk has left.
    if (r1 < n && r1 - r0 < max_rows && (r1 == r0 || !stop_before(r1))) {
      const std::uint64_t start = std::max<std::uint64_t>(e0, offsets[r1]);
      if (offsets[r1 + 1] - start > max_entries && e0 + max_entries > start) {
        c.e1 = e0 + max_entries;
        c.more = true;
        ++r1;
      }
    }
    c.rows = r1 - r0;
    out.push_back(c);
    if (c.more) {
      r0 = r1 - 1;
      e0 = c.e1;
    } else {
      r0 = r1;
      e0 = r1 < n ? offsets[r1] : e0;
    }
  }
  return out;
}

// Where a call's queries are: a host view (uploaded once per chunk, in the tree's order)
// or a device buffer of packed points (bound in place, in their own order).
template <class T, std::size_t Dim>
struct query_source {
  points_view<const T, Dim> host;  // count is the number of queries either way
  const vulkan::buffer* device = nullptr;
};

// Runs neighbour queries on the device and produces the graph's chunks there; the
// caller downloads them (radius_neighbors, knn_neighbors) or smooths over them.
template <class T, std::size_t Dim>
class graph_builder {
 public:
  graph_builder(vulkan::context& ctx, const tree_data<T, Dim>& t, std::shared_ptr<const device_tree<T, Dim>> tree,
                query_source<T, Dim> queries, const query_order* order)
      : ctx_(ctx), t_(t), queries_(queries), nq_(queries.host.count), tree_(std::move(tree)) {
    require_type<T>(ctx);
    const std::uint64_t point = Dim * sizeof(T);
    // Device queries are bound from an aligned offset at or before their chunk's first.
    align_ = std::lcm<std::uint64_t>(std::max<std::uint64_t>(1, ctx.info().min_storage_buffer_offset_alignment), sizeof(T));
    const std::uint64_t limit = chunk_bytes(ctx);
    const std::uint64_t for_queries = limit > align_ ? limit - align_ : 0;
    max_rows_ = std::max<std::uint64_t>(1, std::min<std::uint64_t>(for_queries / point, limit / 4 - 1));
    const std::size_t chunks = (nq_ + max_rows_ - 1) / max_rows_;
    query_buffers_.resize(queries_.device ? 0 : chunks);
    if (!order) return;  // device queries: identity order
    // Each query's place in the order, kept per chunk of max_rows_ caller rows.
    order_.resize(chunks);
    for (std::uint32_t q : order->order) order_[q / max_rows_].push_back(static_cast<std::uint32_t>(q % max_rows_));
  }

  // Row lengths of a radius query (count pass), with at most `keep` (0: all) per row.
  std::vector<std::uint64_t> radius_lengths(T r2, std::size_t keep) {
    std::vector<std::uint32_t> counts(nq_);
    if (nq_ == 0) return {};
    vulkan::commands cmd(ctx_);
    struct pass {
      vulkan::buffer o, c;
    };
    std::vector<pass> passes;
    const std::size_t chunks = (nq_ + max_rows_ - 1) / max_rows_;
    passes.reserve(chunks);  // downloads refer to these buffers until the submit
    for (std::size_t c = 0; c < chunks; ++c) {
      const std::size_t r0 = c * max_rows_, rows = std::min<std::size_t>(max_rows_, nq_ - r0);
      auto& p = passes.emplace_back();
      p.c = vulkan::buffer(ctx_, rows * 4);
      const vulkan::buffer& o = order_buffer(cmd, p.o, c, r0, rows, p.c);
      dispatch(cmd, r0, rows, o, p.c, p.c, p.c, mode::count, r2);
      cmd.download(p.c, counts.data() + r0, rows * 4);
    }
    cmd.submit();
    std::vector<std::uint64_t> lengths(nq_);
    for (std::size_t q = 0; q < nq_; ++q) lengths[q] = keep ? std::min<std::uint64_t>(counts[q], keep) : counts[q];
    return lengths;
  }

  // Fills the rows (of the given lengths) on the device, in chunks that fit one binding
  // (cut_rows, within one count chunk each; a row longer than that in pieces over
  // consecutive chunks, each piece taking the hits after the last of the piece before,
  // whose key comes back to the host first). `on_chunk(cmd, chunk)` runs once a chunk is
  // recorded, so the caller can record its download. keep_on_device: every chunk stays on
  // the device and is returned (one submission at the end, and one per cut row);
  // otherwise each chunk is submitted and dropped in turn. cap (0: none): at most that many
  // entries and rows a chunk (the smoothing of values larger than one binding).
  template <class OnChunk>
  std::vector<device_rows<T>> fill(const std::vector<std::uint64_t>& lengths, mode m, T r2, bool keep_on_device,
                                   const OnChunk& on_chunk, std::uint64_t cap = 0) {
    std::vector<device_rows<T>> out;
    if (nq_ == 0) return out;
    std::uint64_t max_entries = chunk_bytes(ctx_) / std::max<std::size_t>(sizeof(T), 4), max_rows = max_rows_;
    if (cap) max_entries = std::min(max_entries, cap), max_rows = std::min(max_rows, cap);
    std::vector<std::uint64_t> graph_offsets(nq_ + 1, 0);
    for (std::size_t q = 0; q < nq_; ++q) graph_offsets[q + 1] = graph_offsets[q] + lengths[q];
    const auto cuts = cut_rows(graph_offsets, nq_, max_entries, max_rows,
                               [this](std::size_t r) { return r % max_rows_ == 0; });
    vulkan::commands cmd(ctx_);
    std::vector<vulkan::buffer> keep_alive;  // orders of chunks not yet submitted
    piece_key last{};                          // the last entry of the piece before
    for (const row_cut& c : cuts) {
      device_rows<T>& d = add_rows(out, c);
      const std::vector<std::uint32_t> offsets = c.offsets(graph_offsets);
      d.offsets = vulkan::buffer(ctx_, (d.rows + 1) * 4);
      d.index = vulkan::buffer(ctx_, std::max<std::uint64_t>(d.entries, 1) * 4);
      d.dist = vulkan::buffer(ctx_, std::max<std::uint64_t>(d.entries, 1) * sizeof(T));
      upload_vector(cmd, d.offsets, offsets);
      vulkan::buffer o;
      const vulkan::buffer& order = order_buffer(cmd, o, c.row0 / max_rows_, c.row0, d.rows, d.offsets);
      dispatch(cmd, c.row0, d.rows, order, d.offsets, d.index, d.dist, m, r2, c.resume ? &last : nullptr);
      on_chunk(cmd, d);
      if (c.more) {  // the next chunk resumes this row after its last entry here
        cmd.download(d.index, &last.index, 4, (d.entries - 1) * 4);
        cmd.download(d.dist, &last.dist, sizeof(T), (d.entries - 1) * sizeof(T));
      }
      if (keep_on_device) {
        keep_alive.push_back(std::move(o));
        if (c.more) cmd.submit();
      } else {
        cmd.submit();
        out.pop_back();
      }
    }
    if (keep_on_device) cmd.submit();
    return out;
  }

 private:
  // The order of rows [r0, r0 + rows) of count chunk c, uploaded into `own`: the chunk's
  // order restricted to them. Device queries need none (`unused` is bound instead).
  const vulkan::buffer& order_buffer(vulkan::commands& cmd, vulkan::buffer& own, std::size_t c, std::size_t r0,
                                     std::size_t rows, const vulkan::buffer& unused) {
    if (order_.empty()) return unused;
    std::vector<std::uint32_t> order;
    order.reserve(rows);
    const std::size_t base = c * max_rows_;
    for (std::uint32_t q : order_[c])
      if (base + q >= r0 && base + q < r0 + rows) order.push_back(static_cast<std::uint32_t>(base + q - r0));
    own = vulkan::buffer(ctx_, rows * 4);
    upload_vector(cmd, own, order);
    return own;
  }

  // The binding of the queries of rows [r0, r0 + rows) and the element of query r0 in it.
  // Host queries: count chunk c's buffer, packed and uploaded on first use, then kept for
  // the fill pass. Device queries: the object's buffer from an aligned offset.
  std::pair<vulkan::binding, std::uint32_t> query_binding(vulkan::commands& cmd, std::size_t r0, std::size_t rows) {
    const std::uint64_t point = Dim * sizeof(T);
    if (queries_.device) {
      const std::uint64_t at = r0 * point, from = at / align_ * align_;
      return {vulkan::binding(*queries_.device, from, at - from + rows * point),
              static_cast<std::uint32_t>((at - from) / sizeof(T))};
    }
    const std::size_t c = r0 / max_rows_, base = c * max_rows_;
    vulkan::buffer& b = query_buffers_[c];
    if (!b.handle()) {
      const std::size_t n = std::min<std::size_t>(max_rows_, nq_ - base);
      b = vulkan::buffer(ctx_, n * point);
      T* packed = static_cast<T*>(cmd.upload_area(b, n * point));
      for (std::size_t i = 0; i < n; ++i)
        for (std::size_t d = 0; d < Dim; ++d) packed[i * Dim + d] = queries_.host[base + i][d];
    }
    return {vulkan::binding(b), static_cast<std::uint32_t>((r0 - base) * Dim)};
  }

  // The last entry of a piece of a row (its caller index and dist2).
  struct piece_key {
    std::uint32_t index = 0;
    T dist = T(0);
  };

  // The slot in the tree of caller point `orig` (built on first use: only rows cut into
  // pieces in tree order need it).
  std::uint32_t slot_of(std::uint32_t orig) {
    if (slot_of_.empty()) {
      slot_of_.assign(t_.n, 0);
      for (std::size_t slot = 0; slot < t_.perm.size(); ++slot)
        if (t_.perm[slot] != UINT32_MAX) slot_of_[t_.perm[slot]] = static_cast<std::uint32_t>(slot);
    }
    return slot_of_[orig];
  }

  // Queries rows [r0, r0 + invocations) against every part of the tree in turn; `after`:
  // row r0 is a resumed piece, taking only the hits after that key.
  void dispatch(vulkan::commands& cmd, std::size_t r0, std::size_t invocations, const vulkan::buffer& o,
                const vulkan::buffer& rows, const vulkan::buffer& index, const vulkan::buffer& dist, mode m, T r2,
                const piece_key* after = nullptr) {
    const auto& pipe = radius_pipeline<T>(ctx_, Dim);
    const auto [q, query_base] = query_binding(cmd, r0, invocations);
    radius_push<T> push{};
    push.invocations = static_cast<std::uint32_t>(invocations);
    push.leaf_stride = static_cast<std::uint32_t>(t_.leaf_stride);
    push.mode = m;
    push.query_base = query_base;
    push.identity_order = order_.empty() ? 1u : 0u;
    push.r2 = r2;
    if (after) {
      push.after = 1;
      push.after_index = after->index;
      push.after_dist = after->dist;
      if (m == mode::fill_position) push.after_slot = slot_of(after->index);
    }
    const grid g = grid_for(ctx_, invocations);
    const std::size_t parts = tree_->cut.size();
    for (std::size_t i = 0; i < parts; ++i) {
      tree_part uploaded;  // a streamed tree's part i, on the device until the submit below
      if (tree_->streamed) uploaded = upload_part(cmd, t_, tree_->cut[i], false);
      const tree_part& part = tree_->streamed ? uploaded : tree_->parts[i];
      push.slots = part.slots;
      push.nodes = part.nodes;
      push.slot0 = part.slot0;
      push.part = (i > 0 ? part_resume : 0u) | (i + 1 == parts ? part_last : 0u);
      cmd.barrier();
      cmd.dispatch(pipe, {part.coords, part.boxes, part.tree_u, q, o, rows, index, dist}, push, g.x, g.y);
      if (tree_->streamed) cmd.submit();  // the part's buffers go back to the pool before the next
    }
    cmd.barrier();
  }

  vulkan::context& ctx_;
  const tree_data<T, Dim>& t_;
  query_source<T, Dim> queries_;
  std::size_t nq_;
  std::size_t max_rows_ = 1;
  std::uint64_t align_ = 1;
  std::vector<std::vector<std::uint32_t>> order_;  // per count chunk: queries relative to its first row
  std::vector<vulkan::buffer> query_buffers_;       // per count chunk (host queries)
  std::shared_ptr<const device_tree<T, Dim>> tree_;
  std::vector<std::uint32_t> slot_of_;  // caller index -> slot (slot_of)
};

// Downloads the chunks' rows into a host graph.
template <class T>
struct graph_download {
  neighbor_graph<T>& g;
  void operator()(vulkan::commands& cmd, const device_rows<T>& d) const {
    const std::size_t at = d.first_entry;
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

// The graph of one radius query (keep: at most that many per row, 0: all).
template <class T, std::size_t Dim>
neighbor_graph<T> radius_graph(vulkan::context& ctx, const tree_data<T, Dim>& t, query_source<T, Dim> queries, T r2,
                               std::size_t keep) {
  const auto tree = resident_tree(ctx, t);
  std::optional<query_order> order;
  if (!queries.device) order = make_order(t, queries.host, space::caller, host_executor{});
  graph_builder<T, Dim> builder(ctx, t, tree, queries, order ? &*order : nullptr);
  const std::vector<std::uint64_t> lengths = builder.radius_lengths(r2, keep);
  neighbor_graph<T> g = host_graph<T>(lengths);
  builder.fill(lengths, mode::fill_distance, r2, false, graph_download<T>{g});
  return g;
}

template <class T, std::size_t Dim>
neighbor_graph<T> knn_graph(vulkan::context& ctx, const tree_data<T, Dim>& t, query_source<T, Dim> queries,
                            std::size_t k) {
  const auto tree = resident_tree(ctx, t);
  std::optional<query_order> order;
  if (!queries.device) order = make_order(t, queries.host, space::caller, host_executor{});
  graph_builder<T, Dim> builder(ctx, t, tree, queries, order ? &*order : nullptr);
  const std::vector<std::uint64_t> lengths(queries.host.count, std::min(k, t.n));
  neighbor_graph<T> g = host_graph<T>(lengths);
  if (t.n > 0) builder.fill(lengths, mode::fill_knn, T(0), false, graph_download<T>{g});
  return g;
}

}  // namespace gpu

// The tree is built on the host (every core when OpenMP is on); the context keeps its
// device copy from now on, so the first query uploads nothing of it.
template <class T, std::size_t Dim>
tree_data<T, Dim> run(vulkan_tag, const exec::vulkan_policy& policy, const build_plan<T, Dim>& plan) {
  tree_data<T, Dim> t = run_cpu<T>(host_executor{}, plan);
  vulkan::context& ctx = context_of(policy);
  // A double tree on a device without shaderFloat64 is still a tree (for CPU queries);
  // its Vulkan queries report the missing feature.
  if (sizeof(T) == 4 || ctx.info().shader_float64) gpu::resident_tree(ctx, t);
  return t;
}

template <class T, std::size_t Dim>
neighbor_graph<T> run(vulkan_tag, const exec::vulkan_policy& policy, const radius_plan<T, Dim>& plan) {
  return gpu::radius_graph<T, Dim>(context_of(policy), plan.tree, {plan.queries}, plan.r2, plan.keep);
}
template <class T, std::size_t Dim>
neighbor_graph<T> run(vulkan_tag, const exec::vulkan_policy& policy, const device_queries<radius_plan<T, Dim>>& d) {
  return gpu::radius_graph<T, Dim>(context_of(policy), d.plan.tree, {d.plan.queries, d.queries}, d.plan.r2, d.plan.keep);
}

template <class T, std::size_t Dim>
neighbor_graph<T> run(vulkan_tag, const exec::vulkan_policy& policy, const knn_plan<T, Dim>& plan) {
  return gpu::knn_graph<T, Dim>(context_of(policy), plan.tree, {plan.queries}, plan.k);
}
template <class T, std::size_t Dim>
neighbor_graph<T> run(vulkan_tag, const exec::vulkan_policy& policy, const device_queries<knn_plan<T, Dim>>& d) {
  return gpu::knn_graph<T, Dim>(context_of(policy), d.plan.tree, {d.plan.queries, d.queries}, d.plan.k);
}

}  // namespace polykern::detail::kd
#endif
