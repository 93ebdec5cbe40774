// static_for<N>(f): f(std::integral_constant<std::size_t, 0>{}), ..., f(<N-1>{}), expanded
// by the compiler at every optimisation level. Register-blocked loops (convolution bodies,
// FFT butterflies, transposes) use it so that their arrays of vectors stay in registers at
// -O2 as at -O3 (GCC unrolls small fixed-count loops fully only at -O3; an array indexed
// in a rolled loop lives in memory).
#pragma once
#include <cstddef>
#include <type_traits>
#include <utility>

// POLYKERN_FLATTEN on a register-blocked function inlines every call in it (the lambdas of
// static_for, the ops), so its accumulator arrays become registers at -O2 as at -O3; GCC's
// -O2 inliner otherwise leaves some of those lambdas as calls and the arrays in memory.
#if defined(__GNUC__)
#define POLYKERN_FLATTEN __attribute__((flatten))
#else
#define POLYKERN_FLATTEN
#endif
// POLYKERN_ALWAYS_INLINE on a small per-pixel helper that GCC's -O2 inliner leaves as a
// call inside the pixel loop (measured on the warp samplers: 1.3x slower than -O3).
#if defined(__GNUC__)
#define POLYKERN_ALWAYS_INLINE [[gnu::always_inline]] inline
#else
#define POLYKERN_ALWAYS_INLINE inline
#endif

// The same on a lambda (the attribute goes after its parameter list).
#if defined(__GNUC__)
#define POLYKERN_LAMBDA_ALWAYS_INLINE __attribute__((always_inline))
#else
#define POLYKERN_LAMBDA_ALWAYS_INLINE
#endif

namespace polykern::detail {

// Always inlined, itself and the lambda it expands through (the expansion is the point; a
// call would put its caller's arrays in memory); the bodies f are inlined by the caller's
// POLYKERN_FLATTEN where needed. Both halves matter at -O2 with GCC 12: with only the
// outer function always inlined, flattened callers (the direct convolution's blocks)
// kept f as calls, 1.2-2.2x slower than -O3; with neither, the warp samplers did.
template <std::size_t N, class F>
POLYKERN_ALWAYS_INLINE void static_for(F&& f) {
  [&]<std::size_t... I>(std::index_sequence<I...>) POLYKERN_LAMBDA_ALWAYS_INLINE {
    (f(std::integral_constant<std::size_t, I>{}), ...);
  }(std::make_index_sequence<N>{});
}

}  // namespace polykern::detail
