// The numerical rank of a dense kernel and its exact low-rank decomposition, in a few plain
// loops over doubles (no linear-algebra library: an SVD from one costs a user's compiler
// more than the whole rest of this family, see docs/convolve.md).
//
// Cross approximation with complete pivoting (Gaussian elimination with complete pivoting,
// stopped early) finds K = A B^T + R, one rank per step, O(n^2) each. Once the residual's
// spectral norm (power iteration) is below rank_tolerance * s_max, the singular value
// decomposition of A B^T comes from thin QRs of A and B and a one-sided Jacobi SVD of the
// small r x r core; singular values below rank_tolerance * s_max are dropped (api.md §4:
// low_rank is exact up to those). A float Gaussian outer product has rank 1 this way (its
// rounding noise sits at 8e-9 of s_max).
#pragma once
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <numeric>
#include <optional>
#include <utility>
#include <vector>

#include "plan.hpp"

namespace polykern::detail::conv {

// Relative threshold below which singular values are dropped (api.md §4).
inline constexpr double rank_tolerance = 1e-7;

// A row-major matrix of doubles, just what the rank analysis needs.
struct dense {
  std::size_t rows = 0, cols = 0;
  std::vector<double> v;
  dense() = default;
  dense(std::size_t r, std::size_t c) : rows(r), cols(c), v(r * c, 0.0) {}
  double& operator()(std::size_t i, std::size_t j) { return v[i * cols + j]; }
  double operator()(std::size_t i, std::size_t j) const { return v[i * cols + j]; }
};

inline dense to_dense(const kernel2d& k) {
  dense m(k.height, k.width);
  for (std::size_t j = 0; j < k.height; ++j)
    for (std::size_t i = 0; i < k.width; ++i) m(j, i) = k.at(i, j);
  return m;
}

inline double dot(const std::vector<double>& a, const std::vector<double>& b) {
  return std::inner_product(a.begin(), a.end(), b.begin(), 0.0);
}

// Largest singular value of m, estimated from below by power iteration on m^T m.
inline double spectral_norm_estimate(const dense& m, int iterations = 12) {
  if (m.v.empty()) return 0;
  std::vector<double> x(m.cols, 1.0), mx(m.rows), y(m.cols);
  double norm = 0;
  for (int it = 0; it < iterations; ++it) {
    for (std::size_t i = 0; i < m.rows; ++i)
      mx[i] = std::inner_product(x.begin(), x.end(), m.v.begin() + static_cast<std::ptrdiff_t>(i * m.cols), 0.0);
    std::fill(y.begin(), y.end(), 0.0);
    for (std::size_t i = 0; i < m.rows; ++i)
      for (std::size_t j = 0; j < m.cols; ++j) y[j] += m(i, j) * mx[i];
    const double ny = std::sqrt(dot(y, y));
    if (ny == 0) return 0;
    norm = std::sqrt(ny / std::sqrt(dot(x, x)));
    for (std::size_t j = 0; j < m.cols; ++j) x[j] = y[j] / ny;
  }
  return norm;
}

// Thin QR of the columns a[0..r): q (orthonormal columns) and the r x r upper triangle,
// by Gram-Schmidt with one reorthogonalisation (as accurate as Householder for this use).
inline void thin_qr(const std::vector<std::vector<double>>& a, std::vector<std::vector<double>>& q, dense& r) {
  const std::size_t n = a.size();
  q.assign(n, {});
  r = dense(n, n);
  for (std::size_t j = 0; j < n; ++j) {
    std::vector<double> v = a[j];
    for (int pass = 0; pass < 2; ++pass)
      for (std::size_t i = 0; i < j; ++i) {
        const double h = dot(q[i], v);
        r(i, j) += h;
        for (std::size_t e = 0; e < v.size(); ++e) v[e] -= h * q[i][e];
      }
    const double norm = std::sqrt(dot(v, v));
    r(j, j) = norm;
    if (norm > 0)
      for (double& e : v) e /= norm;
    q[j] = std::move(v);
  }
}

// One-sided Jacobi SVD of the square matrix c: c = u diag(s) v^T, s in decreasing order;
// columns u[k], v[k]. Rotations until every pair of columns is orthogonal to rounding.
inline void jacobi_svd(const dense& c, std::vector<std::vector<double>>& u, std::vector<double>& s,
                       std::vector<std::vector<double>>& v) {
  const std::size_t n = c.cols;
  std::vector<std::vector<double>> w(n, std::vector<double>(c.rows));
  v.assign(n, std::vector<double>(n, 0.0));
  for (std::size_t j = 0; j < n; ++j) {
    for (std::size_t i = 0; i < c.rows; ++i) w[j][i] = c(i, j);
    v[j][j] = 1.0;
  }
  const auto rotate = [](std::vector<double>& x, std::vector<double>& y, double cs, double sn) {
    for (std::size_t e = 0; e < x.size(); ++e) {
      const double a = x[e], b = y[e];
      x[e] = cs * a - sn * b;
      y[e] = sn * a + cs * b;
    }
  };
  for (int sweep = 0; sweep < 60; ++sweep) {
    bool rotated = false;
    for (std::size_t p = 0; p + 1 < n; ++p)
      for (std::size_t q = p + 1; q < n; ++q) {
        const double alpha = dot(w[p], w[p]), beta = dot(w[q], w[q]), gamma = dot(w[p], w[q]);
        if (gamma == 0 || std::abs(gamma) <= 1e-15 * std::sqrt(alpha * beta)) continue;
        rotated = true;
        const double zeta = (beta - alpha) / (2 * gamma);
        const double t = std::copysign(1.0, zeta) / (std::abs(zeta) + std::sqrt(1 + zeta * zeta));
        const double cs = 1 / std::sqrt(1 + t * t), sn = cs * t;
        rotate(w[p], w[q], cs, sn);
        rotate(v[p], v[q], cs, sn);
      }
    if (!rotated) break;
  }
  std::vector<double> norms(n);
  for (std::size_t j = 0; j < n; ++j) norms[j] = std::sqrt(dot(w[j], w[j]));
  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return norms[a] > norms[b]; });
  u.assign(n, {});
  s.assign(n, 0.0);
  std::vector<std::vector<double>> v_sorted(n);
  for (std::size_t k = 0; k < n; ++k) {
    const std::size_t j = order[k];
    s[k] = norms[j];
    u[k] = std::move(w[j]);
    if (s[k] > 0)
      for (double& e : u[k]) e /= s[k];
    v_sorted[k] = std::move(v[j]);
  }
  v = std::move(v_sorted);
}

// Terms from K = U S V^T (columns u[k], v[k], s decreasing): term k has ky = s_k u_k,
// kx = v_k. Singular values below rank_tolerance * s_max are dropped; a zero kernel keeps
// one zero term (so that NaN pixels still propagate as they do in the direct method).
inline std::vector<term> terms_from_svd(const std::vector<std::vector<double>>& u, const std::vector<double>& s,
                                        const std::vector<std::vector<double>>& v, std::size_t rows,
                                        std::size_t cols) {
  std::vector<term> terms;
  const double smax = s.empty() ? 0.0 : s[0];
  for (std::size_t k = 0; k < s.size(); ++k) {
    if (!(s[k] > rank_tolerance * smax)) break;  // sorted in decreasing order
    term t;
    t.ky.resize(rows);
    t.kx.resize(cols);
    for (std::size_t j = 0; j < rows; ++j) t.ky[j] = static_cast<float>(s[k] * u[k][j]);
    for (std::size_t i = 0; i < cols; ++i) t.kx[i] = static_cast<float>(v[k][i]);
    terms.push_back(std::move(t));
  }
  if (terms.empty()) terms.push_back({std::vector<float>(cols, 0.f), std::vector<float>(rows, 0.f)});
  return terms;
}

// The kernel's terms if its numerical rank is at most max_rank, else nothing.
// O(max_rank * n^2): cross approximation with complete pivoting until ||R||_2 is below
// rank_tolerance * s_max (Weyl: the singular values of K are then within that of A B^T's).
inline std::optional<std::vector<term>> low_rank_terms(const kernel2d& k, std::size_t max_rank) {
  dense residual = to_dense(k);
  const std::size_t rows = residual.rows, cols = residual.cols;
  const auto peak_of = [&](std::size_t& pi, std::size_t& pj) {
    double peak = -1;
    for (std::size_t i = 0; i < rows; ++i)
      for (std::size_t j = 0; j < cols; ++j)
        if (const double a = std::abs(residual(i, j)); a > peak) peak = a, pi = i, pj = j;
    return peak;
  };
  std::size_t pi = 0, pj = 0;
  const double largest = peak_of(pi, pj);
  if (largest == 0) return terms_from_svd({}, {}, {}, rows, cols);
  // ||R||_2 >= max|R_ij|: the QR and SVD below only run once the peak is small enough.
  const double smax_k = std::max(largest, spectral_norm_estimate(residual));
  std::vector<std::vector<double>> a, b;  // columns of A (rows long) and B (cols long)
  for (std::size_t r = 0; r <= max_rank; ++r) {
    const double peak = peak_of(pi, pj);
    if (r > 0 && peak <= 2 * rank_tolerance * smax_k) {
      std::vector<std::vector<double>> qa, qb, cu, cv;
      dense ra, rb;
      thin_qr(a, qa, ra);
      thin_qr(b, qb, rb);
      dense core(r, r);  // ra * rb^T
      for (std::size_t i = 0; i < r; ++i)
        for (std::size_t j = 0; j < r; ++j)
          for (std::size_t l = std::max(i, j); l < r; ++l) core(i, j) += ra(i, l) * rb(j, l);
      std::vector<double> s;
      jacobi_svd(core, cu, s, cv);
      const double smax = s[0];
      if (peak <= rank_tolerance * smax && 1.25 * spectral_norm_estimate(residual) <= rank_tolerance * smax) {
        // K's singular vectors: qa * cu and qb * cv.
        const auto times = [](const std::vector<std::vector<double>>& q, const std::vector<std::vector<double>>& c) {
          std::vector<std::vector<double>> out(c.size(), std::vector<double>(q.front().size(), 0.0));
          for (std::size_t k2 = 0; k2 < c.size(); ++k2)
            for (std::size_t l = 0; l < q.size(); ++l)
              for (std::size_t e = 0; e < q[l].size(); ++e) out[k2][e] += q[l][e] * c[k2][l];
          return out;
        };
        return terms_from_svd(times(qa, cu), s, times(qb, cv), rows, cols);
      }
    }
    if (r == max_rank || peak == 0) break;
    std::vector<double> ac(rows), bc(cols);
    const double pivot = residual(pi, pj);
    for (std::size_t i = 0; i < rows; ++i) ac[i] = residual(i, pj);
    for (std::size_t j = 0; j < cols; ++j) bc[j] = residual(pi, j) / pivot;
    for (std::size_t i = 0; i < rows; ++i)
      for (std::size_t j = 0; j < cols; ++j) residual(i, j) -= ac[i] * bc[j];
    a.push_back(std::move(ac));
    b.push_back(std::move(bc));
  }
  return std::nullopt;
}

// The rank analysis of one call's kernel, cached: a batch or a with_fallback rerun does it
// once.
class kernel_ranks {
 public:
  // The kernel's terms if its rank is at most max_rank.
  const std::vector<term>* terms_up_to(const kernel2d& k, std::size_t max_rank) const {
    if (found_ && found_->size() <= max_rank) return &*found_;
    if (max_rank <= checked_rank_) return nullptr;
    found_ = low_rank_terms(k, max_rank);
    checked_rank_ = max_rank;
    return found_ ? &*found_ : nullptr;
  }
  // Every term (the low_rank method): full rank always succeeds, the residual is then zero
  // up to rounding.
  const std::vector<term>& all_terms(const kernel2d& k) const {
    const auto* terms = terms_up_to(k, std::min(k.width, k.height));
    if (!terms) {  // rounding kept the residual above tolerance: every term of full rank
      found_ = full_svd_terms(k);
      terms = &*found_;
    }
    return *terms;
  }

 private:
  // The Jacobi SVD of the whole kernel (O(n^3) per sweep; a fallback for rounding, never seen in the tests).
  static std::vector<term> full_svd_terms(const kernel2d& k) {
    const dense m = to_dense(k);
    dense t(m.cols, m.rows);  // K^T: its columns are K's rows, so v below are K's right vectors
    for (std::size_t i = 0; i < m.rows; ++i)
      for (std::size_t j = 0; j < m.cols; ++j) t(j, i) = m(i, j);
    std::vector<std::vector<double>> u, v;
    std::vector<double> s;
    jacobi_svd(m.rows >= m.cols ? m : t, u, s, v);
    return m.rows >= m.cols ? terms_from_svd(u, s, v, m.rows, m.cols) : terms_from_svd(v, s, u, m.rows, m.cols);
  }

  mutable std::optional<std::vector<term>> found_;
  mutable std::size_t checked_rank_ = 0;
};

}  // namespace polykern::detail::conv
