// The Vulkan runtime, part 4: recording work into one submission. Families record
// uploads, dispatches and downloads, then submit() once: one queue submission and one
// wait per batch, however many images, meshes or passes it holds. A commands object is
// used by one thread; it records into a recorder of its own (command pool, command
// buffer, fence, descriptor pools) lent by the context, so any number of threads record
// on one context at once. Every buffer a command refers to (bindings, copy sources and
// targets, staging) is kept alive until the submission that uses it has completed.
#pragma once
#include <algorithm>
#include <cstring>
#include <initializer_list>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "buffer.hpp"

namespace polykern::vulkan {

// A storage buffer bound at the next binding index, optionally a sub-range of it.
struct binding {
  const buffer* target;
  std::size_t offset = 0;
  std::size_t range = VK_WHOLE_SIZE;
  binding(const buffer& b) : target(&b) {}  // NOLINT: implicit on purpose
  binding(const buffer& b, std::size_t offset_, std::size_t range_) : target(&b), offset(offset_), range(range_) {}
};

// A step to run once a submission has finished (a download's unpacking). Type-erased by
// hand: std::function would bring <functional>, whose C++20 searchers pull the hash
// tables into every user's TU that includes a family header with Vulkan on.
namespace detail {
struct completion {
  virtual ~completion() = default;
  virtual void run() = 0;
};
template <class F>
std::unique_ptr<completion> make_completion(F f) {
  struct step final : completion {
    explicit step(F g) : f(std::move(g)) {}
    void run() override { f(); }
    F f;
  };
  return std::make_unique<step>(std::move(f));
}
}  // namespace detail

class commands {
 public:
  // Members that do real work are templates with a defaulted, unused parameter, so their
  // bodies are instantiated only where they are called (as in context.hpp).
  template <class = void>
  explicit commands(context& ctx) : ctx_(ctx), rec_(ctx.acquire_recorder()), cmd_(rec_->cmd) {
    try {
      begin();
    } catch (...) {
      ctx_.release_recorder(std::move(rec_));
      throw;
    }
  }
  ~commands() = default;  // destroy_ (the last member) returns the recorder first
  commands(const commands&) = delete;
  commands& operator=(const commands&) = delete;

  context& ctx() { return ctx_; }

  // Copies host bytes into `dst`. With mapped memory this is a memcpy done now, so a buffer
  // written twice must have a submit() in between; otherwise the bytes go through a
  // staging buffer and a copy recorded here.
  template <class = void>
  void upload(const buffer& dst, const void* src, std::size_t bytes, std::size_t dst_offset = 0) {
    if (bytes == 0) return;
    std::memcpy(upload_area(dst, bytes, dst_offset), src, bytes);
  }

  // Host memory for `bytes` that land in `dst` at `dst_offset`: the caller fills it now
  // (packing rows, say) and saves a copy. Mapped: `dst` itself. Otherwise a staging buffer
  // whose copy into `dst` is recorded here.
  template <class = void>
  void* upload_area(const buffer& dst, std::size_t bytes, std::size_t dst_offset = 0) {
    check_range("upload", dst, bytes, dst_offset);
    if (dst.mapped()) {
      ctx_.count_upload(bytes);
      return static_cast<char*>(dst.mapped()) + dst_offset;
    }
    buffer& staging = staging_.emplace_back(ctx_, bytes, buffer::kind::host);
    ctx_.count_upload(bytes);
    held_.push_back(dst.memory());
    VkBufferCopy region{0, dst_offset, bytes};
    vkCmdCopyBuffer(cmd_, staging.handle(), dst.handle(), 1, &region);
    barrier();
    return staging.mapped();
  }

  // Copies `bytes` from `src` to `dst` on the device (nothing crosses the bus).
  template <class = void>
  void copy(const buffer& src, const buffer& dst, std::size_t bytes, std::size_t src_offset = 0,
            std::size_t dst_offset = 0) {
    if (bytes == 0) return;
    check_range("copy", src, bytes, src_offset);
    check_range("copy", dst, bytes, dst_offset);
    held_.push_back(src.memory());
    held_.push_back(dst.memory());
    barrier();
    const VkBufferCopy region{src_offset, dst_offset, bytes};
    vkCmdCopyBuffer(cmd_, src.handle(), dst.handle(), 1, &region);
    barrier();
  }

  // Copies several ranges of `src` into `dst` on the device in one command (rows of an
  // image into a window, say). Nothing crosses the bus.
  template <class = void>
  void copy_regions(const buffer& src, const buffer& dst, const std::vector<VkBufferCopy>& regions) {
    if (regions.empty()) return;
    for (const VkBufferCopy& r : regions) {
      check_range("copy_regions", src, r.size, r.srcOffset);
      check_range("copy_regions", dst, r.size, r.dstOffset);
    }
    held_.push_back(src.memory());
    held_.push_back(dst.memory());
    barrier();
    vkCmdCopyBuffer(cmd_, src.handle(), dst.handle(), static_cast<std::uint32_t>(regions.size()), regions.data());
    barrier();
  }

  // Sets every byte of `dst` to zero (at submit(); at once when it is mapped).
  template <class = void>
  void fill_zero(const buffer& dst) {
    if (dst.mapped()) {
      std::memset(dst.mapped(), 0, dst.capacity());
      return;
    }
    held_.push_back(dst.memory());
    vkCmdFillBuffer(cmd_, dst.handle(), 0, VK_WHOLE_SIZE, 0);
    barrier();
  }

  // Copies `bytes` of `src` to host memory at `dst` when submit() has finished.
  template <class = void>
  void download(const buffer& src, void* dst, std::size_t bytes, std::size_t src_offset = 0) {
    download(src, bytes, src_offset, [dst, bytes](const void* from) { std::memcpy(dst, from, bytes); });
  }
  // Calls read(host address of the `bytes`) once submit() has finished (unpacking rows,
  // say, without a copy in between).
  template <class Read>
  void download(const buffer& src, std::size_t bytes, std::size_t src_offset, Read read) {
    if (bytes == 0) return;
    check_range("download", src, bytes, src_offset);
    barrier();
    held_.push_back(src.memory());  // the source lives until the submission is done
    if (src.mapped()) {
      ctx_.count_download(bytes);
      const char* from = static_cast<const char*>(src.mapped()) + src_offset;
      after_.push_back(detail::make_completion([from, read = std::move(read)] { read(from); }));
      return;
    }
    buffer& staging = staging_.emplace_back(ctx_, bytes, buffer::kind::host);
    ctx_.count_download(bytes);
    VkBufferCopy region{src_offset, 0, bytes};
    vkCmdCopyBuffer(cmd_, src.handle(), staging.handle(), 1, &region);
    const void* from = staging.mapped();
    after_.push_back(detail::make_completion([from, read = std::move(read)] { read(from); }));
  }

  // Records a dispatch of `pipe` with `buffers` at bindings 0..n-1 and `push` as its push
  // constants. Call barrier() between dispatches where one reads what another wrote.
  template <class D = void>
  void dispatch(const pipeline& pipe, std::initializer_list<binding> buffers, const void* push, std::size_t push_bytes,
                std::uint32_t groups_x, std::uint32_t groups_y = 1, std::uint32_t groups_z = 1) {
    // Both are bugs in the calling backend, not device failures: with_fallback must not hide them.
    if (buffers.size() != pipe.bindings || push_bytes != pipe.push_bytes)
      throw std::logic_error("commands::dispatch: binding count or push constant size does not match the pipeline");
    for (const binding& b : buffers)
      if (b.offset % ctx_.info().min_storage_buffer_offset_alignment != 0)
        throw std::logic_error("commands::dispatch: binding offset is not a multiple of minStorageBufferOffsetAlignment");
    if (groups_x == 0 || groups_y == 0 || groups_z == 0) return;
    VkDescriptorSet set = allocate_set(pipe.set_layout);
    detail::later<std::vector<VkDescriptorBufferInfo>, D> infos;
    infos.reserve(buffers.size());
    for (const binding& b : buffers) {
      // The whole buffer is its requested size (the pooled VkBuffer may be larger).
      const std::size_t whole = std::max<std::size_t>(b.target->size(), 4);
      infos.push_back({b.target->handle(), b.offset, b.range == VK_WHOLE_SIZE ? whole - std::min(whole, b.offset) : b.range});
      held_.push_back(b.target->memory());
    }
    detail::later<std::vector<VkWriteDescriptorSet>, D> writes(infos.size());
    for (std::uint32_t i = 0; i < writes.size(); ++i) {
      writes[i] = VkWriteDescriptorSet{};
      writes[i].sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET;
      writes[i].dstSet = set;
      writes[i].dstBinding = i;
      writes[i].descriptorCount = 1;
      writes[i].descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
      writes[i].pBufferInfo = &infos[i];
    }
    vkUpdateDescriptorSets(ctx_.device(), static_cast<std::uint32_t>(writes.size()), writes.data(), 0, nullptr);
    vkCmdBindPipeline(cmd_, VK_PIPELINE_BIND_POINT_COMPUTE, pipe.handle);
    vkCmdBindDescriptorSets(cmd_, VK_PIPELINE_BIND_POINT_COMPUTE, pipe.layout, 0, 1, &set, 0, nullptr);
    if (push_bytes)
      vkCmdPushConstants(cmd_, pipe.layout, VK_SHADER_STAGE_COMPUTE_BIT, 0, static_cast<std::uint32_t>(push_bytes), push);
    vkCmdDispatch(cmd_, groups_x, groups_y, groups_z);
  }
  template <class Push>
  void dispatch(const pipeline& pipe, std::initializer_list<binding> buffers, const Push& push, std::uint32_t groups_x,
                std::uint32_t groups_y = 1, std::uint32_t groups_z = 1) {
    static_assert(std::is_trivially_copyable_v<Push>);
    dispatch(pipe, buffers, &push, sizeof(Push), groups_x, groups_y, groups_z);
  }

  // Makes every earlier write (shader or transfer) visible to every later command.
  void barrier() {
    VkMemoryBarrier b{};
    b.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER;
    b.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT;
    b.dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_READ_BIT |
                      VK_ACCESS_TRANSFER_WRITE_BIT;
    vkCmdPipelineBarrier(cmd_, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT,
                         VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT, 0, 1, &b, 0, nullptr, 0,
                         nullptr);
  }

  // Submits everything recorded, waits, and completes the downloads. Recording can then
  // start again on the same object (descriptor sets and staging are recycled).
  template <class = void>
  void submit() {
    VkMemoryBarrier to_host{};
    to_host.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER;
    to_host.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT;
    to_host.dstAccessMask = VK_ACCESS_HOST_READ_BIT;
    vkCmdPipelineBarrier(cmd_, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT,
                         VK_PIPELINE_STAGE_HOST_BIT, 0, 1, &to_host, 0, nullptr, 0, nullptr);
    check(vkEndCommandBuffer(cmd_), "vkEndCommandBuffer");
    ctx_.submit_and_wait(*rec_);
    for (auto& finish : after_) finish->run();
    after_.clear();
    staging_.clear();
    held_.clear();
    for (VkDescriptorPool pool : rec_->descriptor_pools) vkResetDescriptorPool(ctx_.device(), pool, 0);
    next_pool_ = 0;
    check(vkResetCommandPool(ctx_.device(), rec_->pool, 0), "vkResetCommandPool");
    begin();
  }

 private:
  static constexpr std::uint32_t sets_per_pool = 64, buffers_per_set = 8;

  template <class>
  friend class detail::destroy_first;
  template <class = void>
  void destroy() { ctx_.release_recorder(std::move(rec_)); }

  void begin() {
    VkCommandBufferBeginInfo info{};
    info.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO;
    info.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
    check(vkBeginCommandBuffer(cmd_, &info), "vkBeginCommandBuffer");
  }

  template <class = void>
  void check_range(const char* what, const buffer& b, std::size_t bytes, std::size_t offset) const {
    if (offset > b.size() || bytes > b.size() - offset)
      throw std::logic_error(std::string("commands::") + what + ": the range exceeds the buffer");
  }

  template <class = void>
  VkDescriptorSet allocate_set(VkDescriptorSetLayout layout) {
    std::vector<VkDescriptorPool>& pools = rec_->descriptor_pools;
    for (;;) {
      if (next_pool_ == pools.size()) {
        VkDescriptorPoolSize size{VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, sets_per_pool * buffers_per_set};
        VkDescriptorPoolCreateInfo info{};
        info.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO;
        info.maxSets = sets_per_pool;
        info.poolSizeCount = 1;
        info.pPoolSizes = &size;
        VkDescriptorPool pool = VK_NULL_HANDLE;
        check(vkCreateDescriptorPool(ctx_.device(), &info, nullptr, &pool), "vkCreateDescriptorPool");
        pools.push_back(pool);
      }
      VkDescriptorSetAllocateInfo info{};
      info.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO;
      info.descriptorPool = pools[next_pool_];
      info.descriptorSetCount = 1;
      info.pSetLayouts = &layout;
      VkDescriptorSet set = VK_NULL_HANDLE;
      const VkResult result = vkAllocateDescriptorSets(ctx_.device(), &info, &set);
      if (result == VK_SUCCESS) return set;
      if (result != VK_ERROR_OUT_OF_POOL_MEMORY && result != VK_ERROR_FRAGMENTED_POOL)
        check(result, "vkAllocateDescriptorSets");
      ++next_pool_;  // this pool is full: move on to the next (created above if needed)
    }
  }

  context& ctx_;
  std::unique_ptr<recorder> rec_;
  VkCommandBuffer cmd_;
  std::size_t next_pool_ = 0;  // in rec_->descriptor_pools
  std::vector<buffer> staging_;
  std::vector<std::shared_ptr<allocation>> held_;  // what recorded commands refer to
  std::vector<std::unique_ptr<detail::completion>> after_;
  detail::destroy_first<commands> destroy_{this};  // last: destroyed first
};

}  // namespace polykern::vulkan
