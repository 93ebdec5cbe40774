// What a convolution backend is given: per image, the engine that runs (direct 2D, a sum of
// separable passes, or FFT tiles) with its kernel or terms, resolved by the public entry
// point (<polykern/convolve.hpp>, which also checked every argument). Nothing here picks a
// method or touches pixels.
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>
#include <type_traits>
#include <vector>

#include "../../border.hpp"
#include "../../view.hpp"
#include "../simd/uint8.hpp"

namespace polykern::detail::conv {

// One separable pass: vertical taps `ky` then horizontal taps `kx`, anchors at the
// centres (size/2). A low-rank plan sums several of these.
struct term {
  std::vector<float> kx, ky;
};

// A dense kernel in correlation orientation, row-major: at(i, j) multiplies
// src(x + i - width/2, y + j - height/2).
struct kernel2d {
  std::vector<float> values;
  std::size_t width = 0, height = 0;
  float at(std::size_t i, std::size_t j) const { return values[j * width + i]; }
};

// One image of a call (a batch has several).
template <class In, class Out>
struct job {
  image_view<const In> src;
  image_view<Out> dst;
};

// The body that runs for one image. `separable` sums terms.size() separable passes (the
// separable and low_rank methods); `direct` and `fft` use the dense kernel.
enum class engine { direct, separable, fft };

struct image_plan {
  engine method = engine::direct;
  kernel2d kernel;          // direct, fft
  std::vector<term> terms;  // separable
  border_spec border;
};

// What one call computes: images[i] for jobs[i]. Dense = false when every image is known at
// compile time to run separable passes (separable_correlate, gaussian_blur), so that such a
// call instantiates neither the direct nor the FFT engine.
template <class In, class Out, bool Dense>
struct plan {
  std::span<const job<In, Out>> jobs;
  std::vector<image_plan> images;
};

// The value the padded image holds outside a border::constant edge, in the source type.
template <class In>
In border_value(double v) {
  if constexpr (std::is_same_v<In, std::uint8_t>) {
    return saturate_u8(static_cast<float>(v));
  } else {
    return static_cast<In>(v);
  }
}

}  // namespace polykern::detail::conv
