// Gaussian smoothing, part 3: the same bodies on OpenMP threads, over chunks of rows fixed
// by the data (1024 rows of a graph; ~512 points of smooth_neighbors' own graph), so the
// result is bitwise the same for any thread count.
#pragma once
#include "../simd/smooth.hpp"
#include "kdtree.hpp"

#if POLYKERN_HAS_OPENMP
namespace polykern::detail::sm {

template <class T>
void smooth(openmp_tag, const exec::openmp_policy& policy, const neighbor_graph<T>& g, matrix_view<const T> values,
            matrix_view<T> out, T a, std::size_t iterations) {
  smooth_graph(g, values, out, a, iterations, kd::omp_each{thread_count(policy)});
}
template <class T, std::size_t Dim>
void smooth_neighbors(openmp_tag, const exec::openmp_policy& policy, points_view<const T, Dim> points,
                      matrix_view<const T> values, matrix_view<T> out, T r2, T a, std::size_t iterations,
                      std::size_t keep) {
  smooth_neighbors_body<kd::batch<T>>(points, values, out, r2, a, iterations, keep, kd::omp_each{thread_count(policy)});
}

}  // namespace polykern::detail::sm
#endif
