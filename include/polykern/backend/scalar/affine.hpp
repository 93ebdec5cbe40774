// Affine transforms of points and normals, scalar backend: the body of
// detail/affine/engine.hpp instantiated with T, point by point on the calling thread.
// The readable reference.
#pragma once
#include "../../detail/affine/engine.hpp"
#include "../../detail/executor.hpp"
#include "../../execution.hpp"

namespace polykern::detail::affine {

template <class T>
void run(scalar_tag, const auto&, const job<T>& j) {
  run_cpu<T>(serial_executor{}, j);
}

}  // namespace polykern::detail::affine
