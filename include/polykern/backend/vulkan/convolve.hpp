// Convolution on the vulkan policy: one device path, over images that live in device
// buffers in device_image's layout (rows one after another, each row_pitch bytes: floats,
// or bytes padded to whole words).
//  - device images (vulkan::device_image): the kernel's buffers are bound as they are;
//    only the parameter block (taps and row tables) is uploaded.
//  - host views: the images are uploaded into pooled buffers of that layout, the same
//    device path runs, and the results are downloaded. A batch is cut into chunks whose
//    buffers fit the device's memory budget (context::memory_budget()) and whose parameter
//    block fits one binding; each chunk is one queue submission. An image larger than
//    that budget share on its own is streamed: its bands' windows are uploaded (band::
//    uploaded), filtered and downloaded one band a submission.
// Passes:
//  - direct:            conv_rows over kh source rows (the kernel's rows staged in shared memory)
//  - separable/low-rank: per term conv_cols (vertical, into a float band) then conv_rows
//                        (horizontal, kh = 1), the terms summed in a float band
//  - fft / automatic:    the GPU has no FFT here (no runtime shader compiler, architecture.md):
//                        resolve() picks low-rank passes or the direct method instead.
// Images larger than one binding (ctx.max_binding_bytes(), lavapipe: 128 MiB) run in row
// bands with halos. A row table per pass maps each window row to a source row with the
// vertical border applied (-1 outside a constant border). A band whose source rows lie in
// one bindable range binds them in place; otherwise (wrap across a large image, say) its
// window rows are copied on the device into a scratch window first. In place on a device
// image (src and dst the same object), the result goes to a scratch image that is copied
// over the source at the end. Nothing of the caller's host memory is written before the
// submission has succeeded.
#pragma once
#include <algorithm>
#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <type_traits>
#include <vector>

#include "../../border.hpp"
#include "../../detail/convolve/plan.hpp"
#include "../../execution.hpp"
#include "buffer.hpp"
#include "commands.hpp"
#include "context.hpp"
#include "device_data.hpp"
#include "shaders/conv_cols.spv.hpp"
#include "shaders/conv_rows.spv.hpp"

namespace polykern::detail::conv {

namespace gpu {

inline constexpr std::uint32_t workgroup = 64;        // invocations per workgroup (conv_cols, narrow conv_rows)
inline constexpr std::uint32_t wide_workgroup = 256;  // conv_rows on rows of >= 2048 elements
inline constexpr std::uint32_t per_invocation = 4;  // conv_rows outputs per invocation
inline constexpr std::uint32_t rows_per_invocation = 8;  // conv_cols
inline constexpr std::uint32_t no_table = 0xffffffffu;

struct rows_push {  // conv_rows.comp
  std::uint32_t in_offset, in_stride, in_u8, out_offset, out_stride, out_u8, width, channels, kw, kh, ax, table,
      k_offset, mode, border;
  float outside;
};
struct cols_push {  // conv_cols.comp
  std::uint32_t in_offset, in_stride, in_u8, elems, rows, table, k_offset, kh;
  float outside;
};

template <class T>
inline constexpr bool is_u8 = std::is_same_v<T, std::uint8_t>;

// Bytes of one image row on the device: floats, or bytes padded to whole words.
inline std::size_t row_bytes(std::size_t elems, bool u8) { return u8 ? (elems + 3) / 4 * 4 : elems * 4; }

inline std::size_t align_up(std::size_t n, std::size_t a) { return (n + a - 1) / a * a; }

// A binding of rows [first, first + count) of an image stored at `base` with `row` bytes per
// row: the offset aligned down, and the remainder the shader adds (in elements or bytes).
struct rows_binding {
  std::size_t offset, range, remainder;
};
inline rows_binding bind_rows(std::size_t base, std::size_t row, std::size_t first, std::size_t count,
                              std::size_t align) {
  const std::size_t at = base + first * row;
  const std::size_t aligned = at / align * align;
  return {aligned, at - aligned + count * row, at - aligned};
}

[[noreturn]] inline void too_wide(std::string_view why) {
  throw vulkan_error("convolve: maxStorageBufferRange", vulkan::result_name(VK_ERROR_FEATURE_NOT_PRESENT), why);
}

}  // namespace gpu


namespace gpu {

// Where an image lives on the device: rows of row_bytes(width * channels) from byte `base`.
struct image_ref {
  const vulkan::buffer* buf;
  std::size_t base;
  std::size_t first_row = 0;  // the image row at `base` (a band of a streamed image)
};

// One band of output rows and how its source window is bound.
struct band {
  std::size_t y0, rows, window;  // output rows [y0, y0 + rows); window = rows + halo
  bool copied;                   // the window is built by device copies into a scratch buffer
  std::size_t first, count;      // in place: source rows [first, first + count) are bound
  std::vector<std::uint32_t> tables;  // params index of each pass's row table
  bool uploaded = false;  // (a host view larger than the budget) the window is uploaded, laid
                          // out as a copied one: the source buffer holds just its rows
};

// What one image needs, independent of where it lives (bases are aligned, so whether a band
// binds in place depends only on the rows): its bands and its part of the parameter block.
struct image_work {
  image_plan p;
  std::size_t width, height, channels, elems, in_row, out_row;
  std::size_t above = 0, below = 0;  // source rows read above / below an output row
  std::size_t band_floats = 0, window_bytes = 0;
  bool need_acc = false;
  std::vector<std::uint32_t> taps;  // params index: direct kernel, or kx, ky of each term
  std::vector<band> bands;
  std::vector<std::uint32_t> params;  // indices above are relative to this image's block
};

// host_windows: the image is streamed band by band over the bus (a host view larger than
// the memory budget): every band's window is uploaded on its own (band::uploaded). A
// template only so that it is instantiated where it is used, not in every TU.
template <class = void>
image_work plan_image(const image_plan& plan, std::size_t width, std::size_t height, std::size_t channels,
                             bool in_u8, bool out_u8, std::size_t limit, std::size_t align,
                             const vulkan::device_info& info, bool host_windows = false) {
  image_work w;
  w.p = plan;
  w.width = width, w.height = height, w.channels = channels;
  w.elems = width * channels;
  w.in_row = row_bytes(w.elems, in_u8), w.out_row = row_bytes(w.elems, out_u8);
  auto& params = w.params;
  const auto push_floats = [&](const std::vector<float>& v) {
    const auto at = static_cast<std::uint32_t>(params.size());
    for (float f : v) params.push_back(std::bit_cast<std::uint32_t>(f));
    return at;
  };
  const bool direct = w.p.method == engine::direct;
  if (direct) {
    w.taps.push_back(push_floats(w.p.kernel.values));
    w.above = w.p.kernel.height / 2, w.below = w.p.kernel.height - 1 - w.above;
  } else {
    for (const term& t : w.p.terms) {
      w.taps.push_back(push_floats(t.kx));
      w.taps.push_back(push_floats(t.ky));
      w.above = std::max(w.above, t.ky.size() / 2);
      w.below = std::max(w.below, t.ky.size() - 1 - t.ky.size() / 2);
    }
    w.need_acc = w.p.terms.size() > 1;
  }
  // Rows per band: its source window (rows + halo, plus the alignment slack of a binding in
  // place), its output rows and its float band must each fit one binding.
  const std::size_t halo = w.above + w.below;
  const std::size_t src_rows = limit > align ? (limit - align) / w.in_row : 0;
  std::size_t rows = std::min<std::size_t>(w.height, std::max<std::uint32_t>(info.max_workgroup_count[1], 1));
  rows = std::min(rows, src_rows > halo ? src_rows - halo : 0);
  rows = std::min(rows, limit > align ? (limit - align) / w.out_row : 0);
  if (!direct) rows = std::min(rows, limit / (w.elems * 4));
  if (rows == 0) too_wide("one image row and the kernel's halo do not fit one storage-buffer binding");
  if ((w.elems + workgroup - 1) / workgroup > info.max_workgroup_count[0])
    too_wide("a row has more elements than one dispatch covers (maxComputeWorkGroupCount[0] * 64)");
  const auto H = static_cast<std::ptrdiff_t>(w.height);
  for (std::size_t y0 = 0; y0 < w.height; y0 += rows) {
    band b{y0, std::min(rows, w.height - y0), 0, false, 0, 0, {}};
    b.window = b.rows + halo;
    // The source rows the window reads, after the border map.
    std::ptrdiff_t lo = H, hi = -1;
    for (std::size_t s = 0; s < b.window; ++s) {
      const std::ptrdiff_t m =
          border_index(static_cast<std::ptrdiff_t>(y0 + s) - static_cast<std::ptrdiff_t>(w.above), H, w.p.border.mode);
      if (m >= 0) lo = std::min(lo, m), hi = std::max(hi, m);
    }
    if (hi < lo) lo = hi = 0;  // every row outside a constant border: bind one row, read none
    b.first = static_cast<std::size_t>(lo), b.count = static_cast<std::size_t>(hi - lo + 1);
    b.copied = host_windows || b.count * w.in_row + align > limit;
    b.uploaded = host_windows;
    if (b.copied && !b.uploaded) w.window_bytes = std::max(w.window_bytes, b.window * w.in_row);
    // Row table of a pass reading `above` rows above each output: entry s -> the row of the
    // bound source (window row when copied, source row - first in place), -1 outside a
    // constant border.
    const auto table = [&](std::size_t above, std::size_t count) {
      const auto at = static_cast<std::uint32_t>(params.size());
      for (std::size_t s = 0; s < count; ++s) {
        const std::size_t index = s + w.above - above;
        if (index >= b.window) {  // conv_cols' rounding to whole groups: outputs discarded
          params.push_back(static_cast<std::uint32_t>(b.copied ? b.window - 1 : 0));
          continue;
        }
        const std::ptrdiff_t m = border_index(static_cast<std::ptrdiff_t>(y0 + s) - static_cast<std::ptrdiff_t>(above), H,
                                              w.p.border.mode);
        const std::int32_t entry = m < 0       ? -1
                                   : b.copied ? static_cast<std::int32_t>(index)
                                              : static_cast<std::int32_t>(m - lo);
        params.push_back(std::bit_cast<std::uint32_t>(entry));
      }
      return at;
    };
    if (direct) {
      b.tables.push_back(table(w.above, b.rows + w.p.kernel.height - 1));
    } else {
      for (const term& t : w.p.terms)
        b.tables.push_back(table(t.ky.size() / 2, align_up(b.rows, rows_per_invocation) + t.ky.size() - 1));
      w.band_floats = std::max(w.band_floats, b.rows * w.elems);
    }
    w.bands.push_back(std::move(b));
  }
  return w;
}

// Chunks of consecutive images: [first, last) with their parameter blocks in one binding and,
// for host views (`bytes_of` > 0), their uploaded and downloaded buffers within `budget`.
template <class Bytes>
std::vector<std::pair<std::size_t, std::size_t>> chunks(const std::vector<image_work>& work, std::size_t limit,
                                                        std::size_t budget, const Bytes& bytes_of) {
  std::vector<std::pair<std::size_t, std::size_t>> out;
  for (std::size_t first = 0; first < work.size();) {
    std::size_t last = first, words = 0, bytes = 0;
    while (last < work.size()) {
      const std::size_t w = work[last].params.size(), b = bytes_of(work[last]);
      if (last > first && ((words + w) * 4 > limit || bytes + b > budget)) break;
      words += w, bytes += b, ++last;
    }
    out.emplace_back(first, last);
    first = last;
  }
  return out;
}

// Records the passes of images [first, last) of `work` (sources at srcs[n], results to
// dsts[n]) into cmd: the parameter block, window copies, dispatches. Scratch buffers are
// created here, before anything is recorded, and live until the submission is done.
// only_band: record that band alone (of a streamed image, the chunk's only one).
template <class In, class Out>
void record(vulkan::context& ctx, vulkan::commands& cmd, const std::vector<image_work>& work, std::size_t first,
            std::size_t last, std::span<const image_ref> srcs, std::span<const image_ref> dsts,
            std::size_t only_band = SIZE_MAX) {
  constexpr bool in_u8 = is_u8<In>, out_u8 = is_u8<Out>;
  const std::size_t align = std::max<std::size_t>(ctx.info().min_storage_buffer_offset_alignment, 16);
  std::vector<std::uint32_t> params;
  std::vector<std::uint32_t> block(last - first);  // each image's offset in params
  std::size_t band_floats = 0, window_bytes = 0;
  bool need_acc = false;
  for (std::size_t n = first; n < last; ++n) {
    block[n - first] = static_cast<std::uint32_t>(params.size());
    params.insert(params.end(), work[n].params.begin(), work[n].params.end());
    band_floats = std::max(band_floats, work[n].band_floats);
    window_bytes = std::max(window_bytes, work[n].window_bytes);
    need_acc |= work[n].need_acc;
  }
  const auto rows_pipe = [&](std::size_t elems) -> const vulkan::pipeline& {
    const std::uint32_t spec[] = {elems >= 2048 ? wide_workgroup : workgroup};
    return ctx.get_pipeline({"conv_rows", vulkan::shaders::conv_rows, 4, sizeof(rows_push), spec});
  };
  const std::uint32_t spec[] = {workgroup};
  const auto& cols_pipe = ctx.get_pipeline({"conv_cols", vulkan::shaders::conv_cols, 3, sizeof(cols_push), spec});
  vulkan::buffer param_buf(ctx, std::max<std::size_t>(params.size(), 1) * 4);
  vulkan::buffer tmp_buf(ctx, std::max<std::size_t>(band_floats, 4) * 4);
  vulkan::buffer acc_buf(ctx, need_acc ? std::max<std::size_t>(band_floats, 4) * 4 : 16);
  vulkan::buffer window_buf(ctx, std::max<std::size_t>(window_bytes, 16));
  cmd.upload(param_buf, params.data(), params.size() * 4);

  for (std::size_t n = first; n < last; ++n) {
    const image_work& w = work[n];
    const image_ref src = srcs[n - first], dst = dsts[n - first];
    const std::uint32_t base = block[n - first];
    const auto E = static_cast<std::uint32_t>(w.elems);
    const vulkan::pipeline& row_pipe = rows_pipe(w.elems);
    const std::uint32_t tile = (w.elems >= 2048 ? wide_workgroup : workgroup) * per_invocation;
    const std::uint32_t groups_x = (E + tile - 1) / tile;
    const auto H = static_cast<std::ptrdiff_t>(w.height);
    for (std::size_t band_index = 0; band_index < w.bands.size(); ++band_index) {
      if (only_band != SIZE_MAX && band_index != only_band) continue;
      const band& b = w.bands[band_index];
      rows_binding in{};
      const vulkan::buffer* in_buf = src.buf;
      if (b.uploaded) {
        in = {src.base, b.window * w.in_row, 0};
      } else if (b.copied) {
        std::vector<VkBufferCopy> regions;
        for (std::size_t s = 0; s < b.window; ++s) {
          const std::ptrdiff_t m =
              border_index(static_cast<std::ptrdiff_t>(b.y0 + s) - static_cast<std::ptrdiff_t>(w.above), H, w.p.border.mode);
          if (m < 0) continue;  // never read: its table entry is -1
          const VkDeviceSize from = src.base + static_cast<std::size_t>(m) * w.in_row, to = s * w.in_row;
          if (!regions.empty() && regions.back().srcOffset + regions.back().size == from &&
              regions.back().dstOffset + regions.back().size == to)
            regions.back().size += w.in_row;
          else
            regions.push_back({from, to, w.in_row});
        }
        cmd.copy_regions(*src.buf, window_buf, regions);
        in_buf = &window_buf;
        in = {0, b.window * w.in_row, 0};
      } else {
        in = bind_rows(src.base, w.in_row, b.first, b.count, align);
      }
      const rows_binding out = bind_rows(dst.base, w.out_row, b.y0 - dst.first_row, b.rows, align);
      const vulkan::binding src_binding(*in_buf, in.offset, in.range), dst_binding(*dst.buf, out.offset, out.range);
      const auto in_offset = static_cast<std::uint32_t>(in_u8 ? in.remainder : in.remainder / 4);
      const auto in_stride = static_cast<std::uint32_t>(in_u8 ? w.in_row : w.in_row / 4);
      rows_push rp{};
      rp.out_offset = static_cast<std::uint32_t>(out.remainder / 4);
      rp.out_stride = static_cast<std::uint32_t>(w.out_row / 4);
      rp.out_u8 = out_u8;
      rp.width = static_cast<std::uint32_t>(w.width);
      rp.channels = static_cast<std::uint32_t>(w.channels);
      rp.border = static_cast<std::uint32_t>(w.p.border.mode);
      const float outside = static_cast<float>(border_value<In>(w.p.border.value));
      if (w.p.method == engine::direct) {
        rp.in_offset = in_offset, rp.in_stride = in_stride, rp.in_u8 = in_u8;
        rp.kw = static_cast<std::uint32_t>(w.p.kernel.width), rp.kh = static_cast<std::uint32_t>(w.p.kernel.height);
        rp.ax = rp.kw / 2, rp.table = base + b.tables[0], rp.k_offset = base + w.taps[0], rp.mode = 0;
        rp.outside = outside;
        cmd.dispatch(row_pipe, {src_binding, param_buf, dst_binding, acc_buf}, rp, groups_x,
                     static_cast<std::uint32_t>(b.rows));
        cmd.barrier();
        continue;
      }
      const std::size_t band_bytes = b.rows * w.elems * 4;
      const vulkan::binding tmp_binding(tmp_buf, 0, band_bytes);
      const vulkan::binding acc_binding = need_acc ? vulkan::binding(acc_buf, 0, band_bytes) : vulkan::binding(acc_buf);
      const std::size_t terms = w.p.terms.size();
      for (std::size_t t = 0; t < terms; ++t) {
        const term& tm = w.p.terms[t];
        cols_push cp{in_offset, in_stride, in_u8, E, static_cast<std::uint32_t>(b.rows), base + b.tables[t],
                     base + w.taps[2 * t + 1], static_cast<std::uint32_t>(tm.ky.size()), outside};
        cmd.dispatch(cols_pipe, {src_binding, param_buf, tmp_binding}, cp, (E + workgroup - 1) / workgroup,
                     static_cast<std::uint32_t>((b.rows + rows_per_invocation - 1) / rows_per_invocation));
        cmd.barrier();
        double sum_y = 0;
        for (float k : tm.ky) sum_y += k;
        rp.in_offset = 0, rp.in_stride = E, rp.in_u8 = 0;
        rp.kw = static_cast<std::uint32_t>(tm.kx.size()), rp.kh = 1, rp.ax = rp.kw / 2;
        rp.table = no_table, rp.k_offset = base + w.taps[2 * t];
        rp.mode = terms == 1 ? 0u : t == 0 ? 1u : t + 1 < terms ? 2u : 3u;
        rp.outside = static_cast<float>(outside * sum_y);
        cmd.dispatch(row_pipe, {tmp_binding, param_buf, dst_binding, acc_binding}, rp, groups_x,
                     static_cast<std::uint32_t>(b.rows));
        cmd.barrier();
      }
    }
  }
}

template <class In, class Out>
std::vector<image_work> plan_images(vulkan::context& ctx, const std::vector<image_plan>& images,
                                    std::span<const std::array<std::size_t, 3>> shapes) {
  const std::size_t limit = std::min<std::uint64_t>(ctx.max_binding_bytes(), std::uint64_t{1} << 40);
  const std::size_t align = std::max<std::size_t>(ctx.info().min_storage_buffer_offset_alignment, 16);
  std::vector<image_work> work;
  work.reserve(images.size());
  for (std::size_t n = 0; n < images.size(); ++n)
    work.push_back(plan_image(images[n], shapes[n][0], shapes[n][1], shapes[n][2], is_u8<In>, is_u8<Out>, limit, align,
                              ctx.info()));
  return work;
}

}  // namespace gpu

// Host views: per chunk, upload the sources into one pooled buffer, run the device path into
// another, download. Results of an in-place image stay on the host until every chunk has
// succeeded (exec::with_fallback then reruns on intact inputs).
template <class In, class Out, bool Dense>
void run(vulkan_tag, const auto& policy, const plan<In, Out, Dense>& call) {
  using namespace gpu;
  const std::span<const job<In, Out>> jobs = call.jobs;
  vulkan::context& ctx = context_of(policy);
  const std::size_t limit = std::min<std::uint64_t>(ctx.max_binding_bytes(), std::uint64_t{1} << 40);
  const std::size_t align = std::max<std::size_t>(ctx.info().min_storage_buffer_offset_alignment, 16);
  std::vector<std::array<std::size_t, 3>> shapes;
  for (const auto& j : jobs) shapes.push_back({j.src.width, j.src.height, j.src.channels});
  std::vector<image_work> work = plan_images<In, Out>(ctx, call.images, shapes);
  const auto image_bytes = [&](const image_work& w) {
    return align_up(w.height * w.in_row, align) + align_up(w.height * w.out_row, align);
  };
  const std::size_t share = std::max<std::size_t>(ctx.memory_budget() / 2, 1);
  // An image larger than the budget's share is streamed: planned again in bands whose
  // window, output rows and float bands each fit a quarter of it (or, if one row and the
  // halo are more, one row a band), and each band's window uploaded, filtered and its
  // rows downloaded in a submission of its own, so the device holds one band at a time.
  std::vector<std::uint8_t> streamed(jobs.size(), 0);
  for (std::size_t n = 0; n < jobs.size(); ++n) {
    const image_work& w = work[n];
    if (image_bytes(w) <= share) continue;
    const std::size_t one_band = (w.above + w.below + 1) * std::max(w.in_row, w.elems * 4) + align;
    const std::size_t band_limit = std::min(limit, std::max(share / 4, one_band));
    work[n] = plan_image(call.images[n], shapes[n][0], shapes[n][1], shapes[n][2], is_u8<In>, is_u8<Out>, band_limit,
                         align, ctx.info(), true);
    streamed[n] = 1;
  }
  const auto parts = chunks(work, limit, share, image_bytes);  // a streamed image is a chunk of its own
  std::vector<std::vector<unsigned char>> held(jobs.size());  // in-place results of a multi-submission call
  const bool hold = parts.size() > 1 || std::find(streamed.begin(), streamed.end(), 1) != streamed.end();
  const auto in_place = [&](std::size_t n) {
    return static_cast<const void*>(jobs[n].src.data) == static_cast<const void*>(jobs[n].dst.data);
  };
  for (const auto& [first, last] : parts) {
    if (streamed[first]) {
      const image_work& w = work[first];
      const auto& job = jobs[first];
      const auto H = static_cast<std::ptrdiff_t>(w.height);
      if (hold && in_place(first)) held[first].resize(w.height * w.out_row);
      for (std::size_t bi = 0; bi < w.bands.size(); ++bi) {
        const band& b = w.bands[bi];
        vulkan::buffer src_buf(ctx, b.window * w.in_row), dst_buf(ctx, b.rows * w.out_row);
        vulkan::commands cmd(ctx);
        // Window row s is source row border_index(y0 + s - above), as band::copied lays it out.
        auto* to = static_cast<unsigned char*>(cmd.upload_area(src_buf, b.window * w.in_row));
        for (std::size_t s = 0; s < b.window; ++s) {
          unsigned char* row = to + s * w.in_row;
          const std::ptrdiff_t m =
              border_index(static_cast<std::ptrdiff_t>(b.y0 + s) - static_cast<std::ptrdiff_t>(w.above), H, w.p.border.mode);
          if (m < 0) {  // never read (its table entry is -1)
            std::memset(row, 0, w.in_row);
            continue;
          }
          std::memcpy(row, job.src.row(static_cast<std::size_t>(m)), w.elems * sizeof(In));
          if (is_u8<In>) std::memset(row + w.elems, 0, w.in_row - w.elems);
        }
        const image_ref src{&src_buf, 0, 0}, dst{&dst_buf, 0, b.y0};
        record<In, Out>(ctx, cmd, work, first, first + 1, std::span(&src, 1), std::span(&dst, 1), bi);
        cmd.download(dst_buf, b.rows * w.out_row, 0, [&, first = first](const void* data) {
          const auto* from = static_cast<const unsigned char*>(data);
          if (!held[first].empty()) {
            std::memcpy(held[first].data() + b.y0 * w.out_row, from, b.rows * w.out_row);
            return;
          }
          for (std::size_t y = 0; y < b.rows; ++y)
            std::memcpy(jobs[first].dst.row(b.y0 + y), from + y * w.out_row, w.elems * sizeof(Out));
        });
        cmd.submit();
      }
      continue;
    }
    std::vector<image_ref> srcs, dsts;
    std::size_t src_total = 0, dst_total = 0;
    for (std::size_t n = first; n < last; ++n) {
      srcs.push_back({nullptr, src_total});
      dsts.push_back({nullptr, dst_total});
      src_total += align_up(work[n].height * work[n].in_row, align);
      dst_total += align_up(work[n].height * work[n].out_row, align);
    }
    vulkan::buffer src_buf(ctx, src_total), dst_buf(ctx, dst_total);
    for (auto& r : srcs) r.buf = &src_buf;
    for (auto& r : dsts) r.buf = &dst_buf;
    vulkan::commands cmd(ctx);
    auto* to = static_cast<unsigned char*>(cmd.upload_area(src_buf, src_total));
    for (std::size_t n = first; n < last; ++n) {
      const image_work& w = work[n];
      for (std::size_t y = 0; y < w.height; ++y) {
        unsigned char* row = to + srcs[n - first].base + y * w.in_row;
        std::memcpy(row, jobs[n].src.row(y), w.elems * sizeof(In));
        if (is_u8<In>) std::memset(row + w.elems, 0, w.in_row - w.elems);
      }
    }
    record<In, Out>(ctx, cmd, work, first, last, srcs, dsts);
    cmd.download(dst_buf, dst_total, 0, [&, first = first, last = last](const void* data) {
      const auto* from = static_cast<const unsigned char*>(data);
      for (std::size_t n = first; n < last; ++n) {
        const image_work& w = work[n];
        const unsigned char* at = from + dsts[n - first].base;
        if (hold && in_place(n)) {
          held[n].assign(at, at + w.height * w.out_row);
          continue;
        }
        for (std::size_t y = 0; y < w.height; ++y) std::memcpy(jobs[n].dst.row(y), at + y * w.out_row, w.elems * sizeof(Out));
      }
    });
    cmd.submit();
  }
  for (std::size_t n = 0; n < jobs.size(); ++n)
    for (std::size_t y = 0; !held[n].empty() && y < work[n].height; ++y)
      std::memcpy(jobs[n].dst.row(y), held[n].data() + y * work[n].out_row, work[n].elems * sizeof(Out));
}

// Device images (api.md §7): the images' own buffers are bound; only the parameter block is
// uploaded. The public entry point has checked shapes, contexts and aliasing.
template <class In, class Out>
struct device_job {
  const vulkan::device_image<In>* src;
  vulkan::device_image<Out>* dst;
};
template <class In, class Out>
struct device_plan {
  std::span<const device_job<In, Out>> jobs;
  std::vector<image_plan> images;
};

template <class In, class Out>
void run(vulkan_tag, const auto& policy, const device_plan<In, Out>& call) {
  using namespace gpu;
  vulkan::context& ctx = context_of(policy);
  const std::size_t limit = std::min<std::uint64_t>(ctx.max_binding_bytes(), std::uint64_t{1} << 40);
  std::vector<std::array<std::size_t, 3>> shapes;
  for (const auto& j : call.jobs) shapes.push_back({j.src->width(), j.src->height(), j.src->channels()});
  const std::vector<image_work> work = plan_images<In, Out>(ctx, call.images, shapes);
  // Only scratch is allocated per chunk; in-place images also need a scratch result.
  const auto scratch_bytes = [&](const image_work&) { return std::size_t{0}; };
  for (const auto& [first, last] : chunks(work, limit, 1, scratch_bytes)) {
    std::vector<image_ref> srcs, dsts;
    std::vector<vulkan::buffer> scratch;  // in-place results
    scratch.reserve(last - first);
    for (std::size_t n = first; n < last; ++n) {
      const auto& j = call.jobs[n];
      srcs.push_back({&j.src->storage(), 0});
      const bool in_place = static_cast<const void*>(j.src) == static_cast<const void*>(j.dst);
      if (in_place) scratch.emplace_back(ctx, j.dst->bytes());
      dsts.push_back({in_place ? &scratch.back() : &j.dst->storage(), 0});
    }
    vulkan::commands cmd(ctx);
    record<In, Out>(ctx, cmd, work, first, last, srcs, dsts);
    for (std::size_t n = first; n < last; ++n)
      if (dsts[n - first].buf != &call.jobs[n].dst->storage())
        cmd.copy(*dsts[n - first].buf, call.jobs[n].dst->storage(), call.jobs[n].dst->bytes());
    cmd.submit();
  }
}

}  // namespace polykern::detail::conv
