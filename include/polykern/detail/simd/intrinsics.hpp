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
