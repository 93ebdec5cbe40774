// Image warps, part 4: the Vulkan backend. Host side of shaders/warp.comp.
//
// The destination is processed in pieces (bands of rows, cut into columns only when a band
// is still too big). For a piece, every job (tile) that draws into it contributes the rectangle of its source that the band's taps can reach (after the
// border map), packed into one source buffer; its 40-word record, spans and tables go to a
// plan buffer. Jobs are grouped so that each group's sources fit one storage-buffer binding
// (ctx.max_binding_bytes()); each group is one dispatch, in order, so later tiles stay on
// top. A compose of tiles that fit one binding is one piece, one dispatch, one submission.
// Larger work gets more pieces (a piece and every one of its source rectangles must each
// fit a binding) and/or more groups. Every device buffer is created before any user
// memory is written, so a failure (vulkan_error) leaves the caller free to rerun the whole
// call elsewhere (exec::with_fallback): all pixels the call writes are written again.
#pragma once
#include "../../execution.hpp"
#if !POLYKERN_HAS_VULKAN
#error "backend/vulkan/warp.hpp needs POLYKERN_HAS_VULKAN=1: link the polykern::vulkan CMake target"
#endif
#include <bit>
#include <cstring>
#include <span>
#include <vector>

#include "../../detail/warp/plan.hpp"
#include "buffer.hpp"
#include "commands.hpp"
#include "context.hpp"
#include "device_data.hpp"
#include "shaders/warp.spv.hpp"

namespace polykern::detail::warp {

namespace gpu {

// Job record fields (keep in sync with shaders/warp.comp).
inline constexpr std::uint32_t job_words = 40;
enum field : std::uint32_t {
  KIND = 0, MODE = 1, VALUE = 2, SRC = 3, SW = 4, SH = 5, SSTRIDE = 6, RX = 7, RY = 8, RW = 9, RH = 10,
  X0 = 11, Y0 = 12, X1 = 13, Y1 = 14, SPANS = 15, OX = 16, OY = 17, CX = 18, CY = 24,
  XT_OFF = 30, XT_IDX = 31, XT_W = 32, YT_OFF = 33, YT_IDX = 34, YT_W = 35, NSUB = 36, SUB = 37,
};
inline constexpr std::uint32_t none = 0xFFFFFFFFu;
inline constexpr std::uint32_t local_size = 64;

struct push_constants {
  std::uint32_t width, rows, x0, y0, channels, is_float, stride, jobs;
};

// Words per row of `pixels` pixels: uint8 packs four bytes to a word.
template <class T>
inline std::size_t row_words(std::size_t pixels, std::size_t channels) {
  return std::is_same_v<T, std::uint8_t> ? (pixels * channels + 3) / 4 : pixels * channels;
}

struct rect {
  std::int32_t x0 = 0, y0 = 0, x1 = 0, y1 = 0;  // [x0, x1) x [y0, y1)
  std::size_t width() const { return static_cast<std::size_t>(x1 - x0); }
  std::size_t height() const { return static_cast<std::size_t>(y1 - y0); }
};

// The range of border-mapped indices of raw indices [lo, hi] on an axis of n pixels.
inline std::pair<std::int32_t, std::int32_t> mapped_range(std::int64_t lo, std::int64_t hi, std::int32_t n, border mode) {
  if (lo >= 0 && hi < n) return {static_cast<std::int32_t>(lo), static_cast<std::int32_t>(hi)};
  if (mode == border::constant || mode == border::replicate) {
    const auto a = static_cast<std::int32_t>(std::clamp<std::int64_t>(lo, 0, n - 1));
    const auto b = static_cast<std::int32_t>(std::clamp<std::int64_t>(hi, 0, n - 1));
    return {a, b};
  }
  if (hi - lo + 1 >= 2 * std::int64_t(n) + 2) return {0, n - 1};
  std::int32_t a = n - 1, b = 0;
  for (std::int64_t p = lo; p <= hi; ++p) {
    const auto i = static_cast<std::int32_t>(border_index(static_cast<std::ptrdiff_t>(p), n, mode));
    if (i >= 0) a = std::min(a, i), b = std::max(b, i);
  }
  return {std::min(a, b), b};
}

// The source rectangle job j reads while drawing the destination rectangle `d` (which
// meets j's region). Conservative by a pixel or two.
template <class T>
rect source_rect(const job<T>& j, const rect& d) {
  const auto w = static_cast<std::int32_t>(j.src.width), h = static_cast<std::int32_t>(j.src.height);
  const std::int32_t x0 = std::max(j.x0, d.x0), x1 = std::min(j.x1, d.x1);
  const std::int32_t y0 = std::max(j.y0, d.y0), y1 = std::min(j.y1, d.y1);
  rect r;
  if (j.kind == sampler::nearest_table || j.kind == sampler::area_table) {
    const auto range = [](const axis_table& t, std::int32_t from, std::int32_t to) {
      std::int32_t lo = std::numeric_limits<std::int32_t>::max(), hi = -1;
      for (std::int32_t i = from; i < to; ++i)
        for (std::int32_t k = t.offset[static_cast<std::size_t>(i)]; k < t.offset[static_cast<std::size_t>(i) + 1]; ++k)
          lo = std::min(lo, t.index[static_cast<std::size_t>(k)]), hi = std::max(hi, t.index[static_cast<std::size_t>(k)]);
      return std::pair{lo, hi};
    };
    const auto [lx, hx] = range(j.xt, x0 - j.x0, x1 - j.x0);
    const auto [ly, hy] = range(j.yt, y0 - j.y0, y1 - j.y0);
    r.x0 = std::max(lx, 0), r.x1 = std::min(hx + 1, w);
    r.y0 = std::max(ly, 0), r.y1 = std::min(hy + 1, h);
  } else {
    double lx = 1e300, hx = -1e300, ly = 1e300, hy = -1e300;
    for (double x : {x0 - 1.0, x1 + 0.0})
      for (double y : {y0 - 1.0, y1 + 0.0}) {
        const double sx = j.m[0][0] * x + j.m[0][1] * y + j.m[0][2], sy = j.m[1][0] * x + j.m[1][1] * y + j.m[1][2];
        lx = std::min(lx, sx), hx = std::max(hx, sx), ly = std::min(ly, sy), hy = std::max(hy, sy);
      }
    double reach = 0;  // supersample offsets
    for (float v : j.sub) reach = std::max(reach, std::abs(static_cast<double>(v)));
    const auto lo = [&](double v) { return static_cast<std::int64_t>(std::floor(v - reach)) - 2; };
    const auto hi = [&](double v) { return static_cast<std::int64_t>(std::floor(v + reach)) + 2; };
    const auto [ax, bx] = mapped_range(lo(lx), hi(hx), w, j.mode);
    const auto [ay, by] = mapped_range(lo(ly), hi(hy), h, j.mode);
    r.x0 = ax, r.x1 = bx + 1, r.y0 = ay, r.y1 = by + 1;
  }
  if (r.x0 >= r.x1 || r.y0 >= r.y1) r = {0, 0, 1, 1};  // nothing needed: keep one pixel so records stay valid
  return r;
}

template <class T>
std::size_t rect_bytes(const rect& r, std::size_t channels) {
  return r.height() * row_words<T>(r.width(), channels) * 4;
}

inline std::size_t align_up(std::size_t v, std::size_t a) { return (v + a - 1) / a * a; }

// One dispatch: jobs [first, last) of the band's active list.
struct group {
  std::size_t first = 0, last = 0;
  std::size_t src_offset = 0, src_bytes = 0;    // in the source buffer
  std::size_t meta_offset = 0, meta_bytes = 0;  // in the plan buffer
};
struct band {
  rect area;                        // the destination pixels this piece of work draws
  std::vector<std::size_t> active;  // indices of jobs drawing into the band
  std::vector<rect> rects;          // their source rectangles
  std::vector<group> groups;
  std::size_t src_bytes = 0, meta_bytes = 0;
};

template <class T>
std::size_t meta_words(const job<T>& j) {
  return job_words + j.spans.size() + j.sub.size() + j.xt.offset.size() + j.xt.index.size() + j.xt.weight.size() +
         j.yt.offset.size() + j.yt.index.size() + j.yt.weight.size();
}

// Pieces of `rows` x `cols` destination pixels; false if a piece or one of its source
// rectangles exceeds `limit`.
// The plan data (records, spans, tables) grows with the image's width and height, not its
// area, and is checked against the device's real limit `meta_limit` (tests lower `limit`
// to force chunking of the pixel data).
template <class T>
bool plan_bands(const std::vector<job<T>>& jobs, image_view<T> dst, std::int32_t rows, std::int32_t cols, std::size_t limit,
                std::size_t meta_limit, std::size_t alignment, std::vector<band>& out) {
  out.clear();
  const std::size_t channels = dst.channels;
  if (static_cast<std::size_t>(rows) * row_words<T>(static_cast<std::size_t>(cols), channels) * 4 > limit) return false;
  const auto height = static_cast<std::int32_t>(dst.height), width = static_cast<std::int32_t>(dst.width);
  for (std::int32_t ya = 0; ya < height; ya += rows)
    for (std::int32_t xa = 0; xa < width; xa += cols) {
      band b;
      b.area = {xa, ya, std::min(width, xa + cols), std::min(height, ya + rows)};
      for (std::size_t i = 0; i < jobs.size(); ++i) {
        const auto& j = jobs[i];
        if (j.y1 <= b.area.y0 || j.y0 >= b.area.y1 || j.x1 <= b.area.x0 || j.x0 >= b.area.x1) continue;
        const rect r = source_rect(j, b.area);
        if (rect_bytes<T>(r, channels) > limit) return false;
        b.active.push_back(i);
        b.rects.push_back(r);
      }
      // Group consecutive jobs while their sources fit one binding.
      for (std::size_t k = 0; k < b.active.size();) {
        group g;
        g.first = k;
        g.src_offset = b.src_bytes;
        g.meta_offset = b.meta_bytes;
        std::size_t words = 0;
        while (k < b.active.size()) {
          const std::size_t bytes = align_up(rect_bytes<T>(b.rects[k], channels), 4);
          if (k > g.first && g.src_bytes + bytes > limit) break;
          g.src_bytes += bytes;
          words += meta_words(jobs[b.active[k]]);
          ++k;
        }
        g.last = k;
        g.meta_bytes = words * 4;
        if (g.meta_bytes > meta_limit) return false;
        b.src_bytes = align_up(g.src_offset + g.src_bytes, alignment);
        b.meta_bytes = align_up(g.meta_offset + g.meta_bytes, alignment);
        b.groups.push_back(g);
      }
      if (!b.active.empty()) out.push_back(std::move(b));
    }
  return true;
}

inline std::uint32_t bits(float v) { return std::bit_cast<std::uint32_t>(v); }
inline std::uint32_t bits(std::int32_t v) { return static_cast<std::uint32_t>(v); }

// Writes j's record and appends its data to `meta` (group-relative word offsets); its
// source rectangle r lands at byte src_at of the group's source (rows starting on words).
template <class T>
void pack_job(const job<T>& j, const rect& r, std::size_t channels, std::uint32_t* record, std::vector<std::uint32_t>& meta,
              std::size_t src_at) {
  const auto at = [&] { return static_cast<std::uint32_t>(meta.size()); };
  const auto append = [&](const auto& values) {
    const std::uint32_t offset = at();
    for (auto v : values) meta.push_back(bits(v));
    return offset;
  };
  std::uint32_t* rec = record;
  rec[KIND] = static_cast<std::uint32_t>(j.kind);
  rec[MODE] = static_cast<std::uint32_t>(j.mode);
  rec[VALUE] = bits(j.value);
  rec[SRC] = static_cast<std::uint32_t>(src_at / 4);
  rec[SW] = static_cast<std::uint32_t>(j.src.width), rec[SH] = static_cast<std::uint32_t>(j.src.height);
  rec[SSTRIDE] = static_cast<std::uint32_t>(row_words<T>(r.width(), channels));
  rec[RX] = bits(r.x0), rec[RY] = bits(r.y0), rec[RW] = static_cast<std::uint32_t>(r.width());
  rec[RH] = static_cast<std::uint32_t>(r.height());
  rec[X0] = bits(j.x0), rec[Y0] = bits(j.y0), rec[X1] = bits(j.x1), rec[Y1] = bits(j.y1);
  rec[OX] = bits(j.k.ox), rec[OY] = bits(j.k.oy);
  const axis_coefs* axes[2] = {&j.k.x, &j.k.y};
  for (int a = 0; a < 2; ++a) {
    std::uint32_t* c = rec + (a == 0 ? CX : CY);
    c[0] = bits(axes[a]->a.hi), c[1] = bits(axes[a]->a.lo), c[2] = bits(axes[a]->b.hi);
    c[3] = bits(axes[a]->b.lo), c[4] = bits(axes[a]->c.hi), c[5] = bits(axes[a]->c.lo);
  }
  rec[SPANS] = j.spans.empty() ? none : append(j.spans);
  rec[XT_OFF] = append(j.xt.offset), rec[XT_IDX] = append(j.xt.index), rec[XT_W] = append(j.xt.weight);
  rec[YT_OFF] = append(j.yt.offset), rec[YT_IDX] = append(j.yt.index), rec[YT_W] = append(j.yt.weight);
  rec[NSUB] = static_cast<std::uint32_t>(j.sub.size() / 2);
  rec[SUB] = append(j.sub);
}

// Where the pixels of one call live. Host views: packed from (and unpacked into) the
// caller's memory through upload/download. Device images: copied on the device, and the
// canvas bound in place when one piece covers it; nothing but the plan crosses the bus.
template <class T>
struct host_io {
  const std::vector<job<T>>& jobs;
  image_view<T> dst;
  std::byte* src_area = nullptr;

  static constexpr bool binds_canvas = false;
  const vulkan::buffer* canvas() const { return nullptr; }
  void begin_sources(vulkan::commands& cmd, const vulkan::buffer& src_buf, std::size_t bytes) {
    src_area = static_cast<std::byte*>(cmd.upload_area(src_buf, bytes));
  }
  void source(vulkan::commands&, std::size_t job_index, const rect& r, std::size_t channels, const vulkan::buffer&,
              std::size_t at) {
    const job<T>& j = jobs[job_index];
    const std::size_t words = row_words<T>(r.width(), channels), bytes = r.width() * channels * sizeof(T);
    for (std::size_t y = 0; y < r.height(); ++y)
      std::memcpy(src_area + at + y * words * 4,
                  j.src.row(static_cast<std::size_t>(r.y0) + y) + static_cast<std::size_t>(r.x0) * channels, bytes);
  }
  T* user_row(const rect& a, std::size_t y) const {
    return dst.row(static_cast<std::size_t>(a.y0) + y) + static_cast<std::size_t>(a.x0) * dst.channels;
  }
  void load_band(vulkan::commands& cmd, const rect& a, const vulkan::buffer& band_buf) {
    const std::size_t words = row_words<T>(a.width(), dst.channels), bytes = a.width() * dst.channels * sizeof(T);
    auto* to = static_cast<std::byte*>(cmd.upload_area(band_buf, a.height() * words * 4));
    for (std::size_t y = 0; y < a.height(); ++y) std::memcpy(to + y * words * 4, user_row(a, y), bytes);
  }
  void store_band(vulkan::commands& cmd, const rect& a, const vulkan::buffer& band_buf) {
    const std::size_t words = row_words<T>(a.width(), dst.channels), bytes = a.width() * dst.channels * sizeof(T);
    cmd.download(band_buf, a.height() * words * 4, 0, [this, a, words, bytes](const void* data) {
      const auto* from = static_cast<const std::byte*>(data);
      for (std::size_t y = 0; y < a.height(); ++y) std::memcpy(user_row(a, y), from + y * words * 4, bytes);
    });
  }
};

template <class T>
struct device_io {
  std::span<const vulkan::device_image<T>* const> sources;  // per job
  vulkan::device_image<T>& dst;

  const vulkan::buffer* canvas() const { return &dst.storage(); }
  void begin_sources(vulkan::commands&, const vulkan::buffer&, std::size_t) {}
  void source(vulkan::commands& cmd, std::size_t job_index, const rect& r, std::size_t channels,
              const vulkan::buffer& src_buf, std::size_t at) {
    const vulkan::device_image<T>& img = *sources[job_index];
    const std::size_t words = row_words<T>(r.width(), channels), bytes = r.width() * channels * sizeof(T);
    std::vector<VkBufferCopy> regions;
    regions.reserve(r.height());
    for (std::size_t y = 0; y < r.height(); ++y)
      regions.push_back({(static_cast<std::size_t>(r.y0) + y) * img.row_pitch() + static_cast<std::size_t>(r.x0) * channels * sizeof(T),
                         at + y * words * 4, bytes});
    cmd.copy_regions(img.storage(), src_buf, regions);
  }
  std::vector<VkBufferCopy> band_rows(const rect& a, bool to_band) const {
    const std::size_t words = row_words<T>(a.width(), dst.channels()), bytes = a.width() * dst.channels() * sizeof(T);
    std::vector<VkBufferCopy> regions;
    for (std::size_t y = 0; y < a.height(); ++y) {
      const VkDeviceSize in_canvas =
          (static_cast<std::size_t>(a.y0) + y) * dst.row_pitch() + static_cast<std::size_t>(a.x0) * dst.channels() * sizeof(T);
      const VkDeviceSize in_band = y * words * 4;
      regions.push_back(to_band ? VkBufferCopy{in_canvas, in_band, bytes} : VkBufferCopy{in_band, in_canvas, bytes});
    }
    return regions;
  }
  void load_band(vulkan::commands& cmd, const rect& a, const vulkan::buffer& band_buf) {
    cmd.copy_regions(dst.storage(), band_buf, band_rows(a, true));
  }
  void store_band(vulkan::commands& cmd, const rect& a, const vulkan::buffer& band_buf) {
    cmd.copy_regions(band_buf, dst.storage(), band_rows(a, false));
  }
};

}  // namespace gpu

// The one device path. Pieces: the whole image if it fits, else halve the longer side until
// every piece and every source rectangle it needs fits a binding. A device canvas drawn in
// one piece is bound in place; otherwise each piece is loaded into a band buffer, drawn, and
// stored back (host: upload / download; device: copies).
template <class T, class Io>
void run_pieces(vulkan::context& ctx, const plan<T>& work, Io& io) {
  const std::vector<job<T>>& jobs = work.jobs;
  const image_view<T> dst = work.dst;  // its shape (a device canvas: no data)
  using namespace gpu;
  const std::size_t limit = ctx.max_binding_bytes();
  const std::size_t alignment = std::max<std::size_t>(ctx.info().min_storage_buffer_offset_alignment, 16);
  const std::size_t channels = dst.channels;

  std::vector<band> bands;
  auto rows = static_cast<std::int32_t>(dst.height), cols = static_cast<std::int32_t>(dst.width);
  const std::size_t meta_limit = ctx.info().max_storage_buffer_range;
  while (!plan_bands(jobs, dst, rows, cols, limit, meta_limit, alignment, bands)) {
    if (rows == 1 && cols == 1)
      throw vulkan_error("warp", vulkan::result_name(VK_ERROR_FEATURE_NOT_PRESENT),
                         "one destination pixel's source needs more than maxStorageBufferRange");
    if (rows >= cols) rows = (rows + 1) / 2;
    else cols = (cols + 1) / 2;
  }
  const bool one_piece = rows == static_cast<std::int32_t>(dst.height) && cols == static_cast<std::int32_t>(dst.width);
  const vulkan::buffer* in_place = one_piece ? io.canvas() : nullptr;
  // Every buffer before any user memory is written.
  std::size_t src_bytes = 4, meta_bytes = 4, dst_bytes = 4;
  for (const auto& b : bands) {
    src_bytes = std::max(src_bytes, b.src_bytes), meta_bytes = std::max(meta_bytes, b.meta_bytes);
    dst_bytes = std::max(dst_bytes, b.area.height() * row_words<T>(b.area.width(), channels) * 4);
  }
  vulkan::buffer src_buf(ctx, src_bytes), dst_buf(ctx, in_place ? 4 : dst_bytes), meta_buf(ctx, meta_bytes);
  const std::uint32_t spec[] = {local_size};
  const auto& pipe = ctx.get_pipeline({"warp", vulkan::shaders::warp, 3, sizeof(push_constants), spec});
  // Does every pixel of every band get written (then the band need not be loaded)?
  const bool covers_all = jobs.size() == 1 && jobs[0].spans.empty() && jobs[0].x0 == 0 && jobs[0].y0 == 0 &&
                          jobs[0].x1 == static_cast<std::int32_t>(dst.width) && jobs[0].y1 == static_cast<std::int32_t>(dst.height);

  vulkan::commands cmd(ctx);
  std::vector<std::uint32_t> meta_host;
  const auto& limits = ctx.info().max_workgroup_count;
  for (const auto& b : bands) {
    const std::size_t band_rows = b.area.height(), band_cols = b.area.width();
    const std::size_t dst_words = row_words<T>(band_cols, channels);
    const std::size_t band_bytes = band_rows * dst_words * 4;
    const vulkan::buffer& target = in_place ? *in_place : dst_buf;
    if (!covers_all && !in_place) io.load_band(cmd, b.area, dst_buf);
    io.begin_sources(cmd, src_buf, b.src_bytes);
    meta_host.assign(b.meta_bytes / 4, 0);
    for (const auto& g : b.groups) {
      std::vector<std::uint32_t> meta((g.last - g.first) * job_words, 0);
      std::size_t at = 0;
      for (std::size_t k = g.first; k < g.last; ++k) {
        std::uint32_t record[job_words] = {};
        pack_job(jobs[b.active[k]], b.rects[k], channels, record, meta, at);
        io.source(cmd, b.active[k], b.rects[k], channels, src_buf, g.src_offset + at);
        std::copy(record, record + job_words, meta.begin() + static_cast<std::ptrdiff_t>((k - g.first) * job_words));
        at += align_up(rect_bytes<T>(b.rects[k], channels), 4);
      }
      std::copy(meta.begin(), meta.end(), meta_host.begin() + static_cast<std::ptrdiff_t>(g.meta_offset / 4));
    }
    cmd.upload(meta_buf, meta_host.data(), meta_host.size() * 4);
    const bool is_float = std::is_same_v<T, float>;
    const std::size_t items = is_float ? band_cols : dst_words;
    const auto groups_x = static_cast<std::uint32_t>(std::min<std::size_t>((items + local_size - 1) / local_size, limits[0]));
    const auto groups_y = static_cast<std::uint32_t>(std::min<std::size_t>(band_rows, limits[1]));
    cmd.barrier();
    for (std::size_t gi = 0; gi < b.groups.size(); ++gi) {
      const auto& g = b.groups[gi];
      if (gi > 0) cmd.barrier();  // later groups draw over earlier ones
      const push_constants push{static_cast<std::uint32_t>(band_cols), static_cast<std::uint32_t>(band_rows),
                                static_cast<std::uint32_t>(b.area.x0), static_cast<std::uint32_t>(b.area.y0),
                                static_cast<std::uint32_t>(channels), is_float ? 1u : 0u,
                                static_cast<std::uint32_t>(dst_words), static_cast<std::uint32_t>(g.last - g.first)};
      cmd.dispatch(pipe,
                   {vulkan::binding(src_buf, g.src_offset, std::max<std::size_t>(g.src_bytes, 4)),
                    vulkan::binding(target, 0, band_bytes), vulkan::binding(meta_buf, g.meta_offset, g.meta_bytes)},
                   push, groups_x, groups_y);
    }
    if (!in_place) io.store_band(cmd, b.area, dst_buf);
    cmd.submit();
  }
}

// Host views: pack the source rectangles and the pieces from (and into) the caller's memory.
template <class T>
void run(vulkan_tag, const auto& policy, const plan<T>& work) {
  gpu::host_io<T> io{work.jobs, work.dst};
  run_pieces(context_of(policy), work, io);
}

// Device images (api.md §7): sources[i] is the image of work.jobs[i], drawn into canvas.
// The public entry point has checked shapes, contexts and aliasing.
template <class T>
struct device_plan {
  const plan<T>& work;  // jobs' src and dst views carry shapes only
  std::vector<const vulkan::device_image<T>*> sources;
  vulkan::device_image<T>* canvas;
};

template <class T>
void run(vulkan_tag, const auto& policy, const device_plan<T>& call) {
  gpu::device_io<T> io{call.sources, *call.canvas};
  run_pieces(context_of(policy), call.work, io);
}

}  // namespace polykern::detail::warp
