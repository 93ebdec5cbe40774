// The FFTW backend of the FFT method (CMake option POLYKERN_WITH_FFTW, off by default:
// FFTW is GPL, so a program linking it must be distributed under the GPL). Real-to-complex
// 2D plans of one tile size, created once per size for the whole process and cached.
// FFTW's planner is not thread-safe, so plans are made under one mutex; executing a plan
// on other arrays (fftwf_execute_dft_r2c / _c2r) is, so every thread runs the cached plans
// on its own buffers, allocated by FFTW with the alignment the plans were made for.
#pragma once
#if POLYKERN_HAS_FFTW  // compiled (and its header needed) only with the option on
#include <fftw3.h>

#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <utility>

namespace polykern::detail::fft {

struct fftw_plans {
  fftwf_plan forward = nullptr;  // rows x cols reals -> rows x (cols/2 + 1) complex
  fftwf_plan inverse = nullptr;  // and back (unscaled; destroys its input)
};

// One tile's arrays: the real samples (row-major, cols a row) and their half spectrum.
struct fftw_buffers {
  struct release {
    void operator()(void* p) const { fftwf_free(p); }
  };
  std::size_t rows, cols;
  std::unique_ptr<float, release> real;
  std::unique_ptr<fftwf_complex, release> spectrum;

  fftw_buffers(std::size_t rows_, std::size_t cols_)
      : rows(rows_),
        cols(cols_),
        real(fftwf_alloc_real(rows_ * cols_)),
        spectrum(fftwf_alloc_complex(rows_ * (cols_ / 2 + 1))) {
    if (!real || !spectrum) throw std::bad_alloc();
  }
  std::size_t spectrum_size() const { return rows * (cols / 2 + 1); }
};

// The cached plans for rows x cols tiles. FFTW_ESTIMATE: planning takes microseconds, not
// the seconds FFTW_MEASURE spends on large sizes inside the caller's first convolution.
inline const fftw_plans& fftw_plans_for(std::size_t rows, std::size_t cols) {
  static std::mutex mutex;
  static std::map<std::pair<std::size_t, std::size_t>, fftw_plans> cache;  // plans live until exit
  std::lock_guard lock(mutex);
  auto found = cache.find({rows, cols});
  if (found != cache.end()) return found->second;
  fftw_buffers probe(rows, cols);
  const int r = static_cast<int>(rows), c = static_cast<int>(cols);
  fftw_plans plans;
  plans.forward = fftwf_plan_dft_r2c_2d(r, c, probe.real.get(), probe.spectrum.get(), FFTW_ESTIMATE);
  plans.inverse = fftwf_plan_dft_c2r_2d(r, c, probe.spectrum.get(), probe.real.get(), FFTW_ESTIMATE);
  if (!plans.forward || !plans.inverse) throw std::bad_alloc();
  return cache.emplace(std::pair{rows, cols}, plans).first->second;
}

inline void forward(const fftw_plans& plans, fftw_buffers& b) {
  fftwf_execute_dft_r2c(plans.forward, b.real.get(), b.spectrum.get());
}
inline void inverse(const fftw_plans& plans, fftw_buffers& b) {
  fftwf_execute_dft_c2r(plans.inverse, b.spectrum.get(), b.real.get());
}

}  // namespace polykern::detail::fft
#endif
