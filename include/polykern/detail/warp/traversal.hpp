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

template <class Paths, class T>
std::vector<typename Paths::extras> prepare_jobs(const plan<T>& p) {
  std::vector<typename Paths::extras> extras;
  extras.reserve(p.jobs.size());
  with_channels(p.dst.channels, [&]<int C>() {
    for (const auto& j : p.jobs) extras.push_back(Paths::template prepare<T, C>(j));
  });
  return extras;
}

// Draws rows [ya, yb) of the destination: every job in order, each on its span.
template <class Paths, class T>
void draw_rows(const plan<T>& p, const std::vector<typename Paths::extras>& extras, std::size_t ya, std::size_t yb,
               scratch& s) {
  with_channels(p.dst.channels, [&]<int C>() {
    for (std::size_t y = ya; y < yb; ++y) {
      T* out = p.dst.row(y);
      for (std::size_t i = 0; i < p.jobs.size(); ++i) {
        const auto [xa, xb] = p.jobs[i].span(static_cast<std::int32_t>(y));
        if (xa < xb) segment<Paths, T, C>(p.jobs[i], extras[i], out, static_cast<std::int32_t>(y), xa, xb, s);
      }
    }
  });
}

// Runs the plan on `executor` (detail/executor.hpp): fixed chunks of rows, one scratch per
// thread; an exception in any chunk reaches the caller.
//
// With more than one thread the jobs' preparation (Paths::prepare: tables built per call,
// serial before the rows otherwise: about a tenth of a 16-tile compose on two threads) is
// shared out too: the work items are the jobs first, then the row chunks, in one parallel
// loop. Every thread takes its items in increasing order, so all preparations are claimed
// before any row chunk and a row chunk waits at most for the preparations still running on
// other threads (which never wait themselves before finishing them). A preparation that
// throws marks its job failed; the rows then return without drawing and the executor
// rethrows the exception on the caller.
template <class Paths, class Executor, class T>
void run_cpu(const Executor& executor, const plan<T>& p) {
  const std::size_t jobs = p.jobs.size();
  if (executor.threads() <= 1 || jobs < 2) {
    const auto extras = prepare_jobs<Paths>(p);
    executor.chunks_with(
        p.dst.height, rows_per_chunk, [] { return scratch{}; },
        [&](scratch& s, std::size_t begin, std::size_t end) { draw_rows<Paths>(p, extras, begin, end, s); });
    return;
  }
  enum : int { pending = 0, ready = 1, failed = 2 };
  std::vector<typename Paths::extras> extras(jobs);
  std::vector<std::atomic<int>> state(jobs);
  const std::size_t row_chunks = (p.dst.height + rows_per_chunk - 1) / rows_per_chunk;
  executor.chunks_with(
      jobs + row_chunks, 1, [] { return scratch{}; },
      [&](scratch& s, std::size_t item, std::size_t) {
        if (item < jobs) {
          try {
            with_channels(p.dst.channels, [&]<int C>() { extras[item] = Paths::template prepare<T, C>(p.jobs[item]); });
          } catch (...) {
            state[item].store(failed, std::memory_order_release), state[item].notify_all();
            throw;
          }
          state[item].store(ready, std::memory_order_release), state[item].notify_all();
          return;
        }
        for (auto& st : state) {
          st.wait(pending, std::memory_order_acquire);
          if (st.load(std::memory_order_acquire) == failed) return;
        }
        const std::size_t begin = (item - jobs) * rows_per_chunk;
        draw_rows<Paths>(p, extras, begin, std::min(begin + rows_per_chunk, p.dst.height), s);
      });
}

}  // namespace polykern::detail::warp
POLYKERN_SIMD_DIAGNOSTICS_POP
