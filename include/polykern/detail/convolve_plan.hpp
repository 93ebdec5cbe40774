// Convolution internals shared by every backend: what to compute (a "plan": separable
// terms, or a 2D kernel for the direct and FFT methods), the Gaussian taps, the kernel's
// low-rank decomposition (Eigen), and the cost model behind conv_method::automatic.
// Public entry points live in <polykern/convolve.hpp>; nothing here touches images.
#pragma once
#include <Eigen/Dense>
#include <Eigen/SVD>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "../border.hpp"
#include "../view.hpp"

namespace polykern {

// How correlate/convolve compute (api.md §4). `automatic` picks the fastest exact one
// for the kernel's size and rank with the cost model below.
enum class conv_method {
  automatic,
  direct,     // every tap, vectorised over output pixels
  separable,  // one horizontal and one vertical 1D pass (the kernel must have rank 1)
  low_rank,   // rank r -> r separable passes (Eigen SVD; exact up to s_i < 1e-7 s_max)
  fft,        // overlap-save tiles through Eigen's FFT (CPU); Vulkan runs low_rank/direct
};

constexpr std::string_view name(conv_method method) {
  switch (method) {
    case conv_method::automatic: return "automatic";
    case conv_method::direct: return "direct";
    case conv_method::separable: return "separable";
    case conv_method::low_rank: return "low_rank";
    case conv_method::fft: return "fft";
  }
  return "?";
}

namespace detail::conv {

// One separable pass: vertical taps `ky` then horizontal taps `kx`, anchors at the
// centres (size/2). A low-rank plan sums several of these.
struct term {
  std::vector<float> kx, ky;
};

// A dense kernel in correlation orientation, row-major: at(i, j) multiplies
// src(x + i - width/2, y + j - height/2).
struct kernel2d {
  std::vector<float> values;
  std::size_t width = 0, height = 0;
  float at(std::size_t i, std::size_t j) const { return values[j * width + i]; }
};

// What a backend is asked to compute. `method` is resolved (never automatic):
// separable/low_rank use `terms`, direct/fft use `kernel`.
// One image of a call (a batch has several).
template <class In, class Out>
struct job {
  image_view<const In> src;
  image_view<Out> dst;
};

struct plan {
  conv_method method = conv_method::direct;
  kernel2d kernel;
  std::vector<term> terms;
  border_spec border;
};

// ---- Gaussian taps (OpenCV getGaussianKernel, CV_32F) -------------------------------

// The kernel size GaussianBlur derives from sigma when ksize == 0.
inline long gaussian_auto_size(double sigma, bool uint8_source) {
  return static_cast<long>(std::lround(sigma * (uint8_source ? 3 : 4) * 2 + 1)) | 1L;
}

// Taps exp(-x^2 / (2 sigma^2)) normalised to sum 1, rounded the way OpenCV rounds its
// float kernel (each tap to float, the sum in double, then the scaled taps to float).
// sigma <= 0 means 0.3*((n-1)*0.5 - 1) + 0.8, and then, as OpenCV 4.6 does, n <= 9 uses
// its fixed tables (in 1/256: 256; 64 128 64; 16 64 96 64 16; 8 28 56 72 56 28 8;
// 4 13 30 51 60 51 30 13 4).
inline std::vector<float> gaussian_taps(std::size_t n, double sigma) {
  static constexpr float table[5][9] = {{256},
                                        {64, 128, 64},
                                        {16, 64, 96, 64, 16},
                                        {8, 28, 56, 72, 56, 28, 8},
                                        {4, 13, 30, 51, 60, 51, 30, 13, 4}};
  const bool fixed = n % 2 == 1 && n <= 9 && sigma <= 0;
  const double s = sigma > 0 ? sigma : ((static_cast<double>(n) - 1) * 0.5 - 1) * 0.3 + 0.8;
  const double scale = -0.5 / (s * s);
  std::vector<float> taps(n);
  double sum = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const double x = static_cast<double>(i) - (static_cast<double>(n) - 1) * 0.5;
    taps[i] = fixed ? table[n / 2][i] / 256.0f : static_cast<float>(std::exp(scale * x * x));
    sum += taps[i];
  }
  const double inv = 1.0 / sum;
  for (auto& t : taps) t = static_cast<float>(t * inv);
  return taps;
}

// ---- rank and low-rank decomposition --------------------------------------------------

using matrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic>;

inline matrix to_matrix(const kernel2d& k) {
  matrix m(k.height, k.width);
  for (std::size_t j = 0; j < k.height; ++j)
    for (std::size_t i = 0; i < k.width; ++i) m(j, i) = k.at(i, j);
  return m;
}

// Relative threshold below which singular values are dropped (api.md §4).
inline constexpr double rank_tolerance = 1e-7;

// Terms from an SVD K = U S V^T: term r has ky = s_r u_r, kx = v_r. Singular values
// below rank_tolerance * s_max are dropped; a zero kernel keeps one zero term (so that
// NaN pixels still propagate as they do in the direct method).
inline std::vector<term> terms_from_svd(const matrix& u, const Eigen::VectorXd& s, const matrix& v) {
  std::vector<term> terms;
  const double smax = s.size() ? s(0) : 0.0;
  for (Eigen::Index r = 0; r < s.size(); ++r) {
    if (!(s(r) > rank_tolerance * smax)) break;  // sorted in decreasing order
    term t;
    t.ky.resize(u.rows());
    t.kx.resize(v.rows());
    for (Eigen::Index j = 0; j < u.rows(); ++j) t.ky[j] = static_cast<float>(s(r) * u(j, r));
    for (Eigen::Index i = 0; i < v.rows(); ++i) t.kx[i] = static_cast<float>(v(i, r));
    terms.push_back(std::move(t));
  }
  if (terms.empty()) terms.push_back({std::vector<float>(v.rows(), 0.f), std::vector<float>(u.rows(), 0.f)});
  return terms;
}

// Every term of the kernel's SVD (Eigen's BDCSVD: O(n^3), about 20 ms for 201x201).
inline std::vector<term> svd_terms(const kernel2d& k) {
  const matrix m = to_matrix(k);
  Eigen::BDCSVD<matrix> svd(m, Eigen::ComputeThinU | Eigen::ComputeThinV);
  return terms_from_svd(svd.matrixU(), svd.singularValues(), svd.matrixV());
}

// Largest singular value of m, estimated from below by power iteration.
inline double spectral_norm_estimate(const matrix& m, int iterations = 12) {
  if (m.size() == 0) return 0;
  Eigen::VectorXd x = Eigen::VectorXd::Ones(m.cols());
  double norm = 0;
  for (int it = 0; it < iterations; ++it) {
    const Eigen::VectorXd y = m.transpose() * (m * x);
    const double ny = y.norm();
    if (ny == 0) return 0;
    norm = std::sqrt(ny / x.norm());
    x = y / ny;
  }
  return norm;
}

// The kernel's terms if its numerical rank is at most max_rank, else nothing. Cheap for
// large kernels (O(max_rank * n^2) instead of a full SVD's O(n^3)): cross approximation
// with complete pivoting finds K = A B^T + R; once ||R||_2 <= tolerance * s_max, the exact
// SVD of A B^T comes from two thin QRs and the Eigen SVD of the small r x r core.
inline std::optional<std::vector<term>> low_rank_terms(const kernel2d& k, std::size_t max_rank) {
  matrix residual = to_matrix(k);
  const Eigen::Index rows = residual.rows(), cols = residual.cols();
  const double largest = residual.cwiseAbs().maxCoeff();
  if (largest == 0) return terms_from_svd(matrix::Zero(rows, 1), Eigen::VectorXd::Zero(1), matrix::Zero(cols, 1));
  // ||R||_2 >= max|R_ij|: the QR and SVD below only run once the peak is small enough.
  const double smax_k = std::max(largest, spectral_norm_estimate(residual));
  matrix a(rows, 0), b(cols, 0);
  for (std::size_t r = 0; r <= max_rank; ++r) {
    Eigen::Index pi = 0, pj = 0;
    const double peak = residual.cwiseAbs().maxCoeff(&pi, &pj);
    if (r > 0 && peak <= 2 * rank_tolerance * smax_k) {
      // Singular values of K are within ||R||_2 of those of A B^T (Weyl).
      Eigen::HouseholderQR<matrix> qa(a), qb(b);
      const matrix ra = qa.matrixQR().topRows(r).template triangularView<Eigen::Upper>();
      const matrix rb = qb.matrixQR().topRows(r).template triangularView<Eigen::Upper>();
      Eigen::JacobiSVD<matrix> core(ra * rb.transpose(), Eigen::ComputeFullU | Eigen::ComputeFullV);
      const double smax = core.singularValues()(0);
      if (peak <= rank_tolerance * smax && 1.25 * spectral_norm_estimate(residual) <= rank_tolerance * smax) {
        const matrix qa_thin = qa.householderQ() * matrix::Identity(rows, r);
        const matrix qb_thin = qb.householderQ() * matrix::Identity(cols, r);
        return terms_from_svd(qa_thin * core.matrixU(), core.singularValues(), qb_thin * core.matrixV());
      }
    }
    if (r == max_rank || peak == 0) break;
    a.conservativeResize(Eigen::NoChange, r + 1);
    b.conservativeResize(Eigen::NoChange, r + 1);
    a.col(r) = residual.col(pj);
    b.col(r) = residual.row(pi).transpose() / residual(pi, pj);
    residual.noalias() -= a.col(r) * b.col(r).transpose();
  }
  return std::nullopt;
}

// ---- cost model ---------------------------------------------------------------------
//
// Estimated nanoseconds per output element (one channel of one pixel) on one core of the
// CI-class machine (AVX-512, simd policy), fitted to measurements of every method over
// kernel sizes 3..201 on 2000x3000 (docs/convolve.md has the table). The openmp policy
// scales all methods alike, so ratios carry over. The GPU has no FFT; there only direct
// and separable passes compete, whose ratio is taken to be the same.
//   direct:      0.035 ns per tap + 0.8 (loads, stores, the padded rows)
//   separable r: 0.5 + r * (0.014 * (kw + kh + 15) + 0.15)   (+15: 16-row blocks)
//   fft:         per pair of tiles, 2.2 * [(n + valid rows) * f(m) + 2 m f(n) + 6 n m]
//                with f(n) = 0.55 n log2 n, plus 50 us of per-tile work

struct fft_tiling {
  std::size_t rows = 0, cols = 0;  // FFT sizes of one tile
  double cost = 0;                 // estimated ns per output element
};

// Sizes whose only prime factors are 2, 3 and 5 (fast for Eigen's kissfft backend).
inline bool fft_friendly(std::size_t n) {
  for (std::size_t p : {2u, 3u, 5u})
    while (n % p == 0 && n > 1) n /= p;
  return n == 1;
}

// Model cost of one complex FFT of size n.
inline double fft_cost(std::size_t n) { return 0.55 * static_cast<double>(n) * std::log2(static_cast<double>(n)); }

// The tile sizes that minimise the FFT method's estimated cost for a width x height image
// with `planes` channels and a kw x kh kernel. Two real tiles share one complex FFT.
inline fft_tiling choose_fft_tiling(std::size_t width, std::size_t height, std::size_t planes, std::size_t kw,
                                    std::size_t kh) {
  const auto candidates = [](std::size_t k, std::size_t extent) {
    std::vector<std::size_t> sizes;
    const std::size_t top = std::max<std::size_t>(extent + k - 1, 2 * k);
    for (std::size_t n = k; n <= top + 64 && sizes.size() < 400; ++n)
      if (fft_friendly(n)) sizes.push_back(n);
    return sizes;
  };
  const auto rows = candidates(kh, height), cols = candidates(kw, width);
  fft_tiling best;
  best.cost = HUGE_VAL;
  for (std::size_t n : rows) {
    const std::size_t valid_rows = n - kh + 1;
    const std::size_t tiles_y = (height + valid_rows - 1) / valid_rows;
    for (std::size_t m : cols) {
      if (n * m > (std::size_t{1} << 23)) continue;  // 64 MB of complex floats per tile
      const std::size_t valid_cols = m - kw + 1;
      const std::size_t tiles_x = (width + valid_cols - 1) / valid_cols;
      const std::size_t pairs = (tiles_y * tiles_x * planes + 1) / 2;
      // forward: n row FFTs + m column FFTs; inverse: m column + valid_rows row FFTs;
      // plus gathering, multiplying and scattering.
      const double per_pair = 2.2 * (static_cast<double>(n + valid_rows) * fft_cost(m) +
                                     2.0 * static_cast<double>(m) * fft_cost(n) + 6.0 * static_cast<double>(n * m)) +
                              50e3;
      const double cost = static_cast<double>(pairs) * per_pair / static_cast<double>(width * height * planes);
      if (cost < best.cost) best = {n, m, cost};
    }
  }
  return best;
}

inline double direct_cost(std::size_t kw, std::size_t kh) { return 0.035 * static_cast<double>(kw * kh) + 0.8; }
inline double separable_term_cost(std::size_t kw, std::size_t kh) {
  return 0.014 * static_cast<double>(kw + kh + 15) + 0.15;
}
inline double separable_cost(std::size_t kw, std::size_t kh, std::size_t terms = 1) {
  return 0.5 + static_cast<double>(terms) * separable_term_cost(kw, kh);
}

// ---- method resolution ---------------------------------------------------------------

// What the caller asked for, before a backend picks how: a dense kernel with a method, or
// separable terms given directly (separable_correlate, gaussian_blur). The rank analysis
// is cached, so a batch or a with_fallback rerun does it once.
struct request {
  conv_method method = conv_method::automatic;
  kernel2d kernel;          // empty when `given` holds the terms
  std::vector<term> given;  // separable_correlate / gaussian_blur
  border_spec border;

  mutable std::optional<std::vector<term>> svd;       // every term (low_rank)
  mutable std::optional<std::vector<term>> low_rank;  // found with at most checked_rank terms
  mutable std::size_t checked_rank = 0;               // ranks up to this were tried

  // The kernel's terms if its rank is at most max_rank (cached).
  const std::vector<term>* terms_up_to(std::size_t max_rank) const {
    if (low_rank && low_rank->size() <= max_rank) return &*low_rank;
    if (max_rank <= checked_rank) return nullptr;
    low_rank = low_rank_terms(kernel, max_rank);
    checked_rank = max_rank;
    return low_rank ? &*low_rank : nullptr;
  }
  const std::vector<term>& all_terms() const {
    if (!svd) svd = svd_terms(kernel);
    return *svd;
  }
};

enum class target { cpu, gpu };

// The plan for one image on one kind of backend. The GPU has no FFT: there `fft` and
// `automatic` choose between low-rank passes and the direct method.
inline plan resolve(const request& req, target where, std::size_t width, std::size_t height, std::size_t channels) {
  plan p;
  p.border = req.border;
  if (!req.given.empty()) {
    p.method = req.given.size() == 1 ? conv_method::separable : conv_method::low_rank;
    p.terms = req.given;
    return p;
  }
  const std::size_t kw = req.kernel.width, kh = req.kernel.height;
  const auto as_terms = [&](const std::vector<term>& terms) {
    p.method = terms.size() == 1 ? conv_method::separable : conv_method::low_rank;
    p.terms = terms;
    return p;
  };
  const auto as_kernel = [&](conv_method m) {
    p.method = m;
    p.kernel = req.kernel;
    return p;
  };
  switch (req.method) {
    case conv_method::direct: return as_kernel(conv_method::direct);
    case conv_method::separable: {
      const auto* terms = req.terms_up_to(1);  // the entry point has checked the rank
      return terms ? as_terms(*terms) : as_kernel(conv_method::direct);
    }
    case conv_method::low_rank: return as_terms(req.all_terms());
    case conv_method::fft:
      if (where == target::cpu) return as_kernel(conv_method::fft);
      break;  // GPU: as automatic
    case conv_method::automatic: break;
  }
  double best = direct_cost(kw, kh);
  conv_method best_method = conv_method::direct;
  if (where == target::cpu && kw * kh >= 64) {
    const double f = choose_fft_tiling(width, height, channels, kw, kh).cost;
    if (f < best) best = f, best_method = conv_method::fft;
  }
  // Low-rank passes pay off up to the rank where they cost as much as the best other method.
  const double per_term = separable_term_cost(kw, kh);
  const double affordable = (best - 0.5) / per_term;
  const auto max_rank = static_cast<std::size_t>(std::clamp(affordable, 0.0, static_cast<double>(std::min(kw, kh))));
  if (max_rank >= 1)
    if (const auto* terms = req.terms_up_to(max_rank)) return as_terms(*terms);
  return as_kernel(best_method);
}

}  // namespace detail::conv
}  // namespace polykern
