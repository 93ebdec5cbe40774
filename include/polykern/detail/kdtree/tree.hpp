// The KD-tree's layout (docs/smooth.md, "The tree"): what a built tree is, and the
// walk every query shares. build.hpp fills it; the Vulkan backend uploads it as is.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <vector>

#include "fold.hpp"

namespace polykern {
// The public result types (defined in <polykern/kdtree.hpp>).
template <class T>
struct neighbor;
template <class T>
struct neighbor_graph;
}  // namespace polykern

namespace polykern::detail::kd {

// A node's second link word: leaf_flag | point count for a leaf, 0 for an inner node.
inline constexpr std::uint32_t leaf_flag = 0x80000000u;
// Links are 32-bit: a tree of L leaves has 2L - 1 nodes, numbered from 0, so at most 2^31
// leaves can be linked (the public entry points reject more, docs/smooth.md "Limits").
inline constexpr std::size_t max_leaves = std::size_t{1} << 31;

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

// Points per chunk of the cheap linear passes (bounding box, checks, Morton codes): large,
// so that small inputs take no parallel region at all for them (a region costs more than
// such a pass over 100k points, and much more on a loaded machine).
inline constexpr std::size_t pass_chunk = std::size_t{1} << 17;

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
  // Who this tree is, for the device copy a Vulkan context keeps of it (shared by copies
  // of the tree, which hold the same data; backend/vulkan/kdtree.hpp).
  std::shared_ptr<const void> identity = std::make_shared<char>();

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

}  // namespace polykern::detail::kd
