// libFuzzer harness: transform_points / transform_normals and their batched forms, float
// and double, on every CPU policy (common.hpp has the protocol). The input chooses the
// point views (count, stride, null, unaddressable), whether out is in, overlaps in
// partially or is separate, the matrices (NaN, inf, 0, huge, negative, singular) and the
// segment offsets (also broken ones). CPU policies must agree bit for bit (docs/affine.md:
// the same nested FMA on every CPU policy).
#include <polykern/affine.hpp>

#include "common.hpp"

namespace {

using namespace fuzz;

// fuzz_affine's odds: strides 3..6; one in 16 each of a short stride (0..2, either sign),
// null data, an unaddressable count or stride (PTRDIFF_MAX / 2 + 1).
constexpr points_odds affine_odds{.extra_stride = 3, .one_in = 16, .short_below_dim = false,
                                  .huge_stride = std::numeric_limits<std::ptrdiff_t>::max() / 2 + 1,
                                  .zero_stride = false};

// Elements filled (in) or writable (out): none below stride 3, which affine rejects even
// for one point.
std::size_t covered(const points_plan& p) { return p.stride >= 3 ? p.span(3) : 0; }

template <class T>
pk::affine3<T> draw_matrix(input& in) {
  pk::affine3<T> m;
  for (auto& row : m.m)
    for (T& v : row) v = static_cast<T>(some_double(in, -4, 4));
  if (in.ConsumeIntegralInRange(0, 7) == 0) {  // make it singular: one row a multiple of another
    const double f = some_double(in, -2, 2);
    for (int c = 0; c < 3; ++c) m.m[2][c] = static_cast<T>(f * m.m[0][c]);
  }
  return m;
}

template <class T>
void one_input(input& in) {
  const std::size_t count = pick(in, 0, 40);
  points_plan src = draw_points(in, count, 3, affine_odds);
  points_plan dst = draw_points(in, count, 3, affine_odds);
  if (in.ConsumeIntegralInRange(0, 15) == 0 && !dst.unaddressable) dst.count = pick(in, 0, 40);  // mismatched counts
  // Where out lies: separate, in place, or shifted over in by a few elements.
  const int layout = in.ConsumeIntegralInRange(0, 3);
  src.offset = pick(in, 0, 3);
  if (layout == 1) dst = src;  // in place
  else if (layout == 2) dst.offset = src.offset + pick(in, 0, 4);     // overlap (or same start, other stride)
  else dst.offset = src.offset + covered(src) + pick(in, 0, 3);
  arena a((std::max(src.offset + covered(src), dst.offset + covered(dst)) + 8) * sizeof(T));
  pk::points_view<T, 3> iv{src.null ? nullptr : a.at<T>(src.offset), src.count, src.stride};
  pk::points_view<T, 3> ov{dst.null ? nullptr : a.at<T>(dst.offset), dst.count, dst.stride};
  for (std::size_t i = 0; i < covered(src); ++i) a.at<T>(src.offset)[i] = static_cast<T>(some_double(in, -100, 100));
  if (!dst.null && !dst.unaddressable && dst.stride >= 3)
    for (std::size_t i = 0; i < dst.count; ++i) a.allow(ov[i], 3 * sizeof(T));

  const bool normals = in.ConsumeBool();
  const bool batched = in.ConsumeBool();
  std::vector<pk::affine3<T>> matrices(batched ? pick(in, 0, 4) : 1);
  for (auto& m : matrices) m = draw_matrix<T>(in);
  std::vector<std::size_t> offsets(matrices.size() + 1, 0);
  for (std::size_t s = 1; s + 1 < offsets.size(); ++s) offsets[s] = std::min(count, offsets[s - 1] + pick(in, 0, count));
  offsets.back() = src.count;
  if (in.ConsumeIntegralInRange(0, 7) == 0) {  // a broken offset list
    switch (pick(in, 0, 3)) {
      case 0: offsets.front() = 1; break;
      case 1: offsets.back() += 1; break;
      case 2: offsets.push_back(count); break;
      default: if (offsets.size() > 2) offsets[1] = count + 1;
    }
  }
  a.commit();

  const pk::points_view<const T, 3> civ = iv;
  const auto call = [&](const auto& policy) {
    if (!batched) {
      if (normals) pk::transform_normals(policy, civ, matrices[0], ov);
      else pk::transform_points(policy, civ, matrices[0], ov);
    } else {
      const std::span<const std::size_t> off(offsets);
      const std::span<const pk::affine3<T>> ms(matrices);
      if (normals) pk::transform_normals_batched(policy, civ, off, ms, ov);
      else pk::transform_points_batched(policy, civ, off, ms, ov);
    }
    return 0;
  };
  // Vulkan's bound (docs/affine.md "Precision": within about 2 ulp of the magnitude of the
  // terms summed; Vulkan's fma may not fuse, lavapipe's does not): relative to the terms,
  // not to the result, which cancellation can make arbitrarily small.
  //  - points: 1e-5 * (|scalar| + sum_j |m[d][j] in[j]| + |t[d]|).
  //  - normals: out = v / |v| with v = N in. Each v[d] carries an error of a few ulp of its
  //    terms T[d] = sum_j |N[d][j] in[j]|, so out[d] is off by about that over |v|, plus
  //    |out[d]| times the error of |v| (at most max_d T[d] / |v| relative): the bound is
  //    1e-5 * (|scalar| + (T[d] + |scalar| max_d T[d]) / |v|). T / |v| is how much the normal
  //    cancels; it is computed in double with N = cofactors of R (proportional to
  //    inverse(R)^T, whatever scale the library gives N: the ratio does not change). Found
  //    by tests/fuzz/corpus/fuzz_affine/regression-vulkan-normal-cancels: R with two
  //    nearly equal columns, in = (100, 100, 100), v = (~0, 0, 0.036) from terms of 100;
  //    fused (scalar) v[0] = 4.8e-7, unfused (lavapipe) 0, exact 2.3e-15: both within
  //    the documented precision, out[0] 1.3e-5 against 0.
  // The input points as the call saw them (in place, the reference snapshot holds outputs).
  std::vector<T> inputs;
  if (!src.null && !src.unaddressable && (src.stride >= 3 || src.count <= 1))
    for (std::size_t i = 0; i < src.count; ++i) inputs.insert(inputs.end(), civ[i], civ[i] + 3);
  constexpr double no_bound = std::numeric_limits<double>::infinity();
  // T[d] for point i (or no_bound when the input was not readable).
  const auto terms = [&](std::size_t i, int d) {
    std::size_t seg = 0;
    while (seg + 1 < matrices.size() && i >= offsets[seg + 1]) ++seg;
    if (3 * i + 3 > inputs.size()) return no_bound;
    const T* p = inputs.data() + 3 * i;
    const auto& r = matrices[seg].m;
    double sum = 0;
    if (!normals) {
      sum = std::abs(double(r[d][3]));
      for (int j = 0; j < 3; ++j) sum += std::abs(double(r[d][j]) * double(p[j]));
      return sum;
    }
    // The cofactor matrix of R is det(R) inverse(R)^T.
    const auto R = [&](int row, int col) { return double(r[row % 3][col % 3]); };
    for (int j = 0; j < 3; ++j) {
      const double cofactor = R(d + 1, j + 1) * R(d + 2, j + 2) - R(d + 1, j + 2) * R(d + 2, j + 1);
      sum += std::abs(cofactor * double(p[j]));
    }
    return sum;
  };
  // |v| of point i in the cofactor scaling of terms().
  const auto normal_length = [&](std::size_t i) {
    std::size_t seg = 0;
    while (seg + 1 < matrices.size() && i >= offsets[seg + 1]) ++seg;
    if (3 * i + 3 > inputs.size()) return 0.0;
    const T* p = inputs.data() + 3 * i;
    const auto R = [&](int row, int col) { return double(matrices[seg].m[row % 3][col % 3]); };
    double len2 = 0;
    for (int d = 0; d < 3; ++d) {
      double v = 0;
      for (int j = 0; j < 3; ++j)
        v += (R(d + 1, j + 1) * R(d + 2, j + 2) - R(d + 1, j + 2) * R(d + 2, j + 1)) * double(p[j]);
      len2 += v * v;
    }
    return std::sqrt(len2);
  };
  const auto vulkan_bound = [&](std::size_t i, int d, T want) {
    const double w = std::abs(double(want));
    if (!normals) return 1e-5 * (w + terms(i, d)) + 1e-30;
    const double length = normal_length(i);
    const double largest = std::max({terms(i, 0), terms(i, 1), terms(i, 2)});
    const double bound = 1e-5 * (w + (terms(i, d) + w * largest) / length) + 1e-30;
    return std::isnan(bound) ? no_bound : bound;  // 0 / 0: the normal cancels completely
  };
  const auto agree = [&](const auto& policy, arena& live, const std::vector<unsigned char>& reference, int, int) {
    for (std::size_t i = 0; i < ov.count; ++i)
      for (int d = 0; d < 3; ++d) {
        const T got = ov[i][d], want = *live.in_snapshot(reference, ov[i] + d);
        if constexpr (is_vulkan_policy<decltype(policy)>) {
          // Scalar's NaN stays NaN.
          if (std::isnan(want)) {
            check(std::isnan(got), "vulkan: not NaN where scalar is");
            continue;
          }
          // Points: a sum whose terms are non-finite or overflow T has no bound: lavapipe
          // rounds the product before adding (fma(a, b, -inf) with a*b beyond max is NaN
          // there, -inf fused; 1.5 max - max is 0.5 max fused, inf unfused).
          if (!normals && !(terms(i, d) <= double(std::numeric_limits<T>::max()))) continue;
          const double bound = vulkan_bound(i, d, want);
          if (!(same_value(got, want) || std::abs(double(got) - double(want)) <= bound)) {
            std::fprintf(stderr, "affine: %s%s, point %zu of %zu, coordinate %d: vulkan %.9g, scalar %.9g, bound %.3g\n",
                         normals ? "normals" : "points", batched ? " batched" : "", i, ov.count, d, double(got),
                         double(want), bound);
            if (3 * i + 3 <= inputs.size())
              std::fprintf(stderr, "affine: input point %.9g %.9g %.9g\n", double(inputs[3 * i]),
                           double(inputs[3 * i + 1]), double(inputs[3 * i + 2]));
            for (const auto& m : matrices)
              for (const auto& row : m.m)
                std::fprintf(stderr, "affine: matrix row %.9g %.9g %.9g %.9g\n", double(row[0]), double(row[1]),
                             double(row[2]), double(row[3]));
            check(false, "vulkan differs");
          }
        } else {
          check(same_value(got, want), "a CPU policy differs from scalar");
        }
      }
  };
  across_policies(a, call, agree);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider in(data, size);
  if (in.ConsumeBool()) one_input<float>(in);
  else one_input<double>(in);
  return 0;
}
