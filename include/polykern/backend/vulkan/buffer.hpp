// The Vulkan runtime, part 3: buffers. A device buffer lives in device-local memory; on
// devices whose device-local memory is host-visible (integrated GPUs, lavapipe) it is
// also mapped, so transfers are plain memcpy, unless the context forces staging
// (context_options::force_staging). Otherwise commands stage through host buffers.
// Memory comes from the context's pool: a buffer returns its memory there when it and
// every command recorded on it are done, so steady-state calls allocate nothing.
#pragma once
#include <cstddef>
#include <memory>
#include <utility>

#include "context.hpp"

namespace polykern::vulkan {

class buffer {
 public:
  using kind = memory_kind;

  buffer() = default;
  // At least `bytes` (a pool size class); size() is `bytes`. Throws vulkan_error.
  template <class = void>  // instantiated only where a buffer is made (context.hpp)
  buffer(context& ctx, std::size_t bytes, kind where = kind::device)
      : memory_(ctx.acquire_memory(where, bytes)), size_(bytes) {}
  buffer(buffer&& other) noexcept : memory_(std::move(other.memory_)), size_(std::exchange(other.size_, 0)) {}
  buffer& operator=(buffer&& other) noexcept {
    memory_ = std::move(other.memory_);
    size_ = std::exchange(other.size_, 0);
    return *this;
  }
  buffer(const buffer&) = delete;
  buffer& operator=(const buffer&) = delete;

  VkBuffer handle() const { return memory_ ? memory_->handle : VK_NULL_HANDLE; }
  std::size_t size() const { return size_; }
  std::size_t capacity() const { return memory_ ? memory_->capacity : 0; }
  // Host address of the contents, or nullptr when the memory is not host-visible (or
  // staging is forced).
  void* mapped() const { return memory_ ? memory_->mapped : nullptr; }
  // Shared ownership of the memory: vulkan::commands keeps it until its submission is done.
  const std::shared_ptr<allocation>& memory() const { return memory_; }

 private:
  std::shared_ptr<allocation> memory_;
  std::size_t size_ = 0;
};

}  // namespace polykern::vulkan
