// The KD-tree's build (docs/smooth.md, "The tree"): a Morton order of the points, the
// count-balanced top of the tree over it, and every block of at most block_points points
// re-split as a true KD-tree. Every phase runs over chunks fixed by the data through the
// executor (detail/executor.hpp), so the tree is the same for any executor and thread count.
// The points were checked by the entry point (finite, addressable, few enough).
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <utility>
#include <vector>

#include "../../view.hpp"
#include "tree.hpp"

namespace polykern::detail::kd {

// Bits per dimension of the Morton code (at most 63 bits in all).
template <std::size_t Dim>
inline constexpr unsigned morton_bits = Dim >= 3 ? static_cast<unsigned>(63 / Dim) : 31u;

inline std::uint64_t spread3(std::uint64_t x) {  // 21 bits -> every third bit
  x &= 0x1fffff;
  x = (x | x << 32) & 0x1f00000000ffffULL;
  x = (x | x << 16) & 0x1f0000ff0000ffULL;
  x = (x | x << 8) & 0x100f00f00f00f00fULL;
  x = (x | x << 4) & 0x10c30c30c30c30c3ULL;
  x = (x | x << 2) & 0x1249249249249249ULL;
  return x;
}

template <std::size_t Dim>
inline std::uint64_t interleave(const std::uint64_t* q) {
  if constexpr (Dim == 3) {
    return spread3(q[0]) << 2 | spread3(q[1]) << 1 | spread3(q[2]);
  } else {
    std::uint64_t code = 0;
    for (int k = static_cast<int>(morton_bits<Dim>) - 1; k >= 0; --k)
      for (std::size_t d = 0; d < Dim; ++d) code = code << 1 | (q[d] >> k & 1);
    return code;
  }
}

// Orders the points by the top 11 bits of their Morton codes (one counting pass: a stable
// bucket sort by caller index within a bucket), then sorts any bucket of more than
// `fine` points by its whole code (ties by index). Finer order is not needed: the tree
// re-splits every block of at most block_points points as a KD-tree. Fixed chunks, so the
// result is the same for any executor.
template <class Executor, class Code>
void morton_order(std::size_t n, unsigned bits, std::size_t fine, const Code& code, std::vector<std::uint32_t>& order,
                  const Executor& ex) {
  constexpr unsigned digit = 11, buckets = 1u << digit;
  constexpr std::size_t chunk = pass_chunk;
  const unsigned shift = bits > digit ? bits - digit : 0;
  const std::size_t chunks = (n + chunk - 1) / chunk;
  std::vector<std::uint64_t> keys(n), sorted(n);
  std::vector<std::uint32_t> hist(chunks * buckets);
  ex.each(chunks, [&](std::size_t c) {
    std::uint32_t* h = hist.data() + c * buckets;
    std::fill(h, h + buckets, 0u);
    for (std::size_t i = c * chunk, e = std::min(n, i + chunk); i < e; ++i) {
      keys[i] = code(i);
      ++h[(keys[i] >> shift) & (buckets - 1)];
    }
  });
  std::vector<std::size_t> bucket_begin(buckets + 1, 0);
  std::uint32_t running = 0;
  for (unsigned b = 0; b < buckets; ++b) {
    bucket_begin[b] = running;
    for (std::size_t c = 0; c < chunks; ++c) {
      const std::uint32_t count = hist[c * buckets + b];
      hist[c * buckets + b] = running;
      running += count;
    }
  }
  bucket_begin[buckets] = n;
  order.resize(n);
  ex.each(chunks, [&](std::size_t c) {
    std::uint32_t* h = hist.data() + c * buckets;
    for (std::size_t i = c * chunk, e = std::min(n, i + chunk); i < e; ++i) {
      const std::uint32_t at = h[(keys[i] >> shift) & (buckets - 1)]++;
      sorted[at] = keys[i];
      order[at] = static_cast<std::uint32_t>(i);
    }
  });
  std::vector<unsigned> big;
  for (unsigned b = 0; b < buckets; ++b)
    if (bucket_begin[b + 1] - bucket_begin[b] > fine) big.push_back(b);
  ex.each(big.size(), [&](std::size_t k) {
    const std::size_t b0 = bucket_begin[big[k]], b1 = bucket_begin[big[k] + 1];
    std::vector<std::pair<std::uint64_t, std::uint32_t>> part(b1 - b0);
    for (std::size_t i = b0; i < b1; ++i) part[i - b0] = {sorted[i], order[i]};
    std::sort(part.begin(), part.end());
    for (std::size_t i = b0; i < b1; ++i) order[i] = part[i - b0].second;
  });
}

template <class T, std::size_t Dim>
struct build_item {
  T c[Dim];
  std::uint32_t index;
};

// The box of `node` as the union of its children's.
template <class T, std::size_t Dim>
void join_boxes(tree_data<T, Dim>& t, std::size_t node, std::size_t right) {
  T* box = t.box.data() + node * 2 * Dim;
  const T* a = t.box.data() + (node + 1) * 2 * Dim;
  const T* b = t.box.data() + right * 2 * Dim;
  for (std::size_t d = 0; d < Dim; ++d) {
    box[d] = std::min(a[d], b[d]);
    box[Dim + d] = std::max(a[Dim + d], b[Dim + d]);
  }
}

// The KD part of the build: the subtree `node` over items [b, e) of a block whose first
// item is at tree position pos0. A node with L leaves' worth of points puts the
// leaf_size*ceil(L/2) smallest along the widest dimension of its points on the left
// (std::nth_element: deterministic for a given input order).
template <class T, std::size_t Dim>
void kd_split(tree_data<T, Dim>& t, build_item<T, Dim>* items, std::size_t pos0, std::size_t node, std::size_t b,
              std::size_t e) {
  const std::size_t count = e - b, leaves = (count + t.leaf_size - 1) / t.leaf_size;
  T* box = t.box.data() + node * 2 * Dim;
  T lo[Dim], hi[Dim];  // locals, not `box`, which may alias the items
  for (std::size_t d = 0; d < Dim; ++d) lo[d] = hi[d] = items[b].c[d];
  for (std::size_t i = b + 1; i < e; ++i)
    static_for<Dim>([&](auto d) {
      lo[d] = std::min(lo[d], items[i].c[d]);
      hi[d] = std::max(hi[d], items[i].c[d]);
    });
  for (std::size_t d = 0; d < Dim; ++d) box[d] = lo[d], box[Dim + d] = hi[d];
  if (leaves == 1) {
    const std::size_t leaf = (pos0 + b) / t.leaf_size, s0 = leaf * t.leaf_stride;
    for (std::size_t i = 0; i < count; ++i) {
      t.perm[s0 + i] = items[b + i].index;
      for (std::size_t d = 0; d < Dim; ++d) t.coords[d * t.slots + s0 + i] = items[b + i].c[d];
    }
    t.link[2 * node] = static_cast<std::uint32_t>(leaf);
    t.link[2 * node + 1] = leaf_flag | static_cast<std::uint32_t>(count);
    return;
  }
  std::size_t dim = 0;
  for (std::size_t d = 1; d < Dim; ++d)
    if (box[Dim + d] - box[d] > box[Dim + dim] - box[dim]) dim = d;
  const std::size_t left = (leaves + 1) / 2, mid = b + left * t.leaf_size, right = node + 2 * left;
  std::nth_element(items + b, items + mid, items + e,
                   [dim](const build_item<T, Dim>& x, const build_item<T, Dim>& y) { return x.c[dim] < y.c[dim]; });
  kd_split(t, items, pos0, node + 1, b, mid);
  kd_split(t, items, pos0, right, mid, e);
  t.link[2 * node] = static_cast<std::uint32_t>(right);
  t.link[2 * node + 1] = 0;
}

// Above the blocks the tree splits the Morton order (node with L leaves: the first
// ceil(L/2) leaves go left); a subtree of at most block_points points is a block, built
// by kd_split. These walk the top part: link_top() links it and lists the blocks, join_top()
// fills its boxes once the blocks are built.
struct block_ref {
  std::size_t node, first_leaf, leaves;
};
inline constexpr std::size_t block_points = 2048;

template <class T, std::size_t Dim>
bool is_block(const tree_data<T, Dim>& t, std::size_t leaves) {
  return leaves == 1 || leaves * t.leaf_size <= block_points;
}
template <class T, std::size_t Dim>
void link_top(tree_data<T, Dim>& t, std::size_t node, std::size_t first, std::size_t leaves, std::vector<block_ref>& out) {
  if (is_block(t, leaves)) {
    out.push_back({node, first, leaves});
    return;
  }
  const std::size_t left = (leaves + 1) / 2, right = node + 2 * left;
  link_top(t, node + 1, first, left, out);
  link_top(t, right, first + left, leaves - left, out);
  t.link[2 * node] = static_cast<std::uint32_t>(right);
  t.link[2 * node + 1] = 0;
}
template <class T, std::size_t Dim>
void join_top(tree_data<T, Dim>& t, std::size_t node, std::size_t leaves) {
  if (is_block(t, leaves)) return;
  const std::size_t left = (leaves + 1) / 2, right = node + 2 * left;
  join_top(t, node + 1, left);
  join_top(t, right, leaves - left);
  join_boxes(t, node, right);
}

// Builds the tree over `points` (checked by the entry point: checks.hpp); `ex` runs the
// chunks, serially or on threads.
template <class T, std::size_t Dim, class Executor>
void build_tree(tree_data<T, Dim>& t, points_view<const T, Dim> points, std::size_t leaf_size, const Executor& ex) {
  t = tree_data<T, Dim>{};
  t.n = points.count;
  t.leaf_size = leaf_size;
  t.leaf_stride = (leaf_size + block<T> - 1) / block<T> * block<T>;
  t.leaves = (t.n + leaf_size - 1) / leaf_size;
  t.slots = t.leaves * t.leaf_stride;
  t.source = points.data;
  t.source_stride = points.stride;
  if (t.n == 0) return;
  const std::size_t n = t.n;
  constexpr std::size_t chunk = pass_chunk;
  const std::size_t chunks = (n + chunk - 1) / chunk;

  // Bounding box, then the Morton order on a grid of 2^bits cells per dimension.
  std::vector<T> part(chunks * 2 * Dim);
  ex.each(chunks, [&](std::size_t c) {
    T* lo = part.data() + c * 2 * Dim;
    T* hi = lo + Dim;
    const std::size_t b = c * chunk, e = std::min(n, b + chunk);
    T l[Dim], h[Dim];  // locals, not `part`, which may alias the points
    for (std::size_t d = 0; d < Dim; ++d) l[d] = h[d] = points[b][d];
    for (std::size_t i = b; i < e; ++i)
      static_for<Dim>([&](auto d) {
        const T v = points[i][d];
        l[d] = std::min(l[d], v);
        h[d] = std::max(h[d], v);
      });
    std::copy_n(l, Dim, lo);
    std::copy_n(h, Dim, hi);
  });
  double lo[Dim], scale[Dim];
  constexpr unsigned bits = morton_bits<Dim>;
  const double cells = static_cast<double>((std::uint64_t{1} << bits) - 1);
  for (std::size_t d = 0; d < Dim; ++d) {
    double l = part[d], h = part[Dim + d];
    for (std::size_t c = 1; c < chunks; ++c) {
      l = std::min(l, static_cast<double>(part[c * 2 * Dim + d]));
      h = std::max(h, static_cast<double>(part[c * 2 * Dim + Dim + d]));
    }
    lo[d] = l;
    scale[d] = h > l ? cells / (h - l) : 0.0;
  }
  std::vector<std::uint32_t> order;
  morton_order(
      n, bits * static_cast<unsigned>(Dim), block_points,
      [&](std::size_t i) {
        std::uint64_t q[Dim];
        for (std::size_t d = 0; d < Dim; ++d)
          q[d] = static_cast<std::uint64_t>(std::min(cells, (static_cast<double>(points[i][d]) - lo[d]) * scale[d]));
        return interleave<Dim>(q);
      },
      order, ex);

  // The top of the tree over the Morton order, then the blocks (KD splits), in parallel.
  t.coords.assign(Dim * t.slots, std::numeric_limits<T>::quiet_NaN());
  t.perm.assign(t.slots, std::numeric_limits<std::uint32_t>::max());
  const std::size_t nodes = 2 * t.leaves - 1;
  t.box.resize(nodes * 2 * Dim);
  t.link.resize(2 * nodes);
  std::vector<block_ref> blocks;
  link_top(t, 0, 0, t.leaves, blocks);
  ex.each(blocks.size(), [&](std::size_t k) {
    const block_ref& blk = blocks[k];
    const std::size_t pos0 = blk.first_leaf * leaf_size, count = std::min(blk.leaves * leaf_size, n - pos0);
    std::vector<build_item<T, Dim>> items(count);
    for (std::size_t i = 0; i < count; ++i) {
      const std::uint32_t o = order[pos0 + i];
      for (std::size_t d = 0; d < Dim; ++d) items[i].c[d] = points[o][d];
      items[i].index = o;
    }
    kd_split(t, items.data(), pos0, blk.node, 0, count);
  });
  join_top(t, 0, t.leaves);
}

}  // namespace polykern::detail::kd
