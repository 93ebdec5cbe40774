// Device-resident data (api.md §7): images, points and matrices that live in one
// context's device memory, so a chain of kernels (blur -> warp -> compose) runs without a
// host round trip. Owning, move-only, bound to the context that made them (owner()).
// upload()/download() check the host view's shape (invalid_argument before anything is
// written) and go through staging buffers when the memory is not mapped, in pieces of at
// most 64 MiB per submission, so an object larger than one binding (or than the staging
// memory one wants to hold) is fine; binding parts of it is the kernels' business.
//
// Byte layout on the device, which the shaders read (the kernels use storage() and the
// pitch accessors):
//  - device_image<T>: rows one after another from offset 0, each row_pitch() bytes:
//    width * channels elements, interleaved (HWC) as in image_view, then zero bytes up to a
//    multiple of 4. uint8 pixels are thus packed four to a 32-bit word (byte k of a row
//    is bits 8*(k%4).. of word k/4, little-endian), the layout conv_rows/conv_cols and
//    warp.comp read; float rows are plain float arrays (pitch = width*channels*4).
//  - device_points<T, Dim>: count * Dim elements, point i at element i*Dim (no padding).
//  - device_matrix<T>: rows * cols elements, row-major, row r at element r*cols.
// A new object is zero-filled. After an upload that threw (vulkan_error), the contents
// are unspecified, but the object stays valid and may be uploaded again.
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <type_traits>

#include "../../affine_matrix.hpp"
#include "../../error.hpp"
#include "../../view.hpp"
#include "buffer.hpp"
#include "commands.hpp"
#include "context.hpp"

namespace polykern::vulkan {

namespace detail {

// What every device object holds: its context and its buffer, with the row-wise
// transfers they share (an image row, a point, a matrix row are each one "row").
class device_storage {
 public:
  context& owner() const { return *ctx_; }
  // For the kernels: the device buffer and its size in bytes.
  const buffer& storage() const { return buf_; }
  std::size_t bytes() const { return buf_.size(); }

  // Staged transfers go in pieces of at most this many bytes, one submission each.
  static constexpr std::size_t piece_bytes = std::size_t{64} << 20;

 protected:
  template <class = void>  // instantiated where a device object is made, as the runtime's members
  device_storage(context& ctx, std::size_t bytes) : ctx_(&ctx), buf_(ctx, bytes) {
    if (buf_.mapped()) {
      std::memset(buf_.mapped(), 0, buf_.capacity());
      return;
    }
    commands cmd(ctx);
    cmd.fill_zero(buf_);
    cmd.submit();
  }
  device_storage(device_storage&&) noexcept = default;
  device_storage& operator=(device_storage&&) noexcept = default;
  ~device_storage() = default;

  // Writes `rows` rows of `row_bytes` bytes, row r read from row(r), at `pitch` bytes apart.
  template <class Row>
  void upload_rows(std::size_t rows, std::size_t row_bytes, std::size_t pitch, const Row& row) {
    if (rows == 0 || row_bytes == 0) return;
    const std::size_t per_piece = std::max<std::size_t>(1, piece_bytes / pitch);
    commands cmd(*ctx_);
    for (std::size_t r0 = 0; r0 < rows; r0 += per_piece) {
      const std::size_t n = std::min(per_piece, rows - r0);
      auto* to = static_cast<unsigned char*>(cmd.upload_area(buf_, n * pitch, r0 * pitch));
      for (std::size_t r = 0; r < n; ++r) {
        std::memcpy(to + r * pitch, row(r0 + r), row_bytes);
        std::memset(to + r * pitch + row_bytes, 0, pitch - row_bytes);
      }
      if (!buf_.mapped()) cmd.submit();
    }
  }
  // Reads the rows back into row(r) (writable).
  template <class Row>
  void download_rows(std::size_t rows, std::size_t row_bytes, std::size_t pitch, const Row& row) const {
    if (rows == 0 || row_bytes == 0) return;
    if (buf_.mapped()) {  // every submission has completed (and made its writes visible to the host)
      ctx_->count_download(rows * pitch);
      const auto* from = static_cast<const unsigned char*>(buf_.mapped());
      for (std::size_t r = 0; r < rows; ++r) std::memcpy(row(r), from + r * pitch, row_bytes);
      return;
    }
    const std::size_t per_piece = std::max<std::size_t>(1, piece_bytes / pitch);
    commands cmd(*ctx_);
    for (std::size_t r0 = 0; r0 < rows; r0 += per_piece) {
      const std::size_t n = std::min(per_piece, rows - r0);
      cmd.download(buf_, n * pitch, r0 * pitch, [&, r0, n](const void* data) {
        const auto* from = static_cast<const unsigned char*>(data);
        for (std::size_t r = 0; r < n; ++r) std::memcpy(row(r0 + r), from + r * pitch, row_bytes);
      });
      cmd.submit();
    }
  }

 private:
  context* ctx_;
  buffer buf_;
};

template <class T>
inline constexpr bool device_element = std::is_same_v<T, std::uint8_t> || std::is_same_v<T, float> ||
                                       std::is_same_v<T, double>;

}  // namespace detail

template <class T>
class device_image : public detail::device_storage {
  static_assert(detail::device_element<T>, "device_image<T>: T must be std::uint8_t, float or double");

 public:
  device_image(context& ctx, std::size_t width, std::size_t height, std::size_t channels)
      : device_storage(ctx, height * pitch_of(width, channels)), width_(width), height_(height), channels_(channels) {}
  device_image(context& ctx, image_view<const T> host) : device_image(ctx, host.width, host.height, host.channels) {
    upload(host);
  }
  device_image(device_image&&) noexcept = default;
  device_image& operator=(device_image&&) noexcept = default;

  std::size_t width() const { return width_; }
  std::size_t height() const { return height_; }
  std::size_t channels() const { return channels_; }
  // Bytes from one row to the next on the device (see the layout above).
  std::size_t row_pitch() const { return pitch_of(width_, channels_); }

  void upload(image_view<const T> host) {
    check_shape("device_image::upload", host.width, host.height, host.channels);
    upload_rows(height_, width_ * channels_ * sizeof(T), row_pitch(), [&](std::size_t y) { return host.row(y); });
  }
  void download(image_view<T> host) const {
    check_shape("device_image::download", host.width, host.height, host.channels);
    download_rows(height_, width_ * channels_ * sizeof(T), row_pitch(), [&](std::size_t y) { return host.row(y); });
  }

  static std::size_t pitch_of(std::size_t width, std::size_t channels) { return (width * channels * sizeof(T) + 3) / 4 * 4; }

 private:
  void check_shape(const char* fn, std::size_t w, std::size_t h, std::size_t c) const {
    polykern::detail::require(w == width_ && h == height_ && c == channels_, fn, "host is ", w, "x", h, "x", c,
                              " (width x height x channels); the device image is ", width_, "x", height_, "x",
                              channels_);
  }
  std::size_t width_, height_, channels_;
};

template <class T, std::size_t Dim = 3>
class device_points : public detail::device_storage {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>, "device_points<T>: T must be float or double");
  static_assert(Dim >= 1);

 public:
  device_points(context& ctx, std::size_t count) : device_storage(ctx, count * Dim * sizeof(T)), count_(count) {}
  device_points(context& ctx, points_view<const T, Dim> host) : device_points(ctx, host.count) { upload(host); }
  device_points(device_points&&) noexcept = default;
  device_points& operator=(device_points&&) noexcept = default;

  std::size_t count() const { return count_; }
  static constexpr std::size_t dim = Dim;

  void upload(points_view<const T, Dim> host) {
    check_count("device_points::upload", host.count);
    upload_rows(count_, Dim * sizeof(T), Dim * sizeof(T), [&](std::size_t i) { return host[i]; });
  }
  void download(points_view<T, Dim> host) const {
    check_count("device_points::download", host.count);
    download_rows(count_, Dim * sizeof(T), Dim * sizeof(T), [&](std::size_t i) { return host[i]; });
  }

 private:
  void check_count(const char* fn, std::size_t n) const {
    polykern::detail::require(n == count_, fn, "host has ", n, " points; the device points have ", count_);
  }
  std::size_t count_;
};

template <class T>
class device_matrix : public detail::device_storage {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>, "device_matrix<T>: T must be float or double");

 public:
  device_matrix(context& ctx, std::size_t rows, std::size_t cols)
      : device_storage(ctx, rows * cols * sizeof(T)), rows_(rows), cols_(cols) {}
  device_matrix(context& ctx, matrix_view<const T> host) : device_matrix(ctx, host.rows, host.cols) { upload(host); }
  device_matrix(device_matrix&&) noexcept = default;
  device_matrix& operator=(device_matrix&&) noexcept = default;

  std::size_t rows() const { return rows_; }
  std::size_t cols() const { return cols_; }

  void upload(matrix_view<const T> host) {
    check_shape("device_matrix::upload", host.rows, host.cols);
    upload_rows(rows_, cols_ * sizeof(T), cols_ * sizeof(T), [&](std::size_t r) { return host.row(r); });
  }
  void download(matrix_view<T> host) const {
    check_shape("device_matrix::download", host.rows, host.cols);
    download_rows(rows_, cols_ * sizeof(T), cols_ * sizeof(T), [&](std::size_t r) { return host.row(r); });
  }

 private:
  void check_shape(const char* fn, std::size_t r, std::size_t c) const {
    polykern::detail::require(r == rows_ && c == cols_, fn, "host is ", r, "x", c, " (rows x cols); the device matrix is ",
                              rows_, "x", cols_);
  }
  std::size_t rows_, cols_;
};

// A tile of compose on the device: the image and where it lands on the canvas.
template <class T>
struct device_tile {
  const device_image<T>* image;
  affine2<double> to_canvas;
};

}  // namespace polykern::vulkan

namespace polykern::detail {

// The gate every device-object overload opens with (api.md §7). A device object lives in
// one context's memory: a CPU policy cannot read it, and neither can with_fallback, which
// may rerun the call on the CPU. Spelled as a static_assert so the error says why.
template <class Policy>
constexpr void require_vulkan_policy_for_device_objects() {
  static_assert(std::is_same_v<std::remove_cvref_t<Policy>, exec::vulkan_policy>,
                "polykern: vulkan::device_image / device_points / device_matrix / device_tile arguments need "
                "exec::vulkan or exec::vulkan_policy{ctx}; a CPU policy or with_fallback cannot read device "
                "memory (download() into a host image first)");
}

// A device object used with a policy on another context -> invalid_argument.
template <class = void>
void require_same_context(std::string_view fn, std::string_view arg, const vulkan::context& policy_ctx,
                                 const vulkan::detail::device_storage& object) {
  require(&object.owner() == &policy_ctx, fn, arg, " belongs to another vulkan::context than the policy's");
}

}  // namespace polykern::detail
