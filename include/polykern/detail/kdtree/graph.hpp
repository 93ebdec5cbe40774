// All queries at once: the order in which they run (nearby queries together, in chunks
// fixed by the data), the rows of one chunk, and the assembly of the public CSR graphs.
// `ex` runs the chunks (detail/executor.hpp); each chunk writes its own output, so the
// graph is the same for any executor and thread count.
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "../../view.hpp"
#include "knn.hpp"
#include "radius.hpp"
#include "tree.hpp"

namespace polykern::detail::kd {

// Where the queries come from and how the graph is numbered:
//  caller: the given queries; rows and indices in the caller's numbering;
//  tree:   the tree's own points; rows and indices are tree positions (smooth_neighbors'
//          own graph, so that the smoothing passes read neighbouring memory).
enum class space { caller, tree };

// Queries in an order that follows the tree (nearby queries together), cut into groups of
// queries that fall into the same leaf, and into chunks of whole groups of about 512
// queries. Chunks depend on the data only, never on the thread count.
struct query_order {
  std::vector<std::uint32_t> order;      // processing position -> query
  std::vector<std::size_t> group_begin;  // group g: [group_begin[g], group_begin[g+1]) of order
  std::vector<std::size_t> chunk_begin;  // chunk c: groups [chunk_begin[c], chunk_begin[c+1])
  std::size_t chunks() const { return chunk_begin.size() - 1; }
  std::size_t first(std::size_t c) const { return group_begin[chunk_begin[c]]; }
  std::size_t last(std::size_t c) const { return group_begin[chunk_begin[c + 1]]; }
};

template <class T, std::size_t Dim, class Executor>
query_order make_order(const tree_data<T, Dim>& t, points_view<const T, Dim> queries, space where, const Executor& ex) {
  query_order o;
  const std::size_t nq = where == space::tree ? t.n : queries.count;
  o.order.resize(nq);
  const bool self = where == space::tree ||
                    (queries.data == t.source && queries.count == t.n && queries.stride == t.source_stride);
  if (self || t.n == 0) {
    // Tree order (the queries are the tree's points): the groups are the leaves.
    for (std::size_t p = 0; p < nq; ++p)
      o.order[p] = where == space::tree || t.n == 0 ? static_cast<std::uint32_t>(p) : t.orig(p);
    const std::size_t step = t.n == 0 ? 512 : t.leaf_size;
    for (std::size_t b = 0; b < nq; b += step) o.group_begin.push_back(b);
  } else {
    // Every query descends to a leaf; a counting sort by leaf (stable) gives the order.
    std::vector<std::uint32_t> leaf(nq);
    constexpr std::size_t chunk = 1 << 12;
    ex.each((nq + chunk - 1) / chunk, [&](std::size_t c) {
      for (std::size_t q = c * chunk, e = std::min(nq, q + chunk); q < e; ++q)
        leaf[q] = static_cast<std::uint32_t>(t.locate(queries[q]));
    });
    std::vector<std::size_t> start(t.leaves + 1, 0);
    for (std::size_t q = 0; q < nq; ++q) ++start[leaf[q] + 1];
    for (std::size_t l = 0; l < t.leaves; ++l) {
      if (start[l + 1] > 0) o.group_begin.push_back(start[l]);
      start[l + 1] += start[l];
    }
    for (std::size_t q = 0; q < nq; ++q) o.order[start[leaf[q]]++] = static_cast<std::uint32_t>(q);
  }
  o.group_begin.push_back(nq);
  const std::size_t groups = o.group_begin.size() - 1;
  for (std::size_t g = 0; g < groups;) {
    o.chunk_begin.push_back(g);
    const std::size_t first = o.group_begin[g];
    while (g < groups && o.group_begin[g] - first < 512) ++g;
  }
  o.chunk_begin.push_back(groups);
  return o;
}

// The coordinates of query q (caller index, or tree position in space::tree).
template <class T, std::size_t Dim>
void query_point(const tree_data<T, Dim>& t, points_view<const T, Dim> queries, space where, std::size_t q, T* out) {
  if (where == space::tree) {
    t.point(q, out);
  } else {
    for (std::size_t d = 0; d < Dim; ++d) out[d] = queries[q][d];
  }
}

// The rows of one chunk of queries: row i (of order[first + i]) is
// [offsets[i], offsets[i+1]) of hits.
template <class T>
struct chunk_rows {
  std::vector<std::uint64_t> offsets;
  hit_buffer<T> hits;
};

// Runs the radius queries of chunk c of `o` into `rows`.
template <class V, class T, std::size_t Dim>
void radius_chunk(const tree_data<T, Dim>& t, points_view<const T, Dim> queries, space where, const query_order& o,
                  std::size_t c, T r2, std::size_t keep, row_order order, chunk_rows<T>& rows) {
  radius_worker<V, T, Dim> worker(t, r2, keep, order);
  const std::size_t first = o.first(c), last = o.last(c);
  std::vector<T> qs(Dim * (last - first));
  for (std::size_t i = first; i < last; ++i) query_point(t, queries, where, o.order[i], &qs[(i - first) * Dim]);
  rows.offsets.assign(1, 0);
  rows.offsets.reserve(last - first + 1);
  rows.hits.with_orig = order == row_order::distance || keep != 0;
  rows.hits.reserve_more((last - first) * 40);
  {
    T lo[Dim], hi[Dim];
    for (std::size_t d = 0; d < Dim; ++d) lo[d] = hi[d] = qs[d];
    for (std::size_t i = 1; i < last - first; ++i)
      for (std::size_t d = 0; d < Dim; ++d) {
        lo[d] = std::min(lo[d], qs[i * Dim + d]);
        hi[d] = std::max(hi[d], qs[i * Dim + d]);
      }
    worker.set_chunk(lo, hi);
  }
  for (std::size_t g = o.chunk_begin[c]; g < o.chunk_begin[c + 1]; ++g) {
    const std::size_t gb = o.group_begin[g] - first, ge = o.group_begin[g + 1] - first;
    T lo[Dim], hi[Dim];
    for (std::size_t d = 0; d < Dim; ++d) lo[d] = hi[d] = qs[gb * Dim + d];
    for (std::size_t i = gb + 1; i < ge; ++i)
      for (std::size_t d = 0; d < Dim; ++d) {
        lo[d] = std::min(lo[d], qs[i * Dim + d]);
        hi[d] = std::max(hi[d], qs[i * Dim + d]);
      }
    worker.set_group(lo, hi);
    for (std::size_t i = gb; i < ge; ++i) {
      worker.query(&qs[i * Dim], rows.hits);
      rows.offsets.push_back(rows.hits.size);
    }
  }
}

// The public radius graph: chunks of rows (through `ex`), then each row copied to its
// place in the CSR arrays.
template <class V, class T, std::size_t Dim, class Executor>
neighbor_graph<T> radius_graph_body(const tree_data<T, Dim>& t, points_view<const T, Dim> queries, T r2,
                                    std::size_t keep, const Executor& ex) {
  const query_order o = make_order(t, queries, space::caller, ex);
  const std::size_t nq = o.order.size(), chunks = o.chunks();
  std::vector<chunk_rows<T>> out(chunks);
  ex.each(chunks, [&](std::size_t c) {
    radius_chunk<V>(t, queries, space::caller, o, c, r2, keep, row_order::distance, out[c]);
  });
  neighbor_graph<T> g;
  g.offsets = std::vector<std::uint64_t>(nq + 1, 0);
  for (std::size_t c = 0; c < chunks; ++c)
    for (std::size_t i = o.first(c); i < o.last(c); ++i) {
      const std::size_t r = i - o.first(c);
      g.offsets[o.order[i] + 1] = out[c].offsets[r + 1] - out[c].offsets[r];
    }
  for (std::size_t r = 0; r < nq; ++r) g.offsets[r + 1] += g.offsets[r];
  g.indices.resize(g.offsets[nq]);
  g.dist2.resize(g.offsets[nq]);
  ex.each(chunks, [&](std::size_t c) {
    const chunk_rows<T>& rows = out[c];
    for (std::size_t i = o.first(c); i < o.last(c); ++i) {
      const std::size_t r = i - o.first(c), from = rows.offsets[r], n = rows.offsets[r + 1] - from;
      const std::size_t at = g.offsets[o.order[i]];
      std::copy_n(rows.hits.orig.data() + from, n, g.indices.data() + at);  // (memcpy: UB on null when n == 0)
      std::copy_n(rows.hits.d2.data() + from, n, g.dist2.data() + at);
    }
    out[c] = chunk_rows<T>{};  // free as we go
  });
  return g;
}

// The public k-nearest graph: every row has min(k, n) entries, written in place.
template <class V, class T, std::size_t Dim, class Executor>
neighbor_graph<T> knn_graph_body(const tree_data<T, Dim>& t, points_view<const T, Dim> queries, std::size_t k,
                                 const Executor& ex) {
  const query_order o = make_order(t, queries, space::caller, ex);
  const std::size_t nq = o.order.size(), kk = std::min(k, t.n);
  neighbor_graph<T> g;
  std::vector<std::uint64_t> offsets(nq + 1);
  for (std::size_t r = 0; r <= nq; ++r) offsets[r] = static_cast<std::uint64_t>(r) * kk;
  g.offsets = std::move(offsets);
  g.indices.resize(nq * kk);
  g.dist2.resize(nq * kk);
  ex.each(o.chunks(), [&](std::size_t c) {
    knn_worker<V, T, Dim> worker(t, k);
    T q[Dim];
    for (std::size_t i = o.first(c); i < o.last(c); ++i) {
      query_point(t, queries, space::caller, o.order[i], q);
      const auto& hits = worker.query(q);
      const std::size_t at = static_cast<std::size_t>(o.order[i]) * kk;
      for (std::size_t j = 0; j < hits.size(); ++j) {
        g.indices[at + j] = hits[j].orig;
        g.dist2[at + j] = hits[j].d2;
      }
    }
  });
  return g;
}

}  // namespace polykern::detail::kd
