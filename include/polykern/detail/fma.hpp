// Transitional: the fused multiply-add moved into the SIMD layer (detail/simd/fma.hpp).
#pragma once
#include "simd/fma.hpp"
