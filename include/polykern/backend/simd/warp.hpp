// Image warps, simd backend: the one traversal with the SIMD fast paths plugged in
// (detail/warp/simd_paths.hpp), on the calling thread. Bitwise the scalar results.
#pragma once
#include "../../detail/executor.hpp"
#include "../../detail/warp/simd_paths.hpp"
#include "../../detail/warp/traversal.hpp"
#include "../../execution.hpp"

namespace polykern::detail::warp {

template <class T>
void run(simd_tag, const auto&, const plan<T>& p) {
  run_cpu<simd_paths>(serial_executor{}, p);
}

}  // namespace polykern::detail::warp
