// Rows for bench/gpu.sh that the family benchmarks do not have: W1 (Gaussian k201, sigma
// 201/6, reflect) at 3840x2160 gray float, on openmp and on vulkan with host views, on
// vulkan with device-resident images, and a device-to-device copy of the same bytes, the
// simplest traffic there is: gpu.sh divides the bytes W1 must move by its time and by the
// copy's to report the fraction of the memory bandwidth reached. Device-resident rows of
// the other families: W7 (transform_points, 10M points on vulkan::device_points) and W10
// (compose, 16 RGB8 1920x1080 device tiles shrunk 4x onto a 1080p device canvas).
#include <benchmark/benchmark.h>

#include <polykern/affine.hpp>
#include <polykern/convolve.hpp>
#include <polykern/image.hpp>
#include <polykern/warp.hpp>
#if POLYKERN_HAS_VULKAN
#include <polykern/vulkan.hpp>
#endif

#include <cstdint>
#include <string>
#include <vector>

namespace pk = polykern;

namespace {

constexpr std::size_t W = 3840, H = 2160;
const std::string size = "3840x2160";

const pk::image<float>& uhd() {
  static const pk::image<float> img = [] {
    pk::image<float> out(W, H, 1);
    for (std::size_t y = 0; y < H; ++y)
      for (std::size_t x = 0; x < W; ++x) out.view().row(y)[x] = static_cast<float>((x * 7 + y * 13) % 256) / 255.0f;
    return out;
  }();
  return img;
}

template <class P, class Src, class Dst>
void w1(const P& p, const Src& src, Dst&& dst) {  // host views (by value) or device images (by reference)
  pk::gaussian_blur(p, src, dst, 201 / 6.0, 0, 201, {pk::border::reflect});
}

template <class P>
void host_row(const std::string& name, const P& policy) {
  benchmark::RegisterBenchmark(("W1/" + name + "/" + size).c_str(), [policy](benchmark::State& state) {
    pk::image<float> dst(W, H, 1);
    try {
      w1(policy, uhd().view(), dst.view());
    } catch (const std::exception& e) {
      state.SkipWithError(e.what());
      return;
    }
    for (auto _ : state) {
      w1(policy, uhd().view(), dst.view());
      benchmark::ClobberMemory();
    }
    state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(W * H * sizeof(float)));
  })->UseRealTime()->Unit(benchmark::kMillisecond);
}

#if POLYKERN_HAS_VULKAN
void device_rows() {
  benchmark::RegisterBenchmark(("W1.device/vulkan/" + size).c_str(), [](benchmark::State& state) {
    auto& ctx = pk::vulkan::default_context();
    const pk::vulkan::device_image<float> src(ctx, uhd().view());
    pk::vulkan::device_image<float> dst(ctx, W, H, 1);
    w1(pk::exec::vulkan, src, dst);
    for (auto _ : state) w1(pk::exec::vulkan, src, dst);
    state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(W * H * sizeof(float)));
  })->UseRealTime()->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("W7.device/vulkan/10M", [](benchmark::State& state) {
    auto& ctx = pk::vulkan::default_context();
    const std::size_t n = 10'000'000;
    std::vector<float> host(n * 3);
    for (std::size_t i = 0; i < host.size(); ++i) host[i] = static_cast<float>(i % 1000) * 0.001f;
    const pk::vulkan::device_points<float> in(ctx, pk::points_view<const float>(host.data(), n));
    pk::vulkan::device_points<float> out(ctx, n);
    const pk::affine3<float> m{{{0.8f, -0.6f, 0.0f, 1.0f}, {0.6f, 0.8f, 0.0f, 2.0f}, {0.0f, 0.0f, 1.0f, 3.0f}}};
    pk::transform_points(pk::exec::vulkan, in, m, out);
    for (auto _ : state) pk::transform_points(pk::exec::vulkan, in, m, out);
    state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(2 * n * 3 * sizeof(float)));
  })->UseRealTime()->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("W10.compose.device/vulkan/1080p", [](benchmark::State& state) {
    auto& ctx = pk::vulkan::default_context();
    pk::image<std::uint8_t> host(1920, 1080, 3);
    for (std::size_t y = 0; y < 1080; ++y)
      for (std::size_t e = 0; e < 1920 * 3; ++e) host.view().row(y)[e] = static_cast<std::uint8_t>((e * 7 + y * 13) % 256);
    std::vector<pk::vulkan::device_image<std::uint8_t>> tiles;
    for (int i = 0; i < 16; ++i) tiles.emplace_back(ctx, pk::image_view<const std::uint8_t>(host.view()));
    std::vector<pk::vulkan::device_tile<std::uint8_t>> grid;
    for (int i = 0; i < 16; ++i)
      grid.push_back({&tiles[static_cast<std::size_t>(i)],
                      pk::affine2<double>{{{0.25, 0, 480.0 * (i % 4)}, {0, 0.25, 270.0 * (i / 4)}}}});
    pk::vulkan::device_image<std::uint8_t> canvas(ctx, 1920, 1080, 3);
    const std::span<const pk::vulkan::device_tile<std::uint8_t>> list(grid);
    pk::compose(pk::exec::vulkan, list, canvas);
    for (auto _ : state) pk::compose(pk::exec::vulkan, list, canvas);
    state.SetItemsProcessed(state.iterations() * 1920 * 1080);
  })->UseRealTime()->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark(("W1.copy/vulkan/" + size).c_str(), [](benchmark::State& state) {
    auto& ctx = pk::vulkan::default_context();
    const std::size_t bytes = W * H * sizeof(float);
    const pk::vulkan::buffer a(ctx, bytes), b(ctx, bytes);
    pk::vulkan::commands cmd(ctx);
    for (auto _ : state) {
      cmd.copy(a, b, bytes);
      cmd.submit();
    }
    state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(bytes));
  })->UseRealTime()->Unit(benchmark::kMillisecond);
}
#endif

}  // namespace

int main(int argc, char** argv) {
#if POLYKERN_HAS_OPENMP
  host_row("openmp", pk::exec::openmp);
#endif
#if POLYKERN_HAS_VULKAN
  try {
    const auto& info = pk::vulkan::default_context().info();
    benchmark::AddCustomContext("vulkan_device", info.name + " (" + info.type + ", " + info.driver + ")");
    host_row("vulkan", pk::exec::vulkan);
    device_rows();
  } catch (const pk::vulkan_error& e) {
    benchmark::AddCustomContext("vulkan_device", std::string("none: ") + e.what());
  }
#endif
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
}
