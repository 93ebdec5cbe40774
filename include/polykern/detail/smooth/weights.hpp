// Gaussian smoothing, the weight table (docs/smooth.md, "Smoothing"): per graph, once,
// w_ij = exp(a * dist2_ij), a = -1 / (2 sigma^2), normalised per row (w_ij * (1 / sum_j
// w_ij)); a row keeps v_i when it has no neighbour other than i (or its weights sum to 0).
// The exponentials come from xsimd's exp for every CPU policy (the scalar one included),
// element by element, so the table does not depend on the policy.
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>

#include "../simd/xsimd.hpp"
#include "../unroll.hpp"

namespace polykern::detail::sm {

// a = -1 / (2 sigma^2) in T, kept finite (a tiny sigma gives -max, so exp(a * 0) is still 1).
template <class T>
T exponent_scale(double sigma) {
  double a = -0.5 / (sigma * sigma);
  const double lowest = -static_cast<double>(std::numeric_limits<T>::max());
  if (!(a >= lowest)) a = lowest;
  return static_cast<T>(a);
}

// w[i] = exp(a * d2[i]) for i < n, a batch at a time; the tail goes through one padded
// batch, so every element is computed by the same function wherever it lies. Flattened:
// GCC's -O2 inliner leaves xsimd::exp's polynomial helpers as calls (2x slower than -O3).
template <class T>
POLYKERN_FLATTEN void exp_scaled(const T* d2, T* w, std::size_t n, T a) {
  using B = xsimd::batch<T>;
  constexpr std::size_t W = B::size;
  const B av(a);
  std::size_t i = 0;
  for (; i + W <= n; i += W) xsimd::exp(B::load_unaligned(d2 + i) * av).store_unaligned(w + i);
  if (i < n) {
    alignas(64) T tmp[W] = {};
    std::copy(d2 + i, d2 + n, tmp);
    xsimd::exp(B::load_aligned(tmp) * av).store_aligned(tmp);
    std::copy(tmp, tmp + (n - i), w + i);
  }
}

// Rows [row0, row0 + rows) of a graph: row r's entries are
// [offsets[r - row0] - offsets[0], offsets[r - row0 + 1] - offsets[0]) of `indices` and
// `w` (the normalised weights); keep[r - row0] marks rows that keep their own value.
template <class T>
struct slice {
  std::size_t row0, rows;
  const std::uint64_t* offsets;
  const std::uint32_t* indices;
  const T* w;
  const std::uint8_t* keep;
};

inline constexpr std::size_t rows_per_chunk = 1024;

// Weighs rows [row0, row0 + rows): w = exp(a * d2) (d2 and w may be the same array), then
// each row normalised, or marked `keep` when it has no neighbour other than itself (or
// its weights sum to 0). The graph was checked by the entry point (checks.hpp).
template <class T>
POLYKERN_FLATTEN void weigh_rows(std::size_t row0, std::size_t rows, const std::uint64_t* offsets, const std::uint32_t* indices,
                const T* d2, T* w, std::uint8_t* keep, T a) {
  const std::size_t base = offsets[0], nnz = offsets[rows] - base;
  exp_scaled(d2, w, nnz, a);
  // Each row's sum is the fold over its entries in order; rows go four at a time so the
  // four chains of additions overlap.
  const auto finish_row = [&](std::size_t r, T sum, bool other) {
    const std::size_t b = offsets[r] - base, e = offsets[r + 1] - base;
    keep[r] = !other || !(sum > 0);
    if (keep[r]) return;
    const T inv = T(1) / sum;
    // A batch at a time (-O2 does not vectorise a loop that needs a scalar tail).
    using B = xsimd::batch<T>;
    const B invv(inv);
    std::size_t j = b;
    for (; j + B::size <= e; j += B::size) (B::load_unaligned(w + j) * invv).store_unaligned(w + j);
    for (; j < e; ++j) w[j] *= inv;
  };
  // The four rows are static_for expansions, not a loop over k: -O2 does not unroll that
  // loop, so sum[] and other[] lived in memory and every addition waited on a store
  // (W5.smooth 1.15x slower than -O3).
  std::size_t r = 0;
  for (; r + 4 <= rows; r += 4) {
    std::size_t b[4], len[4], common = SIZE_MAX;
    static_for<4>([&](auto k) {
      b[k] = offsets[r + k] - base;
      len[k] = offsets[r + k + 1] - offsets[r + k];
      common = std::min(common, len[k]);
    });
    T sum[4] = {};
    bool other[4] = {};
    for (std::size_t j = 0; j < common; ++j)
      static_for<4>([&](auto k) {
        sum[k] += w[b[k] + j];
        other[k] |= indices[b[k] + j] != row0 + r + k;
      });
    static_for<4>([&](auto k) {
      for (std::size_t j = common; j < len[k]; ++j) {
        sum[k] += w[b[k] + j];
        other[k] |= indices[b[k] + j] != row0 + r + k;
      }
      finish_row(r + k, sum[k], other[k]);
    });
  }
  for (; r < rows; ++r) {
    T sum = 0;
    bool other = false;
    for (std::size_t j = offsets[r] - base; j < offsets[r + 1] - base; ++j) {
      sum += w[j];
      other |= indices[j] != row0 + r;
    }
    finish_row(r, sum, other);
  }
}

}  // namespace polykern::detail::sm
