// mesh_smoothing: smooths per-vertex weight channels (e.g. skinning weights transferred
// to a clothing mesh) over each vertex's spatial neighbours, as the mesh retargeting tool
// of the design notes does: a KD-tree over the vertices, the radius graph, then Jacobi
// iterations of Gaussian-weighted averaging (polykern/smooth.hpp).
//
//   mesh_smoothing MESH.obj POLICY [options]        POLICY: scalar | simd | openmp | vulkan
//     --weights FILE.csv   one row per vertex, one column per channel (an optional
//                          header row is skipped); default: a synthetic test pattern
//     --radius R           neighbourhood radius (default: 3x the mean distance from a
//                          vertex to its nearest other vertex)
//     --sigma S            Gaussian sigma (default: R / 2)
//     --iterations N       Jacobi iterations (default: 3)
//     --max-neighbors K    keep only the K nearest within R (default: all)
//     --out FILE           .csv (one row per vertex) or .ply (vertices with a `weights` list)
//   mesh_smoothing --make-test-mesh MESH.obj WEIGHTS.csv   writes a test mesh and weights
//   mesh_smoothing --check MESH.obj WEIGHTS.csv OUT.csv [OTHER.csv...]
//                          checks a result: rows sum to 1 like the input, values stay in
//                          [0, 1], every channel got smoother, other results agree
//
// Exit status: 0 on success, 1 on bad input (the message says which file and line), 2 on
// bad usage, 3 when a check fails.
#include <polykern/kdtree.hpp>
#include <polykern/smooth.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace pk = polykern;

namespace {

struct input_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};
struct usage_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// ---- files ------------------------------------------------------------------------------

// The `v x y z [w]` lines of a Wavefront OBJ file; everything else is ignored.
std::vector<float> read_obj(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw input_error(path + ": cannot open");
  std::vector<float> xyz;
  std::string line;
  for (std::size_t number = 1; std::getline(in, line); ++number) {
    std::istringstream words(line);
    std::string tag;
    if (!(words >> tag) || tag != "v") continue;
    double x, y, z;
    if (!(words >> x >> y >> z) || !std::isfinite(x) || !std::isfinite(y) || !std::isfinite(z))
      throw input_error(path + ":" + std::to_string(number) + ": a vertex needs three finite numbers: '" + line + "'");
    xyz.insert(xyz.end(), {static_cast<float>(x), static_cast<float>(y), static_cast<float>(z)});
  }
  if (in.bad()) throw input_error(path + ": read error");
  if (xyz.empty()) throw input_error(path + ": no vertices (no 'v x y z' lines)");
  return xyz;
}

// A CSV of numbers, one row per vertex; a first row that is not numeric is a header.
std::vector<float> read_csv(const std::string& path, std::size_t rows, std::size_t& cols) {
  std::ifstream in(path);
  if (!in) throw input_error(path + ": cannot open");
  std::vector<float> values;
  std::string line;
  cols = 0;
  std::size_t got = 0;
  for (std::size_t number = 1; std::getline(in, line); ++number) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    std::vector<float> row;
    std::stringstream cells(line);
    std::string cell;
    bool numeric = true;
    while (std::getline(cells, cell, ',')) {
      char* end = nullptr;
      const double v = std::strtod(cell.c_str(), &end);
      while (end && (*end == ' ' || *end == '\t')) ++end;
      if (end == cell.c_str() || (end && *end != '\0') || !std::isfinite(v)) {
        numeric = false;
        break;
      }
      row.push_back(static_cast<float>(v));
    }
    if (!numeric) {
      if (got == 0 && number == 1) continue;  // a header
      throw input_error(path + ":" + std::to_string(number) + ": not a row of numbers: '" + line + "'");
    }
    if (cols == 0) cols = row.size();
    if (row.size() != cols)
      throw input_error(path + ":" + std::to_string(number) + ": " + std::to_string(row.size()) + " columns; the first row has " +
                        std::to_string(cols));
    values.insert(values.end(), row.begin(), row.end());
    ++got;
  }
  if (got != rows)
    throw input_error(path + ": " + std::to_string(got) + " rows of weights for " + std::to_string(rows) + " vertices");
  return values;
}

void write_csv(const std::string& path, const std::vector<float>& values, std::size_t cols) {
  std::ofstream out(path);
  if (!out) throw input_error(path + ": cannot write");
  for (std::size_t c = 0; c < cols; ++c) out << (c ? "," : "") << "w" << c;
  out << "\n";
  char buffer[32];
  for (std::size_t r = 0; r < values.size() / cols; ++r) {
    for (std::size_t c = 0; c < cols; ++c) {
      std::snprintf(buffer, sizeof buffer, "%.9g", static_cast<double>(values[r * cols + c]));
      out << (c ? "," : "") << buffer;
    }
    out << "\n";
  }
  if (!out) throw input_error(path + ": write error");
}

void write_ply(const std::string& path, const std::vector<float>& xyz, const std::vector<float>& values, std::size_t cols) {
  std::ofstream out(path);
  if (!out) throw input_error(path + ": cannot write");
  const std::size_t n = xyz.size() / 3;
  out << "ply\nformat ascii 1.0\ncomment smoothed by polykern mesh_smoothing\nelement vertex " << n
      << "\nproperty float x\nproperty float y\nproperty float z\nproperty list uchar float weights\nend_header\n";
  for (std::size_t i = 0; i < n; ++i) {
    out << xyz[3 * i] << ' ' << xyz[3 * i + 1] << ' ' << xyz[3 * i + 2] << ' ' << cols;
    for (std::size_t c = 0; c < cols; ++c) out << ' ' << values[i * cols + c];
    out << '\n';
  }
  if (!out) throw input_error(path + ": write error");
}

// ---- the test mesh and pattern --------------------------------------------------------------

// One-hot weights by quadrant around the z axis: hard seams for the smoothing to soften.
std::vector<float> synthetic_pattern(const std::vector<float>& xyz, std::size_t& cols) {
  cols = 4;
  std::vector<float> w;
  for (std::size_t v = 0; v < xyz.size() / 3; ++v) {
    const int quadrant = (xyz[3 * v] >= 0 ? 0 : 1) + (xyz[3 * v + 1] >= 0 ? 0 : 2);
    for (int c = 0; c < 4; ++c) w.push_back(c == quadrant ? 1.0f : 0.0f);
  }
  return w;
}

// A UV sphere with a bumpy radius (latitude x longitude vertices and quad faces).
void make_test_mesh(const std::string& obj, const std::string& csv) {
  const int lat = 60, lon = 120;
  std::ofstream out(obj);
  if (!out) throw input_error(obj + ": cannot write");
  out << "# polykern mesh_smoothing test mesh\n";
  std::vector<float> xyz;
  for (int i = 0; i < lat; ++i)
    for (int j = 0; j < lon; ++j) {
      const double theta = 3.14159265358979 * (i + 0.5) / lat, phi = 2 * 3.14159265358979 * j / lon;
      const double r = 1 + 0.05 * std::sin(5 * phi) * std::sin(3 * theta);
      xyz.insert(xyz.end(), {float(r * std::sin(theta) * std::cos(phi)), float(r * std::sin(theta) * std::sin(phi)),
                             float(r * std::cos(theta))});
      out << "v " << xyz[xyz.size() - 3] << ' ' << xyz[xyz.size() - 2] << ' ' << xyz.back() << "\n";
    }
  for (int i = 0; i + 1 < lat; ++i)
    for (int j = 0; j < lon; ++j) {
      const int a = i * lon + j + 1, b = i * lon + (j + 1) % lon + 1;
      out << "f " << a << ' ' << b << ' ' << b + lon << ' ' << a + lon << "\n";
    }
  std::size_t cols = 0;
  const std::vector<float> weights = synthetic_pattern(xyz, cols);
  write_csv(csv, weights, cols);
}

// ---- smoothing ------------------------------------------------------------------------------

struct options {
  double radius = 0, sigma = 0;
  std::size_t iterations = 3, max_neighbors = 0;
};

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

template <class Policy>
std::vector<float> smooth(const Policy& policy, const std::vector<float>& xyz, const std::vector<float>& weights,
                          std::size_t cols, options& opt) {
  const std::size_t n = xyz.size() / 3;
  const pk::points_view<const float> points(xyz.data(), n);
  auto t0 = std::chrono::steady_clock::now();
  const pk::kdtree tree(policy, points);
  const double t_tree = ms_since(t0);
  if (opt.radius <= 0) {  // 3x the mean distance to the nearest other vertex
    const auto nearest = pk::knn_neighbors(policy, tree, points, 2);
    double sum = 0;
    for (std::size_t i = 0; i < n; ++i) sum += std::sqrt(static_cast<double>(nearest.row_dist2(i).back()));
    opt.radius = n > 1 ? 3 * sum / static_cast<double>(n) : 1.0;
    if (!(opt.radius > 0)) opt.radius = 1.0;  // all vertices in one place
  }
  if (opt.sigma <= 0) opt.sigma = opt.radius / 2;
  t0 = std::chrono::steady_clock::now();
  const auto graph = pk::radius_neighbors(policy, tree, points, static_cast<float>(opt.radius), opt.max_neighbors);
  const double t_graph = ms_since(t0);
  std::vector<float> out(n * cols);
  t0 = std::chrono::steady_clock::now();
  pk::gaussian_smooth(policy, graph, pk::matrix_view<const float>(weights.data(), n, cols),
                      pk::matrix_view<float>(out.data(), n, cols), {opt.sigma, opt.iterations});
  const double t_smooth = ms_since(t0);
  std::printf("policy %s: %zu vertices, %zu channels, radius %.6g, sigma %.6g, %zu iterations, %.1f neighbours/vertex\n",
              std::string(Policy::name).c_str(), n, cols, opt.radius, opt.sigma, opt.iterations,
              static_cast<double>(graph.entries()) / static_cast<double>(n));
  std::printf("time: tree %.2f ms, graph %.2f ms, smoothing %.2f ms\n", t_tree, t_graph, t_smooth);
  return out;
}

std::vector<float> smooth_with(const std::string& policy, const std::vector<float>& xyz,
                               const std::vector<float>& weights, std::size_t cols, options& opt) {
  if (policy == "scalar") return smooth(pk::exec::scalar, xyz, weights, cols, opt);
  if (policy == "simd") return smooth(pk::exec::simd, xyz, weights, cols, opt);
#if POLYKERN_HAS_OPENMP
  if (policy == "openmp") return smooth(pk::exec::openmp, xyz, weights, cols, opt);
#endif
#if POLYKERN_HAS_VULKAN
  if (policy == "vulkan") return smooth(pk::exec::vulkan, xyz, weights, cols, opt);
#endif
  throw usage_error("unknown or unavailable policy '" + policy + "' (scalar, simd" +
                    (POLYKERN_HAS_OPENMP ? ", openmp" : "") + (POLYKERN_HAS_VULKAN ? ", vulkan" : "") + ")");
}

// ---- checks -------------------------------------------------------------------------------

// Dirichlet energy: the sum of (w_i - w_j)^2 over channels and nearest-neighbour pairs.
double roughness(const std::vector<float>& xyz, const std::vector<float>& w, std::size_t cols) {
  const std::size_t n = xyz.size() / 3;
  const pk::points_view<const float> points(xyz.data(), n);
  const pk::kdtree tree(pk::exec::simd, points);
  const auto g = pk::knn_neighbors(pk::exec::simd, tree, points, 5);
  double total = 0;
  for (std::size_t i = 0; i < n; ++i)
    for (std::uint32_t j : g.row_indices(i))
      for (std::size_t c = 0; c < cols; ++c) {
        const double d = w[i * cols + c] - w[j * cols + c];
        total += d * d;
      }
  return total;
}

int check(const std::vector<std::string>& args) {
  if (args.size() < 3) throw usage_error("--check needs MESH.obj WEIGHTS.csv OUT.csv [OTHER.csv...]");
  const auto xyz = read_obj(args[0]);
  const std::size_t n = xyz.size() / 3;
  std::size_t cols = 0, out_cols = 0;
  const auto in = read_csv(args[1], n, cols);
  const auto out = read_csv(args[2], n, out_cols);
  int failures = 0;
  const auto fail = [&](const std::string& what) {
    std::fprintf(stderr, "check failed: %s\n", what.c_str());
    ++failures;
  };
  if (out_cols != cols) fail(args[2] + " has " + std::to_string(out_cols) + " channels, the input " + std::to_string(cols));
  for (std::size_t i = 0; i < n && failures == 0; ++i) {
    double sum_in = 0, sum_out = 0;
    for (std::size_t c = 0; c < cols; ++c) {
      sum_in += in[i * cols + c];
      sum_out += out[i * cols + c];
      if (out[i * cols + c] < -1e-6f || out[i * cols + c] > 1 + 1e-6f) fail("vertex " + std::to_string(i) + " leaves [0, 1]");
    }
    if (std::abs(sum_in - sum_out) > 1e-4) fail("vertex " + std::to_string(i) + ": weights sum to " + std::to_string(sum_out));
  }
  const double before = roughness(xyz, in, cols), after = roughness(xyz, out, cols);
  std::printf("roughness: input %.3f, result %.3f\n", before, after);
  if (!(after < 0.8 * before)) fail("the result is not smoother than the input");
  for (std::size_t k = 3; k < args.size(); ++k) {
    std::size_t other_cols = 0;
    const auto other = read_csv(args[k], n, other_cols);
    double worst = 0;
    for (std::size_t i = 0; i < other.size() && other_cols == cols; ++i)
      worst = std::max(worst, static_cast<double>(std::abs(other[i] - out[i])));
    if (other_cols != cols || worst > 1e-5) fail(args[k] + " differs from " + args[2] + " by " + std::to_string(worst));
  }
  if (failures == 0) std::printf("check passed: %zu vertices, %zu channels\n", n, cols);
  return failures ? 3 : 0;
}

int run(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.size() == 3 && args[0] == "--make-test-mesh") {
    make_test_mesh(args[1], args[2]);
    return 0;
  }
  if (!args.empty() && args[0] == "--check") return check({args.begin() + 1, args.end()});
  if (args.size() < 2) throw usage_error("expected MESH.obj POLICY [options]");
  options opt;
  std::string weights_path, out_path;
  for (std::size_t i = 2; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (i + 1 >= args.size()) throw usage_error(a + " needs a value");
    const std::string& v = args[++i];
    char* end = nullptr;
    const double number = std::strtod(v.c_str(), &end);
    const bool is_number = end != v.c_str() && *end == '\0' && std::isfinite(number);
    if (a == "--weights") weights_path = v;
    else if (a == "--out") out_path = v;
    else if (!is_number || number < 0) throw usage_error(a + " needs a non-negative number, not '" + v + "'");
    else if (a == "--radius") opt.radius = number;
    else if (a == "--sigma") opt.sigma = number;
    else if (a == "--iterations") opt.iterations = static_cast<std::size_t>(number);
    else if (a == "--max-neighbors") opt.max_neighbors = static_cast<std::size_t>(number);
    else throw usage_error("unknown option " + a);
  }
  auto t0 = std::chrono::steady_clock::now();
  const auto xyz = read_obj(args[0]);
  std::size_t cols = 0;
  const auto weights = weights_path.empty() ? synthetic_pattern(xyz, cols) : read_csv(weights_path, xyz.size() / 3, cols);
  std::printf("read %s%s in %.2f ms\n", args[0].c_str(), weights_path.empty() ? " (synthetic weights)" : "", ms_since(t0));
  const auto result = smooth_with(args[1], xyz, weights, cols, opt);
  if (!out_path.empty()) {
    t0 = std::chrono::steady_clock::now();
    const bool ply = out_path.size() >= 4 && out_path.compare(out_path.size() - 4, 4, ".ply") == 0;
    if (ply) write_ply(out_path, xyz, result, cols);
    else write_csv(out_path, result, cols);
    std::printf("wrote %s in %.2f ms\n", out_path.c_str(), ms_since(t0));
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const usage_error& e) {
    std::fprintf(stderr, "mesh_smoothing: %s\nusage: mesh_smoothing MESH.obj scalar|simd|openmp|vulkan [--weights W.csv] "
                         "[--radius R] [--sigma S] [--iterations N] [--max-neighbors K] [--out OUT.csv|OUT.ply]\n",
                 e.what());
    return 2;
  } catch (const input_error& e) {
    std::fprintf(stderr, "mesh_smoothing: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {  // polykern::invalid_argument, vulkan_error, bad_alloc
    std::fprintf(stderr, "mesh_smoothing: %s\n", e.what());
    return 1;
  }
}
