// W7 transform_points, W8 transform_normals (100k / 1M / 10M float points, stride 3) and
// W9 transform_points_batched (7 meshes, 1M points in all) on every policy, with the peers
// in the same binary: memcpy of the same bytes, Eigen (3xN map), cv::transform.
// Every row checks its result once against a double reference before timing.
#include <benchmark/benchmark.h>

#include "common.hpp"

#include <polykern/affine.hpp>

#include <Eigen/Core>
#include <Eigen/Geometry>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#if POLYKERN_BENCH_HAS_OPENCV
#include <opencv2/core.hpp>
#endif
#if POLYKERN_HAS_VULKAN
#include <polykern/vulkan.hpp>
#endif

namespace pk = polykern;
using kind = pk::detail::affine::kind;

namespace {

// Buffers shared by every row of one size (10M points: 2 x 120 MB).
struct data_set {
  std::size_t n;
  std::vector<float> in, out;
};

data_set& data_for(std::size_t n) {
  static std::map<std::size_t, std::unique_ptr<data_set>> sets;
  auto& slot = sets[n];
  if (!slot) {
    slot = std::make_unique<data_set>(data_set{n, std::vector<float>(3 * n), std::vector<float>(3 * n)});
    std::mt19937 rng(7);
    std::uniform_real_distribution<float> coord(-100, 100);
    for (auto& v : slot->in) v = coord(rng);
  }
  return *slot;
}

pk::affine3<float> matrix(unsigned seed) {
  Eigen::Transform<float, 3, Eigen::Affine> t(
      Eigen::AngleAxisf(0.3f + 0.1f * seed, Eigen::Vector3f(1, 2 + seed, 3).normalized()));
  t.translation() << 1.f + seed, -2, 3;
  t.scale(Eigen::Vector3f(2, 1, 0.5f));
  pk::affine3<float> a;
  for (int r = 0; r < 3; ++r)
    for (int c = 0; c < 4; ++c) a.m[r][c] = t.matrix()(r, c);
  return a;
}

// Whether out holds the transform of in (segment s of `offsets` by matrices[s]), within
// 1e-5 relative to the magnitude of the terms (a loose check against wrong results, not a
// precision test: that is tests/test_affine.cpp).
bool correct(kind what, const std::vector<float>& in, const std::vector<float>& out, std::size_t n,
             const std::vector<std::size_t>& offsets, const std::vector<pk::affine3<float>>& matrices) {
  for (std::size_t s = 0; s + 1 < offsets.size(); ++s) {
    const auto& m = matrices[s];
    Eigen::Matrix3d r, nm;
    for (int a = 0; a < 3; ++a)
      for (int b = 0; b < 3; ++b) r(a, b) = m.m[a][b];
    nm = r.inverse().transpose();
    for (std::size_t i = offsets[s]; i < std::min(n, offsets[s + 1]); ++i) {
      const Eigen::Vector3d p(in[3 * i], in[3 * i + 1], in[3 * i + 2]);
      Eigen::Vector3d want, scale;
      if (what == kind::points) {
        want = r * p + Eigen::Vector3d(m.m[0][3], m.m[1][3], m.m[2][3]);
        scale = r.cwiseAbs() * p.cwiseAbs() + Eigen::Vector3d(m.m[0][3], m.m[1][3], m.m[2][3]).cwiseAbs();
      } else {
        want = nm * p;
        scale = nm.cwiseAbs() * p.cwiseAbs() / want.norm();
        want.normalize();
      }
      for (int k = 0; k < 3; ++k)
        if (!(std::abs(out[3 * i + k] - want[k]) <= 1e-5 * std::max(scale[k], std::abs(want[k])))) return false;
    }
  }
  return true;
}

using checker = std::function<bool(const data_set&)>;

// The check of a transform (of one matrix when `offsets` is empty).
checker transformed(kind what, std::vector<std::size_t> offsets = {}, std::vector<pk::affine3<float>> matrices = {}) {
  return [=](const data_set& d) {
    return offsets.empty() ? correct(what, d.in, d.out, d.n, {0, d.n}, {matrix(0)})
                           : correct(what, d.in, d.out, d.n, offsets, matrices);
  };
}

// Registers W<id>/<impl>/<size>: `run` does one transform of d.in into d.out; `check`
// tells on the first call of each row whether the result is right.
void add(const std::string& name, std::size_t n, std::function<void(data_set&)> run, checker check) {
  auto checked = std::make_shared<bool>(false);
  benchmark::RegisterBenchmark(name.c_str(), [=](benchmark::State& state) {
    data_set& d = data_for(n);
    if (!*checked) {
      std::fill(d.out.begin(), d.out.end(), std::nanf(""));
      try {
        run(d);
      } catch (const std::exception& e) {
        state.SkipWithError(e.what());
        return;
      }
      if (!check(d)) {
        state.SkipWithError("wrong result");
        return;
      }
      *checked = true;
    }
    for (auto _ : state) {
      run(d);
      benchmark::DoNotOptimize(d.out.data());
      benchmark::ClobberMemory();
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * static_cast<std::int64_t>(n * 6 * sizeof(float)));
    state.counters["ns/point"] = benchmark::Counter(static_cast<double>(n) * static_cast<double>(state.iterations()),
                                                    benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  })->UseRealTime()->Unit(benchmark::kMillisecond);
}

// Rows name point counts 100k, 1M, 10M.
std::string count_name(std::size_t n) {
  return n >= 1000000 ? std::to_string(n / 1000000) + "M" : std::to_string(n / 1000) + "k";
}

template <class P>
void add_policy(const std::string& workload, kind what, const P& policy, std::size_t n) {
  const auto m = matrix(0);
  add(workload + "/" + std::string(P::name) + "/" + count_name(n), n, [=](data_set& d) {
    const pk::points_view<const float> in(d.in.data(), d.n);
    const pk::points_view<float> out(d.out.data(), d.n);
    if (what == kind::points)
      pk::transform_points(policy, in, m, out);
    else
      pk::transform_normals(policy, in, m, out);
  }, transformed(what));
}

void add_peers(const std::string& workload, kind what, std::size_t n) {
  const auto m = matrix(0);
  add(workload + "/peer.memcpy/" + count_name(n), n, [](data_set& d) {
    std::memcpy(d.out.data(), d.in.data(), d.in.size() * sizeof(float));
  }, [](const data_set& d) { return std::memcmp(d.out.data(), d.in.data(), d.in.size() * sizeof(float)) == 0; });
  Eigen::Matrix3f r;
  Eigen::Vector3f t;
  for (int a = 0; a < 3; ++a) {
    for (int b = 0; b < 3; ++b) r(a, b) = m.m[a][b];
    t[a] = m.m[a][3];
  }
  if (what == kind::points) {
    // Eigen done well: one fused pass over the 3xN map (the 3x3 product is a lazy
    // coefficient-based product, the translation added in the same expression).
    add(workload + "/peer.eigen/" + count_name(n), n, [=](data_set& d) {
      const Eigen::Map<const Eigen::Matrix3Xf> in(d.in.data(), 3, static_cast<Eigen::Index>(d.n));
      Eigen::Map<Eigen::Matrix3Xf> out(d.out.data(), 3, static_cast<Eigen::Index>(d.n));
      out.noalias() = (r.lazyProduct(in)).colwise() + t;
    }, transformed(what));
#if POLYKERN_BENCH_HAS_OPENCV
    add(workload + "/peer.opencv/" + count_name(n), n, [=](data_set& d) {
      const cv::Mat in(static_cast<int>(d.n), 1, CV_32FC3, d.in.data());
      cv::Mat out(static_cast<int>(d.n), 1, CV_32FC3, d.out.data());
      const cv::Matx34f mm(m.m[0][0], m.m[0][1], m.m[0][2], m.m[0][3], m.m[1][0], m.m[1][1], m.m[1][2], m.m[1][3],
                           m.m[2][0], m.m[2][1], m.m[2][2], m.m[2][3]);
      cv::transform(in, out, mm);
    }, transformed(what));
#endif
  } else {
    const Eigen::Matrix3f nm = r.inverse().transpose();
    add(workload + "/peer.eigen/" + count_name(n), n, [=](data_set& d) {
      const Eigen::Map<const Eigen::Matrix3Xf> in(d.in.data(), 3, static_cast<Eigen::Index>(d.n));
      Eigen::Map<Eigen::Matrix3Xf> out(d.out.data(), 3, static_cast<Eigen::Index>(d.n));
      out.noalias() = nm.lazyProduct(in).colwise().normalized();
    }, transformed(what));
  }
}

template <class P>
void add_w9(const P& policy) {
  // 7 meshes, 1M points in all (clothing meshes of 40k to 240k vertices).
  const std::vector<std::size_t> sizes = {40000, 80000, 110000, 150000, 170000, 210000, 240000};
  std::vector<std::size_t> offsets = {0};
  for (std::size_t s : sizes) offsets.push_back(offsets.back() + s);
  std::vector<pk::affine3<float>> matrices;
  for (unsigned s = 0; s < sizes.size(); ++s) matrices.push_back(matrix(s));
  const std::size_t n = offsets.back();
  const std::string name(P::name);
  add("W9/" + name + "/1M", n, [=](data_set& d) {
    pk::transform_points_batched(policy, pk::points_view<const float>(d.in.data(), d.n), offsets, matrices,
                                 pk::points_view<float>(d.out.data(), d.n));
  }, transformed(kind::points, offsets, matrices));
  add("W9/" + name + ".per_mesh/1M", n, [=](data_set& d) {
    for (std::size_t s = 0; s < matrices.size(); ++s)
      pk::transform_points(policy, pk::points_view<const float>(d.in.data() + 3 * offsets[s], sizes[s]), matrices[s],
                           pk::points_view<float>(d.out.data() + 3 * offsets[s], sizes[s]));
  }, transformed(kind::points, offsets, matrices));
}

template <class Each>
void for_each_policy(Each&& each) {
  each(pk::exec::scalar);
  each(pk::exec::simd);
#if POLYKERN_HAS_OPENMP
  each(pk::exec::openmp);
#endif
#if POLYKERN_HAS_VULKAN
  if (pk::exec::vulkan.available()) each(pk::exec::vulkan);
#endif
}

}  // namespace

int main(int argc, char** argv) {
#if POLYKERN_BENCH_HAS_OPENCV
  const int threads = pk::bench::set_peer_threads();
#else
  const int threads = pk::bench::policy_threads();
#endif
  Eigen::setNbThreads(threads);
  for (auto [workload, what] : {std::pair{"W7", kind::points}, std::pair{"W8", kind::normals}})
    for (std::size_t n : {std::size_t{100000}, std::size_t{1000000}, std::size_t{10000000}}) {
      add_peers(workload, what, n);
      for_each_policy([&](const auto& policy) { add_policy(workload, what, policy, n); });
    }
  for_each_policy([&](const auto& policy) { add_w9(policy); });
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::AddCustomContext("openmp threads", std::to_string(threads));
#if POLYKERN_HAS_VULKAN
  if (pk::exec::vulkan.available()) benchmark::AddCustomContext("vulkan device", pk::vulkan::default_context().info().name);
#endif
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
}
