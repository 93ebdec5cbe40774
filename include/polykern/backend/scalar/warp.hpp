// Image warps, scalar backend: the one traversal (detail/warp/traversal.hpp) with the
// per-pixel reference body everywhere, on the calling thread. The readable reference.
#pragma once
#include "../../detail/executor.hpp"
#include "../../detail/warp/traversal.hpp"
#include "../../execution.hpp"

namespace polykern::detail::warp {

template <class T>
void run(scalar_tag, const auto&, const plan<T>& p) {
  run_cpu<scalar_paths>(serial_executor{}, p);
}

}  // namespace polykern::detail::warp
