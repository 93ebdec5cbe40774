// The argument checks of the KD-tree entry points (kdtree, radius_neighbors,
// knn_neighbors, smooth_neighbors): called by the public headers only, before any work,
// so that nothing is written when an argument is bad (api.md §3). The engine assumes them.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

#include "../../error.hpp"
#include "../../view.hpp"
#include "../executor.hpp"
#include "tree.hpp"

namespace polykern::detail::kd {

// The executor for host-side passes of a call (the checks): the policy's own one on the
// CPU, every core under Vulkan, and under with_fallback the primary's.
template <class Policy>
auto host_executor_for(const Policy& policy) {
  if constexpr (requires { policy.primary; }) return host_executor_for(policy.primary);
  else if constexpr (requires { executor_for(policy); }) return executor_for(policy);
  else return host_executor{};
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
  check_addressable(function, argument, points);  // view.hpp: count * stride must be addressable
}

// Rejects point counts whose tree the 32-bit node links cannot address (tree.hpp).
inline void check_leaves(const char* function, const char* argument, std::size_t count, std::size_t leaf_size) {
  const std::size_t leaves = count / leaf_size + (count % leaf_size != 0);
  require(leaves <= max_leaves, function, argument, " has ", count, " points; with leaf_size ", leaf_size,
          " that is ", leaves, " leaves, and at most 2^31 are supported");
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

// A pass rejecting non-finite coordinates (after check_view).
template <class T, std::size_t Dim, class Executor>
void check_finite(const char* function, const char* argument, points_view<const T, Dim> points, const Executor& ex) {
  constexpr std::size_t chunk = pass_chunk;
  const std::size_t chunks = (points.count + chunk - 1) / chunk;
  std::vector<std::size_t> bad(chunks);
  ex.each(chunks, [&](std::size_t c) {
    const std::size_t b = c * chunk, e = std::min(points.count, b + chunk);
    const std::size_t i = first_non_finite(points, b, e);
    bad[c] = i == e ? points.count : i;
  });
  for (std::size_t c = 0; c < chunks; ++c)
    if (bad[c] != points.count) throw_non_finite(function, argument, points, bad[c]);
}

}  // namespace polykern::detail::kd
