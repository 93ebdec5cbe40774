// Affine transforms of points and normals, part 1: the job every backend receives, the
// one per-point body (a template over T or xsimd::batch<T>), and the scalar backend that
// instantiates it with T, the readable reference.
//
// Backends never see affine3 or raw user matrices: the entry points in <polykern/affine.hpp>
// validate everything and hand over ready-to-apply coefficients (for normals the scaled
// inverse transpose of R, see affine.hpp).
#pragma once
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <span>
#include <type_traits>

#include "../../detail/fma.hpp"
#include "../../execution.hpp"

// GCC 12 reports -Wmaybe-uninitialized inside its own AVX-512 intrinsics (_mm512_undefined_*
// in sqrt and friends) wherever the batch body below is inlined; the warning is spurious.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

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

// ---- the one body ------------------------------------------------------------------------

// 0 where c holds, else v: a ternary for scalars, select() (found by ADL) for batches.
template <class C, class V>
inline V zero_where(const C& c, const V& v) {
  if constexpr (std::is_same_v<C, bool>)
    return c ? V(0) : v;
  else
    return select(c, V(0), v);
}

// The per-point transform, written once for V = T (scalar) and V = xsimd::batch<T>.
// The coefficients are broadcast into V once per segment. The operation order (nested
// fma, then one division by the square root) is the same for every V, so the simd and
// openmp results equal the scalar ones wherever the target has a hardware fma.
template <kind K, class V>
struct body {
  V m[12];

  template <class T>
  explicit body(const coefficients<T>& c) {
    for (int i = 0; i < 12; ++i) m[i] = V(c.m[i]);
  }

  void operator()(const V& x, const V& y, const V& z, V& ox, V& oy, V& oz) const {
    using std::sqrt;
    const auto fma = [](const V& a, const V& b, const V& c) { return fused_multiply_add(a, b, c); };
    if constexpr (K == kind::points) {
      ox = fma(m[0], x, fma(m[1], y, fma(m[2], z, m[3])));
      oy = fma(m[4], x, fma(m[5], y, fma(m[6], z, m[7])));
      oz = fma(m[8], x, fma(m[9], y, fma(m[10], z, m[11])));
    } else {
      const V a = fma(m[0], x, fma(m[1], y, m[2] * z));
      const V b = fma(m[4], x, fma(m[5], y, m[6] * z));
      const V c = fma(m[8], x, fma(m[9], y, m[10] * z));
      const V len2 = fma(a, a, fma(b, b, c * c));
      const V inv = V(1) / sqrt(len2);
      // A zero normal stays zero (and a NaN one stays NaN).
      const auto zero = len2 == V(0);
      ox = zero_where(zero, a * inv);
      oy = zero_where(zero, b * inv);
      oz = zero_where(zero, c * inv);
    }
  }
};

// Scalar loop over points [begin, end) of one segment.
template <kind K, class T>
inline void run_scalar_range(const job<T>& j, const body<K, T>& f, std::size_t begin, std::size_t end) {
  for (std::size_t i = begin; i < end; ++i) {
    const T* p = j.in + static_cast<std::ptrdiff_t>(i) * j.in_stride;
    T* q = j.out + static_cast<std::ptrdiff_t>(i) * j.out_stride;
    T x, y, z;
    f(p[0], p[1], p[2], x, y, z);  // reads all three before writing: in place is safe
    q[0] = x, q[1] = y, q[2] = z;
  }
}

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

template <kind K, class T>
inline void run_scalar(const job<T>& j) {
  for (std::size_t s = 0; s < j.matrices.size(); ++s)
    run_scalar_range(j, body<K, T>(j.matrices[s]), j.offsets[s], j.offsets[s + 1]);
}

// The scalar backend.
template <class T>
void run(scalar_tag, const exec::scalar_policy&, const job<T>& j) {
  if (j.what == kind::points)
    run_scalar<kind::points>(j);
  else
    run_scalar<kind::normals>(j);
}

}  // namespace polykern::detail::affine

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
