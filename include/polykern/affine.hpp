// Batched affine transforms of points and normals (api.md §6, first part).
//
//   transform_points(policy, in, matrix, out)            out = R in + t
//   transform_normals(policy, in, matrix, out)           out = normalize(inverse(R)^T in)
//   transform_points_batched(policy, in, offsets, matrices, out)
//   transform_normals_batched(policy, in, offsets, matrices, out)
//
// Points are arrays of structs (points_view: stride >= 3 elements), float or double. In
// place (in.data == out.data, same stride) is allowed. Batched: segment s covers points
// [offsets[s], offsets[s+1]) and uses matrices[s]. docs/affine.md has every rule.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <utility>
#include <span>
#include <string_view>
#include <type_traits>
#include <vector>

#include "affine_matrix.hpp"
#include "backend/scalar/affine.hpp"
#include "backend/simd/affine.hpp"
#include "backend/openmp/affine.hpp"
#if POLYKERN_HAS_VULKAN
#include "backend/vulkan/affine.hpp"
#endif
#include "detail/affine/plan.hpp"
#include "error.hpp"
#include "execution.hpp"
#include "view.hpp"

namespace polykern {

namespace detail::affine {

template <class T>
inline constexpr bool element_type = std::is_same_v<T, float> || std::is_same_v<T, double>;

// What the checks know of one points argument: a host view, or a vulkan::device_points
// object (its count; its memory is its own, so two objects never overlap and the same
// object twice is in place). The checks below are written once over this description.
template <class T>
struct points_arg {
  points_view<const T, 3> view;  // a device object: {nullptr, count(), 3}
  const void* object = nullptr;  // the device object, or null for a host view
};
template <class T>
points_arg<T> host_arg(points_view<const T, 3> v) {
  return {v, nullptr};
}

// Checks the points arguments of one call (single or batched) against api.md §2/§3/§6.
template <class T>
void check_views(std::string_view fn, const points_arg<T>& a, const points_arg<T>& b) {
  const points_view<const T, 3> in = a.view, out = b.view;
  require(in.stride >= 3, fn, "in.stride is ", in.stride, "; must be >= 3");
  require(out.stride >= 3, fn, "out.stride is ", out.stride, "; must be >= 3");
  require(in.count == out.count, fn, "in.count is ", in.count, " but out.count is ", out.count, "; must be equal");
  if (a.object != nullptr) return;  // device objects: nothing else can be wrong with them
  require(in.data != nullptr || in.count == 0, fn, "in.data is null with in.count ", in.count);
  require(out.data != nullptr || out.count == 0, fn, "out.data is null with out.count ", out.count);
  check_addressable(fn, "in", in);
  check_addressable(fn, "out", out);
  require(same_or_disjoint(in.data, in.end(), in.stride, out.data, out.end(), out.stride), fn,
          "out overlaps in without being the same points (in.data ", static_cast<const void*>(in.data), " stride ",
          in.stride, ", out.data ", static_cast<const void*>(out.data), " stride ", out.stride,
          "); in place needs in.data == out.data and equal strides");
}

// Whether R of `a` is numerically singular for T: |det R| <= 8 eps(T) |r0| |r1| |r2|.
// The bound is the determinant relative to its largest possible value for these row
// lengths (Hadamard), so scaling rows does not change the verdict; only (nearly) linearly
// dependent rows do.
template <class T>
bool singular(const double (&r)[3][3], double det) {
  double hadamard = 1;
  for (const auto& row : r) hadamard *= std::sqrt(row[0] * row[0] + row[1] * row[1] + row[2] * row[2]);
  return !(std::abs(det) > 8 * std::numeric_limits<T>::epsilon() * hadamard);
}

// Validates one matrix and returns the coefficients the backends apply. `name` is how
// the error message calls it ("matrix" or "matrices[3]").
template <class T>
coefficients<T> prepare(std::string_view fn, std::string_view name, std::size_t index, bool indexed,
                        const polykern::affine3<T>& a, kind what) {
  const auto label = [&] { return indexed ? concat(name, "[", index, "]") : std::string(name); };
  for (int r = 0; r < 3; ++r)
    for (int c = 0; c < 4; ++c)
      require(std::isfinite(a.m[r][c]), fn, label(), ".m[", r, "][", c, "] is ", a.m[r][c], "; must be finite");
  coefficients<T> out{};
  if (what == kind::points) {
    for (int r = 0; r < 3; ++r)
      for (int c = 0; c < 4; ++c) out.m[4 * r + c] = a.m[r][c];
    return out;
  }
  // inverse(R)^T = cofactor(R) / det R, computed in double. The normals are normalised
  // afterwards, so any positive factor may be dropped: scale the largest entry to 1,
  // which keeps |N n| near |n| and far from overflow whatever the scale of R.
  // R scaled to a largest entry of 1 first: the direction of inverse(cR)^T n does not
  // depend on c > 0, and the cofactors of huge or tiny entries could overflow.
  double r[3][3], rmax = 0;
  for (int i = 0; i < 3; ++i)
    for (int k = 0; k < 3; ++k) rmax = std::max(rmax, std::abs(double(a.m[i][k])));
  require(rmax > 0, fn, label(), " has a singular linear part (R is zero); transforming normals needs an invertible R");
  for (int i = 0; i < 3; ++i)
    for (int k = 0; k < 3; ++k) r[i][k] = a.m[i][k] / rmax;
  double cof[3][3];
  for (int i = 0; i < 3; ++i)
    for (int k = 0; k < 3; ++k) {
      const int i1 = (i + 1) % 3, i2 = (i + 2) % 3, k1 = (k + 1) % 3, k2 = (k + 2) % 3;
      cof[i][k] = r[i1][k1] * r[i2][k2] - r[i1][k2] * r[i2][k1];
    }
  const double det = r[0][0] * cof[0][0] + r[0][1] * cof[0][1] + r[0][2] * cof[0][2];
  require(!singular<T>(r, det), fn, label(), " has a singular linear part (det ", det * rmax * rmax * rmax,
          "); transforming normals needs an invertible R");
  double largest = 0;
  for (const auto& row : cof)
    for (double v : row) largest = std::max(largest, std::abs(v / det));
  for (int i = 0; i < 3; ++i) {
    for (int k = 0; k < 3; ++k) out.m[4 * i + k] = static_cast<T>(cof[i][k] / det / largest);
    out.m[4 * i + 3] = 0;
  }
  return out;
}

template <class Policy, class T>
void launch(const Policy& policy, const job<T>& j) {
  dispatch(policy, [&](auto tag, const auto& p) { affine::run(tag, p, j); });
}

// The job of one call over checked arguments (`out` writable: a host view's data, or
// null for a device object).
template <class T>
job<T> make_job(const points_arg<T>& in, T* out, std::ptrdiff_t out_stride, std::span<const std::size_t> offsets,
                std::span<const coefficients<T>> c, kind what) {
  return job<T>{in.view.data, in.view.stride, out, out_stride, in.view.count, offsets, c, what};
}

// `run_job(job)` runs the checked call: launch() for host views, the device job for
// device objects.
template <class T, class RunJob>
void transform_one(std::string_view fn, const points_arg<T>& in, const polykern::affine3<T>& matrix,
                   const points_arg<T>& out, T* out_data, kind what, const RunJob& run_job) {
  check_views(fn, in, out);
  const coefficients<T> c = prepare(fn, "matrix", 0, false, matrix, what);
  const std::size_t offsets[2] = {0, in.view.count};
  run_job(make_job<T>(in, out_data, out.view.stride, offsets, {&c, 1}, what));
}

template <class T, class RunJob>
void transform_batched(std::string_view fn, const points_arg<T>& in, std::span<const std::size_t> offsets,
                       std::span<const polykern::affine3<T>> matrices, const points_arg<T>& out, T* out_data, kind what,
                       const RunJob& run_job) {
  check_views(fn, in, out);
  const std::size_t count = in.view.count;
  require(offsets.size() == matrices.size() + 1, fn, "segment_offsets has ", offsets.size(), " entries for ",
          matrices.size(), " matrices; must have matrices.size() + 1");
  require(offsets[0] == 0, fn, "segment_offsets[0] is ", offsets[0], "; must be 0");
  for (std::size_t s = 0; s + 1 < offsets.size(); ++s)
    require(offsets[s] <= offsets[s + 1], fn, "segment_offsets[", s + 1, "] is ", offsets[s + 1],
            " < segment_offsets[", s, "] = ", offsets[s], "; offsets must be non-decreasing");
  require(offsets.back() == count, fn, "segment_offsets[", offsets.size() - 1, "] is ", offsets.back(),
          " but in.count is ", count, "; the last offset must equal the point count");
  std::vector<coefficients<T>> c(matrices.size());
  for (std::size_t s = 0; s < matrices.size(); ++s) c[s] = prepare(fn, "matrices", s, true, matrices[s], what);
  run_job(make_job<T>(in, out_data, out.view.stride, offsets, c, what));
}

// Host views: their arguments and launcher.
template <class Policy, class T>
void transform_one(std::string_view fn, const Policy& policy, points_view<const T, 3> in,
                   const polykern::affine3<T>& matrix, points_view<T, 3> out, kind what) {
  transform_one<T>(fn, host_arg(in), matrix, host_arg<T>(out), out.data, what,
                   [&](const job<T>& j) { launch(policy, j); });
}
template <class Policy, class T>
void transform_batched(std::string_view fn, const Policy& policy, points_view<const T, 3> in,
                       std::span<const std::size_t> offsets, std::span<const polykern::affine3<T>> matrices,
                       points_view<T, 3> out, kind what) {
  transform_batched<T>(fn, host_arg(in), offsets, matrices, host_arg<T>(out), out.data, what,
                       [&](const job<T>& j) { launch(policy, j); });
}

#if POLYKERN_HAS_VULKAN
// Device points (api.md §7): the gates (a Vulkan policy; objects of its context), then
// the same checks, and the device job on the objects' buffers.
template <class Policy, class T>
points_arg<T> device_arg(std::string_view fn, std::string_view name, const Policy& policy,
                         const vulkan::device_points<T, 3>& p) {
  require_vulkan_policy_for_device_objects<Policy>();
  if constexpr (std::is_same_v<Policy, exec::vulkan_policy>) require_same_context(fn, name, context_of(policy), p);
  return {points_view<const T, 3>(nullptr, p.count()), &p};
}
template <class Policy, class T>
auto device_launcher(const Policy& policy, const vulkan::device_points<T, 3>& in, vulkan::device_points<T, 3>& out) {
  return [&policy, &in, &out](const job<T>& j) {
    if constexpr (std::is_same_v<Policy, exec::vulkan_policy>) {  // else the gate has failed the build
      const device_job<T> d{j, &in.storage(), &out.storage()};
      dispatch(policy, [&](auto tag, const auto& p) { affine::run(tag, p, d); });
    }
  };
}
#endif

}  // namespace detail::affine

// out[i] = R in[i] + t for every point (api.md §6). In place allowed.
template <execution_policy Policy, class In, class T>
  requires std::is_same_v<std::remove_const_t<In>, T> && detail::affine::element_type<T>
void transform_points(const Policy& policy, points_view<In, 3> in, const affine3<T>& matrix, points_view<T, 3> out) {
  detail::affine::transform_one<Policy, T>("transform_points", policy, in, matrix, out, detail::affine::kind::points);
}

// out[i] = normalize(inverse(R)^T in[i]); a zero normal stays zero; singular R is an
// invalid_argument. The translation is ignored. In place allowed.
template <execution_policy Policy, class In, class T>
  requires std::is_same_v<std::remove_const_t<In>, T> && detail::affine::element_type<T>
void transform_normals(const Policy& policy, points_view<In, 3> in, const affine3<T>& matrix, points_view<T, 3> out) {
  detail::affine::transform_one<Policy, T>("transform_normals", policy, in, matrix, out, detail::affine::kind::normals);
}

// Many meshes in one call: points [segment_offsets[s], segment_offsets[s+1]) use matrices[s].
// segment_offsets has matrices.size() + 1 entries, starts at 0, never decreases (empty
// segments are fine) and ends at in.count.
template <execution_policy Policy, class In, class T>
  requires std::is_same_v<std::remove_const_t<In>, T> && detail::affine::element_type<T>
void transform_points_batched(const Policy& policy, points_view<In, 3> in, std::span<const std::size_t> segment_offsets,
                              std::type_identity_t<std::span<const affine3<T>>> matrices, points_view<T, 3> out) {
  detail::affine::transform_batched<Policy, T>("transform_points_batched", policy, in, segment_offsets, matrices, out,
                                               detail::affine::kind::points);
}

// transform_normals for many meshes in one call (segments as in transform_points_batched).
template <execution_policy Policy, class In, class T>
  requires std::is_same_v<std::remove_const_t<In>, T> && detail::affine::element_type<T>
void transform_normals_batched(const Policy& policy, points_view<In, 3> in, std::span<const std::size_t> segment_offsets,
                               std::type_identity_t<std::span<const affine3<T>>> matrices, points_view<T, 3> out) {
  detail::affine::transform_batched<Policy, T>("transform_normals_batched", policy, in, segment_offsets, matrices, out,
                                               detail::affine::kind::normals);
}

#if POLYKERN_HAS_VULKAN
// The same four kernels on device-resident points (api.md §7), under exec::vulkan or
// exec::vulkan_policy{ctx} only (a CPU policy is a compile error): `in` and `out` belong to
// the policy's context (invalid_argument otherwise) and have equal counts; the same object
// twice is in place. Nothing crosses the bus but the matrices. docs/affine.md.
template <execution_policy Policy, class T>
  requires detail::affine::element_type<T>
void transform_points(const Policy& policy, const vulkan::device_points<T, 3>& in, const affine3<T>& matrix,
                      vulkan::device_points<T, 3>& out) {
  const char* f = "transform_points";
  detail::affine::transform_one<T>(f, detail::affine::device_arg(f, "in", policy, in), matrix,
                                   detail::affine::device_arg(f, "out", policy, out), nullptr,
                                   detail::affine::kind::points, detail::affine::device_launcher(policy, in, out));
}

template <execution_policy Policy, class T>
  requires detail::affine::element_type<T>
void transform_normals(const Policy& policy, const vulkan::device_points<T, 3>& in, const affine3<T>& matrix,
                       vulkan::device_points<T, 3>& out) {
  const char* f = "transform_normals";
  detail::affine::transform_one<T>(f, detail::affine::device_arg(f, "in", policy, in), matrix,
                                   detail::affine::device_arg(f, "out", policy, out), nullptr,
                                   detail::affine::kind::normals, detail::affine::device_launcher(policy, in, out));
}

template <execution_policy Policy, class T>
  requires detail::affine::element_type<T>
void transform_points_batched(const Policy& policy, const vulkan::device_points<T, 3>& in,
                              std::span<const std::size_t> segment_offsets,
                              std::type_identity_t<std::span<const affine3<T>>> matrices, vulkan::device_points<T, 3>& out) {
  const char* f = "transform_points_batched";
  detail::affine::transform_batched<T>(f, detail::affine::device_arg(f, "in", policy, in), segment_offsets, matrices,
                                       detail::affine::device_arg(f, "out", policy, out), nullptr,
                                       detail::affine::kind::points, detail::affine::device_launcher(policy, in, out));
}

template <execution_policy Policy, class T>
  requires detail::affine::element_type<T>
void transform_normals_batched(const Policy& policy, const vulkan::device_points<T, 3>& in,
                               std::span<const std::size_t> segment_offsets,
                               std::type_identity_t<std::span<const affine3<T>>> matrices,
                               vulkan::device_points<T, 3>& out) {
  const char* f = "transform_normals_batched";
  detail::affine::transform_batched<T>(f, detail::affine::device_arg(f, "in", policy, in), segment_offsets, matrices,
                                       detail::affine::device_arg(f, "out", policy, out), nullptr,
                                       detail::affine::kind::normals, detail::affine::device_launcher(policy, in, out));
}
#endif

}  // namespace polykern
