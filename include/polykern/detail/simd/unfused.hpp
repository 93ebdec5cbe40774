// Multiply-adds that must NOT be fused, and whether the build has hardware FMA.
//
// GCC contracts `a * b + c` into one fused multiply-add by default on FMA hardware
// (-ffp-contract=fast), even across statements. Code whose results must be bitwise the
// same on every policy and device (the KD-tree's squared distances) rounds the product on
// its own: opaque() hides a register's value from the optimiser, so the product cannot be
// contracted with the sum it feeds. Code that may fuse asks has_hardware_fma.
#pragma once

namespace polykern::detail::simd {

// Whether the build targets hardware with a fused multiply-add instruction.
#if defined(__FMA__) || defined(__ARM_FEATURE_FMA)
inline constexpr bool has_hardware_fma = true;
#else
inline constexpr bool has_hardware_fma = false;
#endif

// Makes the value of `reg` (a float, a double or an intrinsic vector type, e.g. an xsimd
// batch's .data) opaque to the optimiser; it emits no instruction.
template <class Register>
inline void opaque(Register& reg) {
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
  __asm__("" : "+v"(reg));
#elif defined(__GNUC__) && defined(__aarch64__)
  __asm__("" : "+w"(reg));
#else
  (void)reg;  // compilers that do not contract across statements
#endif
}

}  // namespace polykern::detail::simd
