// Gaussian smoothing over a neighbour graph, part 1: the weight table and the Jacobi pass
// shared by the CPU policies (docs/smooth.md).
//
// Per graph (once): w_ij = exp(a * dist2_ij), a = -1 / (2 sigma^2), normalised per row
// (w_ij * (1 / sum_j w_ij)); a row keeps v_i when it has no neighbour other than i (or its
// weights sum to 0). Per iteration: out_i[c] = fold over the row in order of
// acc = fmadd(w_ij, v_j[c], acc). Each row is one fixed sequence of operations, so the
// result is bitwise the same for every CPU policy and thread count. The exponentials come
// from xsimd's exp for every CPU policy (the scalar one included), element by element, so
// the weight table does not depend on the policy either.
#pragma once
#include <xsimd/xsimd.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <span>
#include <vector>

#include "../../error.hpp"
#include "../../execution.hpp"
#include "../../view.hpp"
#include "kdtree.hpp"

namespace polykern {

// sigma: the Gaussian's standard deviation in the points' units (> 0).
// iterations: Jacobi passes (0 copies the values).
struct smooth_options {
  double sigma = 1.0;
  std::size_t iterations = 1;
};

}  // namespace polykern

namespace polykern::detail::sm {

using kd::fmadd;

// a = -1 / (2 sigma^2) in T, kept finite (a tiny sigma gives -max, so exp(a * 0) is still 1).
template <class T>
T exponent_scale(double sigma) {
  double a = -0.5 / (sigma * sigma);
  const double lowest = -static_cast<double>(std::numeric_limits<T>::max());
  if (!(a >= lowest)) a = lowest;
  return static_cast<T>(a);
}

// w[i] = exp(a * d2[i]) for i < n, a batch at a time; the tail goes through one padded
// batch, so every element is computed by the same function wherever it lies.
template <class T>
void exp_scaled(const T* d2, T* w, std::size_t n, T a) {
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
// its weights sum to 0). Also checks every index (< n) and dist2 (>= 0, not NaN): returns
// the first bad entry (relative to offsets[0]), or SIZE_MAX when all are good, in which
// case nothing was written.
template <class T>
std::size_t weigh_rows(std::size_t row0, std::size_t rows, const std::uint64_t* offsets, const std::uint32_t* indices,
                       const T* d2, T* w, std::uint8_t* keep, T a, std::size_t n, bool check = true) {
  const std::size_t base = offsets[0], nnz = offsets[rows] - base;
  if (check) {
    bool bad = false;  // no early exit, so the loop vectorises
    for (std::size_t e = 0; e < nnz; ++e) bad |= (indices[e] >= n) | !(d2[e] >= 0);
    if (bad)
      for (std::size_t e = 0; e < nnz; ++e)
        if (indices[e] >= n || !(d2[e] >= 0)) return e;
  }
  exp_scaled(d2, w, nnz, a);
  // Each row's sum is the fold over its entries in order; rows go four at a time so the
  // four chains of additions overlap.
  const auto finish_row = [&](std::size_t r, T sum, bool other) {
    const std::size_t b = offsets[r] - base, e = offsets[r + 1] - base;
    keep[r] = !other || !(sum > 0);
    if (keep[r]) return;
    const T inv = T(1) / sum;
    for (std::size_t j = b; j < e; ++j) w[j] *= inv;
  };
  std::size_t r = 0;
  for (; r + 4 <= rows; r += 4) {
    std::size_t b[4], len[4], common = SIZE_MAX;
    for (std::size_t k = 0; k < 4; ++k) {
      b[k] = offsets[r + k] - base;
      len[k] = offsets[r + k + 1] - offsets[r + k];
      common = std::min(common, len[k]);
    }
    T sum[4] = {};
    bool other[4] = {};
    for (std::size_t j = 0; j < common; ++j)
      for (std::size_t k = 0; k < 4; ++k) {
        sum[k] += w[b[k] + j];
        other[k] |= indices[b[k] + j] != row0 + r + k;
      }
    for (std::size_t k = 0; k < 4; ++k) {
      for (std::size_t j = common; j < len[k]; ++j) {
        sum[k] += w[b[k] + j];
        other[k] |= indices[b[k] + j] != row0 + r + k;
      }
      finish_row(r + k, sum[k], other[k]);
    }
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
  return SIZE_MAX;
}

template <std::size_t C, class T>
inline void accumulate(T* acc, T w, const T* v) {
  for (std::size_t c = 0; c < C; ++c) acc[c] = fmadd(w, v[c], acc[c]);
}

// One Jacobi pass over a slice: out_r[c] = fold_j fmadd(w_rj, in_j[c], .) (C channels;
// C == 0: any number, 8 at a time). Rows marked keep copy their own value. For small C the
// rows go four at a time, interleaved, so four independent chains of multiply-adds hide
// each other's latency; each row's own sequence of operations is unchanged.
template <std::size_t C, class T>
void smooth_slice(const slice<T>& s, const T* in, std::ptrdiff_t in_stride, T* out, std::ptrdiff_t out_stride,
                  std::size_t cols, const std::uint32_t* out_map) {
  const std::size_t base = s.offsets[0];
  const auto out_row = [&](std::size_t r) {
    return out + static_cast<std::ptrdiff_t>(out_map ? out_map[r] : r) * out_stride;
  };
  const auto row_in = [&](std::size_t j) { return in + static_cast<std::ptrdiff_t>(s.indices[j]) * in_stride; };
  // Row i of the slice on its own (any number of channels, 8 at a time).
  const auto one_row = [&](std::size_t i) {
    const std::size_t r = s.row0 + i;
    T* o = out_row(r);
    if (s.keep[i]) {
      const T* own = in + static_cast<std::ptrdiff_t>(r) * in_stride;
      std::copy(own, own + cols, o);
      return;
    }
    const std::size_t b = s.offsets[i] - base, e = s.offsets[i + 1] - base;
    for (std::size_t c0 = 0; c0 < cols; c0 += 8) {
      const std::size_t cn = std::min<std::size_t>(8, cols - c0);
      T acc[8] = {};
      for (std::size_t j = b; j < e; ++j) {
        const T wj = s.w[j];
        const T* v = row_in(j) + c0;
        for (std::size_t c = 0; c < cn; ++c) acc[c] = fmadd(wj, v[c], acc[c]);
      }
      std::copy(acc, acc + cn, o + c0);
    }
  };
  std::size_t i = 0;
  if constexpr (C > 0) {
    constexpr std::size_t R = 4;
    for (; i + R <= s.rows; i += R) {
      bool any_keep = false;
      for (std::size_t k = 0; k < R; ++k) any_keep |= s.keep[i + k] != 0;
      if (any_keep) {
        for (std::size_t k = 0; k < R; ++k) one_row(i + k);
        continue;
      }
      std::size_t b[R], e[R], common = SIZE_MAX;
      for (std::size_t k = 0; k < R; ++k) {
        b[k] = s.offsets[i + k] - base;
        e[k] = s.offsets[i + k + 1] - base;
        common = std::min(common, e[k] - b[k]);
      }
      T a0[C] = {}, a1[C] = {}, a2[C] = {}, a3[C] = {};
      for (std::size_t j = 0; j < common; ++j) {
        accumulate<C>(a0, s.w[b[0] + j], row_in(b[0] + j));
        accumulate<C>(a1, s.w[b[1] + j], row_in(b[1] + j));
        accumulate<C>(a2, s.w[b[2] + j], row_in(b[2] + j));
        accumulate<C>(a3, s.w[b[3] + j], row_in(b[3] + j));
      }
      T* acc[R] = {a0, a1, a2, a3};
      for (std::size_t k = 0; k < R; ++k) {
        for (std::size_t j = b[k] + common; j < e[k]; ++j) accumulate<C>(acc[k], s.w[j], row_in(j));
        T* o = out_row(s.row0 + i + k);
        for (std::size_t c = 0; c < C; ++c) o[c] = acc[k][c];
      }
    }
  }
  for (; i < s.rows; ++i) one_row(i);
}

// Row r of the pass goes to row out_map[r] of `out` (out_map == nullptr: row r).
template <class T>
void smooth_slice_any(const slice<T>& s, const T* in, std::ptrdiff_t in_stride, T* out, std::ptrdiff_t out_stride,
                      std::size_t cols, const std::uint32_t* out_map = nullptr) {
  switch (cols) {
    case 1: return smooth_slice<1>(s, in, in_stride, out, out_stride, cols, out_map);
    case 2: return smooth_slice<2>(s, in, in_stride, out, out_stride, cols, out_map);
    case 3: return smooth_slice<3>(s, in, in_stride, out, out_stride, cols, out_map);
    case 4: return smooth_slice<4>(s, in, in_stride, out, out_stride, cols, out_map);
    case 8: return smooth_slice<8>(s, in, in_stride, out, out_stride, cols, out_map);
    default: return smooth_slice<0>(s, in, in_stride, out, out_stride, cols, out_map);
  }
}

// Copies the rows of a strided matrix (nothing when src is dst).
template <class T, class Each>
void copy_rows(matrix_view<const T> src, matrix_view<T> dst, const Each& each) {
  if (src.data == dst.data && src.row_stride == dst.row_stride) return;
  const std::size_t chunks = (src.rows + rows_per_chunk - 1) / rows_per_chunk;
  each(chunks, [&](std::size_t c) {
    for (std::size_t r = c * rows_per_chunk, e = std::min(src.rows, r + rows_per_chunk); r < e; ++r)
      std::copy(src.row(r), src.row(r) + src.cols, dst.row(r));
  });
}

// `iterations` Jacobi passes over the slices (get(c) for c < count), between two scratch
// buffers; only the last pass writes `out` (row r to row out_map[r] when out_map is given).
// `out` may be `values` itself (then the values are copied first); any other overlap was
// rejected by the entry point.
template <class T, class Get, class Each>
void run_passes(const Get& get, std::size_t count, matrix_view<const T> values, matrix_view<T> out,
                std::size_t iterations, const Each& each, const std::uint32_t* out_map = nullptr) {
  const std::size_t n = values.rows, cols = values.cols;
  if (n == 0 || cols == 0) return;
  std::vector<T> input;
  if (values.data == out.data) {  // in place: read a copy
    input.resize(n * cols);
    copy_rows(values, matrix_view<T>(input.data(), n, cols), each);
    values = matrix_view<const T>(input.data(), n, cols);
  }
  if (iterations == 0) {
    if (out_map) {
      each(count, [&](std::size_t c) {
        const slice<T> sl = get(c);
        for (std::size_t r = sl.row0; r < sl.row0 + sl.rows; ++r) std::copy_n(values.row(r), cols, out.row(out_map[r]));
      });
    } else {
      copy_rows(values, out, each);
    }
    return;
  }
  std::vector<T> buf[2];
  const T* cur = values.data;
  std::ptrdiff_t cur_stride = values.row_stride;
  for (std::size_t it = 1; it <= iterations; ++it) {
    T* dst = out.data;
    std::ptrdiff_t dst_stride = out.row_stride;
    const std::uint32_t* map = out_map;
    if (it < iterations) {
      map = nullptr;
      auto& b = buf[it & 1];
      b.resize(n * cols);
      dst = b.data();
      dst_stride = static_cast<std::ptrdiff_t>(cols);
    }
    each(count, [&](std::size_t c) { smooth_slice_any(get(c), cur, cur_stride, dst, dst_stride, cols, map); });
    cur = dst;
    cur_stride = dst_stride;
  }
}

// gaussian_smooth on the CPU: the weight table (checking the graph), then the passes.
template <class T, class Each>
void smooth_graph(const neighbor_graph<T>& g, matrix_view<const T> values, matrix_view<T> out, T a,
                  std::size_t iterations, const Each& each) {
  const std::size_t rows = g.rows(), nnz = g.entries();
  std::vector<T> w(nnz);
  std::vector<std::uint8_t> keep(rows);
  const std::size_t chunks = (rows + rows_per_chunk - 1) / rows_per_chunk;
  std::vector<std::size_t> bad(chunks, SIZE_MAX);
  const auto get = [&](std::size_t c) {
    const std::size_t r0 = c * rows_per_chunk, e0 = g.offsets[r0];
    return slice<T>{r0, std::min(rows, r0 + rows_per_chunk) - r0, g.offsets.data() + r0, g.indices.data() + e0,
                    w.data() + e0, keep.data() + r0};
  };
  each(chunks, [&](std::size_t c) {
    const slice<T> s = get(c);
    const std::size_t e0 = g.offsets[s.row0];
    const std::size_t e = weigh_rows(s.row0, s.rows, s.offsets, s.indices, g.dist2.data() + e0, w.data() + e0,
                                     keep.data() + s.row0, a, rows);
    if (e != SIZE_MAX) bad[c] = e0 + e;
  });
  for (std::size_t c = 0; c < chunks; ++c)
    if (bad[c] != SIZE_MAX) {
      const std::size_t e = bad[c];
      if (g.indices[e] >= rows)
        require(false, "gaussian_smooth", "graph.indices[", e, "] is ", g.indices[e], "; must be < ", rows,
                " (the number of rows of values)");
      require(false, "gaussian_smooth", "graph.dist2[", e, "] is ", g.dist2[e], "; must be >= 0");
    }
  run_passes<T>(get, chunks, values, out, iterations, each);
}

// smooth_neighbors on the CPU: the tree, then per chunk of ~512 points (in tree order) its
// rows, found in tree-position order with tree positions as indices, weighed in place
// while they are in cache, and its values gathered into tree order; then the passes (each
// reads neighbouring memory), the last one writing to the caller's rows. No graph is
// assembled: the chunks are the graph. `out` may be `values`: they are read in the first
// phase only.
template <class V, class T, std::size_t Dim, class Each>
void smooth_neighbors_body(points_view<const T, Dim> points, matrix_view<const T> values, matrix_view<T> out, T r2,
                           T a, std::size_t iterations, std::size_t keep_nearest, const Each& each) {
  kd::tree_data<T, Dim> t;
  kd::build_tree(t, points, 16, each, "smooth_neighbors", "points");
  const kd::query_order o = kd::make_order(t, points, kd::space::tree, each);
  const std::size_t n = t.n, cols = values.cols, chunks = o.chunks();
  std::vector<kd::chunk_rows<T>> rows(chunks);
  std::vector<std::vector<std::uint8_t>> keep(chunks);
  std::vector<std::uint32_t> caller(n);  // tree position -> caller row
  std::vector<T> in(n * cols);
  each(chunks, [&](std::size_t c) {  // rows, weights and the values in tree order: one pass
    kd::chunk_rows<T>& cr = rows[c];
    kd::radius_chunk<V>(t, points, kd::space::tree, o, c, r2, keep_nearest, kd::row_order::position, cr);
    keep[c].resize(o.last(c) - o.first(c));
    weigh_rows(o.first(c), keep[c].size(), cr.offsets.data(), cr.hits.pos.data(), cr.hits.d2.data(),
               cr.hits.d2.data(), keep[c].data(), a, n, false);  // our own rows need no check
    cr.hits.orig = {};
    for (std::size_t p = o.first(c); p < o.last(c); ++p) {
      caller[p] = t.orig(p);
      std::copy_n(values.row(caller[p]), cols, in.data() + p * cols);
    }
  });
  const auto get = [&](std::size_t c) {
    return slice<T>{o.first(c), keep[c].size(), rows[c].offsets.data(), rows[c].hits.pos.data(),
                    rows[c].hits.d2.data(), keep[c].data()};
  };
  // The last pass writes each row straight to its caller row of `out`.
  run_passes<T>(get, chunks, matrix_view<const T>(in.data(), n, cols), out, iterations, each, caller.data());
}

// ---- the scalar policy ----------------------------------------------------------------

template <class T>
void smooth(scalar_tag, const auto&, const neighbor_graph<T>& g, matrix_view<const T> values, matrix_view<T> out,
            T a, std::size_t iterations) {
  smooth_graph(g, values, out, a, iterations, kd::serial_each{});
}
template <class T, std::size_t Dim>
void smooth_neighbors(scalar_tag, const auto&, points_view<const T, Dim> points, matrix_view<const T> values,
                      matrix_view<T> out, T r2, T a, std::size_t iterations, std::size_t keep) {
  smooth_neighbors_body<T>(points, values, out, r2, a, iterations, keep, kd::serial_each{});
}

}  // namespace polykern::detail::sm
