// Affine transforms of points and normals: the job every backend receives.
//
// Backends never see affine3 or raw user matrices: the entry points in <polykern/affine.hpp>
// validate everything and hand over ready-to-apply coefficients (for normals the scaled
// inverse transpose of R, see affine.hpp).
#pragma once
#include <algorithm>
#include <cstddef>
#include <span>

namespace polykern::detail::affine {

enum class kind { points, normals };

// Row-major 3x4 coefficients. points: [R | t]. normals: [N | 0] with N proportional to
// inverse(R)^T (the translation column is ignored).
template <class T>
struct coefficients {
  T m[12];
};

// One call, single or batched: segment s covers points [offsets[s], offsets[s+1]) and
// uses matrices[s]. Validated by the entry point: offsets.size() == matrices.size() + 1,
// offsets[0] == 0, non-decreasing, offsets.back() == count; strides >= 3; in and out are
// the same points (in place) or do not overlap.
template <class T>
struct job {
  const T* in = nullptr;
  std::ptrdiff_t in_stride = 3;
  T* out = nullptr;
  std::ptrdiff_t out_stride = 3;
  std::size_t count = 0;
  std::span<const std::size_t> offsets;
  std::span<const coefficients<T>> matrices;
  kind what = kind::points;

  bool in_place() const { return static_cast<const void*>(in) == static_cast<const void*>(out); }
};

// Calls fn(begin, end, s) for each non-empty piece of [begin, end) that lies in one segment s.
template <class T, class Fn>
inline void for_each_piece(const job<T>& j, std::size_t begin, std::size_t end, Fn&& fn) {
  if (begin >= end) return;
  // The last segment starting at or before `begin` (offsets are sorted, offsets[0] == 0).
  std::size_t lo = 0, hi = j.matrices.size();
  while (hi - lo > 1) {
    const std::size_t mid = lo + (hi - lo) / 2;
    (j.offsets[mid] <= begin ? lo : hi) = mid;
  }
  for (std::size_t s = lo; s < j.matrices.size() && j.offsets[s] < end; ++s) {
    const std::size_t b = std::max(begin, j.offsets[s]), e = std::min(end, j.offsets[s + 1]);
    if (b < e) fn(b, e, s);
  }
}

}  // namespace polykern::detail::affine
