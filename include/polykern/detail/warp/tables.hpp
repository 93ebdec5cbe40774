// Image warps: per-axis tap tables (OpenCV's INTER_AREA and INTER_NEAREST resize
// arithmetic, and box coverage for axis-aligned compose tiles), built once on the host in
// double and read by every backend.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <utility>
#include <vector>

namespace polykern::detail::warp {

// For each destination index i of one axis: the source taps index[offset[i] .. offset[i+1])
// with their weights (area) or a single index (nearest).
struct axis_table {
  std::vector<std::int32_t> offset{0};
  std::vector<std::int32_t> index;
  std::vector<float> weight;
  std::int32_t lowest = std::numeric_limits<std::int32_t>::max(), highest = -1;

  std::size_t size() const { return offset.size() - 1; }
  std::int32_t taps(std::size_t i) const { return offset[i + 1] - offset[i]; }
  void add(std::int32_t src, float w) {
    index.push_back(src), weight.push_back(w);
    lowest = std::min(lowest, src), highest = std::max(highest, src);
  }
  void next() { offset.push_back(static_cast<std::int32_t>(index.size())); }
  // Gives every index the same number of taps, padding with weight 0 on its first tap
  // (a value it already reads), so vector backends can run fixed-length tap loops and
  // every backend still adds the very same terms in the same order.
  void pad() {
    std::int32_t k = 0;
    for (std::size_t i = 0; i < size(); ++i) k = std::max(k, taps(i));
    axis_table t;
    for (std::size_t i = 0; i < size(); ++i) {
      for (std::int32_t q = 0; q < k; ++q) {
        const bool real = q < taps(i);
        t.add(index[static_cast<std::size_t>(offset[i] + (real ? q : 0))], real ? weight[static_cast<std::size_t>(offset[i] + q)] : 0.0f);
      }
      t.next();
    }
    *this = std::move(t);
  }
};

// OpenCV INTER_AREA along one axis, downscaling (scale = src/dst >= 1): exact pixel-area
// coverage, the source pixel i covering [i, i+1), with OpenCV's 1e-3 tolerance for slivers.
inline axis_table opencv_area_table(std::int32_t dst_n, std::int32_t src_n, double scale) {
  axis_table t;
  for (std::int32_t d = 0; d < dst_n; ++d) {
    const double f1 = d * scale, f2 = f1 + scale;
    const double cell = std::min(scale, src_n - f1);
    std::int32_t s1 = static_cast<std::int32_t>(std::ceil(f1)), s2 = static_cast<std::int32_t>(std::floor(f2));
    s2 = std::min(s2, src_n - 1);
    s1 = std::min(s1, s2);
    if (s1 - f1 > 1e-3) t.add(s1 - 1, static_cast<float>((s1 - f1) / cell));
    for (std::int32_t s = s1; s < s2; ++s) t.add(s, static_cast<float>(1.0 / cell));
    if (f2 - s2 > 1e-3) t.add(s2, static_cast<float>(std::min(std::min(f2 - s2, 1.0), cell) / cell));
    t.next();
  }
  return t;
}

// OpenCV INTER_AREA along one axis when the other axis (or this one) enlarges: a two-tap
// blend weighted by how much of the destination pixel falls on each source pixel.
inline axis_table opencv_area_blend_table(std::int32_t dst_n, std::int32_t src_n, double scale, double inv_scale) {
  axis_table t;
  for (std::int32_t d = 0; d < dst_n; ++d) {
    std::int32_t s = static_cast<std::int32_t>(std::floor(d * scale));
    float f = static_cast<float>((d + 1) - (s + 1) * inv_scale);
    f = f <= 0 ? 0.0f : f - std::floor(f);
    if (s >= src_n - 1) f = 0, s = src_n - 1;
    t.add(s, 1.0f - f);
    if (f != 0) t.add(s + 1, f);
    t.next();
  }
  return t;
}

// Box coverage along one axis: destination pixel i covers [c - s/2, c + s/2) in source
// pixels (c = a*i + b, s = |a|), clipped to the source [-0.5, n - 0.5); source pixel j
// covers [j - 0.5, j + 0.5). Weights are the covered lengths over the clipped length.
inline axis_table box_table(std::int32_t from, std::int32_t to, double a, double b, std::int32_t src_n) {
  axis_table t;
  const double half = std::abs(a) / 2;
  for (std::int32_t i = from; i < to; ++i) {
    const double c = a * i + b;
    const double lo = std::max(c - half, -0.5), hi = std::min(c + half, src_n - 0.5);
    if (!(hi > lo)) {  // outside the source (not drawn): one tap keeps the table well formed
      t.add(static_cast<std::int32_t>(std::clamp(std::floor(c + 0.5), 0.0, src_n - 1.0)), 1.0f);
      t.next();
      continue;
    }
    const std::int32_t j0 = static_cast<std::int32_t>(std::floor(lo + 0.5));
    const std::int32_t j1 = std::min<std::int32_t>(static_cast<std::int32_t>(std::ceil(hi + 0.5)), src_n);
    for (std::int32_t j = std::max(j0, 0); j < j1; ++j) {
      const double cover = std::min(hi, j + 0.5) - std::max(lo, j - 0.5);
      if (cover > 1e-9 * (hi - lo)) t.add(j, static_cast<float>(cover / (hi - lo)));
    }
    t.next();
  }
  return t;
}

// OpenCV INTER_NEAREST resize: floor(d * (1 / (dst/src))), clamped to the last pixel.
inline axis_table opencv_nearest_table(std::int32_t dst_n, std::int32_t src_n) {
  axis_table t;
  const double inv = 1.0 / (static_cast<double>(dst_n) / src_n);
  for (std::int32_t d = 0; d < dst_n; ++d) {
    t.add(std::min(static_cast<std::int32_t>(std::floor(d * inv)), src_n - 1), 1.0f);
    t.next();
  }
  return t;
}

}  // namespace polykern::detail::warp
