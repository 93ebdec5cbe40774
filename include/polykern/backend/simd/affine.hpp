// Affine transforms of points and normals, simd backend: the same body over
// xsimd::batch<T> (stride-3 shuffles, gathers, streaming stores for large outputs), with a
// scalar tail, on the calling thread.
#pragma once
#include "../../detail/affine/engine.hpp"
#include "../../detail/executor.hpp"
#include "../../detail/simd/xsimd.hpp"
#include "../../execution.hpp"

namespace polykern::detail::affine {

template <class T>
void run(simd_tag, const auto&, const job<T>& j) {
  run_cpu<xsimd::batch<T>>(serial_executor{}, j);
}

}  // namespace polykern::detail::affine
