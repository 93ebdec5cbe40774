// The part of a convolution call every CPU backend shares: resolve the method for each
// image, take a copy of the source when the call is in place, and run the engine. The
// backends differ only in the vector type V and in how chunks run (one thread or OpenMP).
#pragma once
#include <cstddef>
#include <span>
#include <vector>

#include "convolve_cpu.hpp"
#include "convolve_fft.hpp"
#include "convolve_plan.hpp"

namespace polykern::detail::conv {

template <class V, class In, class Out, class RunChunks>
void run_cpu(RunChunks&& run_chunks, const request& req, std::span<const job<In, Out>> jobs) {
  for (const job<In, Out>& j : jobs) {
    const plan p = resolve(req, target::cpu, j.src.width, j.src.height, j.src.channels);
    image_view<const In> src = j.src;
    std::vector<In> copy;
    if (static_cast<const void*>(src.data) == static_cast<const void*>(j.dst.data)) {
      // In place: every output reads a window of inputs, so read from a copy.
      const std::size_t row = src.width * src.channels;
      copy.resize(row * src.height);
      for (std::size_t y = 0; y < src.height; ++y) std::copy_n(src.row(y), row, copy.data() + y * row);
      src = image_view<const In>(copy.data(), src.width, src.height, src.channels);
    }
    if (p.method == conv_method::fft) {
      run_fft(run_chunks, src, j.dst, p);
    } else {
      run_spatial<V>(run_chunks, src, j.dst, p);
    }
  }
}

// Runs chunks one after another on the calling thread.
struct sequential_chunks {
  template <class Body>
  void operator()(std::size_t count, std::size_t chunk, Body&& body) const {
    for (std::size_t begin = 0; begin < count; begin += chunk) body(begin, std::min(begin + chunk, count));
  }
};

}  // namespace polykern::detail::conv
