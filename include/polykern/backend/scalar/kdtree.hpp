// KD-tree neighbour search, part 1: the public result types, the tree layout, the build,
// and the reference query bodies (docs/smooth.md). Every body is a template over the lane
// type V: the scalar policy instantiates it with T, the simd and openmp policies with
// xsimd::batch<T> (backend/simd/kdtree.hpp specialises `lanes` for batches).
//
// Exactness. A squared distance is always the same fold, for points and for the gaps of
// bounding boxes:  s = 0;  s = s + d_k * d_k for k = 0..Dim-1  (d_k = p_k - q_k), every
// operation rounded on its own: never a fused multiply-add. A compiler barrier keeps the
// compiler from contracting the multiply and the add (GCC does so by default on FMA
// hardware), and the Vulkan shaders compute it under `precise`, where Vulkan requires
// correctly rounded multiplies and adds (its fma() may or may not be fused). So every
// policy on every device computes bitwise the same dist2, and a box's distance never
// exceeds the distance of a point inside it (rounding is monotonic), so pruning never
// loses a point at the radius. Rows are ordered by (dist2, caller index), unique keys, so
// every policy, thread count and traversal order gives the same graph. (Compiling with
// -ffast-math voids this.)
#pragma once
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <exception>
#include <limits>
#include <memory>
#include <new>
#include <span>
#include <type_traits>
#include <utility>
#include <vector>

#include "../../error.hpp"
#include "../../execution.hpp"
#include "../../view.hpp"

#if defined(__FMA__) || defined(__ARM_FEATURE_FMA)
#define POLYKERN_KD_FMA 1
#else
#define POLYKERN_KD_FMA 0
#endif

// Makes `reg` opaque to the optimiser, so a product cannot be contracted with the sum it
// feeds into (GCC contracts across statements with -ffp-contract=fast, its default).
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#define POLYKERN_KD_BARRIER(reg) __asm__("" : "+v"(reg))
#elif defined(__GNUC__) && defined(__aarch64__)
#define POLYKERN_KD_BARRIER(reg) __asm__("" : "+w"(reg))
#else
#define POLYKERN_KD_BARRIER(reg) ((void)0)  // compilers that do not contract across statements
#endif

namespace polykern {

// One neighbour of a query: the point's index in the caller's numbering and the squared
// Euclidean distance.
template <class T>
struct neighbor {
  std::uint32_t index = 0;
  T dist2 = 0;
  friend bool operator==(const neighbor&, const neighbor&) = default;
};

// Neighbours of every query in CSR form: row r is [offsets[r], offsets[r+1]) of
// `indices` and `dist2`, sorted by (dist2, index). A default graph has 0 rows.
template <class T>
struct neighbor_graph {
  std::vector<std::uint64_t> offsets{0};  // rows() + 1 entries
  std::vector<std::uint32_t> indices;
  std::vector<T> dist2;

  std::size_t rows() const { return offsets.empty() ? 0 : offsets.size() - 1; }
  std::size_t entries() const { return indices.size(); }
  std::span<const std::uint32_t> row_indices(std::size_t r) const {
    return {indices.data() + offsets[r], static_cast<std::size_t>(offsets[r + 1] - offsets[r])};
  }
  std::span<const T> row_dist2(std::size_t r) const {
    return {dist2.data() + offsets[r], static_cast<std::size_t>(offsets[r + 1] - offsets[r])};
  }
  friend bool operator==(const neighbor_graph&, const neighbor_graph&) = default;
};

}  // namespace polykern

namespace polykern::detail::kd {

inline constexpr std::uint32_t leaf_flag = 0x80000000u;
// Whether the smoothing passes fuse their multiply-adds (the graph's distances never do).
inline constexpr bool use_fma = POLYKERN_KD_FMA != 0;

// Leaves are stored in blocks of 64 bytes (16 floats, 8 doubles), so a SIMD batch of any
// width up to 64 bytes reads a leaf with aligned loads and never straddles two leaves.
template <class T>
inline constexpr std::size_t block = 64 / sizeof(T);

template <class T>
struct aligned_allocator {
  using value_type = T;
  static constexpr std::align_val_t alignment{64};
  aligned_allocator() = default;
  template <class U>
  aligned_allocator(const aligned_allocator<U>&) {}  // NOLINT
  T* allocate(std::size_t n) { return static_cast<T*>(::operator new(n * sizeof(T), alignment)); }
  void deallocate(T* p, std::size_t) noexcept { ::operator delete(p, alignment); }
  template <class U>
  bool operator==(const aligned_allocator<U>&) const { return true; }
};
template <class T>
using aligned_vector = std::vector<T, aligned_allocator<T>>;

// ---- lanes: the operations a body needs, for V = T here and for batches in simd/ --------

template <class V>
struct lanes {
  using scalar = V;
  static constexpr std::size_t size = 1;
  static V load(const V* p) { return *p; }
  static V splat(V x) { return x; }
  // a * b + c, rounded twice, never fused.
  static V mul_add(V a, V b, V c) {
    V p = a * b;
    POLYKERN_KD_BARRIER(p);
    return p + c;
  }
  static V max(V a, V b) { return a < b ? b : a; }
  // Bit i set when lane i of a <= b (false for NaN).
  static std::uint64_t le(V a, V b) { return a <= b ? 1u : 0u; }
  // rank[i] = how many of key[0..n) are below key[i] (keys unique; padded to 8 with ~0).
  static void rank64(const std::uint64_t* key, std::size_t n, std::uint32_t* rank) {
    for (std::size_t i = 0; i < n; ++i) {
      std::uint32_t r = 0;
      for (std::size_t j = 0; j < n; ++j) r += key[j] < key[i];
      rank[i] = r;
    }
  }
  // Writes the lanes set in m (dist2, caller index from perm[lane], position pos0 + lane)
  // to the outputs, which have room for a whole batch; returns how many.
  static std::size_t emit(std::uint64_t m, V d2, const std::uint32_t* perm, std::uint32_t pos0, V* out_d2,
                          std::uint32_t* out_orig, std::uint32_t* out_pos) {
    *out_d2 = d2;
    *out_orig = *perm;
    *out_pos = pos0;
    return static_cast<std::size_t>(m & 1);
  }
};

// The one dist2 fold (see the top of this file), for points and box gaps alike.
template <class T>
inline T mul_add(T a, T b, T c) {
  return lanes<T>::mul_add(a, b, c);
}
// a * b + c for the smoothing passes: fused when the build targets FMA hardware.
template <class T>
inline T fmadd(T a, T b, T c) {
  if constexpr (use_fma) return std::fma(a, b, c);
  else return a * b + c;
}
template <class T, std::size_t Dim>
inline T point_dist2(const T* p, const T* q) {
  T s = 0;
  for (std::size_t d = 0; d < Dim; ++d) {
    const T x = p[d] - q[d];
    s = mul_add(x, x, s);
  }
  return s;
}
// Squared distance from q to the box [lo, hi]; never more than point_dist2 of a point inside.
template <class T, std::size_t Dim>
inline T box_dist2(const T* q, const T* lo, const T* hi) {
  T s = 0;
  for (std::size_t d = 0; d < Dim; ++d) {
    T g = lo[d] - q[d];
    const T g2 = q[d] - hi[d];
    g = g < g2 ? g2 : g;
    g = g < T(0) ? T(0) : g;
    s = mul_add(g, g, s);
  }
  return s;
}
// Squared gap between two boxes; never more than point_dist2 of any pair inside them.
template <class T, std::size_t Dim>
inline T box_box_dist2(const T* alo, const T* ahi, const T* blo, const T* bhi) {
  T s = 0;
  for (std::size_t d = 0; d < Dim; ++d) {
    T g = blo[d] - ahi[d];
    const T g2 = alo[d] - bhi[d];
    g = g < g2 ? g2 : g;
    g = g < T(0) ? T(0) : g;
    s = mul_add(g, g, s);
  }
  return s;
}

// ---- executors --------------------------------------------------------------------------

// Points per chunk of the cheap linear passes (bounding box, checks, Morton codes): large,
// so that small inputs take no parallel region at all for them (a region costs more than
// such a pass over 100k points, and much more on a loaded machine).
inline constexpr std::size_t pass_chunk = std::size_t{1} << 17;

// Serial executor: each(count, body) calls body(i) for i in [0, count). The OpenMP one
// (backend/openmp/kdtree.hpp) makes the same calls on threads; work is always cut into
// chunks that depend on the data only, so no result depends on the executor.
struct serial_each {
  template <class Body>
  void operator()(std::size_t count, Body&& body) const {
    for (std::size_t i = 0; i < count; ++i) body(i);
  }
};

// ---- the tree -----------------------------------------------------------------------

// The tree is balanced by counts: leaf k holds tree positions [k*leaf_size,
// (k+1)*leaf_size) (every leaf is full but the last), and a node with L leaves' worth of
// points gives ceil(L/2) leaves to its left child. Nodes are in depth-first order (left
// child = node + 1, right child = node + 2*ceil(L/2)), so numbering depends on counts only.
// Which points go where: the points are ordered along a Morton (Z-order) curve, nodes
// above the blocks split that order, and each block (a subtree of at most block_points
// points) is re-split as a KD-tree (widest dimension, order statistic). Every node has the
// tight bounding box of its points. Leaf k's coordinates live in slots [k*leaf_stride, ...)
// of `coords`, one array per dimension, padded with NaN (which never compares <= anything).
template <class T, std::size_t Dim>
struct tree_data {
  std::size_t n = 0, leaf_size = 16, leaf_stride = 16, leaves = 0, slots = 0;
  aligned_vector<T> coords;             // Dim arrays of `slots` values
  aligned_vector<std::uint32_t> perm;   // slot -> caller index (UINT32_MAX in the padding)
  std::vector<T> box;                   // per node: lo[Dim], hi[Dim]
  std::vector<std::uint32_t> link;      // per node: {right child, 0} or {leaf, leaf_flag | count}
  const void* source = nullptr;         // the caller's points (a hint for self-queries only)
  std::ptrdiff_t source_stride = 0;

  std::size_t nodes() const { return link.size() / 2; }
  const T* coord(std::size_t d) const { return coords.data() + d * slots; }
  bool is_leaf(std::size_t node) const { return (link[2 * node + 1] & leaf_flag) != 0; }
  const T* lo(std::size_t node) const { return box.data() + node * 2 * Dim; }
  const T* hi(std::size_t node) const { return box.data() + node * 2 * Dim + Dim; }
  std::size_t slot(std::size_t pos) const { return pos / leaf_size * leaf_stride + pos % leaf_size; }
  std::uint32_t orig(std::size_t pos) const { return perm[slot(pos)]; }
  void point(std::size_t pos, T* out) const {
    const std::size_t s = slot(pos);
    for (std::size_t d = 0; d < Dim; ++d) out[d] = coord(d)[s];
  }
  // A leaf near q (the nearer child at each level); any leaf is correct for grouping.
  std::size_t locate(const T* q) const {
    std::size_t node = 0;
    while (!is_leaf(node)) {
      const std::size_t a = node + 1, b = link[2 * node];
      node = box_dist2<T, Dim>(q, lo(b), hi(b)) < box_dist2<T, Dim>(q, lo(a), hi(a)) ? b : a;
    }
    return link[2 * node];
  }
};

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
template <class Each, class Code>
void morton_order(std::size_t n, unsigned bits, std::size_t fine, const Code& code, std::vector<std::uint32_t>& order,
                  const Each& each) {
  constexpr unsigned digit = 11, buckets = 1u << digit;
  constexpr std::size_t chunk = pass_chunk;
  const unsigned shift = bits > digit ? bits - digit : 0;
  const std::size_t chunks = (n + chunk - 1) / chunk;
  std::vector<std::uint64_t> keys(n), sorted(n);
  std::vector<std::uint32_t> hist(chunks * buckets);
  each(chunks, [&](std::size_t c) {
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
  each(chunks, [&](std::size_t c) {
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
  each(big.size(), [&](std::size_t k) {
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
  for (std::size_t d = 0; d < Dim; ++d) box[d] = box[Dim + d] = items[b].c[d];
  for (std::size_t i = b + 1; i < e; ++i)
    for (std::size_t d = 0; d < Dim; ++d) {
      box[d] = std::min(box[d], items[i].c[d]);
      box[Dim + d] = std::max(box[Dim + d], items[i].c[d]);
    }
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
// by kd_split. These walk the top part: plan() links it and lists the blocks, join()
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
void plan(tree_data<T, Dim>& t, std::size_t node, std::size_t first, std::size_t leaves, std::vector<block_ref>& out) {
  if (is_block(t, leaves)) {
    out.push_back({node, first, leaves});
    return;
  }
  const std::size_t left = (leaves + 1) / 2, right = node + 2 * left;
  plan(t, node + 1, first, left, out);
  plan(t, right, first + left, leaves - left, out);
  t.link[2 * node] = static_cast<std::uint32_t>(right);
  t.link[2 * node + 1] = 0;
}
template <class T, std::size_t Dim>
void join(tree_data<T, Dim>& t, std::size_t node, std::size_t leaves) {
  if (is_block(t, leaves)) return;
  const std::size_t left = (leaves + 1) / 2, right = node + 2 * left;
  join(t, node + 1, left);
  join(t, right, leaves - left);
  join_boxes(t, node, right);
}

// Index of the first non-finite coordinate in [begin, end), or end.
template <class T, std::size_t Dim>
std::size_t first_non_finite(points_view<const T, Dim> points, std::size_t begin, std::size_t end) {
  for (std::size_t i = begin; i < end; ++i) {
    const T* p = points[i];
    bool ok = true;
    for (std::size_t d = 0; d < Dim; ++d) ok &= std::isfinite(p[d]);
    if (!ok) return i;
  }
  return end;
}

// Rejects views the contract does not allow (no pass over the points).
template <class T, std::size_t Dim>
void check_view(const char* function, const char* argument, points_view<const T, Dim> points) {
  require(points.count <= 1 || points.stride >= static_cast<std::ptrdiff_t>(Dim), function, argument, ".stride is ",
          points.stride, "; must be >= ", Dim);
  require(points.count == 0 || points.data != nullptr, function, argument, ".data is null with count ",
          points.count);
  require(points.count < std::numeric_limits<std::uint32_t>::max(), function, argument, " has ", points.count,
          " points; at most 2^32 - 2 are supported");
}

// Throws the invalid_argument for the first non-finite coordinate of point i.
template <class T, std::size_t Dim>
[[noreturn]] void throw_non_finite(const char* function, const char* argument, points_view<const T, Dim> points,
                                   std::size_t i) {
  const T* p = points[i];
  std::size_t d = 0;
  while (d + 1 < Dim && std::isfinite(p[d])) ++d;
  throw invalid_argument(concat(function, ": ", argument, "[", i, "][", d, "] is ", p[d],
                                "; coordinates must be finite"));
}

// check_view, then a pass rejecting non-finite coordinates.
template <class T, std::size_t Dim, class Each>
void check_points(const char* function, const char* argument, points_view<const T, Dim> points, const Each& each) {
  check_view(function, argument, points);
  constexpr std::size_t chunk = pass_chunk;
  const std::size_t chunks = (points.count + chunk - 1) / chunk;
  std::vector<std::size_t> bad(chunks);
  each(chunks, [&](std::size_t c) {
    const std::size_t b = c * chunk, e = std::min(points.count, b + chunk);
    const std::size_t i = first_non_finite(points, b, e);
    bad[c] = i == e ? points.count : i;
  });
  for (std::size_t c = 0; c < chunks; ++c)
    if (bad[c] != points.count) throw_non_finite(function, argument, points, bad[c]);
}

// Builds the tree (the view checked by check_view); `each` runs the chunks (serially or on
// threads). The first pass over the points also rejects non-finite coordinates, naming
// `function` and `argument`, before anything else happens.
template <class T, std::size_t Dim, class Each>
void build_tree(tree_data<T, Dim>& t, points_view<const T, Dim> points, std::size_t leaf_size, const Each& each,
                const char* function = "kdtree", const char* argument = "points") {
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
  std::vector<std::size_t> bad(chunks, SIZE_MAX);
  each(chunks, [&](std::size_t c) {
    T* lo = part.data() + c * 2 * Dim;
    T* hi = lo + Dim;
    const std::size_t b = c * chunk, e = std::min(n, b + chunk);
    bool finite = true;
    for (std::size_t d = 0; d < Dim; ++d) lo[d] = hi[d] = points[b][d];
    for (std::size_t i = b; i < e; ++i)
      for (std::size_t d = 0; d < Dim; ++d) {
        const T v = points[i][d];
        finite &= std::isfinite(v);
        lo[d] = std::min(lo[d], v);
        hi[d] = std::max(hi[d], v);
      }
    if (!finite) bad[c] = first_non_finite(points, b, e);
  });
  for (std::size_t c = 0; c < chunks; ++c)
    if (bad[c] != SIZE_MAX) throw_non_finite(function, argument, points, bad[c]);
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
      order, each);

  // The top of the tree over the Morton order, then the blocks (KD splits), in parallel.
  t.coords.assign(Dim * t.slots, std::numeric_limits<T>::quiet_NaN());
  t.perm.assign(t.slots, std::numeric_limits<std::uint32_t>::max());
  const std::size_t nodes = 2 * t.leaves - 1;
  t.box.resize(nodes * 2 * Dim);
  t.link.resize(2 * nodes);
  std::vector<block_ref> blocks;
  plan(t, 0, 0, t.leaves, blocks);
  each(blocks.size(), [&](std::size_t k) {
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
  join(t, 0, t.leaves);
}

// ---- rows of hits ---------------------------------------------------------------------

// An array that is not initialised (the writers fill it), so a large buffer costs no pass
// over memory before its first use.
template <class U>
struct raw_array {
  std::unique_ptr<U[]> p;
  U* data() { return p.get(); }
  const U* data() const { return p.get(); }
  U& operator[](std::size_t i) { return p[i]; }
  const U& operator[](std::size_t i) const { return p[i]; }
  void grow(std::size_t keep, std::size_t capacity) {
    auto bigger = std::make_unique_for_overwrite<U[]>(capacity);
    if (keep) std::memcpy(bigger.get(), p.get(), keep * sizeof(U));
    p = std::move(bigger);
  }
};

// Hits of the queries of one chunk, appended row after row (structure of arrays). Writers
// call reserve_more(W) first, so a SIMD store of a whole batch always fits. `orig` is kept
// only when the rows need it (with_orig): the tie-breaker and the public indices.
template <class T>
struct hit_buffer {
  raw_array<T> d2;
  raw_array<std::uint32_t> orig, pos;
  std::size_t size = 0, capacity = 0;
  bool with_orig = true;
  void reserve_more(std::size_t extra) {
    if (size + extra <= capacity) return;
    capacity = std::max<std::size_t>(2 * capacity, size + extra + 64);
    d2.grow(size, capacity);
    pos.grow(size, capacity);
    if (with_orig) orig.grow(size, capacity);
  }
};

// How the entries of a row are ordered.
enum class row_order {
  distance,  // by (dist2, caller index): the public graphs
  position,  // by tree position, i.e. in scan order, unsorted (smooth_neighbors' own graph)
};

// Orders the row [begin, begin + n) of `h` and keeps its first `keep` entries by
// (dist2, caller index); returns the new length. Keys are unique (a point appears once
// per row), so the result does not depend on the method: short rows are ranked by
// counting (which vectorises), long ones by std::sort.
template <class T>
class row_sorter {
 public:
  // Ranker: rank64(keys, n, ranks), keys padded with ~0 to a multiple of 8 (lanes<V>).
  template <class Ranker>
  std::size_t operator()(hit_buffer<T>& h, std::size_t begin, std::size_t n, std::size_t keep, row_order order,
                         const Ranker& ranker) {
    keep = std::min(keep, n);
    if (order == row_order::position && keep == n) return n;
    if (n <= 1) return keep;
    rank_.resize(n);
    T* d = h.d2.data() + begin;
    std::uint32_t* o = h.orig.data() + begin;
    std::uint32_t* p = h.pos.data() + begin;
    if (n <= 64) {
      if constexpr (sizeof(T) == 4) {  // one 64-bit key: dist2's bits (non-negative floats order as integers), index
        alignas(64) std::uint64_t key[64];
        for (std::size_t i = 0; i < n; ++i) key[i] = std::uint64_t{std::bit_cast<std::uint32_t>(d[i])} << 32 | o[i];
        for (std::size_t i = n; i < (n + 7) / 8 * 8; ++i) key[i] = ~std::uint64_t{0};
        ranker.rank64(key, n, rank_.data());
      } else {
        for (std::size_t i = 0; i < n; ++i) {
          const T di = d[i];
          const std::uint32_t oi = o[i];
          std::uint32_t r = 0;
          for (std::size_t j = 0; j < n; ++j) r += (d[j] < di) | ((d[j] == di) & (o[j] < oi));
          rank_[i] = r;
        }
      }
    } else {
      idx_.resize(n);
      for (std::size_t i = 0; i < n; ++i) idx_[i] = static_cast<std::uint32_t>(i);
      std::sort(idx_.begin(), idx_.end(),
                [&](std::uint32_t a, std::uint32_t b) { return d[a] < d[b] || (d[a] == d[b] && o[a] < o[b]); });
      for (std::size_t r = 0; r < n; ++r) rank_[idx_[r]] = static_cast<std::uint32_t>(r);
    }
    if (order == row_order::position) {  // keep the nearest, in scan order
      std::size_t j = 0;
      for (std::size_t i = 0; i < n; ++i)
        if (rank_[i] < keep) d[j] = d[i], o[j] = o[i], p[j] = p[i], ++j;
      return keep;
    }
    td_.resize(n);
    to_.resize(n);
    tp_.resize(n);
    for (std::size_t i = 0; i < n; ++i) td_[rank_[i]] = d[i], to_[rank_[i]] = o[i], tp_[rank_[i]] = p[i];
    std::copy_n(td_.begin(), keep, d);
    std::copy_n(to_.begin(), keep, o);
    std::copy_n(tp_.begin(), keep, p);
    return keep;
  }

 private:
  std::vector<std::uint32_t> rank_, idx_, to_, tp_;
  std::vector<T> td_;
};

// ---- radius queries -------------------------------------------------------------------

// Radius search, one query at a time, with candidates narrowed in three steps: for a
// chunk of nearby queries, set_chunk() walks the tree once and lists the leaves within
// the radius of the chunk's bounding box; for a group of queries (one leaf's worth),
// set_group() keeps those within the radius of the group's box, W leaf boxes at a time;
// each query then tests the group's leaf boxes W at a time and scans the survivors W
// points at a time. Lists stay in increasing leaf order, so a row is found in
// tree-position order.
template <class V, class T, std::size_t Dim>
class radius_worker {
  using L = lanes<V>;
  static constexpr std::size_t W = L::size;

  // Leaves with their boxes as structure of arrays (2*Dim arrays of `stride`, padded to W).
  struct leaf_list {
    std::vector<std::uint32_t> node;
    aligned_vector<T> box;
    std::size_t stride = 0;
    void clear() { node.clear(); }
    void finish_boxes(const tree_data<T, Dim>& t) {
      stride = (node.size() + W - 1) / W * W;
      box.resize(2 * Dim * stride);
      for (std::size_t k = 0; k < stride; ++k)
        for (std::size_t d = 0; d < 2 * Dim; ++d)
          box[d * stride + k] = k < node.size() ? t.box[node[k] * 2 * Dim + d] : T(0);
    }
    V lo(std::size_t d, std::size_t k0) const { return L::load(box.data() + d * stride + k0); }
    V hi(std::size_t d, std::size_t k0) const { return L::load(box.data() + (Dim + d) * stride + k0); }
    // Bits of the lanes [k0, k0 + W) that hold a leaf.
    std::uint64_t valid(std::size_t k0) const {
      const std::size_t left = node.size() - k0;
      return left >= W ? (W == 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << W) - 1) : (std::uint64_t{1} << left) - 1;
    }
  };

 public:
  radius_worker(const tree_data<T, Dim>& t, T r2, std::size_t keep, row_order order)
      : t_(t), r2_(r2), keep_(keep ? keep : SIZE_MAX), order_(order) {}

  // The leaves within the radius of the box [lo, hi] (a chunk of queries).
  void set_chunk(const T* lo, const T* hi) {
    chunk_.clear();
    if (t_.n == 0) return;
    stack_.clear();
    stack_.push_back(0);
    while (!stack_.empty()) {
      const std::size_t node = stack_.back();
      stack_.pop_back();
      if (box_box_dist2<T, Dim>(lo, hi, t_.lo(node), t_.hi(node)) > r2_) continue;
      if (t_.is_leaf(node)) {
        chunk_.node.push_back(static_cast<std::uint32_t>(node));
      } else {
        stack_.push_back(t_.link[2 * node]);
        stack_.push_back(static_cast<std::uint32_t>(node + 1));
      }
    }
    chunk_.finish_boxes(t_);
  }

  // Of the chunk's leaves, those within the radius of the box [glo, ghi] (a group).
  void set_group(const T* glo, const T* ghi) {
    cand_.clear();
    V lo[Dim], hi[Dim];
    for (std::size_t d = 0; d < Dim; ++d) lo[d] = L::splat(glo[d]), hi[d] = L::splat(ghi[d]);
    const V r2v = L::splat(r2_), zero = L::splat(T(0));
    for (std::size_t k0 = 0; k0 < chunk_.node.size(); k0 += W) {
      V s = zero;
      for (std::size_t d = 0; d < Dim; ++d) {
        const V g = L::max(L::max(chunk_.lo(d, k0) - hi[d], lo[d] - chunk_.hi(d, k0)), zero);
        s = L::mul_add(g, g, s);
      }
      std::uint64_t m = L::le(s, r2v) & chunk_.valid(k0);
      while (m) {
        const unsigned lane = static_cast<unsigned>(std::countr_zero(m));
        m &= m - 1;
        cand_.node.push_back(chunk_.node[k0 + lane]);
      }
    }
    cand_.finish_boxes(t_);
  }

  // Appends the row of q (among the group's candidates) to `out`; returns its length.
  std::size_t query(const T* q, hit_buffer<T>& out) {
    const std::size_t begin = out.size;
    V qv[Dim];
    for (std::size_t d = 0; d < Dim; ++d) qv[d] = L::splat(q[d]);
    const V r2v = L::splat(r2_), zero = L::splat(T(0));
    for (std::size_t k0 = 0; k0 < cand_.node.size(); k0 += W) {
      V s = zero;
      for (std::size_t d = 0; d < Dim; ++d) {
        const V g = L::max(L::max(cand_.lo(d, k0) - qv[d], qv[d] - cand_.hi(d, k0)), zero);
        s = L::mul_add(g, g, s);
      }
      std::uint64_t m = L::le(s, r2v) & cand_.valid(k0);
      while (m) {
        const unsigned lane = static_cast<unsigned>(std::countr_zero(m));
        m &= m - 1;
        scan_leaf(cand_.node[k0 + lane], qv, r2v, out);
      }
    }
    return finish(out, begin);
  }

  // The same row by a traversal from the root (single queries).
  std::size_t query_single(const T* q, hit_buffer<T>& out) {
    const std::size_t begin = out.size;
    if (t_.n == 0) return 0;
    V qv[Dim];
    for (std::size_t d = 0; d < Dim; ++d) qv[d] = L::splat(q[d]);
    const V r2v = L::splat(r2_);
    stack_.clear();
    stack_.push_back(0);
    while (!stack_.empty()) {
      const std::size_t node = stack_.back();
      stack_.pop_back();
      if (box_dist2<T, Dim>(q, t_.lo(node), t_.hi(node)) > r2_) continue;
      if (t_.is_leaf(node)) {
        scan_leaf(static_cast<std::uint32_t>(node), qv, r2v, out);
      } else {
        stack_.push_back(t_.link[2 * node]);
        stack_.push_back(static_cast<std::uint32_t>(node + 1));
      }
    }
    return finish(out, begin);
  }

 private:
  std::size_t finish(hit_buffer<T>& out, std::size_t begin) {
    const std::size_t n = sort_(out, begin, out.size - begin, keep_, order_, L{});
    out.size = begin + n;
    return n;
  }

  void scan_leaf(std::uint32_t node, const V* qv, V r2v, hit_buffer<T>& out) {
    const std::size_t leaf = t_.link[2 * node];
    const std::size_t count = t_.link[2 * node + 1] & ~leaf_flag;
    const std::size_t base = leaf * t_.leaf_stride, pos0 = leaf * t_.leaf_size;
    for (std::size_t s = 0; s < count; s += W) {
      V acc = L::splat(T(0));
      for (std::size_t d = 0; d < Dim; ++d) {
        const V x = L::load(t_.coord(d) + base + s) - qv[d];
        acc = L::mul_add(x, x, acc);
      }
      const std::uint64_t m = L::le(acc, r2v);  // NaN padding never passes
      out.reserve_more(W);  // no test of m: emitting nothing is cheaper than a mispredicted branch
      out.size += L::emit(m, acc, t_.perm.data() + base + s, static_cast<std::uint32_t>(pos0 + s),
                          out.d2.data() + out.size, out.with_orig ? out.orig.data() + out.size : spare_orig_,
                          out.pos.data() + out.size);
    }
  }

  const tree_data<T, Dim>& t_;
  T r2_;
  std::size_t keep_;
  row_order order_;
  leaf_list chunk_, cand_;
  std::vector<std::uint32_t> stack_;
  row_sorter<T> sort_;
  alignas(64) std::uint32_t spare_orig_[W];  // where unwanted caller indices go
};

// ---- k nearest neighbours -------------------------------------------------------------

template <class T>
struct hit {
  T d2;
  std::uint32_t orig;  // caller index: the tie-breaker
  std::uint32_t pos;   // tree position
};
template <class T>
inline bool hit_less(const hit<T>& a, const hit<T>& b) {
  return a.d2 < b.d2 || (a.d2 == b.d2 && a.orig < b.orig);
}

// Best-first descent (nearer child first) with a bounded max-heap of (d2, orig) keys; a
// subtree is pruned only when its box is strictly farther than the current k-th key (an
// equally far point with a smaller index could still enter).
template <class V, class T, std::size_t Dim>
class knn_worker {
  using L = lanes<V>;
  static constexpr std::size_t W = L::size;

 public:
  knn_worker(const tree_data<T, Dim>& t, std::size_t k) : t_(t), k_(std::min(k, t.n)) {}

  // The min(k, n) nearest, sorted by (d2, orig).
  const std::vector<hit<T>>& query(const T* q) {
    heap_.clear();
    if (k_ == 0) return heap_;
    V qv[Dim];
    for (std::size_t d = 0; d < Dim; ++d) qv[d] = L::splat(q[d]);
    stack_.clear();
    stack_.push_back({0, box_dist2<T, Dim>(q, t_.lo(0), t_.hi(0))});
    alignas(64) T d2[W];
    alignas(64) std::uint32_t orig[W], pos[W];
    while (!stack_.empty()) {
      const entry top = stack_.back();
      stack_.pop_back();
      if (full() && top.bd > heap_.front().d2) continue;
      if (t_.is_leaf(top.node)) {
        const std::size_t leaf = t_.link[2 * top.node];
        const std::size_t count = t_.link[2 * top.node + 1] & ~leaf_flag;
        const std::size_t base = leaf * t_.leaf_stride, pos0 = leaf * t_.leaf_size;
        for (std::size_t s = 0; s < count; s += W) {
          V acc = L::splat(T(0));
          for (std::size_t d = 0; d < Dim; ++d) {
            const V x = L::load(t_.coord(d) + base + s) - qv[d];
            acc = L::mul_add(x, x, acc);
          }
          const T bound = full() ? heap_.front().d2 : std::numeric_limits<T>::infinity();
          const std::uint64_t m = L::le(acc, L::splat(bound));
          if (!m) continue;
          const std::size_t found = L::emit(m, acc, t_.perm.data() + base + s, static_cast<std::uint32_t>(pos0 + s),
                                            d2, orig, pos);
          for (std::size_t i = 0; i < found; ++i) offer({d2[i], orig[i], pos[i]});
        }
      } else {
        const std::uint32_t a = top.node + 1, b = t_.link[2 * top.node];
        const T da = box_dist2<T, Dim>(q, t_.lo(a), t_.hi(a)), db = box_dist2<T, Dim>(q, t_.lo(b), t_.hi(b));
        if (da <= db) {  // the nearer child goes on top, so it is searched first
          push(b, db);
          push(a, da);
        } else {
          push(a, da);
          push(b, db);
        }
      }
    }
    std::sort_heap(heap_.begin(), heap_.end(), hit_less<T>);
    return heap_;
  }

 private:
  struct entry {
    std::uint32_t node;
    T bd;
  };
  bool full() const { return heap_.size() == k_; }
  void push(std::uint32_t node, T bd) {
    if (!full() || bd <= heap_.front().d2) stack_.push_back({node, bd});
  }
  void offer(const hit<T>& h) {
    if (!full()) {
      heap_.push_back(h);
      std::push_heap(heap_.begin(), heap_.end(), hit_less<T>);
    } else if (hit_less(h, heap_.front())) {
      std::pop_heap(heap_.begin(), heap_.end(), hit_less<T>);
      heap_.back() = h;
      std::push_heap(heap_.begin(), heap_.end(), hit_less<T>);
    }
  }

  const tree_data<T, Dim>& t_;
  std::size_t k_;
  std::vector<hit<T>> heap_;
  std::vector<entry> stack_;
};

// ---- all queries at once --------------------------------------------------------------

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

template <class T, std::size_t Dim, class Each>
query_order make_order(const tree_data<T, Dim>& t, points_view<const T, Dim> queries, space where, const Each& each) {
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
    each((nq + chunk - 1) / chunk, [&](std::size_t c) {
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

// The public radius graph: chunks of rows (through `each`), then each row copied to its
// place in the CSR arrays.
template <class V, class T, std::size_t Dim, class Each>
neighbor_graph<T> radius_graph_body(const tree_data<T, Dim>& t, points_view<const T, Dim> queries, T r2,
                                    std::size_t keep, const Each& each) {
  const query_order o = make_order(t, queries, space::caller, each);
  const std::size_t nq = o.order.size(), chunks = o.chunks();
  std::vector<chunk_rows<T>> out(chunks);
  each(chunks, [&](std::size_t c) {
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
  each(chunks, [&](std::size_t c) {
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
template <class V, class T, std::size_t Dim, class Each>
neighbor_graph<T> knn_graph_body(const tree_data<T, Dim>& t, points_view<const T, Dim> queries, std::size_t k,
                                 const Each& each) {
  const query_order o = make_order(t, queries, space::caller, each);
  const std::size_t nq = o.order.size(), kk = std::min(k, t.n);
  neighbor_graph<T> g;
  std::vector<std::uint64_t> offsets(nq + 1);
  for (std::size_t r = 0; r <= nq; ++r) offsets[r] = static_cast<std::uint64_t>(r) * kk;
  g.offsets = std::move(offsets);
  g.indices.resize(nq * kk);
  g.dist2.resize(nq * kk);
  each(o.chunks(), [&](std::size_t c) {
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

// ---- the scalar policy ----------------------------------------------------------------

inline serial_each executor(scalar_tag, const auto&) { return {}; }

template <class T, std::size_t Dim>
void build(scalar_tag, const auto&, tree_data<T, Dim>& t, points_view<const T, Dim> points, std::size_t leaf_size) {
  build_tree(t, points, leaf_size, serial_each{});
}
template <class T, std::size_t Dim>
neighbor_graph<T> radius_graph(scalar_tag, const auto&, const tree_data<T, Dim>& t, points_view<const T, Dim> queries,
                               T r2, std::size_t keep) {
  return radius_graph_body<T>(t, queries, r2, keep, serial_each{});
}
template <class T, std::size_t Dim>
neighbor_graph<T> knn_graph(scalar_tag, const auto&, const tree_data<T, Dim>& t, points_view<const T, Dim> queries,
                            std::size_t k) {
  return knn_graph_body<T>(t, queries, k, serial_each{});
}

}  // namespace polykern::detail::kd
