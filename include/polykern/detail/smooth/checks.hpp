// The argument checks of gaussian_smooth and smooth_neighbors: called by the public
// header only, before any work, so that nothing is written when an argument is bad
// (api.md §3, docs/smooth.md "Errors"). The engine assumes them.
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

#include "../../error.hpp"
#include "../../view.hpp"
#include "../kdtree/checks.hpp"

namespace polykern::detail::sm {

template <class T>
void check_matrix(const char* function, const char* argument, matrix_view<const T> m) {
  require(m.rows <= 1 || m.cols == 0 || m.row_stride >= static_cast<std::ptrdiff_t>(m.cols), function, argument,
          ".row_stride is ", m.row_stride, "; must be >= cols (", m.cols, ")");
  require(m.rows == 0 || m.cols == 0 || m.data != nullptr, function, argument, ".data is null with ", m.rows, "x",
          m.cols);
  check_addressable(function, argument, m);  // view.hpp: rows * row_stride must be addressable
}

template <class T>
void check_out(const char* function, matrix_view<const T> values, matrix_view<T> out) {
  check_matrix<T>(function, "values", values);
  check_matrix<T>(function, "out", out);
  require(out.rows == values.rows && out.cols == values.cols, function, "out is ", out.rows, "x", out.cols,
          "; must match values (", values.rows, "x", values.cols, ")");
  require(same_or_disjoint(values.data, values.end(), values.row_stride, static_cast<const T*>(out.data),
                           static_cast<const T*>(out.end()), out.row_stride),
          function, "out overlaps values without being values itself (same data and row_stride)");
}

inline void check_sigma(const char* function, double sigma) {
  require(sigma > 0, function, "options.sigma is ", sigma, "; must be > 0");
}

// The graph's structure: offsets from 0, non-decreasing, ending at the number of entries.
template <class T>
void check_graph(const neighbor_graph<T>& g) {
  const char* f = "gaussian_smooth";
  require(!g.offsets.empty(), f, "graph.offsets is empty; must hold rows + 1 entries");
  require(g.offsets[0] == 0, f, "graph.offsets[0] is ", g.offsets[0], "; must be 0");
  require(g.indices.size() == g.dist2.size(), f, "graph has ", g.indices.size(), " indices and ", g.dist2.size(),
          " dist2 entries; must be equal");
  for (std::size_t r = 0; r + 1 < g.offsets.size(); ++r)
    require(g.offsets[r] <= g.offsets[r + 1], f, "graph.offsets[", r + 1, "] is ", g.offsets[r + 1],
            "; must be >= offsets[", r, "] (", g.offsets[r], ")");
  require(g.offsets.back() == g.indices.size(), f, "graph.offsets.back() is ", g.offsets.back(), "; must be ",
          g.indices.size(), " (the number of entries)");
}

// The graph's entries: every index < n (the rows of values), every dist2 >= 0 (not NaN).
// One pass over fixed chunks; the first bad entry is reported.
template <class T, class Executor>
void check_graph_entries(const neighbor_graph<T>& g, std::size_t n, const Executor& ex) {
  const std::size_t nnz = g.entries(), chunk = std::size_t{1} << 16, chunks = (nnz + chunk - 1) / chunk;
  std::vector<std::uint8_t> bad(chunks, 0);
  ex.each(chunks, [&](std::size_t c) {
    bool any = false;  // no early exit, so the loop vectorises
    for (std::size_t e = c * chunk, end = std::min(nnz, e + chunk); e < end; ++e) {
      any |= g.indices[e] >= n;
      any |= !(g.dist2[e] >= 0);
    }
    bad[c] = any;
  });
  for (std::size_t c = 0; c < chunks; ++c) {
    if (!bad[c]) continue;
    for (std::size_t e = c * chunk;; ++e) {
      require(g.indices[e] < n, "gaussian_smooth", "graph.indices[", e, "] is ", g.indices[e], "; must be < ", n,
              " (the number of rows of values)");
      require(g.dist2[e] >= 0, "gaussian_smooth", "graph.dist2[", e, "] is ", g.dist2[e], "; must be >= 0");
    }
  }
}

}  // namespace polykern::detail::sm
