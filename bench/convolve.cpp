// Convolution benchmarks: the workloads W1-W4 of performance.md on every policy and method,
// with OpenCV 4.6 rows (cv::GaussianBlur, cv::filter2D, cv::sepFilter2D) in the same binary.
// Names: W<id>[.<variant>]/<impl>/<size>. Every row checks its result once, against an
// OpenCV result (or the openmp policy's when OpenCV is absent), before it is timed.
//
//   bench_convolve --benchmark_filter='W1/' --benchmark_repetitions=3
//
// Scalar and Vulkan (lavapipe is a CPU device here) rows on the 2000x3000 workloads run one
// iteration; direct 2D with 201x201 kernels runs on a 200x300 crop (named so).
#include <benchmark/benchmark.h>

#include <polykern/convolve.hpp>
#include <polykern/image.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#if POLYKERN_BENCH_HAS_OPENCV
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#endif

#include "common.hpp"

namespace pk = polykern;

namespace {

constexpr std::size_t W = 2000, H = 3000;

template <class T>
pk::image<T> random_image(std::size_t w, std::size_t h, std::size_t c, unsigned seed) {
  return pk::bench::noise_image<T>(w, h, c, seed);
}

// A smooth-ish photo stand-in is not needed: timings do not depend on pixel values.
const pk::image<float>& gray() {
  static const auto img = random_image<float>(W, H, 1, 1);
  return img;
}
const pk::image<float>& gray_crop() {  // 200x300, for direct 2D with 201x201 kernels
  static const auto img = random_image<float>(200, 300, 1, 2);
  return img;
}
const pk::image<std::uint8_t>& gray8() {  // small uint8 kernels
  static const auto img = random_image<std::uint8_t>(W, H, 1, 6);
  return img;
}
const pk::image<std::uint8_t>& rgb8() {
  static const auto img = random_image<std::uint8_t>(1920, 1080, 3, 3);
  return img;
}

struct kernel {
  std::size_t w = 0, h = 0;
  std::vector<float> k;
  pk::image_view<const float> view() const { return {k.data(), w, h}; }
};
kernel random_kernel(std::size_t n, unsigned seed) {
  kernel k{n, n, std::vector<float>(n * n)};
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(-1.0f, 1.0f);
  double sum = 0;
  for (auto& v : k.k) sum += std::abs(v = d(rng));
  for (auto& v : k.k) v = static_cast<float>(v / sum);
  return k;
}
kernel outer_sum(const std::vector<std::pair<std::vector<float>, double>>& parts, std::size_t n) {
  kernel k{n, n, std::vector<float>(n * n, 0.0f)};
  for (const auto& [g, weight] : parts) {
    const std::size_t o = (n - g.size()) / 2;
    for (std::size_t j = 0; j < g.size(); ++j)
      for (std::size_t i = 0; i < g.size(); ++i) k.k[(o + j) * n + o + i] += static_cast<float>(weight * g[i] * g[j]);
  }
  return k;
}

const std::vector<float>& g201() {
  static const auto g = pk::gaussian_kernel(201, 201 / 6.0);
  return g;
}
const kernel& w1_kernel() {
  static const auto k = outer_sum({{g201(), 1.0}}, 201);
  return k;
}
struct halation_taps {
  std::vector<float> g61 = pk::gaussian_kernel(61, 8), g121 = pk::gaussian_kernel(121, 16),
                     g151 = pk::gaussian_kernel(151, 32);
};
const halation_taps& w2_taps() {
  static const halation_taps t;
  return t;
}
const kernel& w2_kernel() {
  static const auto k = outer_sum({{w2_taps().g61, 0.5}, {w2_taps().g121, 0.3}, {w2_taps().g151, 0.2}}, 151);
  return k;
}
const kernel& w3_kernel() {
  static const auto k = random_kernel(201, 4);
  return k;
}
const kernel& w4_kernel(std::size_t n) {
  static std::map<std::size_t, kernel> cache;
  auto it = cache.find(n);
  if (it == cache.end()) it = cache.emplace(n, random_kernel(n, 5 + static_cast<unsigned>(n))).first;
  return it->second;
}

// ---- workloads: one function per (workload, method), templated on the policy -----------

using float_image = pk::image<float>;

template <class P>
void w1_gaussian(const P& p, const float_image& src, float_image& dst) {
  pk::gaussian_blur(p, src.view(), dst.view(), 201 / 6.0, 0, 201, {pk::border::reflect});
}
template <class P>
std::function<void(const float_image&, float_image&)> correlate_with(const P& p, const kernel& k, pk::conv_method m) {
  return [p, &k, m](const float_image& src, float_image& dst) {
    pk::correlate(p, src.view(), k.view(), dst.view(), {pk::border::reflect}, m);
  };
}
// The film app's way: three blurs and a weighted sum (two extra image-sized buffers).
template <class P>
void w2_three_blurs(const P& p, const float_image& src, float_image& dst) {
  thread_local float_image a, b;
  if (a.width() != src.width() || a.height() != src.height()) a = float_image(src.width(), src.height(), 1), b = a;
  const pk::border_spec reflect{pk::border::reflect};
  pk::gaussian_blur(p, src.view(), a.view(), 8, 0, 61, reflect);
  pk::gaussian_blur(p, src.view(), b.view(), 16, 0, 121, reflect);
  pk::gaussian_blur(p, src.view(), dst.view(), 32, 0, 151, reflect);
  for (std::size_t y = 0; y < src.height(); ++y) {
    float* d = dst.view().row(y);
    const float *pa = a.view().row(y), *pb = b.view().row(y);
    for (std::size_t x = 0; x < src.width(); ++x) d[x] = 0.5f * pa[x] + 0.3f * pb[x] + 0.2f * d[x];
  }
}
// polykern's way: one pass summing three weighted separable terms.
template <class P>
void w2_fused(const P& p, const float_image& src, float_image& dst) {
  const auto& t = w2_taps();
  pk::separable_correlate(p, src.view(), {{t.g61, t.g61, 0.5}, {t.g121, t.g121, 0.3}, {t.g151, t.g151, 0.2}},
                          dst.view(), {pk::border::reflect});
}

#if POLYKERN_BENCH_HAS_OPENCV
// The OpenCV peers, one function each, for both orientations.
void opencv_w1(const float_image& s, float_image& d) {
  cv::Mat out = pk::bench::as_mat(d);
  cv::GaussianBlur(pk::bench::as_mat(s), out, cv::Size(201, 201), 201 / 6.0, 0, cv::BORDER_REFLECT);
}
void opencv_w2(const float_image& s, float_image& d) {
  thread_local cv::Mat a, b, c;
  const cv::Mat src = pk::bench::as_mat(s);
  cv::GaussianBlur(src, a, cv::Size(61, 61), 8, 0, cv::BORDER_REFLECT);
  cv::GaussianBlur(src, b, cv::Size(121, 121), 16, 0, cv::BORDER_REFLECT);
  cv::GaussianBlur(src, c, cv::Size(151, 151), 32, 0, cv::BORDER_REFLECT);
  cv::Mat out = pk::bench::as_mat(d);
  cv::addWeighted(a, 0.5, b, 0.3, 0, out);
  cv::scaleAdd(c, 0.2, out, out);
}
std::function<void(const float_image&, float_image&)> opencv_filter2d(const kernel& k) {
  return [&k](const float_image& s, float_image& d) {
    cv::Mat out = pk::bench::as_mat(d);
    cv::filter2D(pk::bench::as_mat(s), out, CV_32F, cv::Mat(int(k.h), int(k.w), CV_32F, const_cast<float*>(k.k.data())),
                 cv::Point(-1, -1), 0, cv::BORDER_REFLECT);
  };
}
#endif

// ---- checking --------------------------------------------------------------------------

// max |a - b| / max |b|
template <class T>
double relative_error(const pk::image<T>& a, const pk::image<T>& b) {
  double diff = 0, scale = 0;
  for (std::size_t y = 0; y < a.height(); ++y)
    for (std::size_t e = 0; e < a.width() * a.channels(); ++e) {
      const double x = a.view().row(y)[e], r = b.view().row(y)[e];
      diff = std::max(diff, std::abs(x - r));
      scale = std::max(scale, std::abs(r));
    }
  return diff / std::max(scale, 1e-30);
}

// max |a - b| (uint8: in steps of 1)
template <class T>
double max_difference(const pk::image<T>& a, const pk::image<T>& b) {
  double diff = 0;
  for (std::size_t y = 0; y < a.height(); ++y)
    for (std::size_t e = 0; e < a.width() * a.channels(); ++e)
      diff = std::max(diff, std::abs(static_cast<double>(a.view().row(y)[e]) - b.view().row(y)[e]));
  return diff;
}

// The reference result of a workload, computed once (OpenCV when available).
template <class T>
struct reference {
  reference() = default;
  explicit reference(std::function<void(pk::image<T>&)> how) : make(std::move(how)) {}
  std::function<void(pk::image<T>&)> make;
  std::unique_ptr<pk::image<T>> result;
  const pk::image<T>& get(std::size_t w, std::size_t h, std::size_t c) {
    if (!result) {
      result = std::make_unique<pk::image<T>>(w, h, c);
      make(*result);
    }
    return *result;
  }
};

#if POLYKERN_BENCH_HAS_OPENCV
using pk::bench::as_mat;
// OpenCV on as many threads as the openmp policy.
const int opencv_threads = pk::bench::set_peer_threads();
#endif

// Registers one row: `run` is timed; its first result is compared with `ref` (tolerance
// relative to the reference's largest value; uint8: the largest difference, 1 or 2).
template <class T>
void add(const std::string& name, const pk::image<T>& (*input)(), reference<T>* ref, double tolerance,
         std::function<void(const pk::image<T>&, pk::image<T>&)> run, int iterations = 0) {
  auto* b = benchmark::RegisterBenchmark(name.c_str(), [=](benchmark::State& state) {
    const auto& src = input();
    pk::image<T> dst(src.width(), src.height(), src.channels());
    try {
      run(src, dst);
    } catch (const std::exception& e) {
      state.SkipWithError(e.what());
      return;
    }
    if (ref) {
      const double err = std::is_same_v<T, std::uint8_t>
                             ? max_difference(dst, ref->get(src.width(), src.height(), src.channels()))
                             : relative_error(dst, ref->get(src.width(), src.height(), src.channels()));
      if (err > tolerance) {
        state.SkipWithError(("wrong result: error " + std::to_string(err)).c_str());
        return;
      }
    }
    for (auto _ : state) {
      run(src, dst);
      benchmark::ClobberMemory();
    }
    state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(src.width() * src.height()));
  });
  b->UseRealTime()->Unit(benchmark::kMillisecond);
  if (iterations) b->Iterations(iterations);
}

using pk::bench::size_name;

// For each policy: a name and a function that calls f(policy).
template <class F>
void for_policies(F&& f) {
  f(std::string("scalar"), pk::exec::scalar);
  f(std::string("simd"), pk::exec::simd);
#if POLYKERN_HAS_OPENMP
  f(std::string("openmp"), pk::exec::openmp);
#endif
#if POLYKERN_HAS_VULKAN
  f(std::string("vulkan"), pk::exec::vulkan);
#endif
}

const char* method_name(pk::conv_method m) {
  switch (m) {
    case pk::conv_method::automatic: return "automatic";
    case pk::conv_method::direct: return "direct";
    case pk::conv_method::separable: return "separable";
    case pk::conv_method::low_rank: return "low_rank";
    case pk::conv_method::fft: return "fft";
  }
  return "?";
}

void register_all() {
  const std::string big = size_name(W, H), crop = size_name(200, 300);
  // Slow rows (one thread without SIMD, or lavapipe) run once on the 2000x3000 workloads.
  const auto once = [](const std::string& policy) { return policy == "scalar" || policy == "vulkan" ? 1 : 0; };

  // ---- W1: Gaussian k201 sigma 201/6, reflect ----
  static reference<float> w1_ref{[](float_image& out) {
#if POLYKERN_BENCH_HAS_OPENCV
    cv::Mat dst = as_mat(out);
    cv::GaussianBlur(as_mat(gray()), dst, cv::Size(201, 201), 201 / 6.0, 0, cv::BORDER_REFLECT);
#else
    w1_gaussian(pk::exec::openmp, gray(), out);
#endif
  }};
  static reference<float> w1_crop_ref{[](float_image& out) {
    pk::correlate(pk::exec::openmp, gray_crop().view(), w1_kernel().view(), out.view(), {pk::border::reflect},
                  pk::conv_method::separable);
  }};
  for_policies([&](const std::string& name, const auto& p) {
    add<float>("W1/" + name + "/" + big, gray, &w1_ref, 1e-4,
               [p](const float_image& s, float_image& d) { w1_gaussian(p, s, d); }, once(name));
  });
#if POLYKERN_HAS_OPENMP
  for (auto m : {pk::conv_method::automatic, pk::conv_method::separable, pk::conv_method::low_rank, pk::conv_method::fft})
    add<float>(std::string("W1/openmp.") + method_name(m) + "/" + big, gray, &w1_ref, 1e-4,
               correlate_with(pk::exec::openmp, w1_kernel(), m));
  add<float>("W1/openmp.direct/" + crop, gray_crop, &w1_crop_ref, 1e-4,
             correlate_with(pk::exec::openmp, w1_kernel(), pk::conv_method::direct));
#endif
#if POLYKERN_BENCH_HAS_OPENCV
  add<float>("W1/peer.opencv/" + big, gray, &w1_ref, 1e-4, opencv_w1);
  add<float>("W1/peer.opencv.sepFilter2D/" + big, gray, &w1_ref, 1e-4, [](const float_image& s, float_image& d) {
    cv::Mat out = as_mat(d);
    const cv::Mat g(g201());
    cv::sepFilter2D(as_mat(s), out, CV_32F, g, g, cv::Point(-1, -1), 0, cv::BORDER_REFLECT);
  });
#endif

  // ---- W2: halation 0.5 G(61, 8) + 0.3 G(121, 16) + 0.2 G(151, 32) ----
  static reference<float> w2_ref{[](float_image& out) {
#if POLYKERN_BENCH_HAS_OPENCV
    cv::Mat a, b, c;
    const cv::Mat s = as_mat(gray());
    cv::GaussianBlur(s, a, cv::Size(61, 61), 8, 0, cv::BORDER_REFLECT);
    cv::GaussianBlur(s, b, cv::Size(121, 121), 16, 0, cv::BORDER_REFLECT);
    cv::GaussianBlur(s, c, cv::Size(151, 151), 32, 0, cv::BORDER_REFLECT);
    cv::Mat dst = as_mat(out);
    dst = 0.5 * a + 0.3 * b + 0.2 * c;
#else
    w2_fused(pk::exec::openmp, gray(), out);
#endif
  }};
  for_policies([&](const std::string& name, const auto& p) {
    add<float>("W2/" + name + "/" + big, gray, &w2_ref, 1e-4,
               [p](const float_image& s, float_image& d) { w2_fused(p, s, d); }, once(name));
  });
#if POLYKERN_HAS_OPENMP
  add<float>("W2.three_blurs/openmp/" + big, gray, &w2_ref, 1e-4,
             [](const float_image& s, float_image& d) { w2_three_blurs(pk::exec::openmp, s, d); });
  for (auto m : {pk::conv_method::automatic, pk::conv_method::low_rank, pk::conv_method::fft})
    add<float>(std::string("W2/openmp.") + method_name(m) + "/" + big, gray, &w2_ref, 1e-4,
               correlate_with(pk::exec::openmp, w2_kernel(), m));
#endif
#if POLYKERN_BENCH_HAS_OPENCV
  add<float>("W2/peer.opencv/" + big, gray, &w2_ref, 1e-4, opencv_w2);
#endif

  // ---- W3: random full-rank 201x201 ----
  static reference<float> w3_ref{[](float_image& out) {
#if POLYKERN_BENCH_HAS_OPENCV
    cv::Mat dst = as_mat(out);
    cv::filter2D(as_mat(gray()), dst, CV_32F, cv::Mat(201, 201, CV_32F, const_cast<float*>(w3_kernel().k.data())),
                 cv::Point(-1, -1), 0, cv::BORDER_REFLECT);
#else
    correlate_with(pk::exec::openmp, w3_kernel(), pk::conv_method::fft)(gray(), out);
#endif
  }};
  static reference<float> w3_crop_ref{[](float_image& out) {
    correlate_with(pk::exec::openmp, w3_kernel(), pk::conv_method::fft)(gray_crop(), out);
  }};
  for_policies([&](const std::string& name, const auto& p) {
    if (name == "vulkan") {  // no FFT on the GPU: direct 2D, on the crop
      add<float>("W3/vulkan/" + crop, gray_crop, &w3_crop_ref, 1e-3,
                 correlate_with(p, w3_kernel(), pk::conv_method::automatic), 1);
      return;
    }
    add<float>("W3/" + name + "/" + big, gray, &w3_ref, 1e-3,
               correlate_with(p, w3_kernel(), pk::conv_method::automatic), once(name));
  });
#if POLYKERN_HAS_OPENMP
  add<float>("W3/openmp.fft/" + big, gray, &w3_ref, 1e-3, correlate_with(pk::exec::openmp, w3_kernel(), pk::conv_method::fft));
  add<float>("W3/openmp.direct/" + crop, gray_crop, &w3_crop_ref, 1e-3,
             correlate_with(pk::exec::openmp, w3_kernel(), pk::conv_method::direct));
#endif
#if POLYKERN_BENCH_HAS_OPENCV
  add<float>("W3/peer.opencv/" + big, gray, &w3_ref, 1e-3, opencv_filter2d(w3_kernel()));
#endif

  // ---- W4: random 3x3, 5x5, 7x7 and 15x15 on 2000x3000 (float, and uint8 up to 7x7);
  // Gaussian k31 sigma 5 on 1920x1080 RGB8 ----
  for (std::size_t n : {std::size_t{3}, std::size_t{5}, std::size_t{7}, std::size_t{15}}) {
    const std::string wl = "W4." + std::to_string(n) + "x" + std::to_string(n);
    static std::map<std::size_t, reference<float>> refs;
    refs[n].make = [n](float_image& out) {
#if POLYKERN_BENCH_HAS_OPENCV
      cv::Mat dst = as_mat(out);
      cv::filter2D(as_mat(gray()), dst, CV_32F, cv::Mat(int(n), int(n), CV_32F, const_cast<float*>(w4_kernel(n).k.data())),
                   cv::Point(-1, -1), 0, cv::BORDER_REFLECT);
#else
      correlate_with(pk::exec::openmp, w4_kernel(n), pk::conv_method::direct)(gray(), out);
#endif
    };
    reference<float>* ref = &refs[n];
    for_policies([&](const std::string& name, const auto& p) {
      add<float>(wl + "/" + name + "/" + big, gray, ref, 1e-4,
                 correlate_with(p, w4_kernel(n), pk::conv_method::automatic), once(name));
    });
#if POLYKERN_HAS_OPENMP
    for (auto m : {pk::conv_method::direct, pk::conv_method::low_rank, pk::conv_method::fft})
      add<float>(wl + "/openmp." + method_name(m) + "/" + big, gray, ref, 1e-4,
                 correlate_with(pk::exec::openmp, w4_kernel(n), m));
#endif
#if POLYKERN_BENCH_HAS_OPENCV
    add<float>(wl + "/peer.opencv/" + big, gray, ref, 1e-4, opencv_filter2d(w4_kernel(n)));
#endif
  }
  using u8_image = pk::image<std::uint8_t>;
  for (std::size_t n : {std::size_t{3}, std::size_t{5}, std::size_t{7}}) {
    const std::string wl = "W4.u8_" + std::to_string(n) + "x" + std::to_string(n);
    static std::map<std::size_t, reference<std::uint8_t>> refs;
    refs[n].make = [n](u8_image& out) {
#if POLYKERN_BENCH_HAS_OPENCV
      cv::Mat dst = as_mat(out);
      cv::filter2D(as_mat(gray8()), dst, CV_8U, cv::Mat(int(n), int(n), CV_32F, const_cast<float*>(w4_kernel(n).k.data())),
                   cv::Point(-1, -1), 0, cv::BORDER_REFLECT);
#else
      pk::correlate(pk::exec::openmp, gray8().view(), w4_kernel(n).view(), out.view(), {pk::border::reflect},
                    pk::conv_method::direct);
#endif
    };
    reference<std::uint8_t>* ref = &refs[n];
    for_policies([&](const std::string& name, const auto& p) {
      if (name == "scalar" || name == "vulkan") return;
      add<std::uint8_t>(wl + "/" + name + "/" + big, gray8, ref, 1.0, [p, n](const u8_image& s, u8_image& d) {
        pk::correlate(p, s.view(), w4_kernel(n).view(), d.view(), {pk::border::reflect});
      });
    });
#if POLYKERN_BENCH_HAS_OPENCV
    add<std::uint8_t>(wl + "/peer.opencv/" + big, gray8, ref, 1.0, [n](const u8_image& s, u8_image& d) {
      cv::Mat out = as_mat(d);
      cv::filter2D(as_mat(s), out, CV_8U, cv::Mat(int(n), int(n), CV_32F, const_cast<float*>(w4_kernel(n).k.data())),
                   cv::Point(-1, -1), 0, cv::BORDER_REFLECT);
    });
#endif
  }
  static reference<std::uint8_t> rgb_ref{[](u8_image& out) {
#if POLYKERN_BENCH_HAS_OPENCV
    cv::Mat dst = as_mat(out);
    cv::GaussianBlur(as_mat(rgb8()), dst, cv::Size(31, 31), 5, 0, cv::BORDER_REFLECT);
#else
    pk::gaussian_blur(pk::exec::openmp, rgb8().view(), out.view(), 5, 0, 31, {pk::border::reflect});
#endif
  }};
  const std::string hd = size_name(1920, 1080);
  for_policies([&](const std::string& name, const auto& p) {
    add<std::uint8_t>("W4.rgb8_k31/" + name + "/" + hd, rgb8, &rgb_ref, 2.0,
                      [p](const u8_image& s, u8_image& d) {
                        pk::gaussian_blur(p, s.view(), d.view(), 5, 0, 31, {pk::border::reflect});
                      },
                      name == "vulkan" ? 1 : 0);
  });
#if POLYKERN_BENCH_HAS_OPENCV
  add<std::uint8_t>("W4.rgb8_k31/peer.opencv/" + hd, rgb8, &rgb_ref, 2.0, [](const u8_image& s, u8_image& d) {
    cv::Mat out = as_mat(d);
    cv::GaussianBlur(as_mat(s), out, cv::Size(31, 31), 5, 0, cv::BORDER_REFLECT);
  });
  add<std::uint8_t>("W4.rgb8_k31/peer.opencv.sepFilter2D/" + hd, rgb8, &rgb_ref, 2.0, [](const u8_image& s, u8_image& d) {
    cv::Mat out = as_mat(d);
    static const cv::Mat g(pk::gaussian_kernel(31, 5));
    cv::sepFilter2D(as_mat(s), out, CV_8U, g, g, cv::Point(-1, -1), 0, cv::BORDER_REFLECT);
  });
#endif
}

// ---- W3 through the FFT method in both orientations, the backend this build has (polykern's
// lane FFT, or FFTW with POLYKERN_WITH_FFTW), with the OpenCV peer (docs/convolve.md) ----
#if POLYKERN_HAS_FFTW
constexpr const char* fft_row = "openmp.fftw";
#else
constexpr const char* fft_row = "openmp.fft";
#endif
const pk::image<float>& gray_landscape() {
  static const auto img = random_image<float>(H, W, 1, 1);
  return img;
}
// OpenCV's result (ours through the FFT method without OpenCV) as the reference.
void w3_reference(const pk::image<float>& src, float_image& out) {
#if POLYKERN_BENCH_HAS_OPENCV
  cv::Mat dst = as_mat(out);
  cv::filter2D(as_mat(src), dst, CV_32F, cv::Mat(201, 201, CV_32F, const_cast<float*>(w3_kernel().k.data())),
               cv::Point(-1, -1), 0, cv::BORDER_REFLECT);
#else
  correlate_with(pk::exec::openmp, w3_kernel(), pk::conv_method::fft)(src, out);
#endif
}
void register_fft_rows() {
#if POLYKERN_HAS_OPENMP
  static reference<float> landscape_ref{[](float_image& out) { w3_reference(gray_landscape(), out); }};
  add<float>(std::string("W3/") + fft_row + "/" + size_name(H, W), gray_landscape, &landscape_ref, 1e-3,
             correlate_with(pk::exec::openmp, w3_kernel(), pk::conv_method::fft));
#if POLYKERN_HAS_FFTW  // without FFTW, register_all has this row
  static reference<float> portrait_ref{[](float_image& out) { w3_reference(gray(), out); }};
  add<float>(std::string("W3/") + fft_row + "/" + size_name(W, H), gray, &portrait_ref, 1e-3,
             correlate_with(pk::exec::openmp, w3_kernel(), pk::conv_method::fft));
#endif
#endif
#if POLYKERN_BENCH_HAS_OPENCV
  add<float>("W3/peer.opencv/" + size_name(H, W), gray_landscape, nullptr, 1e-3, opencv_filter2d(w3_kernel()));
#endif
}

// ---- Fair peers (issue 12): W1, W2 and W4 again on the landscape image (3000x2000), openmp
// and the OpenCV peer, since OpenCV's time depends on the orientation (row length) far
// more than ours. Results were checked on the portrait rows; these rows time only. ----
void register_landscape_rows() {
#if POLYKERN_HAS_OPENMP || POLYKERN_BENCH_HAS_OPENCV
  const std::string wide = size_name(H, W);
#endif
#if POLYKERN_HAS_OPENMP
  add<float>("W1/openmp/" + wide, gray_landscape, nullptr, 0,
             [](const float_image& s, float_image& d) { w1_gaussian(pk::exec::openmp, s, d); });
  add<float>("W3/openmp/" + wide, gray_landscape, nullptr, 0,
             correlate_with(pk::exec::openmp, w3_kernel(), pk::conv_method::automatic));
  add<float>("W2/openmp/" + wide, gray_landscape, nullptr, 0,
             [](const float_image& s, float_image& d) { w2_fused(pk::exec::openmp, s, d); });
  for (std::size_t n : {std::size_t{5}, std::size_t{15}})
    add<float>("W4." + std::to_string(n) + "x" + std::to_string(n) + "/openmp/" + wide, gray_landscape, nullptr, 0,
               correlate_with(pk::exec::openmp, w4_kernel(n), pk::conv_method::automatic));
#endif
#if POLYKERN_BENCH_HAS_OPENCV
  add<float>("W1/peer.opencv/" + wide, gray_landscape, nullptr, 0, opencv_w1);
  add<float>("W2/peer.opencv/" + wide, gray_landscape, nullptr, 0, opencv_w2);
  for (std::size_t n : {std::size_t{5}, std::size_t{15}})
    add<float>("W4." + std::to_string(n) + "x" + std::to_string(n) + "/peer.opencv/" + wide, gray_landscape, nullptr, 0,
               opencv_filter2d(w4_kernel(n)));
#endif
}

}  // namespace

int main(int argc, char** argv) {
  register_all();
  register_fft_rows();
  register_landscape_rows();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
