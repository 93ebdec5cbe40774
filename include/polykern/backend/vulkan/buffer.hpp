// The Vulkan runtime, part 3: buffers. A device buffer lives in device-local memory; on
// devices whose device-local memory is host-visible (integrated GPUs, lavapipe) it is
// also mapped, so transfers are plain memcpy. Otherwise commands stage through host buffers.
#pragma once
#include <cstddef>
#include <utility>

#include "context.hpp"

namespace polykern::vulkan {

class buffer {
 public:
  enum class kind {
    device,  // storage buffer for shaders; mapped when the device has unified memory
    host,    // staging: host-visible, coherent, cached when possible; always mapped
  };

  buffer() = default;
  buffer(context& ctx, std::size_t bytes, kind where = kind::device) : device_(ctx.device()), size_(bytes) {
    if (testing::allocations_until_failure.load() >= 0 && testing::allocations_until_failure.fetch_sub(1) == 0)
      throw vulkan_error("vkAllocateMemory", result_name(VK_ERROR_OUT_OF_DEVICE_MEMORY), "injected by a test");
    VkBufferCreateInfo info{};
    info.sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO;
    info.size = bytes ? bytes : 4;  // Vulkan forbids empty buffers
    info.usage = VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT |
                 (where == kind::device ? VK_BUFFER_USAGE_STORAGE_BUFFER_BIT : 0);
    info.sharingMode = VK_SHARING_MODE_EXCLUSIVE;
    check(vkCreateBuffer(device_, &info, nullptr, &handle_), "vkCreateBuffer");
    try {
      VkMemoryRequirements needs;
      vkGetBufferMemoryRequirements(device_, handle_, &needs);
      const auto coherent = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
      VkMemoryPropertyFlags required = coherent, preferred = coherent | VK_MEMORY_PROPERTY_HOST_CACHED_BIT;
      if (where == kind::device) {
        const bool map = ctx.info().unified_memory;
        required = map ? coherent | VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT : VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT;
        preferred = required;
      }
      VkMemoryAllocateInfo alloc{};
      alloc.sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO;
      alloc.allocationSize = needs.size;
      alloc.memoryTypeIndex = ctx.memory_type(needs.memoryTypeBits, required, preferred);
      check(vkAllocateMemory(device_, &alloc, nullptr, &memory_), "vkAllocateMemory");
      check(vkBindBufferMemory(device_, handle_, memory_, 0), "vkBindBufferMemory");
      if ((required & VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT) != 0)
        check(vkMapMemory(device_, memory_, 0, VK_WHOLE_SIZE, 0, &mapped_), "vkMapMemory");
    } catch (...) {
      release();
      throw;
    }
  }
  ~buffer() { release(); }
  buffer(buffer&& other) noexcept { *this = std::move(other); }
  buffer& operator=(buffer&& other) noexcept {
    if (this != &other) {
      release();
      device_ = std::exchange(other.device_, VK_NULL_HANDLE);
      handle_ = std::exchange(other.handle_, VK_NULL_HANDLE);
      memory_ = std::exchange(other.memory_, VK_NULL_HANDLE);
      mapped_ = std::exchange(other.mapped_, nullptr);
      size_ = std::exchange(other.size_, 0);
    }
    return *this;
  }

  VkBuffer handle() const { return handle_; }
  std::size_t size() const { return size_; }
  // Host address of the contents, or nullptr when the memory is not host-visible.
  void* mapped() const { return mapped_; }

 private:
  void release() {
    if (mapped_) vkUnmapMemory(device_, memory_);
    if (handle_) vkDestroyBuffer(device_, handle_, nullptr);
    if (memory_) vkFreeMemory(device_, memory_, nullptr);
    handle_ = VK_NULL_HANDLE, memory_ = VK_NULL_HANDLE, mapped_ = nullptr;
  }

  VkDevice device_ = VK_NULL_HANDLE;
  VkBuffer handle_ = VK_NULL_HANDLE;
  VkDeviceMemory memory_ = VK_NULL_HANDLE;
  void* mapped_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace polykern::vulkan
