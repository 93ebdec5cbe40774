// Convolution on the vulkan policy. Every image of a call (a batch too) is uploaded into
// one source buffer, filtered, and read back in ONE queue submission:
//  - direct:            conv_rows over kh source rows (the kernel's rows staged in shared memory)
//  - separable/low-rank: per term conv_cols (vertical, into a float band) then conv_rows
//                        (horizontal, kh = 1), the terms summed in a float band
//  - fft / automatic:    the GPU has no FFT here (no runtime shader compiler, architecture.md):
//                        resolve() picks low-rank passes or the direct method instead.
// Images larger than one binding (ctx.max_binding_bytes(), lavapipe: 128 MiB) run in row
// bands with halos: each band's source rows, halo included, are uploaded in window order
// with the vertical border already applied (so reflect and wrap work across bands), and a
// row table per pass marks the rows outside a constant border. Nothing of the caller's
// memory is written before the submission has succeeded.
#pragma once
#include <algorithm>
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

template <class In, class Out, bool Dense>
void run(vulkan_tag, const auto& policy, const plan<In, Out, Dense>& call) {
  using namespace gpu;
  const std::span<const job<In, Out>> jobs = call.jobs;
  vulkan::context& ctx = context_of(policy);
  const std::size_t limit = std::min<std::uint64_t>(ctx.max_binding_bytes(), std::uint64_t{1} << 40);
  const std::size_t align = std::max<std::size_t>(ctx.info().min_storage_buffer_offset_alignment, 16);
  const std::uint32_t max_groups_y = std::max<std::uint32_t>(ctx.info().max_workgroup_count[1], 1);
  constexpr bool in_u8 = is_u8<In>, out_u8 = is_u8<Out>;

  struct band {
    std::size_t y0, rows, window, base;  // output rows; source rows uploaded, at byte `base`
    std::vector<std::uint32_t> tables;   // params index of each pass's row table
  };
  struct image_work {
    image_plan p;
    std::size_t width, height, channels, elems, in_row, out_row, dst_base;
    std::size_t above = 0, below = 0;  // source rows read above / below an output row
    std::vector<std::uint32_t> taps;   // params index: direct kernel, or kx, ky of each term
    std::vector<band> bands;
  };
  std::vector<image_work> work(jobs.size());
  std::vector<std::uint32_t> params;
  std::size_t src_total = 0, dst_total = 0, band_floats = 0;
  bool need_acc = false;
  const auto push_floats = [&](const std::vector<float>& v) {
    const auto at = static_cast<std::uint32_t>(params.size());
    for (float f : v) params.push_back(std::bit_cast<std::uint32_t>(f));
    return at;
  };

  for (std::size_t n = 0; n < jobs.size(); ++n) {
    image_work& w = work[n];
    const job<In, Out>& j = jobs[n];
    w.width = j.src.width, w.height = j.src.height, w.channels = j.src.channels;
    w.elems = w.width * w.channels;
    w.p = call.images[n];
    w.in_row = row_bytes(w.elems, in_u8), w.out_row = row_bytes(w.elems, out_u8);
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
      need_acc |= w.p.terms.size() > 1;
    }
    // Rows per band: its source window (rows + halo), its output rows and its float band
    // must each fit one binding.
    const std::size_t halo = w.above + w.below;
    const std::size_t src_rows = limit / w.in_row;
    std::size_t rows = std::min<std::size_t>(w.height, max_groups_y);
    rows = std::min(rows, src_rows > halo ? src_rows - halo : 0);
    rows = std::min(rows, limit > align ? (limit - align) / w.out_row : 0);
    if (!direct) rows = std::min(rows, limit / (w.elems * 4));
    if (rows == 0) too_wide("one image row and the kernel's halo do not fit one storage-buffer binding");
    if ((w.elems + workgroup - 1) / workgroup > ctx.info().max_workgroup_count[0])
      too_wide("a row has more elements than one dispatch covers (maxComputeWorkGroupCount[0] * 64)");
    const auto H = static_cast<std::ptrdiff_t>(w.height);
    for (std::size_t y0 = 0; y0 < w.height; y0 += rows) {
      band b{y0, std::min(rows, w.height - y0), 0, src_total, {}};
      b.window = b.rows + w.above + w.below;
      src_total += align_up(b.window * w.in_row, align);
      // Row table of a pass reading `above` rows above each output: window row s -> index in
      // the uploaded window, or -1 outside a constant border.
      const auto table = [&](std::size_t above, std::size_t count) {
        const auto at = static_cast<std::uint32_t>(params.size());
        for (std::size_t s = 0; s < count; ++s) {
          const std::size_t index = s + w.above - above;
          if (index >= b.window) {  // conv_cols' rounding to whole groups: outputs discarded
            params.push_back(static_cast<std::uint32_t>(b.window - 1));
            continue;
          }
          const std::ptrdiff_t t = static_cast<std::ptrdiff_t>(y0 + s) - static_cast<std::ptrdiff_t>(above);
          const bool outside = border_index(t, H, w.p.border.mode) < 0;
          params.push_back(std::bit_cast<std::uint32_t>(outside ? std::int32_t{-1} : static_cast<std::int32_t>(index)));
        }
        return at;
      };
      if (direct) {
        b.tables.push_back(table(w.above, b.rows + w.p.kernel.height - 1));
      } else {
        for (const term& t : w.p.terms)
          b.tables.push_back(table(t.ky.size() / 2, align_up(b.rows, rows_per_invocation) + t.ky.size() - 1));
        band_floats = std::max(band_floats, b.rows * w.elems);
      }
      w.bands.push_back(std::move(b));
    }
    w.dst_base = dst_total;
    dst_total += align_up(w.height * w.out_row, align);
  }

  // Every device buffer exists before anything of the caller's is touched.
  // Two sizes of conv_rows: wide rows share each staged halo among more outputs.
  const auto rows_pipe = [&](std::size_t elems) -> const vulkan::pipeline& {
    const std::uint32_t spec[] = {elems >= 2048 ? wide_workgroup : workgroup};
    return ctx.get_pipeline({"conv_rows", vulkan::shaders::conv_rows, 4, sizeof(rows_push), spec});
  };
  const std::uint32_t spec[] = {workgroup};
  const auto& cols_pipe = ctx.get_pipeline({"conv_cols", vulkan::shaders::conv_cols, 3, sizeof(cols_push), spec});
  vulkan::buffer src_buf(ctx, src_total), dst_buf(ctx, dst_total);
  vulkan::buffer param_buf(ctx, std::max<std::size_t>(params.size(), 1) * 4);
  vulkan::buffer tmp_buf(ctx, std::max<std::size_t>(band_floats, 4) * 4);
  vulkan::buffer acc_buf(ctx, need_acc ? std::max<std::size_t>(band_floats, 4) * 4 : 16);
  vulkan::commands cmd(ctx);

  // Uploads: rows packed (uint8 rows padded to whole words).
  std::vector<unsigned char> staging;
  unsigned char* src_host = static_cast<unsigned char*>(src_buf.mapped());
  if (!src_host) {
    staging.assign(src_total, 0);
    src_host = staging.data();
  }
  for (std::size_t n = 0; n < jobs.size(); ++n) {
    const image_work& w = work[n];
    for (const band& b : w.bands)
      for (std::size_t s = 0; s < b.window; ++s) {
        const std::ptrdiff_t t = static_cast<std::ptrdiff_t>(b.y0 + s) - static_cast<std::ptrdiff_t>(w.above);
        const std::ptrdiff_t m = border_index(t, static_cast<std::ptrdiff_t>(w.height), w.p.border.mode);
        unsigned char* to = src_host + b.base + s * w.in_row;
        if (m < 0) {
          std::memset(to, 0, w.in_row);  // never read: its table entry is -1
          continue;
        }
        std::memcpy(to, jobs[n].src.row(static_cast<std::size_t>(m)), w.elems * sizeof(In));
        if (in_u8) std::memset(to + w.elems, 0, w.in_row - w.elems);
      }
  }
  if (!staging.empty()) cmd.upload(src_buf, staging.data(), src_total);
  cmd.upload(param_buf, params.data(), params.size() * 4);

  for (std::size_t n = 0; n < jobs.size(); ++n) {
    const image_work& w = work[n];
    const auto E = static_cast<std::uint32_t>(w.elems);
    const vulkan::pipeline& row_pipe = rows_pipe(w.elems);
    const std::uint32_t tile = (w.elems >= 2048 ? wide_workgroup : workgroup) * per_invocation;
    const std::uint32_t groups_x = (E + tile - 1) / tile;
    for (const band& b : w.bands) {
      const rows_binding in{b.base, b.window * w.in_row, 0};
      const rows_binding out = bind_rows(w.dst_base, w.out_row, b.y0, b.rows, align);
      const vulkan::binding src_binding(src_buf, in.offset, in.range), dst_binding(dst_buf, out.offset, out.range);
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
        rp.ax = rp.kw / 2, rp.table = b.tables[0], rp.k_offset = w.taps[0], rp.mode = 0, rp.outside = outside;
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
        cols_push cp{in_offset, in_stride, in_u8, E, static_cast<std::uint32_t>(b.rows), b.tables[t],
                     w.taps[2 * t + 1], static_cast<std::uint32_t>(tm.ky.size()), outside};
        cmd.dispatch(cols_pipe, {src_binding, param_buf, tmp_binding}, cp, (E + workgroup - 1) / workgroup,
                     static_cast<std::uint32_t>((b.rows + rows_per_invocation - 1) / rows_per_invocation));
        cmd.barrier();
        double sum_y = 0;
        for (float k : tm.ky) sum_y += k;
        rp.in_offset = 0, rp.in_stride = E, rp.in_u8 = 0;
        rp.kw = static_cast<std::uint32_t>(tm.kx.size()), rp.kh = 1, rp.ax = rp.kw / 2;
        rp.table = no_table, rp.k_offset = w.taps[2 * t];
        rp.mode = terms == 1 ? 0u : t == 0 ? 1u : t + 1 < terms ? 2u : 3u;
        rp.outside = static_cast<float>(outside * sum_y);
        cmd.dispatch(row_pipe, {tmp_binding, param_buf, dst_binding, acc_binding}, rp, groups_x,
                     static_cast<std::uint32_t>(b.rows));
        cmd.barrier();
      }
    }
  }

  std::vector<unsigned char> readback;
  if (!dst_buf.mapped()) {
    readback.resize(dst_total);
    cmd.download(dst_buf, readback.data(), dst_total);
  }
  cmd.submit();

  // Only now, with every band done, the caller's images are written.
  const unsigned char* dst_host = dst_buf.mapped() ? static_cast<const unsigned char*>(dst_buf.mapped()) : readback.data();
  for (std::size_t n = 0; n < jobs.size(); ++n) {
    const image_work& w = work[n];
    for (std::size_t y = 0; y < w.height; ++y)
      std::memcpy(jobs[n].dst.row(y), dst_host + w.dst_base + y * w.out_row, w.elems * sizeof(Out));
  }
}

}  // namespace polykern::detail::conv
