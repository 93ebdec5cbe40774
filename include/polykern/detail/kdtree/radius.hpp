// Radius queries (docs/smooth.md, "Queries"): one query at a time, with the candidate
// leaves narrowed per chunk of queries, per group (one leaf's queries) and per query.
#pragma once
#include <bit>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "rows.hpp"
#include "tree.hpp"

namespace polykern::detail::kd {

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

}  // namespace polykern::detail::kd
