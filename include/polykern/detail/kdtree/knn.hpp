// k-nearest-neighbour queries (docs/smooth.md, "Queries"): a best-first descent per query.
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

#include "tree.hpp"

namespace polykern::detail::kd {

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

}  // namespace polykern::detail::kd
