// The one way polykern includes xsimd. GCC 12's AVX-512 intrinsic headers, reached through
// xsimd's kernels and inlined into ours, report `__Y may be used uninitialized` (GCC bug
// 105593) in the user's build; the warning is silenced here, around xsimd only, and never
// by changing the user's flags. Every polykern header that needs batches includes this.
#pragma once
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif
#include <xsimd/xsimd.hpp>
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
