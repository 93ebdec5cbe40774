// Rows of hits: the per-chunk buffers the radius queries append to, and the ordering of a
// row by (dist2, caller index) (docs/smooth.md, "Row order").
#pragma once
#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

namespace polykern::detail::kd {

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

}  // namespace polykern::detail::kd
