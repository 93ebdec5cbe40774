// W5 / W6 (performance.md): KD-tree neighbour smoothing of uniform points in the unit
// cube, radius for ~32 neighbours, sigma = r/2, 4 channels, 3 iterations.
//
//   W5.<stage>/<impl>/10k, W5.<stage>/<impl>/100k, W6.<stage>/<impl>/1M
//   stage: build (the tree), query (the radius graph of all points), smooth (3 passes
//   over a given graph, weights included), end_to_end (tree + graph + smoothing:
//   smooth_neighbors); impl: scalar, simd, openmp, vulkan, peer.nanoflann.
//
// peer.nanoflann is nanoflann 1.4.3 done well: KDTreeSingleIndexAdaptor (leaf size 10, its
// default), one OpenMP-parallel radius query pass (unsorted, each query's result vector
// kept as its neighbour list), then the weights once and the same 3 Jacobi passes over a
// CSR copy of the lists, OpenMP over rows. Same thread count as the openmp policy.
// Every row checks its result once against the openmp policy before timing.
// On a CPU Vulkan device (lavapipe) the vulkan rows run at 10k only (each query pass at
// 100k takes tens of seconds there); on a GPU they run at every size.
#include <benchmark/benchmark.h>

#include "common.hpp"
#include <polykern/kdtree.hpp>
#include <polykern/smooth.hpp>

#include <cmath>
#include <cstdio>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#if POLYKERN_BENCH_HAS_NANOFLANN
#include <nanoflann.hpp>
#endif
namespace pk = polykern;

namespace {

constexpr std::size_t channels = 4, iterations = 3;

struct workload {
  std::size_t n = 0;
  float radius = 0;
  std::vector<float> points, values;
  pk::points_view<const float> view() const { return {points.data(), n}; }
  pk::matrix_view<const float> vals() const { return {values.data(), n, channels}; }
  pk::smooth_options options() const { return {radius / 2.0, iterations}; }
  // The reference results (openmp policy), computed once.
  pk::neighbor_graph<float> graph;
  std::vector<float> smoothed, smoothed_graph;
};

workload& get(std::size_t n) {
  static std::map<std::size_t, std::unique_ptr<workload>> cache;
  auto& w = cache[n];
  if (!w) {
    w = std::make_unique<workload>();
    w->n = n;
    w->radius = static_cast<float>(std::cbrt(32.0 * 3 / (4 * 3.14159265358979 * static_cast<double>(n))));
    std::mt19937 rng(static_cast<unsigned>(n));
    std::uniform_real_distribution<float> u(0, 1);
    w->points.resize(3 * n);
    for (auto& x : w->points) x = u(rng);
    w->values.resize(channels * n);
    for (auto& x : w->values) x = u(rng);
  }
  return *w;
}

#if POLYKERN_HAS_OPENMP
const pk::exec::openmp_policy reference_policy{};
#else
const pk::exec::simd_policy reference_policy{};
#endif

const pk::neighbor_graph<float>& reference_graph(workload& w) {
  if (w.graph.offsets.size() != w.n + 1) {
    const pk::kdtree tree(reference_policy, w.view());
    w.graph = pk::radius_neighbors(reference_policy, tree, w.view(), w.radius);
  }
  return w.graph;
}
const std::vector<float>& reference_smoothed(workload& w) {
  if (w.smoothed.empty()) {
    w.smoothed.resize(w.n * channels);
    pk::smooth_neighbors(reference_policy, w.view(), w.vals(), pk::matrix_view<float>(w.smoothed.data(), w.n, channels),
                         w.radius, w.options());
  }
  return w.smoothed;
}
const std::vector<float>& reference_smoothed_graph(workload& w) {
  if (w.smoothed_graph.empty()) {
    w.smoothed_graph.resize(w.n * channels);
    pk::gaussian_smooth(reference_policy, reference_graph(w), w.vals(),
                        pk::matrix_view<float>(w.smoothed_graph.data(), w.n, channels), w.options());
  }
  return w.smoothed_graph;
}

// Whether a and b agree within 1e-4, but for at most `allowed` (a fraction) of the elements.
bool close(const std::vector<float>& a, const std::vector<float>& b, double allowed = 0) {
  if (a.size() != b.size()) return false;
  std::size_t off = 0;
  for (std::size_t i = 0; i < a.size(); ++i) off += !(std::abs(a[i] - b[i]) <= 1e-4);
  return static_cast<double>(off) <= allowed * static_cast<double>(a.size());
}

// Point counts as the rows name them: 10k, 100k, 1M.
std::string count_name(std::size_t n) {
  return n >= 1000000 ? std::to_string(n / 1000000) + "M" : std::to_string(n / 1000) + "k";
}
std::string row(const char* stage, const std::string& impl, std::size_t n) {
  return std::string(n >= 1000000 ? "W6." : "W5.") + stage + "/" + impl + "/" + count_name(n);
}

template <class Policy>
void register_policy(const Policy& policy, std::size_t n, bool slow) {
  const std::string impl(Policy::name);
  auto tune = [&](benchmark::internal::Benchmark* b) {
    b->UseRealTime()->Unit(benchmark::kMillisecond);
    if (slow || n >= 1000000) b->Iterations(slow ? 1 : 2);
    else b->MinTime(0.3);
  };
  tune(benchmark::RegisterBenchmark(row("build", impl, n).c_str(), [policy, n](benchmark::State& state) {
    workload& w = get(n);
    for (auto _ : state) {
      const pk::kdtree tree(policy, w.view());
      if (tree.size() != n) state.SkipWithError("wrong tree size");
      benchmark::DoNotOptimize(tree.data().coords.data());
    }
  }));
  tune(benchmark::RegisterBenchmark(row("query", impl, n).c_str(), [policy, n](benchmark::State& state) {
    workload& w = get(n);
    const pk::kdtree tree(policy, w.view());
    if (!(pk::radius_neighbors(policy, tree, w.view(), w.radius) == reference_graph(w))) {
      state.SkipWithError("graph differs from the openmp policy's");
      return;
    }
    for (auto _ : state) {
      auto g = pk::radius_neighbors(policy, tree, w.view(), w.radius);
      benchmark::DoNotOptimize(g.indices.data());
    }
    state.counters["neighbours/row"] = double(reference_graph(w).entries()) / double(n);
  }));
  tune(benchmark::RegisterBenchmark(row("smooth", impl, n).c_str(), [policy, n](benchmark::State& state) {
    workload& w = get(n);
    const auto& g = reference_graph(w);
    std::vector<float> out(n * channels);
    const pk::matrix_view<float> ov(out.data(), n, channels);
    pk::gaussian_smooth(policy, g, w.vals(), ov, w.options());
    if (!close(out, reference_smoothed_graph(w))) {
      state.SkipWithError("smoothed values differ from the openmp policy's");
      return;
    }
    for (auto _ : state) {
      pk::gaussian_smooth(policy, g, w.vals(), ov, w.options());
      benchmark::DoNotOptimize(out.data());
    }
  }));
  tune(benchmark::RegisterBenchmark(row("end_to_end", impl, n).c_str(), [policy, n](benchmark::State& state) {
    workload& w = get(n);
    std::vector<float> out(n * channels);
    const pk::matrix_view<float> ov(out.data(), n, channels);
    pk::smooth_neighbors(policy, w.view(), w.vals(), ov, w.radius, w.options());
    if (!close(out, reference_smoothed(w))) {
      state.SkipWithError("smoothed values differ from the openmp policy's");
      return;
    }
    for (auto _ : state) {
      pk::smooth_neighbors(policy, w.view(), w.vals(), ov, w.radius, w.options());
      benchmark::DoNotOptimize(out.data());
    }
  }));
}

#if POLYKERN_BENCH_HAS_NANOFLANN
// ---- peer.nanoflann ---------------------------------------------------------------------

struct cloud_adaptor {
  const float* p;
  std::size_t n;
  std::size_t kdtree_get_point_count() const { return n; }
  float kdtree_get_pt(std::size_t i, std::size_t d) const { return p[3 * i + d]; }
  template <class Box>
  bool kdtree_get_bbox(Box&) const {
    return false;
  }
};
using nf_tree = nanoflann::KDTreeSingleIndexAdaptor<nanoflann::L2_Simple_Adaptor<float, cloud_adaptor>, cloud_adaptor, 3,
                                                    std::uint32_t>;
using nf_lists = std::vector<std::vector<std::pair<std::uint32_t, float>>>;

std::unique_ptr<nf_tree> nf_build(const cloud_adaptor& cloud) {
  return std::make_unique<nf_tree>(3, cloud, nanoflann::KDTreeSingleIndexAdaptorParams(10));
}

// One OpenMP pass: every point's unsorted neighbours within r (nanoflann: dist2 < r^2).
nf_lists nf_query(const nf_tree& index, const workload& w) {
  nf_lists lists(w.n);
  const float r2 = w.radius * w.radius;
  const nanoflann::SearchParams params(32, 0, false);
#pragma omp parallel for schedule(dynamic, 256)
  for (std::ptrdiff_t i = 0; i < static_cast<std::ptrdiff_t>(w.n); ++i) {
    auto& list = lists[static_cast<std::size_t>(i)];
    list.reserve(48);
    index.radiusSearch(&w.points[3 * static_cast<std::size_t>(i)], r2, list, params);
  }
  return lists;
}

// Weights once (into a CSR copy of the lists), then 3 Jacobi passes, OpenMP over rows.
void nf_smooth(const nf_lists& lists, const workload& w, std::vector<float>& out) {
  const std::size_t n = w.n;
  std::vector<std::uint64_t> offsets(n + 1, 0);
  for (std::size_t i = 0; i < n; ++i) offsets[i + 1] = offsets[i] + lists[i].size();
  std::vector<std::uint32_t> idx(offsets[n]);
  std::vector<float> wt(offsets[n]);
  std::vector<char> keep(n);
  const float a = -1.0f / (2 * (w.radius / 2) * (w.radius / 2));
#pragma omp parallel for schedule(static, 1024)
  for (std::ptrdiff_t ii = 0; ii < static_cast<std::ptrdiff_t>(n); ++ii) {
    const std::size_t i = static_cast<std::size_t>(ii);
    float sum = 0;
    bool other = false;
    std::uint64_t e = offsets[i];
    for (const auto& [j, d2] : lists[i]) {
      idx[e] = j;
      wt[e] = std::exp(a * d2);
      sum += wt[e++];
      other |= j != i;
    }
    keep[i] = !other;
    for (e = offsets[i]; e < offsets[i + 1]; ++e) wt[e] /= sum;
  }
  std::vector<float> cur(w.values), next(n * channels);
  for (std::size_t it = 0; it < iterations; ++it) {
#pragma omp parallel for schedule(static, 1024)
    for (std::ptrdiff_t ii = 0; ii < static_cast<std::ptrdiff_t>(n); ++ii) {
      const std::size_t i = static_cast<std::size_t>(ii);
      float acc[channels] = {};
      if (keep[i]) {
        for (std::size_t c = 0; c < channels; ++c) acc[c] = cur[i * channels + c];
      } else {
        for (std::uint64_t e = offsets[i]; e < offsets[i + 1]; ++e)
          for (std::size_t c = 0; c < channels; ++c) acc[c] += wt[e] * cur[idx[e] * channels + c];
      }
      for (std::size_t c = 0; c < channels; ++c) next[i * channels + c] = acc[c];
    }
    cur.swap(next);
  }
  out.swap(cur);
}

void register_nanoflann(std::size_t n) {
  auto tune = [n](benchmark::internal::Benchmark* b) {
    b->UseRealTime()->Unit(benchmark::kMillisecond);
    if (n >= 1000000) b->Iterations(2);
    else b->MinTime(0.3);
  };
  const std::string impl = "peer.nanoflann";
  tune(benchmark::RegisterBenchmark(row("build", impl, n).c_str(), [n](benchmark::State& state) {
    workload& w = get(n);
    const cloud_adaptor cloud{w.points.data(), n};
    for (auto _ : state) benchmark::DoNotOptimize(nf_build(cloud).get());
  }));
  tune(benchmark::RegisterBenchmark(row("query", impl, n).c_str(), [n](benchmark::State& state) {
    workload& w = get(n);
    const cloud_adaptor cloud{w.points.data(), n};
    const auto index = nf_build(cloud);
    std::size_t found = 0;
    for (const auto& l : nf_query(*index, w)) found += l.size();
    // nanoflann keeps dist2 < r^2 and sums squares its own way: pairs within an ulp of
    // the radius may go either way (a handful among millions).
    const double ref = static_cast<double>(reference_graph(w).entries());
    if (std::abs(static_cast<double>(found) - ref) > 1e-5 * ref) {
      state.SkipWithError("nanoflann found another number of neighbours");
      return;
    }
    for (auto _ : state) benchmark::DoNotOptimize(nf_query(*index, w).data());
  }));
  tune(benchmark::RegisterBenchmark(row("smooth", impl, n).c_str(), [n](benchmark::State& state) {
    workload& w = get(n);
    const cloud_adaptor cloud{w.points.data(), n};
    const auto lists = nf_query(*nf_build(cloud), w);
    std::vector<float> out;
    nf_smooth(lists, w, out);
    if (!close(out, reference_smoothed(w), 1e-4)) {
      state.SkipWithError("nanoflann pipeline's values differ");
      return;
    }
    for (auto _ : state) {
      nf_smooth(lists, w, out);
      benchmark::DoNotOptimize(out.data());
    }
  }));
  tune(benchmark::RegisterBenchmark(row("end_to_end", impl, n).c_str(), [n](benchmark::State& state) {
    workload& w = get(n);
    const cloud_adaptor cloud{w.points.data(), n};
    std::vector<float> out;
    for (auto _ : state) {
      const auto index = nf_build(cloud);
      nf_smooth(nf_query(*index, w), w, out);
      benchmark::DoNotOptimize(out.data());
    }
    if (!close(out, reference_smoothed(w), 1e-4)) state.SkipWithError("nanoflann pipeline's values differ");
  }));
}
#endif

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
#if POLYKERN_HAS_VULKAN
  bool gpu = false, have_vulkan = false;
  try {
    const auto& info = pk::vulkan::default_context().info();
    have_vulkan = true;
    gpu = info.type != "CPU";
    benchmark::AddCustomContext("vulkan_device", info.name + " (" + info.type + ")");
  } catch (const pk::vulkan_error& e) {
    benchmark::AddCustomContext("vulkan_device", std::string("none: ") + e.what());
  }
#endif
  benchmark::AddCustomContext("omp_threads", std::to_string(pk::bench::policy_threads()));
  for (std::size_t n : {std::size_t{10000}, std::size_t{100000}, std::size_t{1000000}}) {
    register_policy(pk::exec::scalar, n, n >= 1000000);
    register_policy(pk::exec::simd, n, false);
#if POLYKERN_HAS_OPENMP
    register_policy(pk::exec::openmp, n, false);
#endif
#if POLYKERN_HAS_VULKAN
    if (have_vulkan && (gpu || n <= 10000)) register_policy(pk::exec::vulkan, n, !gpu);
#endif
#if POLYKERN_BENCH_HAS_NANOFLANN
    register_nanoflann(n);
#endif
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
