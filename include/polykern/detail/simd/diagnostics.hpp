// GCC 12 reports its own AVX-512 intrinsics (`__Y` in _mm512_undefined_*) as "used
// uninitialized" wherever xsimd's kernels are inlined into ours (GCC bug 105593). The
// headers that inline them bracket their code with these two macros, so the user's build
// sees no false positive and keeps its flags: a local push/pop, nothing else.
#pragma once
#if defined(__GNUC__) && !defined(__clang__)
#define POLYKERN_SIMD_DIAGNOSTICS_PUSH                                 \
  _Pragma("GCC diagnostic push") _Pragma("GCC diagnostic ignored \"-Wuninitialized\"") \
      _Pragma("GCC diagnostic ignored \"-Wmaybe-uninitialized\"")
#define POLYKERN_SIMD_DIAGNOSTICS_POP _Pragma("GCC diagnostic pop")
#else
#define POLYKERN_SIMD_DIAGNOSTICS_PUSH
#define POLYKERN_SIMD_DIAGNOSTICS_POP
#endif
