// What every CPU backend runs: for each image of the plan, a copy of the source when the
// call is in place, then the plan's engine over fixed chunks on the executor. The backends
// differ only in the vector type V and the executor (one thread or OpenMP).
#pragma once
#include <algorithm>
#include <cstddef>
#include <vector>

#include "../../view.hpp"
#include "direct.hpp"
#include "fft.hpp"
#include "plan.hpp"
#include "separable.hpp"

namespace polykern::detail::conv {

template <class V, class In, class Out, bool Dense, class Executor>
void run_cpu(const Executor& executor, const plan<In, Out, Dense>& work) {
  for (std::size_t n = 0; n < work.jobs.size(); ++n) {
    const job<In, Out>& j = work.jobs[n];
    const image_plan& p = work.images[n];
    image_view<const In> src = j.src;
    std::vector<In> copy;
    if (static_cast<const void*>(src.data) == static_cast<const void*>(j.dst.data)) {
      // In place: every output reads a window of inputs, so read from a copy.
      const std::size_t row = src.width * src.channels;
      copy.resize(row * src.height);
      for (std::size_t y = 0; y < src.height; ++y) std::copy_n(src.row(y), row, copy.data() + y * row);
      src = image_view<const In>(copy.data(), src.width, src.height, src.channels);
    }
    if constexpr (Dense) {
      if (p.method == engine::direct) {
        run_direct<V>(executor, src, j.dst, p);
        continue;
      }
      if (p.method == engine::fft) {
        run_fft<V>(executor, src, j.dst, p);
        continue;
      }
    }
    run_separable<V>(executor, src, j.dst, p);
  }
}

}  // namespace polykern::detail::conv
