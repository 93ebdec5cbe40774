// Gaussian smoothing, the Jacobi passes (docs/smooth.md, "Smoothing"): per iteration,
// out_i[c] = fold over the row, in order, of acc = fmadd(w_ij, v_j[c], acc). Each row is
// one fixed sequence of operations, so the result is bitwise the same for every CPU policy
// and thread count. `ex` (detail/executor.hpp) runs the slices.
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "../../view.hpp"
#include "../kdtree/fold.hpp"
#include "../unroll.hpp"
#include "weights.hpp"

namespace polykern::detail::sm {

using kd::fmadd;

// acc[c] = fmadd(w, v[c], acc[c]) for c < C, written out (no loop), so the channels are
// straight-line code that -O2 vectorises as -O3 does (-O2 does not unroll the loop).
template <std::size_t C, class T>
inline void accumulate(T* acc, T w, const T* v) {
  [&]<std::size_t... c>(std::index_sequence<c...>) {
    ((acc[c] = fmadd(w, v[c], acc[c])), ...);
  }(std::make_index_sequence<C>{});
}

// One Jacobi pass over a slice: out_r[c] = fold_j fmadd(w_rj, in_j[c], .) (C channels;
// C == 0: any number, 8 at a time). Rows marked keep copy their own value. For small C the
// rows go four at a time, interleaved, so four independent chains of multiply-adds hide
// each other's latency; each row's own sequence of operations is unchanged.
template <std::size_t C, class T>
POLYKERN_FLATTEN void smooth_slice(const slice<T>& s, const T* in, std::ptrdiff_t in_stride, T* out, std::ptrdiff_t out_stride,
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
      T acc[R][C] = {};
      for (std::size_t j = 0; j < common; ++j)
        static_for<R>([&](auto k) { accumulate<C>(acc[k], s.w[b[k] + j], row_in(b[k] + j)); });
      // Each row's own tail and store, expanded per row (a rolled loop over the rows kept
      // the accumulators in memory at -O2).
      static_for<R>([&](auto k) {
        for (std::size_t j = b[k] + common; j < e[k]; ++j) accumulate<C>(acc[k], s.w[j], row_in(j));
        T* o = out_row(s.row0 + i + k);
        static_for<C>([&](auto c) { o[c] = acc[k][c]; });
      });
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
template <class T, class Executor>
void copy_rows(matrix_view<const T> src, matrix_view<T> dst, const Executor& ex) {
  if (src.data == dst.data && src.row_stride == dst.row_stride) return;
  const std::size_t chunks = (src.rows + rows_per_chunk - 1) / rows_per_chunk;
  ex.each(chunks, [&](std::size_t c) {
    for (std::size_t r = c * rows_per_chunk, e = std::min(src.rows, r + rows_per_chunk); r < e; ++r)
      std::copy(src.row(r), src.row(r) + src.cols, dst.row(r));
  });
}

// `iterations` Jacobi passes over the slices (get(c) for c < count), between two scratch
// buffers; only the last pass writes `out` (row r to row out_map[r] when out_map is given).
// `out` may be `values` itself (then the values are copied first); any other overlap was
// rejected by the entry point.
template <class T, class Get, class Executor>
void run_passes(const Get& get, std::size_t count, matrix_view<const T> values, matrix_view<T> out,
                std::size_t iterations, const Executor& ex, const std::uint32_t* out_map = nullptr) {
  const std::size_t n = values.rows, cols = values.cols;
  if (n == 0 || cols == 0) return;
  std::vector<T> input;
  if (values.data == out.data) {  // in place: read a copy
    input.resize(n * cols);
    copy_rows(values, matrix_view<T>(input.data(), n, cols), ex);
    values = matrix_view<const T>(input.data(), n, cols);
  }
  if (iterations == 0) {
    if (out_map) {
      ex.each(count, [&](std::size_t c) {
        const slice<T> sl = get(c);
        for (std::size_t r = sl.row0; r < sl.row0 + sl.rows; ++r) std::copy_n(values.row(r), cols, out.row(out_map[r]));
      });
    } else {
      copy_rows(values, out, ex);
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
    ex.each(count, [&](std::size_t c) { smooth_slice_any(get(c), cur, cur_stride, dst, dst_stride, cols, map); });
    cur = dst;
    cur_stride = dst_stride;
  }
}

}  // namespace polykern::detail::sm
