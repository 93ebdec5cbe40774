// Gaussian smoothing, part 2: smooth_neighbors with the radius queries over xsimd
// batches. The weights and passes are the shared bodies of backend/scalar/smooth.hpp
// (their inner loops over channels are vectorised by the compiler; the passes are
// bound by the gathers of neighbour rows, not by arithmetic).
#pragma once
#include "../scalar/smooth.hpp"
#include "kdtree.hpp"

namespace polykern::detail::sm {

template <class T, std::size_t Dim>
void smooth_neighbors(simd_tag, const auto&, points_view<const T, Dim> points, matrix_view<const T> values,
                      matrix_view<T> out, T r2, T a, std::size_t iterations, std::size_t keep) {
  smooth_neighbors_body<kd::batch<T>>(points, values, out, r2, a, iterations, keep, kd::serial_each{});
}

}  // namespace polykern::detail::sm
