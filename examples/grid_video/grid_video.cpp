// grid_video: lays photos out in a grid, slides the grid across the canvas, renders every
// frame with polykern::compose and streams the frames to ffmpeg. See docs/grid_video.md.
//
//   grid_video --images DIR | --synthetic N  --grid 4x4 --duration 10 --fps 30 --output out.mp4
//              [--size 1920x1080] [--policy scalar|simd|openmp|vulkan] [--encoder libx264|h264_nvenc|
//              h264_vaapi|h264_videotoolbox] [--ffmpeg PATH] [--speed PX_PER_S] [--repeat]
//              [--interpolation auto|bilinear|area|nearest] [--dump-frame N PATH] [--raw-output PATH]
//
// Frames are rendered while ffmpeg encodes: a writer thread feeds ffmpeg from a small pool
// of frame buffers (three frames in flight at most), so memory stays bounded and nothing
// touches the disk but ffmpeg's output.
#include <polykern/image.hpp>
#include <polykern/warp.hpp>
#if POLYKERN_HAS_VULKAN
#include <polykern/vulkan.hpp>
#endif

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <mutex>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "encoder.hpp"
#include "load_image.hpp"

namespace pk = polykern;
using u8 = std::uint8_t;
using clock_type = std::chrono::steady_clock;

namespace {

struct config {
  std::string images, output, policy = "simd", encoder = "libx264", ffmpeg = "ffmpeg", interpolation = "auto";
  std::string dump_path, raw_output;
  int synthetic = 0, cols = 4, rows = 4, width = 1920, height = 1080;
  double duration = 10, fps = 30, speed = -1;
  long dump_frame = -1;
  bool repeat = false;
};

[[noreturn]] void usage(const std::string& problem) {
  std::fprintf(stderr,
               "grid_video: %s\n"
               "usage: grid_video (--images DIR | --synthetic N) --output FILE [--grid COLSxROWS] [--duration S]\n"
               "                  [--fps F] [--size WxH] [--policy scalar|simd|openmp|vulkan] [--encoder NAME]\n"
               "                  [--ffmpeg PATH] [--speed PX_PER_S] [--repeat] [--interpolation auto|bilinear|area|nearest]\n"
               "                  [--dump-frame N PATH] [--raw-output PATH]\n",
               problem.c_str());
  std::exit(1);
}

bool parse_pair(const std::string& s, int& a, int& b) {
  const auto x = s.find('x');
  if (x == std::string::npos) return false;
  char* end = nullptr;
  a = static_cast<int>(std::strtol(s.c_str(), &end, 10));
  if (end != s.c_str() + x) return false;
  b = static_cast<int>(std::strtol(s.c_str() + x + 1, &end, 10));
  return *end == '\0' && a > 0 && b > 0;
}

double parse_number(const std::string& option, const std::string& s) {
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (s.empty() || *end != '\0' || !std::isfinite(v)) usage(option + " needs a number, got '" + s + "'");
  return v;
}

config parse(int argc, char** argv) {
  config c;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage(a + " needs a value");
      return argv[++i];
    };
    if (a == "--images") c.images = value();
    else if (a == "--synthetic") c.synthetic = static_cast<int>(parse_number(a, value()));
    else if (a == "--grid") { if (!parse_pair(value(), c.cols, c.rows)) usage("--grid needs COLSxROWS, e.g. 4x4"); }
    else if (a == "--size") { if (!parse_pair(value(), c.width, c.height)) usage("--size needs WxH, e.g. 1920x1080"); }
    else if (a == "--duration") c.duration = parse_number(a, value());
    else if (a == "--fps") c.fps = parse_number(a, value());
    else if (a == "--speed") c.speed = parse_number(a, value());
    else if (a == "--output") c.output = value();
    else if (a == "--policy") c.policy = value();
    else if (a == "--encoder") c.encoder = value();
    else if (a == "--ffmpeg") c.ffmpeg = value();
    else if (a == "--interpolation") c.interpolation = value();
    else if (a == "--repeat") c.repeat = true;
    else if (a == "--raw-output") c.raw_output = value();
    else if (a == "--dump-frame") {
      c.dump_frame = static_cast<long>(parse_number(a, value()));
      c.dump_path = value();
    } else if (a == "--help" || a == "-h") usage("make a video of a sliding grid of images");
    else usage("unknown option " + a);
  }
  if (c.images.empty() == (c.synthetic <= 0)) usage("give exactly one of --images DIR and --synthetic N (N >= 1)");
  if (c.output.empty() && c.raw_output.empty()) usage("--output is required");
  if (!(c.duration > 0) || !(c.fps > 0)) usage("--duration and --fps must be positive");
  if (c.width % 2 || c.height % 2) usage("--size must be even in both directions (yuv420p)");
  return c;
}

// ---- inputs ----

// A synthetic photo: a colour gradient, a disc and stripes, different for every index.
pk::image<u8> synthetic_photo(int index) {
  const std::size_t w = 640 + 64 * static_cast<std::size_t>(index % 3), h = 480;
  pk::image<u8> im(w, h, 3);
  const double hue = index * 0.61803398875;
  const double r0 = 0.5 + 0.5 * std::cos(6.2832 * hue), g0 = 0.5 + 0.5 * std::cos(6.2832 * (hue + 0.33)),
               b0 = 0.5 + 0.5 * std::cos(6.2832 * (hue + 0.67));
  for (std::size_t y = 0; y < h; ++y)
    for (std::size_t x = 0; x < w; ++x) {
      const double u = double(x) / w, v = double(y) / h;
      const double d = std::hypot(u - 0.5, (v - 0.5) * h / w);
      const double disc = d < 0.22 ? 1.0 : d < 0.24 ? (0.24 - d) / 0.02 : 0.0;
      const double stripes = 0.5 + 0.5 * std::sin(40 * (u + v) + index);
      const double base = 0.35 + 0.4 * v;
      im(x, y, 0) = static_cast<u8>(255 * std::clamp(base * r0 + 0.5 * disc * (1 - r0) + 0.1 * stripes, 0.0, 1.0));
      im(x, y, 1) = static_cast<u8>(255 * std::clamp(base * g0 + 0.5 * disc * (1 - g0) + 0.1 * stripes, 0.0, 1.0));
      im(x, y, 2) = static_cast<u8>(255 * std::clamp(base * b0 + 0.5 * disc * (1 - b0), 0.0, 1.0));
    }
  return im;
}

std::vector<pk::image<u8>> load_folder(const std::string& dir) {
  DIR* d = opendir(dir.c_str());
  if (!d) throw std::runtime_error("cannot read the image folder '" + dir + "': " + std::strerror(errno));
  std::vector<std::string> names;
  while (dirent* e = readdir(d))
    if (e->d_name[0] != '.') names.push_back(e->d_name);
  closedir(d);
  std::sort(names.begin(), names.end());
  std::vector<pk::image<u8>> images;
  for (const auto& n : names) {
    const std::string path = dir + "/" + n;
    struct stat st;
    if (stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    std::string why;
    auto im = grid_video::load_rgb(path, why);
    if (!im) {
      std::fprintf(stderr, "grid_video: warning: skipping %s: %s\n", path.c_str(), why.c_str());
      continue;
    }
    images.push_back(std::move(*im));
  }
  if (images.empty()) throw std::runtime_error("no readable images in '" + dir + "'");
  return images;
}

bool output_writable(const std::string& path, std::string& why) {
  const bool existed = access(path.c_str(), F_OK) == 0;
  std::FILE* f = std::fopen(path.c_str(), "ab");
  if (!f) {
    why = std::strerror(errno);
    return false;
  }
  std::fclose(f);
  if (!existed) std::remove(path.c_str());
  return true;
}

pk::interpolation interpolation_for(const std::string& name, double shrink) {
  if (name == "bilinear") return pk::interpolation::bilinear;
  if (name == "area") return pk::interpolation::area;
  if (name == "nearest") return pk::interpolation::nearest;
  if (name != "auto") usage("--interpolation must be auto, bilinear, area or nearest");
  // What a video-tile user wants: area when shrinking (no aliasing shimmer), bilinear otherwise.
  return shrink > 1.0 ? pk::interpolation::area : pk::interpolation::bilinear;
}

// ---- the frame pipeline ----

// A bounded hand-off between the renderer and the writer thread: `capacity` frame buffers
// cycle between them, so at most that many frames exist at once.
class frame_queue {
 public:
  frame_queue(std::size_t capacity, std::size_t width, std::size_t height) {
    for (std::size_t i = 0; i < capacity; ++i) free_.emplace_back(width, height, 3, u8{0});
  }
  pk::image<u8> take_free() {
    std::unique_lock lock(m_);
    cv_.wait(lock, [&] { return !free_.empty() || failed_; });
    if (failed_) return {};
    auto im = std::move(free_.front());
    free_.pop_front();
    return im;
  }
  void give_free(pk::image<u8> im) {
    std::lock_guard lock(m_);
    free_.push_back(std::move(im));
    cv_.notify_all();
  }
  void push(pk::image<u8> im) {
    std::lock_guard lock(m_);
    full_.push_back(std::move(im));
    cv_.notify_all();
  }
  std::optional<pk::image<u8>> pop() {  // empty when closed and drained, or failed
    std::unique_lock lock(m_);
    cv_.wait(lock, [&] { return !full_.empty() || closed_ || failed_; });
    if (failed_ || full_.empty()) return std::nullopt;
    auto im = std::move(full_.front());
    full_.pop_front();
    return im;
  }
  void close() {
    std::lock_guard lock(m_);
    closed_ = true;
    cv_.notify_all();
  }
  void fail(std::string why) {
    std::lock_guard lock(m_);
    failed_ = true;
    error_ = std::move(why);
    cv_.notify_all();
  }
  bool failed() {
    std::lock_guard lock(m_);
    return failed_;
  }
  std::string error() {
    std::lock_guard lock(m_);
    return error_;
  }

 private:
  std::mutex m_;
  std::condition_variable cv_;
  std::deque<pk::image<u8>> free_, full_;
  bool closed_ = false, failed_ = false;
  std::string error_;
};

// Where the frames go: ffmpeg, or a raw file (--raw-output, to time ffmpeg on its own).
struct sink {
  std::optional<grid_video::ffmpeg_encoder> ffmpeg;
  std::ofstream raw;
  void write(const pk::image<u8>& frame, std::size_t row_bytes) {
    if (ffmpeg) {
      ffmpeg->write_rows(frame.data(), row_bytes, frame.height(), frame.row_stride());
      return;
    }
    for (std::size_t y = 0; y < frame.height(); ++y)
      raw.write(reinterpret_cast<const char*>(frame.data() + static_cast<std::ptrdiff_t>(y) * frame.row_stride()),
                static_cast<std::streamsize>(row_bytes));
  }
};

std::string seconds(double s) {
  char b[32];
  std::snprintf(b, sizeof b, "%.1f s", s);
  return b;
}

template <class Policy>
int run(const Policy& policy, const config& c) {
  const auto t_start = clock_type::now();
  // Inputs.
  std::vector<pk::image<u8>> photos;
  if (c.synthetic > 0) {
    for (int i = 0; i < c.synthetic; ++i) photos.push_back(synthetic_photo(i));
  } else {
    photos = load_folder(c.images);
  }
  const int cells = c.cols * c.rows;
  if (cells > static_cast<int>(photos.size()) && !c.repeat)
    throw std::runtime_error("a " + std::to_string(c.cols) + "x" + std::to_string(c.rows) + " grid needs " +
                             std::to_string(cells) + " images but only " + std::to_string(photos.size()) +
                             " were loaded (use --repeat to reuse images, or a smaller --grid)");
  const int cell_w = c.width / c.cols, cell_h = c.height / c.rows;
  if (cell_w < 2 || cell_h < 2)
    throw std::runtime_error("a " + std::to_string(c.cols) + "x" + std::to_string(c.rows) + " grid is too fine for a " +
                             std::to_string(c.width) + "x" + std::to_string(c.height) + " canvas (cells under 2 pixels)");

  // Tiles: each photo cropped to the cell's aspect ratio (centred) and resized once.
  std::vector<pk::image<u8>> tiles;
  for (int i = 0; i < cells; ++i) {
    const auto& p = photos[static_cast<std::size_t>(i) % photos.size()];
    const double scale = std::max(double(cell_w) / p.width(), double(cell_h) / p.height());
    const auto crop_w = std::min(p.width(), static_cast<std::size_t>(std::lround(cell_w / scale)));
    const auto crop_h = std::min(p.height(), static_cast<std::size_t>(std::lround(cell_h / scale)));
    const std::size_t x0 = (p.width() - crop_w) / 2, y0 = (p.height() - crop_h) / 2;
    const pk::image_view<const u8> crop(p.data() + y0 * static_cast<std::size_t>(p.row_stride()) + x0 * 3, crop_w, crop_h, 3,
                                        p.row_stride());
    tiles.emplace_back(static_cast<std::size_t>(cell_w), static_cast<std::size_t>(cell_h), 3);
    pk::resize(policy, crop, tiles.back().view(), interpolation_for(c.interpolation, 1.0 / scale));
  }
  photos.clear();

  // The sink: check the output, pick the encoder, start ffmpeg.
  sink out;
  const std::size_t row_bytes = static_cast<std::size_t>(c.width) * 3;
  std::string encoder = c.encoder;
  if (!c.raw_output.empty()) {
    out.raw.open(c.raw_output, std::ios::binary);
    if (!out.raw) throw std::runtime_error("cannot write '" + c.raw_output + "': " + std::strerror(errno));
  } else {
    std::string why;
    if (!output_writable(c.output, why)) throw std::runtime_error("cannot write '" + c.output + "': " + why);
    std::string note;
    encoder = grid_video::choose_encoder(c.ffmpeg, c.encoder, c.width, c.height, &note);
    if (!note.empty()) std::fprintf(stderr, "grid_video: %s\n", note.c_str());
    grid_video::encoder_options o;
    o.ffmpeg = c.ffmpeg, o.encoder = encoder, o.width = c.width, o.height = c.height, o.fps = c.fps, o.output = c.output;
    out.ffmpeg.emplace(o);  // throws with a clear message when ffmpeg is missing
  }

  // Animation: the grid slides right at `speed` pixels per second and wraps around.
  const long frames = std::max(1L, std::lround(c.duration * c.fps));
  const double speed = c.speed >= 0 ? c.speed : c.width / 10.0;
  const double grid_w = double(cell_w) * c.cols;
  const auto frame_tiles = [&](long n) {
    std::vector<pk::tile<u8>> list;
    const double shift = std::fmod(speed * n / c.fps, grid_w);
    for (int r = 0; r < c.rows; ++r)
      for (int k = 0; k < c.cols; ++k) {
        const auto& t = tiles[static_cast<std::size_t>(r * c.cols + k)];
        const double x = k * double(cell_w) + shift, y = r * double(cell_h);
        list.push_back({t.view(), {{{1, 0, x}, {0, 1, y}}}});
        if (x + cell_w > grid_w) list.push_back({t.view(), {{{1, 0, x - grid_w}, {0, 1, y}}}});  // wrapped part
      }
    return list;
  };

#if POLYKERN_HAS_VULKAN
  // --policy vulkan: the tiles are uploaded once as device images and every frame is
  // composed on a device canvas; only the finished frame crosses back to the host. If the
  // device fails (none, out of memory, lost), the frames go on through `policy` (with_fallback).
  struct device_frames {
    std::vector<pk::vulkan::device_image<u8>> tiles;
    std::map<const u8*, std::size_t> index;  // host tile -> its device copy
    pk::vulkan::device_image<u8> canvas;
  };
  std::optional<device_frames> gpu;
  if (c.policy == "vulkan" && pk::exec::vulkan.available()) {
    try {
      auto& ctx = pk::vulkan::default_context();
      device_frames d{{}, {}, pk::vulkan::device_image<u8>(ctx, static_cast<std::size_t>(c.width),
                                                          static_cast<std::size_t>(c.height), 3)};
      for (std::size_t i = 0; i < tiles.size(); ++i) {
        d.tiles.emplace_back(ctx, tiles[i].view());
        d.index[tiles[i].data()] = i;
      }
      gpu = std::move(d);
    } catch (const pk::vulkan_error& e) {
      std::fprintf(stderr, "grid_video: device tiles unavailable (%s); composing from host tiles\n", e.what());
    }
  }
#endif
  const auto compose_frame = [&](const std::vector<pk::tile<u8>>& list, pk::image<u8>& frame) {
#if POLYKERN_HAS_VULKAN
    if (gpu) {
      try {
        std::vector<pk::vulkan::device_tile<u8>> device_list;
        device_list.reserve(list.size());
        for (const auto& t : list) device_list.push_back({&gpu->tiles[gpu->index.at(t.image.data)], t.to_canvas});
        pk::compose<pk::exec::vulkan_policy, u8>(pk::exec::vulkan, device_list, gpu->canvas);
        gpu->canvas.download(frame.view());
        return;
      } catch (const pk::vulkan_error& e) {
        std::fprintf(stderr, "grid_video: device compose failed (%s); composing from host tiles\n", e.what());
        gpu.reset();
      }
    }
#endif
    pk::compose(policy, list, frame.view());
  };

  // Render while a writer thread feeds the sink.
  frame_queue queue(3, static_cast<std::size_t>(c.width), static_cast<std::size_t>(c.height));
  std::thread writer([&] {
    try {
      while (auto frame = queue.pop()) {
        out.write(*frame, row_bytes);
        queue.give_free(std::move(*frame));
      }
    } catch (const std::exception& e) {
      queue.fail(e.what());
    }
  });
  const bool tty = isatty(STDERR_FILENO);
  double compose_seconds = 0;
  auto last_report = clock_type::now();
  const auto t_frames = clock_type::now();
  long done = 0;
  std::string failure;
  try {
    for (long n = 0; n < frames; ++n) {
      pk::image<u8> frame = queue.take_free();
      if (queue.failed()) break;
      const auto list = frame_tiles(n);
      const auto t0 = clock_type::now();
      compose_frame(list, frame);
      compose_seconds += std::chrono::duration<double>(clock_type::now() - t0).count();
      if (n == c.dump_frame) {
        std::ofstream dump(c.dump_path, std::ios::binary);
        for (std::size_t y = 0; y < frame.height(); ++y)
          dump.write(reinterpret_cast<const char*>(frame.view().row(y)), static_cast<std::streamsize>(row_bytes));
        if (!dump) throw std::runtime_error("cannot write '" + c.dump_path + "'");
      }
      queue.push(std::move(frame));
      done = n + 1;
      if (tty && std::chrono::duration<double>(clock_type::now() - last_report).count() > 0.25) {
        last_report = clock_type::now();
        const double elapsed = std::chrono::duration<double>(last_report - t_frames).count();
        const double rate = done / elapsed;
        std::fprintf(stderr, "\r\033[Kframe %ld/%ld  %.1f fps  %s left", done, frames, rate,
                     seconds((frames - done) / rate).c_str());
      }
    }
  } catch (const std::exception& e) {
    failure = e.what();
  }
  queue.close();
  writer.join();
  if (tty) std::fprintf(stderr, "\r\033[K");
  if (failure.empty() && queue.failed()) failure = queue.error();
  if (!failure.empty()) throw std::runtime_error(failure);

  std::string status = "wrote " + (c.raw_output.empty() ? c.output : c.raw_output);
  if (out.ffmpeg) {
    const auto r = out.ffmpeg->finish();
    if (!r.ok())
      throw std::runtime_error("ffmpeg failed (exit status " + std::to_string(r.exit_status) + ")" +
                               (r.stderr_tail.empty() ? "" : ": " + r.stderr_tail));
  } else {
    out.raw.close();
    if (!out.raw) throw std::runtime_error("writing '" + c.raw_output + "' failed");
  }
  const double total = std::chrono::duration<double>(clock_type::now() - t_frames).count();
  const double setup = std::chrono::duration<double>(t_frames - t_start).count();
  std::printf("%s: %ld frames %dx%d at %g fps, %s, policy %s\n", status.c_str(), frames, c.width, c.height, c.fps,
              c.raw_output.empty() ? encoder.c_str() : "raw rgb24", c.policy.c_str());
  std::printf("composition: %.1f fps (%.3f s for %ld frames)\n", frames / compose_seconds, compose_seconds, frames);
  std::printf("end to end:  %.1f fps (%.3f s, plus %.3f s loading and resizing)\n", frames / total, total, setup);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const config c = parse(argc, argv);
  try {
    if (c.policy == "scalar") return run(pk::exec::scalar, c);
    if (c.policy == "simd") return run(pk::exec::simd, c);
#if POLYKERN_HAS_OPENMP
    if (c.policy == "openmp") return run(pk::exec::openmp, c);
#endif
#if POLYKERN_HAS_VULKAN
    if (c.policy == "vulkan") {
#if POLYKERN_HAS_OPENMP
      // The GPU when it works, the CPU when it does not (no device, out of memory, lost).
      return run(pk::exec::with_fallback(pk::exec::vulkan, pk::exec::openmp), c);
#else
      return run(pk::exec::with_fallback(pk::exec::vulkan, pk::exec::simd), c);
#endif
    }
#endif
    usage("--policy must be one of scalar, simd, openmp, vulkan (as built)");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "grid_video: error: %s\n", e.what());
    return 2;
  }
}
