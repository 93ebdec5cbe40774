// The SIMD layer's one include of the x86 intrinsics (where the target has them), inside
// the GCC 105593 guard of diagnostics.hpp. POLYKERN_SIMD_X86 says whether it did.
#pragma once
#include "diagnostics.hpp"

#if defined(__SSE2__) || defined(_M_X64)
#define POLYKERN_SIMD_X86 1
POLYKERN_SIMD_DIAGNOSTICS_PUSH
#include <immintrin.h>
POLYKERN_SIMD_DIAGNOSTICS_POP
#else
#define POLYKERN_SIMD_X86 0
#endif

// Forces inlining of the small SIMD helpers a hot loop calls. GCC's -O2 inlining limits
// leave some of them (the stride-3 shuffles) as calls, which took W7 to twice its -O3
// time; -O3 inlined them on its own.
#if defined(__GNUC__)
#define POLYKERN_SIMD_INLINE [[gnu::always_inline]] inline
#else
#define POLYKERN_SIMD_INLINE inline
#endif
