// The SIMD layer: memory hints. Non-temporal (streaming) stores of full batches, the
// fence that orders them, and software prefetch. Where the target has none of these, the
// store is a plain aligned store and the hints do nothing.
#pragma once
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "diagnostics.hpp"
#include "intrinsics.hpp"
#include "xsimd.hpp"

POLYKERN_SIMD_DIAGNOSTICS_PUSH
namespace polykern::detail::simd {

// Non-temporal store of a full batch to `p`, aligned to the batch size.
template <class T, class A>
inline void stream_store(T* p, const xsimd::batch<T, A>& v) {
#if POLYKERN_SIMD_X86
  constexpr std::size_t bytes = sizeof(T) * xsimd::batch<T, A>::size;
#if defined(__AVX512F__)
  if constexpr (bytes == 64) {
    if constexpr (std::is_same_v<T, float>)
      _mm512_stream_ps(p, v);
    else
      _mm512_stream_pd(p, v);
    return;
  }
#endif
#if defined(__AVX__)
  if constexpr (bytes == 32) {
    if constexpr (std::is_same_v<T, float>)
      _mm256_stream_ps(p, v);
    else
      _mm256_stream_pd(p, v);
    return;
  }
#endif
  if constexpr (bytes == 16) {
    if constexpr (std::is_same_v<T, float>)
      _mm_stream_ps(p, v);
    else
      _mm_stream_pd(p, v);
    return;
  }
#endif
  v.store_aligned(p);
}

// Orders the streaming stores before whatever follows (another thread reading the output).
inline void stream_fence() {
#if POLYKERN_SIMD_X86
  _mm_sfence();
#endif
}

// Asks for the cache line holding `p` (for reading, into every cache level). Never faults,
// so `p` may lie past the end of an array.
inline void prefetch(const void* p) {
#if POLYKERN_SIMD_X86
  _mm_prefetch(static_cast<const char*>(p), _MM_HINT_T0);
#elif defined(__GNUC__)
  __builtin_prefetch(p, 0, 3);
#else
  (void)p;
#endif
}

// Prefetches the cache lines of [p + distance, p + distance + bytes). Integer arithmetic:
// the addresses may lie past the end of the array.
inline void prefetch_ahead(const void* p, std::size_t bytes, std::size_t distance) {
  const std::uintptr_t first = reinterpret_cast<std::uintptr_t>(p) + distance;
  for (std::uintptr_t a = first; a < first + bytes; a += 64) prefetch(reinterpret_cast<const void*>(a));
}

}  // namespace polykern::detail::simd
POLYKERN_SIMD_DIAGNOSTICS_POP
