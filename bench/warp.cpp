// Benchmarks of the image warps (performance.md W10, W11):
//   W10.compose/<impl>/1080p        16 RGB8 1920x1080 tiles shrunk 4x into a 1080p grid (bilinear);
//                                   peer.opencv: cv::resize(INTER_LINEAR) of each tile into its cell
//   W10.compose.area/<impl>/1080p   the same with interpolation::area; peer: cv::resize(INTER_AREA)
//   W10.warp_affine/<impl>/1080p    1080p RGB8 rotated 10 degrees, scaled 1.05, bilinear, constant
//                                   border; peer: cv::warpAffine(INTER_LINEAR, BORDER_CONSTANT)
//   W10.resize/<impl>/1080p         one 1920x1080 RGB8 image resized to 480x270 (bilinear); peer cv::resize
//   W10.resize.area/<impl>/1080p    the same with interpolation::area; peer cv::resize(INTER_AREA)
//   W10.resize.up/<impl>/1080p      a 480x270 RGB8 image enlarged to 1920x1080 (bilinear); peer cv::resize
//   W11.frame/<impl>/1080p          one grid-video frame: 16 pre-shrunk 480x270 tiles (plus the 4
//                                   that wrap around) slid by a fractional offset; peer.opencv:
//                                   cv::warpAffine of each tile into its canvas rectangle
// Every result is checked once against the simd policy (bitwise for the CPU policies) or,
// for peers, against polykern within the documented tolerance, before it is timed.
// Peers use as many threads as the openmp policy (cv::setNumThreads).
#include <benchmark/benchmark.h>

#include "common.hpp"

#include <polykern/image.hpp>
#include <polykern/warp.hpp>
#if POLYKERN_HAS_VULKAN
#include <polykern/vulkan.hpp>
#endif
#if POLYKERN_BENCH_HAS_OPENCV
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#endif

#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

namespace pk = polykern;
using u8 = std::uint8_t;

namespace {

constexpr std::size_t W = 1920, H = 1080, C = 3;

// A smooth-ish photo stand-in: gradients plus a little noise, different per tile.
pk::image<u8> photo(unsigned seed) {
  pk::image<u8> im(W, H, C);
  std::mt19937 gen(seed);
  std::uniform_int_distribution<int> noise(0, 15);
  for (std::size_t y = 0; y < H; ++y) {
    u8* row = im.view().row(y);
    for (std::size_t x = 0; x < W; ++x)
      for (std::size_t c = 0; c < C; ++c)
        row[x * C + c] = static_cast<u8>((x * (c + 1) / 8 + y * (3 - c) / 5 + seed * 40 + static_cast<unsigned>(noise(gen))) & 255);
  }
  return im;
}

struct data {
  std::vector<pk::image<u8>> tiles, small;
  std::vector<pk::tile<u8>> grid, frame;
  pk::affine2<double> rotate;
  data() {
    for (unsigned i = 0; i < 16; ++i) tiles.push_back(photo(i));
    for (std::size_t i = 0; i < 16; ++i) {
      const double cx = static_cast<double>(i % 4) * 480, cy = static_cast<double>(i / 4) * 270;
      // Cell pixel centres cx + k sample the tile at 4k + 1.5 (OpenCV's resize mapping).
      grid.push_back({tiles[i].view(), {{{0.25, 0, cx - 0.375}, {0, 0.25, cy - 0.375}}}});
      small.emplace_back(480, 270, C);
      pk::resize(pk::exec::simd, tiles[i].view(), small.back().view(), pk::interpolation::area);
    }
    // A frame of the grid video: the grid slid right by 137.37 px, wrapping around.
    const double shift = 137.37;
    for (std::size_t i = 0; i < 16; ++i) {
      const double cx = static_cast<double>(i % 4) * 480 + shift, cy = static_cast<double>(i / 4) * 270;
      frame.push_back({small[i].view(), {{{1, 0, cx}, {0, 1, cy}}}});
      if (i % 4 == 3) frame.push_back({small[i].view(), {{{1, 0, cx - 1920}, {0, 1, cy}}}});
    }
    const double a = 1.05 * std::cos(10 * M_PI / 180), b = 1.05 * std::sin(10 * M_PI / 180);
    rotate = {{{a, -b, 960 - a * 960 + b * 540}, {b, a, 540 - b * 960 - a * 540}}};
  }
};
data& workload() {
  static data d;
  return d;
}

enum class task { compose, compose_area, warp, frame, resize, resize_area, resize_up };
constexpr int tasks = 7;

// The destination size of each task.
std::pair<std::size_t, std::size_t> out_size(task t) {
  return t == task::resize || t == task::resize_area ? std::pair<std::size_t, std::size_t>{480, 270}
                                                     : std::pair<std::size_t, std::size_t>{W, H};
}
pk::image<u8> blank(task t) { return pk::image<u8>(out_size(t).first, out_size(t).second, C, u8{0}); }

template <class Policy>
void run_task(const Policy& policy, task t, pk::image<u8>& out) {
  auto& d = workload();
  switch (t) {
    case task::compose: pk::compose(policy, d.grid, out.view()); break;
    case task::compose_area: pk::compose(policy, d.grid, out.view(), pk::interpolation::area); break;
    case task::warp: pk::warp_affine(policy, d.tiles[0].view(), d.rotate, out.view()); break;
    case task::frame: pk::compose(policy, d.frame, out.view()); break;
    case task::resize: pk::resize(policy, d.tiles[1].view(), out.view()); break;
    case task::resize_area: pk::resize(policy, d.tiles[1].view(), out.view(), pk::interpolation::area); break;
    case task::resize_up: pk::resize(policy, d.small[2].view(), out.view()); break;
  }
}

// The simd result of each task, computed once.
const pk::image<u8>& reference(task t) {
  static std::unique_ptr<pk::image<u8>> refs[tasks];
  auto& r = refs[static_cast<int>(t)];
  if (!r) {
    r = std::make_unique<pk::image<u8>>(blank(t));
    run_task(pk::exec::simd, t, *r);
  }
  return *r;
}

// Largest absolute difference and mean absolute difference.
std::pair<int, double> difference(const pk::image<u8>& a, const pk::image<u8>& b) {
  int worst = 0;
  double sum = 0;
  const std::size_t w = a.width(), h = a.height();
  for (std::size_t y = 0; y < h; ++y)
    for (std::size_t x = 0; x < w * C; ++x) {
      const int d = std::abs(int(a.view().row(y)[x]) - int(b.view().row(y)[x]));
      worst = std::max(worst, d), sum += d;
    }
  return {worst, sum / static_cast<double>(w * h * C)};
}

template <class Policy>
void bench_policy(benchmark::State& state, Policy policy, task t, bool exact) {
  pk::image<u8> out = blank(t);
  try {
    run_task(policy, t, out);
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
    return;
  }
  const auto [worst, mean] = difference(out, reference(t));
  if (exact ? worst != 0 : worst > 1) {
    state.SkipWithError(("result differs from the simd policy by up to " + std::to_string(worst)).c_str());
    return;
  }
  for (auto _ : state) {
    run_task(policy, t, out);
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(out.width() * out.height()));
}

#if POLYKERN_BENCH_HAS_OPENCV
using pk::bench::as_mat;

void opencv_task(task t, pk::image<u8>& out) {
  auto& d = workload();
  cv::Mat canvas = as_mat(out);
  switch (t) {
    case task::compose:
    case task::compose_area:
      for (std::size_t i = 0; i < 16; ++i) {
        cv::Mat cell = canvas(cv::Rect(int(i % 4) * 480, int(i / 4) * 270, 480, 270));
        cv::resize(as_mat(d.tiles[i]), cell, cell.size(), 0, 0, t == task::compose ? cv::INTER_LINEAR : cv::INTER_AREA);
      }
      break;
    case task::warp: {
      const auto& m = d.rotate.m;
      cv::Mat M = (cv::Mat_<double>(2, 3) << m[0][0], m[0][1], m[0][2], m[1][0], m[1][1], m[1][2]);
      cv::warpAffine(as_mat(d.tiles[0]), canvas, M, canvas.size(), cv::INTER_LINEAR, cv::BORDER_CONSTANT);
      break;
    }
    case task::frame:
      // Each tile into the canvas rectangle it covers, shifted by the fractional part.
      for (const auto& tl : d.frame) {
        const double tx = tl.to_canvas.m[0][2], ty = tl.to_canvas.m[1][2];
        const int x0 = std::max(0, int(std::ceil(tx - 0.5))), x1 = std::min(int(W), int(std::ceil(tx + 479.5)));
        const int y0 = std::max(0, int(std::ceil(ty - 0.5))), y1 = std::min(int(H), int(std::ceil(ty + 269.5)));
        if (x0 >= x1 || y0 >= y1) continue;
        cv::Mat roi = canvas(cv::Rect(x0, y0, x1 - x0, y1 - y0));
        cv::Mat M = (cv::Mat_<double>(2, 3) << 1, 0, tx - x0, 0, 1, ty - y0);
        const cv::Mat tile(int(tl.image.height), int(tl.image.width), CV_8UC3, const_cast<u8*>(tl.image.data),
                           static_cast<std::size_t>(tl.image.row_stride));
        cv::warpAffine(tile, roi, M, roi.size(), cv::INTER_LINEAR, cv::BORDER_REPLICATE);
      }
      break;
    case task::resize:
    case task::resize_area:
      cv::resize(as_mat(d.tiles[1]), canvas, canvas.size(), 0, 0, t == task::resize ? cv::INTER_LINEAR : cv::INTER_AREA);
      break;
    case task::resize_up: cv::resize(as_mat(d.small[2]), canvas, canvas.size(), 0, 0, cv::INTER_LINEAR); break;
  }
}
#endif

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
#if POLYKERN_BENCH_HAS_OPENCV
  const int threads = pk::bench::set_peer_threads();
#else
  const int threads = pk::bench::policy_threads();
#endif
  struct row {
    const char* name;
    task t;
  };
  const row rows[] = {{"W10.compose", task::compose},
                      {"W10.compose.area", task::compose_area},
                      {"W10.warp_affine", task::warp},
                      {"W10.resize", task::resize},
                      {"W10.resize.area", task::resize_area},
                      {"W10.resize.up", task::resize_up},
                      {"W11.frame", task::frame}};
  for (const auto& r : rows) {
    const std::string prefix = r.name;
    const task t = r.t;
    benchmark::RegisterBenchmark((prefix + "/scalar/1080p").c_str(),
                                 [t](benchmark::State& s) { bench_policy(s, pk::exec::scalar, t, true); })
        ->UseRealTime()->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark((prefix + "/simd/1080p").c_str(),
                                 [t](benchmark::State& s) { bench_policy(s, pk::exec::simd, t, true); })
        ->UseRealTime()->Unit(benchmark::kMillisecond);
#if POLYKERN_HAS_OPENMP
    benchmark::RegisterBenchmark((prefix + "/openmp/1080p").c_str(), [t, threads](benchmark::State& s) {
      bench_policy(s, pk::exec::openmp_policy{.threads = threads}, t, true);
    })->UseRealTime()->Unit(benchmark::kMillisecond);
#endif
#if POLYKERN_HAS_VULKAN
    // On lavapipe (a CPU device) a 1080p frame takes seconds: the minimum time is reached in one iteration.
    benchmark::RegisterBenchmark((prefix + "/vulkan/1080p").c_str(),
                                 [t](benchmark::State& s) { bench_policy(s, pk::exec::vulkan, t, false); })
        ->UseRealTime()->Unit(benchmark::kMillisecond);
#endif
#if POLYKERN_BENCH_HAS_OPENCV
    benchmark::RegisterBenchmark((prefix + "/peer.opencv/1080p").c_str(), [t](benchmark::State& s) {
      pk::image<u8> out = blank(t);
      opencv_task(t, out);
      // OpenCV rounds coordinates and weights to 1/32 (resize: 1/2048): close, not equal.
      const auto [worst, mean] = difference(out, reference(t));
      const int allowed = t == task::warp ? 8 : 1;  // warp: 1/32-pixel steps across the black border seam
      if (worst > allowed || mean > 0.25) {
        s.SkipWithError(("OpenCV differs from polykern by up to " + std::to_string(worst) + ", mean " + std::to_string(mean)).c_str());
        return;
      }
      for (auto _ : s) {
        opencv_task(t, out);
        benchmark::ClobberMemory();
      }
      s.SetItemsProcessed(s.iterations() * static_cast<std::int64_t>(out.width() * out.height()));
    })->UseRealTime()->Unit(benchmark::kMillisecond);
#endif
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
}
