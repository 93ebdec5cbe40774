// Image warps: the one CPU traversal. Rows in fixed chunks (through detail/executor.hpp),
// then every job in order (later ones on top) on its span of the row, then the job's
// sampler. What a policy changes plugs in as `Paths`:
//
//   scalar_paths (below)          every pixel through the per-pixel body (pixel.hpp)
//   simd_paths (simd_paths.hpp)   interior gathers, translations, axis-aligned column
//                                 tables, border tables and element tables for area rows
//
// A Paths type provides: V (float or a batch: the lanes of the area vertical pass),
// extras (what it precomputes per job) and prepare<T, C>(job); interior<T, C>(...) (the
// pixels [ia, ib) of a span its interior path takes); border_pixels<T, C> and
// interior_pixels<T, C> (bilinear and nearest pixels); area_horizontal<T, C>.
// Every path computes the very same arithmetic, so all CPU policies give the same bits.
#pragma once
#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <utility>
#include <vector>

#include "../simd/diagnostics.hpp"
#include "pixel.hpp"
#include "plan.hpp"

POLYKERN_SIMD_DIAGNOSTICS_PUSH
namespace polykern::detail::warp {

// Destination rows per chunk of the executor. Chunks never depend on the thread count, and
// every row is computed by the same code whichever thread runs it.
inline constexpr std::size_t rows_per_chunk = 8;

// Test-only fault injection: while true, every scratch allocation throws std::bad_alloc, as
// an exhausted heap would (tests/test_warp.cpp checks that it reaches the caller, also from
// OpenMP threads).
inline std::atomic<bool> fail_scratch_allocations_for_testing{false};

// Floats every scratch row holds past its last element: a window pick of the SIMD paths
// (simd::pick) reads up to 64 floats from a window's start, and a bilinear row's right
// taps start C floats after its left taps.
inline constexpr std::size_t scratch_slack = 64 + 4;

// Scratch memory of one thread (the float rows of area and separable bilinear rows).
struct scratch {
  std::vector<float> acc;
  float* floats(std::size_t n) {
    if (acc.size() < n) {
      if (fail_scratch_allocations_for_testing.load(std::memory_order_relaxed)) throw std::bad_alloc();
      acc.resize(n);
    }
    return acc.data();
  }
};

// Bilinear / nearest pixels [xa, xb) of one row, one at a time.
template <class T, int C>
inline void pixels_one_by_one(const job<T>& j, const row_base& rb, std::int32_t xa, std::int32_t xb, T* out) {
  for (std::int32_t x = xa; x < xb; ++x) warp_pixel<T, C>(j, rb, x, out + static_cast<std::size_t>(x) * C);
}

// The scalar policy: no fast path, the reference body everywhere.
struct scalar_paths {
  using V = float;
  struct extras {};
  template <class T, int C>
  static extras prepare(const job<T>&) {
    return {};
  }
  template <class T, int C>
  static std::pair<std::int32_t, std::int32_t> interior(const job<T>&, const extras&, std::int32_t, std::int32_t,
                                                        std::int32_t xb) {
    return {xb, xb};
  }
  template <class T, int C>
  static void border_pixels(const job<T>& j, const extras&, const row_base& rb, std::int32_t xa, std::int32_t xb, T* out) {
    pixels_one_by_one<T, C>(j, rb, xa, xb, out);
  }
  template <class T, int C>
  static void interior_pixels(const job<T>& j, const extras&, const row_base& rb, std::int32_t, std::int32_t xa,
                              std::int32_t xb, T* out, scratch&) {
    pixels_one_by_one<T, C>(j, rb, xa, xb, out);
  }
  template <class T, int C>
  static void area_horizontal(const job<T>& j, const extras&, const float* acc, std::int32_t lo, std::int32_t xa,
                              std::int32_t xb, T* out) {
    warp::area_horizontal<T, C>(j, acc, lo, xa, xb, out);
  }
};

// Calls f.template operator()<C>() for the runtime channel count (1..4, checked by the entry points).
template <class F>
decltype(auto) with_channels(std::size_t channels, F&& f) {
  switch (channels) {
    case 1: return f.template operator()<1>();
    case 2: return f.template operator()<2>();
    case 3: return f.template operator()<3>();
    default: return f.template operator()<4>();
  }
}

// Pixels [xa, xb) of row y drawn by job j.
template <class Paths, class T, int C>
void segment(const job<T>& j, const typename Paths::extras& a, T* out, std::int32_t y, std::int32_t xa, std::int32_t xb,
             scratch& s) {
  switch (j.kind) {
    case sampler::bilinear:
    case sampler::nearest: {
      const row_base rb = row_of(j.k, y);
      const auto [ia, ib] = Paths::template interior<T, C>(j, a, y, xa, xb);
      Paths::template border_pixels<T, C>(j, a, rb, xa, ia, out);
      Paths::template interior_pixels<T, C>(j, a, rb, y, ia, ib, out, s);
      Paths::template border_pixels<T, C>(j, a, rb, ib, xb, out);
      break;
    }
    case sampler::supersample: {
      const row_base rb = row_of(j.k, y);
      for (std::int32_t x = xa; x < xb; ++x) supersample_pixel<T, C>(j, rb, x, out + static_cast<std::size_t>(x) * C);
      break;
    }
    case sampler::nearest_table: nearest_table_row<T, C>(j, y, xa, xb, out); break;
    case sampler::area_table: {
      const auto [lo, hi] = table_columns(j, xa, xb);
      float* acc = s.floats(static_cast<std::size_t>(hi - lo + 1) * C + scratch_slack);
      area_vertical<typename Paths::V, T, C>(j, y, lo, hi, acc);
      Paths::template area_horizontal<T, C>(j, a, acc, lo, xa, xb, out);
      break;
    }
  }
}

// Draws rows [ya, yb) of the destination: every job in order, each on its span.
// extras[i]: job i's prepared extras (a pointer per job).
template <class Paths, class T>
void draw_rows(const plan<T>& p, const typename Paths::extras* const* extras, std::size_t ya, std::size_t yb, scratch& s) {
  with_channels(p.dst.channels, [&]<int C>() {
    for (std::size_t y = ya; y < yb; ++y) {
      T* out = p.dst.row(y);
      for (std::size_t i = 0; i < p.jobs.size(); ++i) {
        const auto [xa, xb] = p.jobs[i].span(static_cast<std::int32_t>(y));
        if (xa < xb) segment<Paths, T, C>(p.jobs[i], *extras[i], out, static_cast<std::int32_t>(y), xa, xb, s);
      }
    }
  });
}

// Runs the plan on `executor` (detail/executor.hpp): fixed chunks of rows, one scratch per
// thread; an exception in any chunk reaches the caller.
//
// With more than one thread the jobs' preparation (Paths::prepare: tables built per call,
// otherwise serial before the rows: a few percent of a 16-tile compose on two threads) is
// shared out too: the work items are the jobs first, then the row chunks, in one parallel
// loop, and a job is prepared by whichever thread claims it first. A row chunk never waits
// for another thread (a descheduled thread must not hold the others hostage on a loaded
// machine): a job still being prepared elsewhere is prepared again into the thread's own
// copy (prepare is deterministic, so the rows are the same either way).
template <class Paths, class Executor, class T>
void run_cpu(const Executor& executor, const plan<T>& p) {
  using extras_t = typename Paths::extras;
  const std::size_t jobs = p.jobs.size();
  const auto prepare = [&](std::size_t i, extras_t& e) {
    with_channels(p.dst.channels, [&]<int C>() { e = Paths::template prepare<T, C>(p.jobs[i]); });
  };
  if (executor.threads() <= 1 || jobs < 2) {
    std::vector<extras_t> extras(jobs);
    std::vector<const extras_t*> of(jobs);
    for (std::size_t i = 0; i < jobs; ++i) prepare(i, extras[i]), of[i] = &extras[i];
    executor.chunks_with(
        p.dst.height, rows_per_chunk, [] { return scratch{}; },
        [&](scratch& s, std::size_t begin, std::size_t end) { draw_rows<Paths>(p, of.data(), begin, end, s); });
    return;
  }
  enum : int { pending = 0, claimed = 1, ready = 2 };
  std::vector<extras_t> extras(jobs);
  std::vector<std::atomic<int>> state(jobs);
  // Claims job i and prepares it; false when another thread claimed it first.
  const auto claim = [&](std::size_t i) {
    int expected = pending;
    if (!state[i].compare_exchange_strong(expected, claimed, std::memory_order_acq_rel)) return false;
    prepare(i, extras[i]);  // on an exception the job stays claimed: rows prepare their own copy
    state[i].store(ready, std::memory_order_release);
    return true;
  };
  struct thread_state {
    scratch s;
    std::vector<const extras_t*> of;
    std::vector<std::unique_ptr<extras_t>> own;  // copies of jobs another thread was preparing
  };
  const std::size_t row_chunks = (p.dst.height + rows_per_chunk - 1) / rows_per_chunk;
  executor.chunks_with(
      jobs + row_chunks, 1, [&] { return thread_state{scratch{}, std::vector<const extras_t*>(jobs), {}}; },
      [&](thread_state& t, std::size_t item, std::size_t) {
        if (item < jobs) {
          claim(item);
          return;
        }
        for (std::size_t i = 0; i < jobs; ++i) {
          if (t.of[i]) continue;
          if (state[i].load(std::memory_order_acquire) == ready || claim(i)) {
            t.of[i] = &extras[i];
          } else {
            if (t.own.empty()) t.own.resize(jobs);
            if (!t.own[i]) t.own[i] = std::make_unique<extras_t>(), prepare(i, *t.own[i]);
            // Use the shared copy once it is ready (this thread's copy is the same).
            t.of[i] = state[i].load(std::memory_order_acquire) == ready ? &extras[i] : t.own[i].get();
          }
        }
        const std::size_t begin = (item - jobs) * rows_per_chunk;
        draw_rows<Paths>(p, t.of.data(), begin, std::min(begin + rows_per_chunk, p.dst.height), t.s);
      });
}

}  // namespace polykern::detail::warp
POLYKERN_SIMD_DIAGNOSTICS_POP
