// KD-tree neighbour search, part 3: the simd bodies on OpenMP threads. Every phase (the
// build's Morton codes, radix sort passes and leaves; the queries, ~512 at a time) runs
// over chunks whose boundaries depend on the data only, each chunk writing its own
// output, so results are bitwise the same for any thread count (chunks are handed out
// dynamically, which only balances the load).
#pragma once
#include <exception>
#include <mutex>

#include "../../detail/parallel.hpp"
#include "../simd/kdtree.hpp"

#if POLYKERN_HAS_OPENMP
#include <omp.h>

namespace polykern::detail::kd {

// Calls body(i) for i in [0, count) on the policy's threads; the first exception thrown
// by a body is rethrown after the loop (none escapes the parallel region).
struct omp_each {
  int threads;
  template <class Body>
  void operator()(std::size_t count, Body&& body) const {
    if (count == 0) return;
    const int team = static_cast<int>(std::min<std::size_t>(static_cast<std::size_t>(std::max(threads, 1)), count));
    if (team <= 1) {
      for (std::size_t i = 0; i < count; ++i) body(i);
      return;
    }
    std::exception_ptr error;
    std::once_flag once;
#pragma omp parallel for num_threads(team) schedule(dynamic, 1)
    for (std::ptrdiff_t i = 0; i < static_cast<std::ptrdiff_t>(count); ++i) {
      try {
        body(static_cast<std::size_t>(i));
      } catch (...) {
        std::call_once(once, [&] { error = std::current_exception(); });
      }
    }
    if (error) std::rethrow_exception(error);
  }
};

inline omp_each executor(openmp_tag, const exec::openmp_policy& policy) { return {thread_count(policy)}; }

template <class T, std::size_t Dim>
void build(openmp_tag, const exec::openmp_policy& policy, tree_data<T, Dim>& t, points_view<const T, Dim> points,
           std::size_t leaf_size) {
  build_tree(t, points, leaf_size, omp_each{thread_count(policy)});
}
template <class T, std::size_t Dim>
neighbor_graph<T> radius_graph(openmp_tag, const exec::openmp_policy& policy, const tree_data<T, Dim>& t,
                               points_view<const T, Dim> queries, T r2, std::size_t keep) {
  return radius_graph_body<batch<T>>(t, queries, r2, keep, omp_each{thread_count(policy)});
}
template <class T, std::size_t Dim>
neighbor_graph<T> knn_graph(openmp_tag, const exec::openmp_policy& policy, const tree_data<T, Dim>& t,
                            points_view<const T, Dim> queries, std::size_t k) {
  return knn_graph_body<batch<T>>(t, queries, k, omp_each{thread_count(policy)});
}

}  // namespace polykern::detail::kd
#endif
