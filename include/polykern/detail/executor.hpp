// The one executor every CPU backend runs its chunks through (architecture.md).
//
// A chunked loop calls body(begin, end) for [k*chunk, min((k+1)*chunk, count)), k = 0, 1, ...
// The boundaries depend only on count and chunk, never on the number of threads, so a
// kernel whose chunks write disjoint outputs gives bitwise the same result on any team.
// The first exception a body throws is captured and rethrown on the caller's thread once
// every chunk has ended (api.md §3: nothing escapes an OpenMP region, no kernel aborts).
//
//   serial_executor      the calling thread (scalar and simd policies)
//   openmp_executor      an OpenMP team of the policy's size; `dynamic` hands chunks out
//                        one at a time (for uneven chunks or a machine shared with others)
//   executor_for(policy) the executor a policy runs on
#pragma once
#include <algorithm>
#include <cstddef>
#include <exception>
#include <mutex>
#include <utility>

#include "../execution.hpp"

#if POLYKERN_HAS_OPENMP
#include <omp.h>
#endif

namespace polykern::detail {

// Keeps the first exception thrown by any chunk; rethrow() hands it to the caller.
class first_exception {
 public:
  template <class F>
  void run(F&& f) noexcept {
    try {
      std::forward<F>(f)();
    } catch (...) {
      std::lock_guard lock(mutex_);
      if (!error_) error_ = std::current_exception();
    }
  }
  void rethrow() const {
    if (error_) std::rethrow_exception(error_);
  }

 private:
  std::exception_ptr error_;
  std::mutex mutex_;
};

inline std::size_t chunk_count(std::size_t count, std::size_t chunk) { return (count + chunk - 1) / chunk; }

struct serial_executor {
  static constexpr int threads() { return 1; }

  // body(begin, end) for every chunk, in order.
  template <class Body>
  void chunks(std::size_t count, std::size_t chunk, Body&& body) const {
    chunk = std::max<std::size_t>(chunk, 1);
    for (std::size_t begin = 0; begin < count; begin += chunk) body(begin, std::min(begin + chunk, count));
  }
  // body(state, begin, end) with one state per thread, made by make_state().
  template <class MakeState, class Body>
  void chunks_with(std::size_t count, std::size_t chunk, MakeState&& make_state, Body&& body) const {
    if (count == 0) return;
    auto state = make_state();
    chunks(count, chunk, [&](std::size_t b, std::size_t e) { body(state, b, e); });
  }
  // body(i) for i in [0, count).
  template <class Body>
  void each(std::size_t count, Body&& body) const {
    for (std::size_t i = 0; i < count; ++i) body(i);
  }
};

#if POLYKERN_HAS_OPENMP
struct openmp_executor {
  int team = 0;          // threads; 0 = OpenMP's default
  bool dynamic = false;  // schedule(dynamic, 1) over chunks instead of static

  int threads() const { return team > 0 ? team : omp_get_max_threads(); }

  template <class Body>
  void chunks(std::size_t count, std::size_t chunk, Body&& body) const {
    chunks_with(count, chunk, [] { return 0; }, [&](int, std::size_t b, std::size_t e) { body(b, e); });
  }

  template <class MakeState, class Body>
  void chunks_with(std::size_t count, std::size_t chunk, MakeState&& make_state, Body&& body) const {
    if (count == 0) return;
    chunk = std::max<std::size_t>(chunk, 1);
    const auto n = static_cast<std::ptrdiff_t>(chunk_count(count, chunk));
    const int t = static_cast<int>(std::min<std::ptrdiff_t>(threads(), n));
    if (t <= 1) {
      serial_executor{}.chunks_with(count, chunk, make_state, body);
      return;
    }
    first_exception error;
    const bool dyn = dynamic;
#pragma omp parallel num_threads(t)
    {
      error.run([&] {
        auto state = make_state();
        if (dyn) {
#pragma omp for schedule(dynamic, 1) nowait
          for (std::ptrdiff_t i = 0; i < n; ++i) {
            const std::size_t begin = static_cast<std::size_t>(i) * chunk;
            error.run([&] { body(state, begin, std::min(begin + chunk, count)); });
          }
        } else {
#pragma omp for schedule(static) nowait
          for (std::ptrdiff_t i = 0; i < n; ++i) {
            const std::size_t begin = static_cast<std::size_t>(i) * chunk;
            error.run([&] { body(state, begin, std::min(begin + chunk, count)); });
          }
        }
      });
    }
    error.rethrow();
  }

  template <class Body>
  void each(std::size_t count, Body&& body) const {
    chunks(count, 1, [&](std::size_t b, std::size_t) { body(b); });
  }
};
#endif

inline serial_executor executor_for(const exec::scalar_policy&) { return {}; }
inline serial_executor executor_for(const exec::simd_policy&) { return {}; }
#if POLYKERN_HAS_OPENMP
inline openmp_executor executor_for(const exec::openmp_policy& policy, bool dynamic = false) {
  return {policy.threads, dynamic};
}
#endif

// The executor for host-side work under a Vulkan policy (a tree build, say): every core
// when OpenMP is on.
#if POLYKERN_HAS_OPENMP
using host_executor = openmp_executor;
#else
using host_executor = serial_executor;
#endif

}  // namespace polykern::detail
