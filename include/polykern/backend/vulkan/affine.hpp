// Affine transforms of points and normals, part 4: the Vulkan backend (host side).
//
// One compute shader per element type (shaders/affine_f32.comp, affine_f64.comp), one
// invocation per point, the kind (points/normals) and the workgroup size as specialisation
// constants; a chunk of a single segment passes its coefficients as push constants. Points are cut into chunks so that no binding exceeds ctx.max_binding_bytes();
// chunk boundaries are multiples of a point count that keeps every binding offset a multiple
// of minStorageBufferOffsetAlignment. Each chunk carries its own segment table (the first
// point and the coefficients of every non-empty segment it touches), so a batched call
// with any number of segments is one dispatch per chunk, and all chunks of a window (up to
// 512 MiB of points, or a quarter of the memory budget) go into one submission.
// Host views and vulkan::device_points take the same path (gpu::transform): host points
// are uploaded per window into pooled buffers and downloaded after it, device points are
// bound in place.
//
// with_fallback: every device buffer is created before any user memory is written, and
// an in-place call that needs more than one submission keeps its results on the host
// until the last submission has succeeded, so a vulkan_error never leaves the input
// half-transformed.
#pragma once
#include "../../execution.hpp"

#if POLYKERN_HAS_VULKAN
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <numeric>
#include <string_view>
#include <type_traits>
#include <vector>

#include "../../detail/affine/plan.hpp"
#include "buffer.hpp"
#include "commands.hpp"
#include "context.hpp"
#include "device_data.hpp"
#include "shaders/affine_f32.spv.hpp"
#include "shaders/affine_f64.spv.hpp"

namespace polykern::detail::affine {

namespace gpu {

template <class T>
struct push_constants {  // matches Push in affine_f*.comp (std430: m at offset 32)
  std::uint32_t count, segments, in_stride, row_width, first, pad[3];
  T m[12];  // the coefficients when segments == 1
};
static_assert(sizeof(push_constants<double>) <= 128, "Vulkan guarantees 128 bytes of push constants");

// A window (one submission) is at most this many bytes of input and of output points.
inline constexpr std::uint64_t window_bytes = std::uint64_t{512} << 20;
inline constexpr std::uint32_t workgroup_size = 256;
// Workgroups per dispatch at most; the shader loops (grid stride) over the rest. 2048 x 256
// invocations fill a large GPU; on lavapipe each workgroup launch costs CPU time.
inline constexpr std::uint64_t max_workgroups = 2048;
// A chunk touching at most this many segments gets one dispatch per segment (coefficients
// as push constants, no per-point search); more, and one dispatch searches the table.
inline constexpr std::size_t dispatch_per_segment_up_to = 16;

struct chunk {
  std::size_t begin, end;             // points
  std::size_t table_begin, table_end;  // entries in the window's segment table
};

struct window {
  std::vector<chunk> chunks;
  std::vector<std::uint32_t> starts;  // every chunk's table, chunk after chunk
  std::vector<std::size_t> segments;  // matrix index of each table entry
};

inline std::uint64_t align_up(std::uint64_t v, std::uint64_t a) { return (v + a - 1) / a * a; }

// Cuts [0, count) into chunks and windows. `unit`: chunk starts are multiples of it.
template <class T>
std::vector<window> plan(const job<T>& j, std::uint64_t binding_bytes, std::uint64_t budget, std::size_t unit) {
  const std::uint64_t in_point = static_cast<std::uint64_t>(j.in_stride) * sizeof(T), out_point = 3 * sizeof(T);
  std::size_t per_chunk = static_cast<std::size_t>(std::min(binding_bytes, budget) / std::max(in_point, out_point));
  per_chunk = std::max(unit, per_chunk / unit * unit);
  const std::size_t max_entries = std::max<std::size_t>(
      1, static_cast<std::size_t>(binding_bytes / std::max<std::uint64_t>(12 * sizeof(T), 4)));
  std::vector<window> windows(1);
  std::uint64_t window_in = 0, window_out = 0;
  std::size_t s = 0;  // the first segment that may intersect the next chunk
  for (std::size_t begin = 0; begin < j.count;) {
    std::size_t end = std::min(j.count, begin + per_chunk);
    while (j.offsets[s + 1] <= begin) ++s;
    // At most max_entries non-empty segments per chunk: end the chunk before the next one.
    std::size_t entries = 0;
    for (std::size_t t = s; t < j.matrices.size() && j.offsets[t] < end; ++t) {
      if (j.offsets[t + 1] == j.offsets[t]) continue;
      if (entries++ == max_entries) {
        const std::size_t cut = j.offsets[t] / unit * unit;
        end = cut > begin ? cut : std::min(j.count, begin + unit);  // (unit points always fit)
        break;
      }
    }
    // This chunk's table: every non-empty segment it touches.
    std::vector<std::size_t> touched;
    for (std::size_t t = s; t < j.matrices.size() && j.offsets[t] < end; ++t)
      if (j.offsets[t + 1] > j.offsets[t]) touched.push_back(t);
    const std::uint64_t in_bytes = (end - begin) * in_point, out_bytes = (end - begin) * out_point;
    if (!windows.back().chunks.empty() && (window_in + in_bytes > budget || window_out + out_bytes > budget)) {
      windows.emplace_back();
      window_in = window_out = 0;
    }
    window& w = windows.back();
    chunk c{begin, end, w.starts.size(), w.starts.size() + touched.size()};
    for (std::size_t t : touched) {
      w.starts.push_back(static_cast<std::uint32_t>(std::max(j.offsets[t], begin) - begin));
      w.segments.push_back(t);
    }
    w.chunks.push_back(c);
    window_in += in_bytes, window_out += out_bytes;
    begin = end;
  }
  return windows;
}

}  // namespace gpu

// A call on device-resident points (api.md §7): the job's coefficients and segments
// (in/out null, strides 3), and the buffers of the vulkan::device_points objects; `in`
// and `out` are the same buffer for an in-place call.
template <class T>
struct device_job {
  job<T> j;
  const vulkan::buffer* in = nullptr;
  const vulkan::buffer* out = nullptr;
};

namespace gpu {

// The one device path. Host views (dev_in == nullptr): each window's input is uploaded
// into a pooled buffer, transformed there and downloaded, one submission per window.
// Device points: the chunks bind the objects' buffers at the points' own offsets, and
// nothing but the segment tables crosses the bus.
template <class T>
void transform(vulkan::context& ctx, const job<T>& j, const vulkan::buffer* dev_in, const vulkan::buffer* dev_out) {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>);
  const vulkan::device_info& info = ctx.info();
  if constexpr (std::is_same_v<T, double>) {
    if (!info.shader_float64)
      throw vulkan_error("shaderFloat64", vulkan::result_name(VK_ERROR_FEATURE_NOT_PRESENT),
                         "double points need a device with shaderFloat64; " + info.name + " has none");
  }
  if (j.count == 0) return;
  const bool device = dev_in != nullptr;

  // Chunk starts are multiples of `unit` points, so that every binding offset (input at
  // in_stride, output at 3 elements per point) is a multiple of the offset alignment.
  const std::uint64_t alignment = std::max<std::uint64_t>(1, info.min_storage_buffer_offset_alignment);
  const std::uint64_t table_alignment = std::lcm<std::uint64_t>(alignment, 16);  // whole uints and Ts
  const std::uint64_t in_point = static_cast<std::uint64_t>(j.in_stride) * sizeof(T), out_point = 3 * sizeof(T);
  const std::uint64_t unit_in = alignment / std::gcd(alignment, in_point), unit_out = alignment / std::gcd(alignment, out_point);
  const std::size_t unit = static_cast<std::size_t>(std::lcm(unit_in, unit_out));
  const std::uint64_t binding_bytes = ctx.max_binding_bytes();
  // A host window is staged in device memory: at most a quarter of the memory budget.
  const std::uint64_t budget = std::clamp<std::uint64_t>(
      std::min<std::uint64_t>(16 * binding_bytes, ctx.memory_budget() / 4), std::min(binding_bytes, std::uint64_t{1} << 20),
      gpu::window_bytes);
  const std::vector<gpu::window> windows = gpu::plan(j, binding_bytes, budget, unit);

  // Sizes of the largest window, so one set of buffers serves them all.
  const auto in_bytes_of = [&](std::size_t n) { return ((n - 1) * static_cast<std::uint64_t>(j.in_stride) + 3) * sizeof(T); };
  std::uint64_t in_size = 4, out_size = 4, starts_size = 4, mats_size = 4;
  for (const auto& w : windows) {
    const std::size_t first = w.chunks.front().begin;
    std::uint64_t starts_at = 0, mats_at = 0;
    for (const auto& c : w.chunks) {
      const std::size_t entries = c.table_end - c.table_begin;
      starts_at = gpu::align_up(starts_at, table_alignment) + entries * 4;
      mats_at = gpu::align_up(mats_at, table_alignment) + entries * 12 * sizeof(T);
    }
    const auto& last = w.chunks.back();
    in_size = std::max(in_size, (last.begin - first) * in_point + in_bytes_of(last.end - last.begin));
    out_size = std::max(out_size, (last.end - first) * out_point);
    starts_size = std::max(starts_size, starts_at), mats_size = std::max(mats_size, mats_at);
  }

  // Everything that can fail on the device comes first: pipeline and buffers.
  const std::uint32_t local = std::min(gpu::workgroup_size, std::max(1u, info.max_workgroup_invocations));
  const std::uint32_t spec[] = {local, j.what == kind::normals ? 1u : 0u};
  const auto& pipe = ctx.get_pipeline({std::is_same_v<T, float> ? "affine_f32" : "affine_f64",
                                       std::is_same_v<T, float> ? std::span<const std::uint32_t>(vulkan::shaders::affine_f32)
                                                                : std::span<const std::uint32_t>(vulkan::shaders::affine_f64),
                                       4, sizeof(gpu::push_constants<T>), spec});
  // Host views with packed xyz input: the shader writes each point where it read it, so one
  // device buffer serves as input and output (half the device memory, and on unified-memory
  // devices half the fresh pages to fault in per call).
  const bool shared = !device && j.in_stride == 3;
  vulkan::buffer own_in(device ? vulkan::buffer() : vulkan::buffer(ctx, in_size));
  vulkan::buffer own_out(device || shared ? vulkan::buffer() : vulkan::buffer(ctx, out_size));
  const vulkan::buffer& in_buf = device ? *dev_in : own_in;
  const vulkan::buffer& out_buf = device ? *dev_out : shared ? own_in : own_out;
  vulkan::buffer starts_buf(ctx, starts_size), mats_buf(ctx, mats_size);

  // Host views: where results go. Straight into `out` when it is packed xyz and no later
  // submission can fail after the input was overwritten; otherwise into `host` (packed
  // xyz), copied into `out` per window (strided out) or after the last window (in place,
  // several windows).
  const bool stage_all = !device && j.in_place() && windows.size() > 1;
  const bool direct = j.out_stride == 3 && !stage_all;
  std::vector<T> host;
  if (!device && !direct) host.resize(stage_all ? 3 * j.count : static_cast<std::size_t>(out_size / sizeof(T)));
  const auto scatter = [&](const T* packed, std::size_t begin, std::size_t end) {
    for (std::size_t i = begin; i < end; ++i, packed += 3) {
      T* q = j.out + static_cast<std::ptrdiff_t>(i) * j.out_stride;
      q[0] = packed[0], q[1] = packed[1], q[2] = packed[2];
    }
  };

  vulkan::commands cmd(ctx);
  std::vector<T> mats;
  const std::uint32_t max_groups = std::max(1u, info.max_workgroup_count[0]);
  for (const auto& w : windows) {
    const std::size_t first = w.chunks.front().begin, last = w.chunks.back().end;
    // The buffers hold the window from point `base` on: the window itself (host), or
    // every point (device).
    const std::size_t base = device ? 0 : first;
    // The segment tables of the whole window, each chunk's part at an aligned offset.
    std::vector<std::uint32_t> starts(starts_size / 4);
    mats.assign(static_cast<std::size_t>(mats_size / sizeof(T)), T(0));
    std::vector<std::uint64_t> starts_at(w.chunks.size()), mats_at(w.chunks.size());
    std::uint64_t s_at = 0, m_at = 0;
    for (std::size_t k = 0; k < w.chunks.size(); ++k) {
      const auto& c = w.chunks[k];
      starts_at[k] = s_at = gpu::align_up(s_at, table_alignment);
      mats_at[k] = m_at = gpu::align_up(m_at, table_alignment);
      for (std::size_t e = c.table_begin; e < c.table_end; ++e) {
        starts[s_at / 4 + (e - c.table_begin)] = w.starts[e];
        std::memcpy(&mats[m_at / sizeof(T) + 12 * (e - c.table_begin)], j.matrices[w.segments[e]].m, 12 * sizeof(T));
      }
      s_at += (c.table_end - c.table_begin) * 4, m_at += (c.table_end - c.table_begin) * 12 * sizeof(T);
    }
    // Only tables of more than dispatch_per_segment_up_to entries are read by the shader.
    cmd.upload(starts_buf, starts.data(), s_at);
    cmd.upload(mats_buf, mats.data(), m_at);
    if (!device) {
      const std::uint64_t window_in = (w.chunks.back().begin - first) * in_point + in_bytes_of(last - w.chunks.back().begin);
      cmd.upload(in_buf, j.in + static_cast<std::ptrdiff_t>(first) * j.in_stride, window_in);
    }
    for (std::size_t k = 0; k < w.chunks.size(); ++k) {
      const auto& c = w.chunks[k];
      const std::size_t n = c.end - c.begin, entries = c.table_end - c.table_begin;
      const std::initializer_list<vulkan::binding> bindings = {
          vulkan::binding(in_buf, (c.begin - base) * in_point, in_bytes_of(n)),
          vulkan::binding(out_buf, (c.begin - base) * out_point, n * out_point),
          vulkan::binding(starts_buf, starts_at[k], entries * 4),
          vulkan::binding(mats_buf, mats_at[k], entries * 12 * sizeof(T))};
      // Points [from, to) of the chunk: with `segment` (one table entry, push constants),
      // or with the whole table when segment == entries.
      const auto dispatch = [&](std::size_t from, std::size_t to, std::size_t segment) {
        const std::uint64_t groups = std::min<std::uint64_t>((to - from + local - 1) / local, gpu::max_workgroups);
        const std::uint32_t gx = static_cast<std::uint32_t>(std::min<std::uint64_t>(groups, max_groups));
        const std::uint32_t gy = static_cast<std::uint32_t>((groups + gx - 1) / gx);
        const bool one = segment < entries;
        gpu::push_constants<T> push{static_cast<std::uint32_t>(to - from), one ? 1u : static_cast<std::uint32_t>(entries),
                                    static_cast<std::uint32_t>(j.in_stride), gx * local, static_cast<std::uint32_t>(from),
                                    {}, {}};
        if (one) std::memcpy(push.m, j.matrices[w.segments[c.table_begin + segment]].m, sizeof push.m);
        cmd.dispatch(pipe, bindings, push, gx, gy);
      };
      if (entries <= gpu::dispatch_per_segment_up_to) {
        for (std::size_t e = 0; e < entries; ++e)
          dispatch(w.starts[c.table_begin + e], e + 1 < entries ? w.starts[c.table_begin + e + 1] : n, e);
      } else {
        dispatch(0, n, entries);
      }
    }
    if (!device) {
      T* destination = direct ? j.out + 3 * first : stage_all ? host.data() + 3 * first : host.data();
      cmd.download(out_buf, destination, (last - first) * out_point);
    }
    cmd.submit();
    if (!device && !direct && !stage_all) scatter(host.data(), first, last);
  }
  if (stage_all) scatter(host.data(), 0, j.count);
}

}  // namespace gpu

template <class T>
void run(vulkan_tag, const auto& policy, const job<T>& j) {
  gpu::transform(context_of(policy), j, nullptr, nullptr);
}

template <class T>
void run(vulkan_tag, const auto& policy, const device_job<T>& d) {
  gpu::transform(context_of(policy), d.j, d.in, d.out);
}

}  // namespace polykern::detail::affine
#endif
