// Non-owning views (api.md §2). Kernels read and write through these and never
// allocate the caller's outputs. A view of T converts implicitly to a view of const T.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <type_traits>

#include "detail/checked.hpp"

namespace polykern {

// An interleaved (HWC) image: pixel (x, y) channel c is data[y*row_stride + x*channels + c].
template <class T>
struct image_view {
  T* data = nullptr;
  std::size_t width = 0, height = 0, channels = 1;
  std::ptrdiff_t row_stride = 0;  // in elements, >= width * channels

  constexpr image_view() = default;
  constexpr image_view(T* data_, std::size_t width_, std::size_t height_, std::size_t channels_ = 1,
                       std::ptrdiff_t row_stride_ = 0)
      : data(data_), width(width_), height(height_), channels(channels_),
        row_stride(row_stride_ ? row_stride_ : static_cast<std::ptrdiff_t>(width_ * channels_)) {}
  template <class U>
    requires std::is_same_v<const U, T> && (!std::is_same_v<U, T>)
  constexpr image_view(const image_view<U>& other)  // NOLINT: T -> const T is implicit
      : data(other.data), width(other.width), height(other.height), channels(other.channels),
        row_stride(other.row_stride) {}

  constexpr bool empty() const { return width == 0 || height == 0; }
  constexpr T* row(std::size_t y) const { return data + static_cast<std::ptrdiff_t>(y) * row_stride; }
  constexpr T& operator()(std::size_t x, std::size_t y, std::size_t c = 0) const { return row(y)[x * channels + c]; }
  // One past the last element the view can touch (for overlap checks).
  constexpr T* end() const {
    return empty() ? data : row(height - 1) + width * channels;
  }
};

// Array of structs: point i is data[i*stride + 0 .. Dim-1].
template <class T, std::size_t Dim = 3>
struct points_view {
  T* data = nullptr;
  std::size_t count = 0;
  std::ptrdiff_t stride = Dim;  // elements between consecutive points, >= Dim

  constexpr points_view() = default;
  constexpr points_view(T* data_, std::size_t count_, std::ptrdiff_t stride_ = Dim)
      : data(data_), count(count_), stride(stride_) {}
  template <class U>
    requires std::is_same_v<const U, T> && (!std::is_same_v<U, T>)
  constexpr points_view(const points_view<U, Dim>& other)  // NOLINT: implicit on purpose
      : data(other.data), count(other.count), stride(other.stride) {}

  constexpr T* operator[](std::size_t i) const { return data + static_cast<std::ptrdiff_t>(i) * stride; }
  constexpr T* end() const { return count == 0 ? data : (*this)[count - 1] + Dim; }
};

// Row-major N x C matrix of per-point values.
template <class T>
struct matrix_view {
  T* data = nullptr;
  std::size_t rows = 0, cols = 0;
  std::ptrdiff_t row_stride = 0;  // in elements, >= cols

  constexpr matrix_view() = default;
  constexpr matrix_view(T* data_, std::size_t rows_, std::size_t cols_, std::ptrdiff_t row_stride_ = 0)
      : data(data_), rows(rows_), cols(cols_), row_stride(row_stride_ ? row_stride_ : static_cast<std::ptrdiff_t>(cols_)) {}
  template <class U>
    requires std::is_same_v<const U, T> && (!std::is_same_v<U, T>)
  constexpr matrix_view(const matrix_view<U>& other)  // NOLINT: implicit on purpose
      : data(other.data), rows(other.rows), cols(other.cols), row_stride(other.row_stride) {}

  constexpr T* row(std::size_t r) const { return data + static_cast<std::ptrdiff_t>(r) * row_stride; }
  constexpr T& operator()(std::size_t r, std::size_t c) const { return row(r)[c]; }
  constexpr T* end() const { return rows == 0 || cols == 0 ? data : row(rows - 1) + cols; }
};

namespace detail {

// Whether the byte ranges [a, a_end) and [b, b_end) share any byte.
inline bool ranges_overlap(const void* a, const void* a_end, const void* b, const void* b_end) {
  auto lo_a = reinterpret_cast<std::uintptr_t>(a), hi_a = reinterpret_cast<std::uintptr_t>(a_end);
  auto lo_b = reinterpret_cast<std::uintptr_t>(b), hi_b = reinterpret_cast<std::uintptr_t>(b_end);
  return lo_a < hi_b && lo_b < hi_a;
}

// The rule shared by every kernel that allows in-place calls: an output either is the
// input exactly (same start and stride) or does not touch it at all.
template <class A, class B>
bool same_or_disjoint(const A* a, const A* a_end, std::ptrdiff_t a_stride, const B* b, const B* b_end,
                      std::ptrdiff_t b_stride) {
  if (static_cast<const void*>(a) == static_cast<const void*>(b) && a_stride == b_stride) return true;
  return !ranges_overlap(a, a_end, b, b_end);
}

// Views that cannot be addressed: the checks every kernel's argument validation runs
// first, before any bound check multiplies sizes and before end() is formed. Each throws
// invalid_argument naming `fn`, `arg` and the product that does not fit (width * channels,
// rows * row_stride, count * stride, or any of them in bytes) and returns the number of
// elements the view spans.
template <class T>
std::size_t check_addressable(std::string_view fn, std::string_view arg, const image_view<T>& v) {
  if (v.width == 0 || v.height == 0) return 0;
  const std::size_t row =
      checked_mul(fn, v.width, v.channels, max_object_bytes / sizeof(T), arg, ".width * ", arg, ".channels");
  return checked_span(fn, arg, v.data, v.height, row, v.row_stride, sizeof(T));
}
template <class T, std::size_t Dim>
std::size_t check_addressable(std::string_view fn, std::string_view arg, const points_view<T, Dim>& v) {
  return checked_span(fn, arg, v.data, v.count, Dim, v.stride, sizeof(T));
}
template <class T>
std::size_t check_addressable(std::string_view fn, std::string_view arg, const matrix_view<T>& v) {
  return checked_span(fn, arg, v.data, v.rows, v.cols, v.row_stride, sizeof(T));
}

}  // namespace detail
}  // namespace polykern
