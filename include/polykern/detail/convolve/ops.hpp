// The handful of vector operations the CPU convolution engine is written in, for two value
// types: `float` (one lane: the scalar policy) and xsimd::batch<float> (the widest arch the
// build targets). Every intrinsic behind them lives in detail/simd/.
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <new>
#include <utility>

#include "../simd/fma.hpp"
#include "../simd/stream.hpp"
#include "../simd/transpose.hpp"
#include "../simd/uint8.hpp"
#include "../simd/xsimd.hpp"

namespace polykern::detail::conv {

template <class V>
struct ops;

// One lane: the readable reference. transpose() of a 1x1 block does nothing.
template <>
struct ops<float> {
  using vec = float;
  static constexpr std::size_t lanes = 1;
  static float zero() { return 0.0f; }
  static float broadcast(float v) { return v; }
  static float load(const float* p) { return *p; }
  static float load(const std::uint8_t* p) { return static_cast<float>(*p); }
  static float load_aligned(const float* p) { return *p; }
  static void store(float* p, float v) { *p = v; }
  static void store(std::uint8_t* p, float v) { *p = saturate_u8(v); }
  static void store_aligned(float* p, float v) { *p = v; }
  static void store_stream(float* p, float v) { *p = v; }
  static void store_stream(std::uint8_t* p, float v) { store(p, v); }
  static float fma(float a, float b, float c) { return multiply_add(a, b, c); }
  static float add(float a, float b) { return a + b; }
  static void transpose(float*) {}
  static void fence() {}
};

template <class A>
struct ops<xsimd::batch<float, A>> {
  using vec = xsimd::batch<float, A>;
  static constexpr std::size_t lanes = vec::size;
  static vec zero() { return vec(0.0f); }
  static vec broadcast(float v) { return vec(v); }
  static vec load(const float* p) { return vec::load_unaligned(p); }
  static vec load(const std::uint8_t* p) { return load_u8<vec>(p); }
  static vec load_aligned(const float* p) { return vec::load_aligned(p); }
  static void store(float* p, const vec& v) { v.store_unaligned(p); }
  static void store(std::uint8_t* p, const vec& v) { store_u8(p, v); }
  static void store_aligned(float* p, const vec& v) { v.store_aligned(p); }
  // A non-temporal store where p is aligned to the vector (a plain one elsewhere, and for
  // uint8): for outputs too large to stay in cache, it saves reading each line before
  // writing it.
  static void store_stream(float* p, const vec& v) {
    if (reinterpret_cast<std::uintptr_t>(p) % sizeof(vec) == 0) {
      simd::stream_store(p, v);
    } else {
      v.store_unaligned(p);
    }
  }
  static void store_stream(std::uint8_t* p, const vec& v) { store_u8(p, v); }
  static void fence() { simd::stream_fence(); }
  static vec fma(const vec& a, const vec& b, const vec& c) { return multiply_add(a, b, c); }
  static vec add(const vec& a, const vec& b) { return a + b; }
  // Transposes the lanes x lanes block stored as `lanes` aligned vectors at `m`.
  static void transpose(float* m) { transpose_square<lanes>(m); }
};

// A zero-initialised float buffer aligned to 64 bytes.
class aligned_floats {
 public:
  aligned_floats() = default;
  explicit aligned_floats(std::size_t n) : n_(n) {
    data_ = static_cast<float*>(::operator new[](std::max<std::size_t>(n, 1) * sizeof(float), std::align_val_t{64}));
    std::fill_n(data_, n, 0.0f);
  }
  ~aligned_floats() {
    if (data_) ::operator delete[](data_, std::align_val_t{64});
  }
  aligned_floats(aligned_floats&& o) noexcept : data_(std::exchange(o.data_, nullptr)), n_(std::exchange(o.n_, 0)) {}
  aligned_floats& operator=(aligned_floats&& o) noexcept {
    std::swap(data_, o.data_);
    std::swap(n_, o.n_);
    return *this;
  }
  float* data() const { return data_; }
  std::size_t size() const { return n_; }

 private:
  float* data_ = nullptr;
  std::size_t n_ = 0;
};

// Returns p unchanged, hiding its value from the optimiser. Used where compilers would
// otherwise keep 16 coefficients rotating through registers with port-5 broadcasts
// instead of folding each broadcast into its FMA as a memory operand.
template <class T>
inline T* opaque(T* p) {
#if defined(__GNUC__)
  asm("" : "+r"(p));
#endif
  return p;
}

inline std::size_t round_up(std::size_t n, std::size_t m) { return (n + m - 1) / m * m; }

template <class O, class Out>
void store_partial(Out* p, typename O::vec v, std::size_t n) {
  alignas(64) Out tmp[O::lanes];
  O::store(tmp, v);
  // min: n < lanes already, but GCC's -Warray-bounds (ASan builds) cannot see it for lanes 1.
  std::copy_n(tmp, std::min(n, O::lanes), p);
}

// out[i] = float(from[i]) for i < n, and its inverse (uint8 rounded to nearest even and
// saturated, as O::store): whole vectors, then one at a time. Written as vector loads and
// stores because GCC's -O2 leaves these loops scalar (the uint8 widening above all).
template <class O, class In>
void widen_run(const In* from, std::size_t n, float* out) {
  std::size_t e = 0;
  for (; e + O::lanes <= n; e += O::lanes) O::store(out + e, O::load(from + e));
  for (; e < n; ++e) out[e] = static_cast<float>(from[e]);
}
template <class O, class Out>
void narrow_run(const float* from, std::size_t n, Out* out) {
  std::size_t e = 0;
  for (; e + O::lanes <= n; e += O::lanes) O::store(out + e, O::load(from + e));
  for (; e < n; ++e) ops<float>::store(out + e, from[e]);
}

}  // namespace polykern::detail::conv
