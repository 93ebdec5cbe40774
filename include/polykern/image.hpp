// An owning image whose rows start on 64-byte boundaries (a cache line, and the widest
// SIMD register), so row-wise SIMD loops start aligned. Hand it to kernels via view().
#pragma once
#include <algorithm>
#include <cstddef>
#include <memory>
#include <new>

#include "detail/checked.hpp"
#include "view.hpp"

namespace polykern {

template <class T>
class image {
 public:
  static constexpr std::size_t row_alignment = 64;  // bytes

  image() = default;
  // invalid_argument when the pixels (rows padded to row_alignment) could not be
  // addressed; std::bad_alloc when they merely do not fit in memory.
  image(std::size_t width, std::size_t height, std::size_t channels = 1)
      : width_(width), height_(height), channels_(channels),
        stride_(padded_stride(detail::checked_mul("image", width, channels, detail::max_object_bytes / sizeof(T),
                                                  "width * channels"))),
        data_(allocate(detail::checked_mul("image", stride_, height, detail::max_object_bytes / sizeof(T),
                                           "padded row stride * height"))) {}
  image(std::size_t width, std::size_t height, std::size_t channels, const T& fill) : image(width, height, channels) {
    std::fill_n(data_.get(), stride_ * height_, fill);
  }
  image(const image& other) : image(other.width_, other.height_, other.channels_) {
    std::copy_n(other.data_.get(), stride_ * height_, data_.get());
  }
  image(image&&) noexcept = default;
  image& operator=(image other) noexcept {
    swap(other);
    return *this;
  }
  void swap(image& other) noexcept {
    std::swap(width_, other.width_), std::swap(height_, other.height_), std::swap(channels_, other.channels_);
    std::swap(stride_, other.stride_), std::swap(data_, other.data_);
  }

  std::size_t width() const { return width_; }
  std::size_t height() const { return height_; }
  std::size_t channels() const { return channels_; }
  std::ptrdiff_t row_stride() const { return static_cast<std::ptrdiff_t>(stride_); }
  T* data() { return data_.get(); }
  const T* data() const { return data_.get(); }
  T& operator()(std::size_t x, std::size_t y, std::size_t c = 0) { return data_[y * stride_ + x * channels_ + c]; }
  const T& operator()(std::size_t x, std::size_t y, std::size_t c = 0) const { return data_[y * stride_ + x * channels_ + c]; }

  image_view<T> view() { return {data_.get(), width_, height_, channels_, row_stride()}; }
  image_view<const T> view() const { return {data_.get(), width_, height_, channels_, row_stride()}; }

 private:
  struct aligned_delete {
    void operator()(T* p) const { ::operator delete[](p, std::align_val_t{row_alignment}); }
  };
  // `elements` * sizeof(T) fits (checked by the caller); rounding up may not.
  static std::size_t padded_stride(std::size_t elements) {
    const std::size_t bytes = detail::checked_add("image", elements * sizeof(T), row_alignment - 1,
                                                  detail::max_object_bytes, "the row size in bytes + alignment") /
                              row_alignment * row_alignment;
    return std::max<std::size_t>(bytes / sizeof(T), 1);
  }
  static std::unique_ptr<T[], aligned_delete> allocate(std::size_t count) {
    T* p = static_cast<T*>(::operator new[](count * sizeof(T), std::align_val_t{row_alignment}));
    std::uninitialized_value_construct_n(p, count);
    return std::unique_ptr<T[], aligned_delete>(p);
  }

  std::size_t width_ = 0, height_ = 0, channels_ = 1, stride_ = 0;
  std::unique_ptr<T[], aligned_delete> data_;
};

}  // namespace polykern
