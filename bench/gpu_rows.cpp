// Rows for bench/gpu.sh that the family benchmarks do not have: W1 (Gaussian k201, sigma
// 201/6, reflect) at 3840x2160 gray float, on openmp and on vulkan with host views, on
// vulkan with device-resident images once the kernels accept them, and a device-to-device
// copy of the same bytes, the simplest traffic there is: gpu.sh divides the bytes W1 must
// move by its time and by the copy's to report the fraction of the memory bandwidth reached.
#include <benchmark/benchmark.h>

#include <polykern/convolve.hpp>
#include <polykern/image.hpp>
#if POLYKERN_HAS_VULKAN
#include <polykern/vulkan.hpp>
#endif

#include <cstdint>
#include <string>

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
// True once gaussian_blur takes device images under a Vulkan policy (issue 9, kernels part).
template <class Img>
concept blur_takes_device_images = requires(const Img& src, Img& dst) {
  pk::gaussian_blur(pk::exec::vulkan, src, dst, 1.0, 0.0, 201, pk::border_spec{pk::border::reflect});
};

// A template, so that the row's body is only compiled once the overload exists.
template <class image>
void device_rows() {
  if constexpr (blur_takes_device_images<image>) {
    benchmark::RegisterBenchmark(("W1.device/vulkan/" + size).c_str(), [](benchmark::State& state) {
      auto& ctx = pk::vulkan::default_context();
      const image src(ctx, uhd().view());
      image dst(ctx, W, H, 1);
      w1(pk::exec::vulkan, src, dst);
      for (auto _ : state) w1(pk::exec::vulkan, src, dst);
      state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(W * H * sizeof(float)));
    })->UseRealTime()->Unit(benchmark::kMillisecond);
  }
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
    device_rows<pk::vulkan::device_image<float>>();
  } catch (const pk::vulkan_error& e) {
    benchmark::AddCustomContext("vulkan_device", std::string("none: ") + e.what());
  }
#endif
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
}
