// The Vulkan runtime, part 1: instance, device choice, queue, limits, the cache of
// pipelines, the pool of device memory, the recorders (command pool + command buffer +
// fence + descriptor pools) handed to vulkan::commands, and transfer statistics
// (architecture.md, "Vulkan runtime"; api.md §7). C API with small RAII wrappers.
//
// Threads: a context may be used by any number of threads at once. Each vulkan::commands
// object records into a recorder of its own (taken from and returned to the context), so
// recording never shares a command pool or descriptor pool; only vkQueueSubmit, the
// pipeline map and the memory pool take the context's locks, each briefly.
#pragma once
#include <vulkan/vulkan.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cctype>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "../../execution.hpp"
#include "check.hpp"
#include "pipeline.hpp"

namespace polykern::vulkan {

namespace testing {
// Fault injection for tests of out-of-memory handling: lavapipe "succeeds" at huge
// allocations, so tests make the n-th next buffer fail instead. Every vulkan::buffer
// counts (device buffers and staging buffers, fresh or taken from the pool), so a test can
// fail each step of a call in turn.
inline std::atomic<long> allocations_until_failure{-1};  // -1: never fail

class scoped_allocation_failure {
 public:
  explicit scoped_allocation_failure(long after_allocations = 0) { allocations_until_failure = after_allocations; }
  ~scoped_allocation_failure() { allocations_until_failure = -1; }
  scoped_allocation_failure(const scoped_allocation_failure&) = delete;
  scoped_allocation_failure& operator=(const scoped_allocation_failure&) = delete;
};

// For leak tests: VkInstances alive now, and vkCreateInstance calls made by contexts.
inline std::atomic<long> live_instances{0};
inline std::atomic<long> instance_attempts{0};
}  // namespace testing

struct memory_heap {
  std::uint64_t size = 0;
  bool device_local = false;
};

// What context::info() reports: enough to tell a user which device runs the work.
struct device_info {
  std::uint32_t index = 0;  // in vkEnumeratePhysicalDevices order
  std::string name, type, driver;
  std::uint32_t vendor_id = 0, device_id = 0, api_version = 0;
  std::vector<memory_heap> heaps;
  std::uint64_t max_storage_buffer_range = 0;
  std::uint64_t min_storage_buffer_offset_alignment = 0;
  std::uint32_t max_compute_shared_memory = 0;
  std::uint32_t max_workgroup_invocations = 0;
  std::uint32_t max_workgroup_count[3] = {};
  std::uint32_t subgroup_size = 0;
  bool unified_memory = false;  // every device-local heap is host-visible: no staging
  bool shader_float64 = false;
  std::uint64_t device_local_bytes() const {
    std::uint64_t total = 0;
    for (auto& h : heaps) total += h.device_local ? h.size : 0;
    return total;
  }
};

struct context_options {
  // Index or case-insensitive name substring; empty: $POLYKERN_VULKAN_DEVICE, else the best
  // device (discrete > integrated > virtual > CPU).
  std::string device;
  // Enable VK_LAYER_KHRONOS_validation and record every warning and error it reports
  // (validation_messages()). Default: $POLYKERN_VULKAN_VALIDATION=1.
  bool validation = env_flag("POLYKERN_VULKAN_VALIDATION");
  // Behave as a discrete GPU even on unified memory: device buffers are not mapped and
  // every transfer goes through staging buffers and copy commands, so the path every
  // discrete GPU takes runs (and is tested) on lavapipe. Default: $POLYKERN_VULKAN_FORCE_STAGING=1.
  bool force_staging = env_flag("POLYKERN_VULKAN_FORCE_STAGING");

  static bool env_flag(const char* name) {
    const char* v = std::getenv(name);
    return v && *v && std::string_view(v) != "0";
  }
};

// What crossed between host and device since the context was created or reset_stats():
// bytes written into device buffers and read back from them through vulkan::commands
// (uploads, downloads, device objects' upload()/download()), queue submissions, and
// vkAllocateMemory calls (device and staging memory; buffers reused from the pool are not
// allocations). On unified memory a backend may also pack straight into a mapped buffer;
// such writes cross no bus and are not counted.
struct transfer_stats {
  std::uint64_t bytes_uploaded = 0, bytes_downloaded = 0, submissions = 0, device_allocations = 0;
};

enum class memory_kind {
  device,  // storage buffer for shaders; mapped when the device has unified memory (and staging is not forced)
  host,    // staging: host-visible, coherent, cached when possible; always mapped
};

// One VkBuffer with its own memory, owned by the context's pool while idle and shared by
// vulkan::buffer and the commands that reference it while in use (see context::acquire_memory).
struct allocation {
  VkBuffer handle = VK_NULL_HANDLE;
  VkDeviceMemory memory = VK_NULL_HANDLE;
  void* mapped = nullptr;
  std::size_t capacity = 0;  // bytes of the VkBuffer (a pool size class)
  memory_kind kind = memory_kind::device;
};

// The Vulkan objects one vulkan::commands records with, recycled by the context: a command
// pool of its own (so threads never share one), its command buffer, a fence, and the
// descriptor pools its dispatches allocate from.
struct recorder {
  VkCommandPool pool = VK_NULL_HANDLE;
  VkCommandBuffer cmd = VK_NULL_HANDLE;
  VkFence fence = VK_NULL_HANDLE;
  std::vector<VkDescriptorPool> descriptor_pools;
  bool pending = false;  // submitted, not yet waited for
};

namespace detail {
// The last data member of a context or a commands object: destroyed first, it calls the
// owner's destroy() while every other member is still alive, as a destructor body would.
// It lets the owner's destructor be defaulted, so that the destructor, destroy() and the
// members' destructors are instantiated only in a TU that destroys an owner, not in every
// TU that includes a family header (docs/benchmarks.md, "Compile cost").
template <class Owner>
class destroy_first {
 public:
  explicit destroy_first(Owner* owner) : owner_(owner) {}
  ~destroy_first() { owner_->destroy(); }
  destroy_first(const destroy_first&) = delete;
  destroy_first& operator=(const destroy_first&) = delete;

 private:
  Owner* owner_;
};
}  // namespace detail

class context {
 public:
  // Every member that does real work is a member template with a defaulted, unused
  // parameter (`template <class = void>`): its body, and the standard-library templates it
  // uses, are instantiated only in a TU that calls it, not in every TU that includes a
  // family header with Vulkan on (docs/benchmarks.md, "Compile cost"). Calls are unchanged.
  template <class = void>
  explicit context(const context_options& options = {})
      : validation_(options.validation), force_staging_(options.force_staging) {
    try {
      create_instance();
      choose_device(options.device.empty() ? env_device() : options.device);
      create_device();
    } catch (...) {
      destroy();  // the destructor does not run for a constructor that throws (destroy() again is a no-op)
      throw;
    }
    pool_limit_ = memory_budget() / 4;
  }
  ~context() = default;  // destroy_ (the last member) calls destroy() first
  context(const context&) = delete;
  context& operator=(const context&) = delete;

  const device_info& info() const { return info_; }

  // Every Vulkan device the loader sees, in enumeration order (index = override index).
  template <class D = void>
  static std::vector<device_info> list_devices() {
    instance_holder holder;
    detail::later<std::vector<device_info>, D> out;
    for (VkPhysicalDevice d : enumerate<D>(holder.instance)) out.push_back(describe(d, static_cast<std::uint32_t>(out.size())));
    return out;
  }

  VkDevice device() const { return device_; }
  VkPhysicalDevice physical_device() const { return physical_; }
  std::uint32_t queue_family() const { return queue_family_; }

  // True when device buffers are mapped into host memory (unified memory, staging not forced).
  bool maps_device_memory() const { return info_.unified_memory && !force_staging_; }
  bool staging_forced() const { return force_staging_; }

  // Largest byte range one storage-buffer binding may cover: maxStorageBufferRange, or
  // less when a test lowers it to exercise the chunked paths cheaply.
  std::uint64_t max_binding_bytes() const {
    return std::min<std::uint64_t>(info_.max_storage_buffer_range, binding_limit_.load());
  }
  void limit_binding_bytes_for_testing(std::uint64_t bytes) { binding_limit_ = bytes ? bytes : UINT64_MAX; }

  // Device memory this context may still use now, for kernels that cut work by memory:
  // with VK_EXT_memory_budget, the device-local heap's budget minus its usage (every
  // process's); without it, 80% of the heap (the estimate VMA makes) minus what this context
  // holds. Either way the context's idle pool counts as available (it is freed on demand).
  template <class = void>
  std::uint64_t memory_budget() const { return std::min(device_memory_budget(), budget_limit_.load()); }
  // Tests lower the budget to run the chunked-by-memory paths cheaply (0: no limit).
  void limit_memory_budget_for_testing(std::uint64_t bytes) { budget_limit_ = bytes ? bytes : UINT64_MAX; }
  bool has_memory_budget_extension() const { return has_memory_budget_; }

 private:
  template <class = void>
  std::uint64_t device_memory_budget() const {
    const std::uint64_t idle = idle_bytes_.load(), held = held_bytes_.load();
    if (has_memory_budget_) {
      VkPhysicalDeviceMemoryBudgetPropertiesEXT budget{};
      budget.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MEMORY_BUDGET_PROPERTIES_EXT;
      VkPhysicalDeviceMemoryProperties2 props{};
      props.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MEMORY_PROPERTIES_2;
      props.pNext = &budget;
      vkGetPhysicalDeviceMemoryProperties2(physical_, &props);
      const std::uint64_t total = budget.heapBudget[device_heap_], used = budget.heapUsage[device_heap_];
      return (total > used ? total - used : 0) + idle;
    }
    const std::uint64_t share = memory_.memoryHeaps[device_heap_].size / 5 * 4, live = held - idle;
    return share > live ? share - live : 0;
  }

 public:

  // ---- statistics (api.md §7) ----
  transfer_stats stats() const {
    return {uploaded_.load(std::memory_order_relaxed), downloaded_.load(std::memory_order_relaxed),
            submissions_.load(std::memory_order_relaxed), allocations_.load(std::memory_order_relaxed)};
  }
  void reset_stats() {
    uploaded_ = 0, downloaded_ = 0, submissions_ = 0, allocations_ = 0;
    peak_held_bytes_ = held_bytes_.load();
  }
  // Device and staging memory the context holds now (its idle pool included), and the most
  // it held at once since creation or reset_stats(): what a streamed tree keeps bounded.
  std::uint64_t held_bytes() const { return held_bytes_.load(); }
  std::uint64_t peak_held_bytes() const { return peak_held_bytes_.load(); }
  void count_upload(std::size_t bytes) { uploaded_.fetch_add(bytes, std::memory_order_relaxed); }
  void count_download(std::size_t bytes) { downloaded_.fetch_add(bytes, std::memory_order_relaxed); }

  // Warnings and errors reported by the validation layer since the last clear.
  template <class = void>
  std::vector<std::string> validation_messages() const {
    std::lock_guard lock(messages_mutex_);
    return messages_;
  }
  template <class = void>
  void clear_validation_messages() {
    std::lock_guard lock(messages_mutex_);
    messages_.clear();
  }
  bool validation_enabled() const { return messenger_ != VK_NULL_HANDLE; }

  // A memory type among `type_bits` with all of `required`, preferring `preferred` too.
  template <class = void>
  std::uint32_t memory_type(std::uint32_t type_bits, VkMemoryPropertyFlags required,
                            VkMemoryPropertyFlags preferred = 0) const {
    int fallback = -1;
    for (std::uint32_t i = 0; i < memory_.memoryTypeCount; ++i) {
      if (!(type_bits & (1u << i))) continue;
      const auto flags = memory_.memoryTypes[i].propertyFlags;
      if ((flags & required) != required) continue;
      if ((flags & preferred) == preferred) return i;
      if (fallback < 0) fallback = static_cast<int>(i);
    }
    if (fallback < 0) throw vulkan_error("memory_type", result_name(VK_ERROR_FEATURE_NOT_PRESENT), "no suitable memory type");
    return static_cast<std::uint32_t>(fallback);
  }

  // The pipeline for (name, specialization), created on first use and cached.
  template <class = void>
  const pipeline& get_pipeline(const pipeline_desc& desc) {
    std::string key(desc.name);
    for (auto v : desc.specialization) key.append(":").append(std::to_string(v));
    std::lock_guard lock(pipelines_mutex_);  // held while compiling: the cache is filled once per key
    for (const auto& [name, made] : pipelines_)
      if (name == key) return *made;
    pipelines_.emplace_back(std::move(key), make_pipeline<>(device_, cache_, desc));
    return *pipelines_.back().second;
  }

  // ---- the memory pool ----
  // Size classes: quarter octaves (5/4, 6/4, 7/4, 8/4 of a power of two, so at most 25% is
  // unused) from 256 bytes to 256 MiB, then multiples of 16 MiB. Calls that repeat with
  // the same sizes find their buffers in the pool and allocate nothing.
  static std::size_t pool_capacity(std::size_t bytes) {
    constexpr std::size_t smallest = 256, coarse = std::size_t{256} << 20, coarse_step = std::size_t{16} << 20;
    if (bytes <= smallest) return smallest;
    if (bytes > coarse) return (bytes + coarse_step - 1) / coarse_step * coarse_step;
    const std::size_t step = std::size_t{1} << (std::bit_width(bytes - 1) - 3);
    return (bytes + step - 1) / step * step;
  }

  // A buffer of at least `bytes` of `kind` memory, from the pool or freshly allocated. It
  // returns to the pool when the last reference (a vulkan::buffer, a recorded command) drops.
  template <class = void>
  std::shared_ptr<allocation> acquire_memory(memory_kind kind, std::size_t bytes) {
    if (testing::allocations_until_failure.load() >= 0 && testing::allocations_until_failure.fetch_sub(1) == 0)
      throw vulkan_error("vkAllocateMemory", result_name(VK_ERROR_OUT_OF_DEVICE_MEMORY), "injected by a test");
    const std::size_t capacity = pool_capacity(bytes);
    allocation* found = nullptr;
    {
      std::lock_guard lock(pool_mutex_);
      for (auto it = idle_.rbegin(); it != idle_.rend(); ++it)  // the most recently returned first
        if ((*it)->kind == kind && (*it)->capacity == capacity) {
          found = it->release();
          idle_.erase(std::next(it).base());
          idle_bytes_ -= capacity;
          break;
        }
    }
    if (!found) {
      try {
        found = allocate(kind, capacity);
      } catch (const vulkan_error&) {
        trim_pool();  // the idle pool may be what fills the heap: free it and try once more
        found = allocate(kind, capacity);
      }
    }
    return std::shared_ptr<allocation>(found, [this](allocation* a) { recycle(a); });
  }

  // Idle pooled memory is kept up to this many bytes (default: a quarter of the memory
  // budget at creation); beyond it the least recently used buffers are freed.
  std::size_t pool_limit() const { return pool_limit_.load(); }
  template <class = void>
  void set_pool_limit(std::size_t bytes) {
    pool_limit_ = bytes;
    trim_to(bytes);
  }
  template <class = void>
  void trim_pool() { trim_to(0); }  // frees every idle buffer
  std::size_t pool_idle_bytes() const { return idle_bytes_.load(); }

  // ---- device copies of host objects (a kdtree's tree) ----
  // The object make() returns for `owner` (a token the host object holds), made on the
  // first call and kept by the context while `owner` lives and the context does, so the
  // host object may die before or after the context. Objects of owners that have died
  // are freed at the next call (and with the context).
  template <class Object, class Make>
  std::shared_ptr<const Object> resident(const std::shared_ptr<const void>& owner, const Make& make) {
    std::lock_guard lock(residents_mutex_);
    std::erase_if(residents_, [](const auto& r) { return r.first.expired(); });
    for (const auto& [key, object] : residents_)
      if (!key.owner_before(owner) && !owner.owner_before(key)) return std::static_pointer_cast<const Object>(object);
    std::shared_ptr<const Object> made = make();
    residents_.emplace_back(owner, made);
    return made;
  }

  // ---- recording and submission (used by vulkan::commands) ----
  template <class = void>
  std::unique_ptr<recorder> acquire_recorder() {
    {
      std::lock_guard lock(recorders_mutex_);
      if (!idle_recorders_.empty()) {
        auto r = std::move(idle_recorders_.back());
        idle_recorders_.pop_back();
        return r;
      }
    }
    auto r = std::make_unique<recorder>();
    try {
      VkCommandPoolCreateInfo pool{};
      pool.sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO;
      pool.flags = VK_COMMAND_POOL_CREATE_TRANSIENT_BIT;
      pool.queueFamilyIndex = queue_family_;
      check(vkCreateCommandPool(device_, &pool, nullptr, &r->pool), "vkCreateCommandPool");
      VkCommandBufferAllocateInfo info{};
      info.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO;
      info.commandPool = r->pool;
      info.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
      info.commandBufferCount = 1;
      check(vkAllocateCommandBuffers(device_, &info, &r->cmd), "vkAllocateCommandBuffers");
      VkFenceCreateInfo fence{};
      fence.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO;
      check(vkCreateFence(device_, &fence, nullptr, &r->fence), "vkCreateFence");
    } catch (...) {
      destroy_recorder(*r);
      throw;
    }
    return r;
  }
  // Takes back a recorder (reset, ready for the next commands object).
  template <class = void>
  void release_recorder(std::unique_ptr<recorder> r) {
    if (!r) return;
    if (r->pending) vkWaitForFences(device_, 1, &r->fence, VK_TRUE, UINT64_MAX);  // a wait that failed: drain
    vkResetFences(device_, 1, &r->fence);
    r->pending = false;
    vkResetCommandPool(device_, r->pool, 0);
    for (VkDescriptorPool p : r->descriptor_pools) vkResetDescriptorPool(device_, p, 0);
    std::lock_guard lock(recorders_mutex_);
    if (idle_recorders_.size() < max_idle_recorders) {
      idle_recorders_.push_back(std::move(r));
      return;
    }
    destroy_recorder(*r);
  }

  // Submits the recorder's command buffer and blocks until the device has finished it.
  template <class = void>
  void submit_and_wait(recorder& r) {
    VkSubmitInfo submit{};
    submit.sType = VK_STRUCTURE_TYPE_SUBMIT_INFO;
    submit.commandBufferCount = 1;
    submit.pCommandBuffers = &r.cmd;
    {
      std::lock_guard lock(queue_mutex_);  // a VkQueue needs external synchronisation
      check(vkQueueSubmit(queue_, 1, &submit, r.fence), "vkQueueSubmit");
    }
    r.pending = true;
    submissions_.fetch_add(1, std::memory_order_relaxed);
    check(vkWaitForFences(device_, 1, &r.fence, VK_TRUE, UINT64_MAX), "vkWaitForFences");
    r.pending = false;
    check(vkResetFences(device_, 1, &r.fence), "vkResetFences");
  }

 private:
  static constexpr std::size_t max_idle_recorders = 32;

  template <class = void>
  allocation* allocate(memory_kind kind, std::size_t capacity) {
    auto a = std::make_unique<allocation>();
    a->capacity = capacity;
    a->kind = kind;
    VkBufferCreateInfo info{};
    info.sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO;
    info.size = capacity;
    info.usage = VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT |
                 (kind == memory_kind::device ? VK_BUFFER_USAGE_STORAGE_BUFFER_BIT : 0);
    info.sharingMode = VK_SHARING_MODE_EXCLUSIVE;
    check(vkCreateBuffer(device_, &info, nullptr, &a->handle), "vkCreateBuffer");
    try {
      VkMemoryRequirements needs;
      vkGetBufferMemoryRequirements(device_, a->handle, &needs);
      const auto coherent = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
      VkMemoryPropertyFlags required = coherent, preferred = coherent | VK_MEMORY_PROPERTY_HOST_CACHED_BIT;
      if (kind == memory_kind::device) {
        required = maps_device_memory() ? coherent | VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT : VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT;
        preferred = required;
      }
      VkMemoryAllocateInfo alloc{};
      alloc.sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO;
      alloc.allocationSize = needs.size;
      alloc.memoryTypeIndex = memory_type(needs.memoryTypeBits, required, preferred);
      check(vkAllocateMemory(device_, &alloc, nullptr, &a->memory), "vkAllocateMemory");
      allocations_.fetch_add(1, std::memory_order_relaxed);
      check(vkBindBufferMemory(device_, a->handle, a->memory, 0), "vkBindBufferMemory");
      if ((required & VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT) != 0)
        check(vkMapMemory(device_, a->memory, 0, VK_WHOLE_SIZE, 0, &a->mapped), "vkMapMemory");
    } catch (...) {
      free_allocation(a.release());
      throw;
    }
    const std::size_t held = held_bytes_ += capacity;
    for (std::size_t peak = peak_held_bytes_.load(); held > peak && !peak_held_bytes_.compare_exchange_weak(peak, held);) {
    }
    return a.release();
  }

  template <class = void>
  void free_allocation(allocation* a) {
    if (a->mapped) vkUnmapMemory(device_, a->memory);
    if (a->handle) vkDestroyBuffer(device_, a->handle, nullptr);
    if (a->memory) {
      vkFreeMemory(device_, a->memory, nullptr);
      held_bytes_ -= a->capacity;
    }
    delete a;
  }

  // An allocation nobody references any more: back to the pool, least recently used out.
  template <class = void>
  void recycle(allocation* a) {
    std::vector<std::unique_ptr<allocation>> freed;
    {
      std::lock_guard lock(pool_mutex_);
      idle_.emplace_back(a);
      idle_bytes_ += a->capacity;
      evict(pool_limit_.load(), freed);
    }
    for (auto& f : freed) free_allocation(f.release());
  }
  template <class = void>
  void trim_to(std::size_t bytes) {
    std::vector<std::unique_ptr<allocation>> freed;
    {
      std::lock_guard lock(pool_mutex_);
      evict(bytes, freed);
    }
    for (auto& f : freed) free_allocation(f.release());
  }
  template <class = void>
  void evict(std::size_t limit, std::vector<std::unique_ptr<allocation>>& freed) {  // pool_mutex_ held
    std::size_t n = 0;
    while (n < idle_.size() && idle_bytes_.load() > limit) {
      idle_bytes_ -= idle_[n]->capacity;
      freed.push_back(std::move(idle_[n++]));
    }
    idle_.erase(idle_.begin(), idle_.begin() + static_cast<std::ptrdiff_t>(n));
  }

  template <class = void>
  void destroy_recorder(recorder& r) {
    for (VkDescriptorPool p : r.descriptor_pools) vkDestroyDescriptorPool(device_, p, nullptr);
    if (r.fence) vkDestroyFence(device_, r.fence, nullptr);
    if (r.pool) vkDestroyCommandPool(device_, r.pool, nullptr);  // frees its command buffer
  }

  template <class>
  friend class detail::destroy_first;

  // Everything the context made, in reverse order; safe on a half-constructed context, and
  // a no-op when called again.
  // Every buffer and commands object must be gone before (they return to this context).
  template <class = void>
  void destroy() {
    if (device_) {
      vkDeviceWaitIdle(device_);
      for (auto& r : idle_recorders_) destroy_recorder(*r);
      idle_recorders_.clear();
      residents_.clear();  // their buffers return to the pool, freed next
      trim_pool();
      pipelines_.clear();
      if (cache_) vkDestroyPipelineCache(device_, cache_, nullptr);
      vkDestroyDevice(device_, nullptr);
      device_ = VK_NULL_HANDLE;
    }
    if (messenger_) {
      auto destroy_messenger = reinterpret_cast<PFN_vkDestroyDebugUtilsMessengerEXT>(
          vkGetInstanceProcAddr(instance_, "vkDestroyDebugUtilsMessengerEXT"));
      if (destroy_messenger) destroy_messenger(instance_, messenger_, nullptr);
      messenger_ = VK_NULL_HANDLE;
    }
    if (instance_) {
      vkDestroyInstance(instance_, nullptr);
      instance_ = VK_NULL_HANDLE;
      --testing::live_instances;
    }
  }

  // An instance without validation, for list_devices().
  struct instance_holder {
    VkInstance instance = VK_NULL_HANDLE;
    instance_holder() {
      VkApplicationInfo app{};
      app.sType = VK_STRUCTURE_TYPE_APPLICATION_INFO;
      app.pApplicationName = "polykern";
      app.apiVersion = VK_API_VERSION_1_1;
      VkInstanceCreateInfo info{};
      info.sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO;
      info.pApplicationInfo = &app;
      check(vkCreateInstance(&info, nullptr, &instance), "vkCreateInstance");
      ++testing::live_instances;
    }
    ~instance_holder() {
      vkDestroyInstance(instance, nullptr);
      --testing::live_instances;
    }
  };

  template <class = void>
  static std::string env_device() {
    const char* v = std::getenv("POLYKERN_VULKAN_DEVICE");
    return v ? v : "";
  }

  template <class D = void>
  static auto enumerate(VkInstance instance) {
    std::uint32_t count = 0;
    check(vkEnumeratePhysicalDevices(instance, &count, nullptr), "vkEnumeratePhysicalDevices");
    detail::later<std::vector<VkPhysicalDevice>, D> devices(count);
    check(vkEnumeratePhysicalDevices(instance, &count, devices.data()), "vkEnumeratePhysicalDevices");
    devices.resize(count);
    return devices;
  }

  static int type_rank(VkPhysicalDeviceType type) {
    switch (type) {
      case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return 4;
      case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return 3;
      case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return 2;
      case VK_PHYSICAL_DEVICE_TYPE_CPU: return 1;
      default: return 0;
    }
  }
  static const char* type_name(VkPhysicalDeviceType type) {
    switch (type) {
      case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return "discrete GPU";
      case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return "integrated GPU";
      case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return "virtual GPU";
      case VK_PHYSICAL_DEVICE_TYPE_CPU: return "CPU";
      default: return "other";
    }
  }

  template <class = void>
  static device_info describe(VkPhysicalDevice device, std::uint32_t index) {
    VkPhysicalDeviceSubgroupProperties subgroup{};
    subgroup.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES;
    VkPhysicalDeviceDriverProperties driver{};
    driver.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_DRIVER_PROPERTIES;
    VkPhysicalDeviceProperties2 props{};
    props.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2;
    props.pNext = &subgroup;
    VkPhysicalDeviceProperties basic;
    vkGetPhysicalDeviceProperties(device, &basic);
    if (basic.apiVersion >= VK_API_VERSION_1_2) subgroup.pNext = &driver;
    vkGetPhysicalDeviceProperties2(device, &props);
    VkPhysicalDeviceFeatures features;
    vkGetPhysicalDeviceFeatures(device, &features);
    VkPhysicalDeviceMemoryProperties memory;
    vkGetPhysicalDeviceMemoryProperties(device, &memory);

    const auto& p = props.properties;
    device_info info;
    info.index = index;
    info.name = p.deviceName;
    info.type = type_name(p.deviceType);
    info.driver = basic.apiVersion >= VK_API_VERSION_1_2 ? std::string(driver.driverName) + " " + driver.driverInfo
                                                         : std::to_string(p.driverVersion);
    info.vendor_id = p.vendorID;
    info.device_id = p.deviceID;
    info.api_version = p.apiVersion;
    info.max_storage_buffer_range = p.limits.maxStorageBufferRange;
    info.min_storage_buffer_offset_alignment = p.limits.minStorageBufferOffsetAlignment;
    info.max_compute_shared_memory = p.limits.maxComputeSharedMemorySize;
    info.max_workgroup_invocations = p.limits.maxComputeWorkGroupInvocations;
    std::copy_n(p.limits.maxComputeWorkGroupCount, 3, info.max_workgroup_count);
    info.subgroup_size = subgroup.subgroupSize;
    info.shader_float64 = features.shaderFloat64 == VK_TRUE;
    bool unified = true, any_local = false;
    for (std::uint32_t h = 0; h < memory.memoryHeapCount; ++h) {
      const bool local = memory.memoryHeaps[h].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT;
      info.heaps.push_back({memory.memoryHeaps[h].size, local});
      if (!local) continue;
      any_local = true;
      bool mappable = false;  // some memory type of this heap is device-local + host-visible + coherent
      for (std::uint32_t t = 0; t < memory.memoryTypeCount; ++t) {
        const auto f = memory.memoryTypes[t].propertyFlags;
        const auto want = VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT | VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT |
                          VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
        if (memory.memoryTypes[t].heapIndex == h && (f & want) == want) mappable = true;
      }
      // A discrete GPU's small host-visible BAR heap does not make it unified: count the
      // heap only if it is the device's main memory.
      unified = unified && mappable;
    }
    info.unified_memory = any_local && unified && p.deviceType != VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU;
    return info;
  }

  template <class = void>
  static VKAPI_ATTR VkBool32 VKAPI_CALL on_validation_message(VkDebugUtilsMessageSeverityFlagBitsEXT,
                                                              VkDebugUtilsMessageTypeFlagsEXT,
                                                              const VkDebugUtilsMessengerCallbackDataEXT* data,
                                                              void* self) {
    auto* ctx = static_cast<context*>(self);
    std::lock_guard lock(ctx->messages_mutex_);
    ctx->messages_.emplace_back(data && data->pMessage ? data->pMessage : "(no message)");
    return VK_FALSE;
  }

  template <class = void>
  void create_instance() {
    VkApplicationInfo app{};
    app.sType = VK_STRUCTURE_TYPE_APPLICATION_INFO;
    app.pApplicationName = "polykern";
    app.apiVersion = VK_API_VERSION_1_1;
    VkInstanceCreateInfo info{};
    info.sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO;
    info.pApplicationInfo = &app;
    const char* layer = "VK_LAYER_KHRONOS_validation";
    const char* extension = VK_EXT_DEBUG_UTILS_EXTENSION_NAME;
    VkDebugUtilsMessengerCreateInfoEXT messenger{};
    messenger.sType = VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT;
    if (validation_) {
      messenger.messageSeverity =
          VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT;
      messenger.messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT |
                              VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT |
                              VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT;
      messenger.pfnUserCallback = &on_validation_message<>;
      messenger.pUserData = this;
      info.enabledLayerCount = 1;
      info.ppEnabledLayerNames = &layer;
      info.enabledExtensionCount = 1;
      info.ppEnabledExtensionNames = &extension;
      info.pNext = &messenger;  // also catches messages from vkCreate/DestroyInstance
    }
    ++testing::instance_attempts;
    check(vkCreateInstance(&info, nullptr, &instance_), validation_ ? "vkCreateInstance(validation)" : "vkCreateInstance");
    ++testing::live_instances;
    if (validation_) {
      auto create = reinterpret_cast<PFN_vkCreateDebugUtilsMessengerEXT>(
          vkGetInstanceProcAddr(instance_, "vkCreateDebugUtilsMessengerEXT"));
      if (!create) throw vulkan_error("vkCreateDebugUtilsMessengerEXT", result_name(VK_ERROR_EXTENSION_NOT_PRESENT));
      check(create(instance_, &messenger, nullptr, &messenger_), "vkCreateDebugUtilsMessengerEXT");
    }
  }

  template <class D = void>
  void choose_device(const std::string& wanted) {
    const auto devices = enumerate<D>(instance_);
    if (devices.empty()) throw vulkan_error("vkEnumeratePhysicalDevices", result_name(VK_ERROR_INITIALIZATION_FAILED), "no Vulkan device");
    int chosen = -1;
    if (!wanted.empty()) {
      const bool is_index = std::all_of(wanted.begin(), wanted.end(), [](unsigned char c) { return std::isdigit(c); });
      for (std::size_t i = 0; i < devices.size() && chosen < 0; ++i) {
        const device_info d = describe(devices[i], static_cast<std::uint32_t>(i));
        if (is_index ? std::to_string(i) == wanted : contains_ignoring_case(d.name, wanted)) chosen = static_cast<int>(i);
      }
      if (chosen < 0)
        throw vulkan_error("POLYKERN_VULKAN_DEVICE", result_name(VK_ERROR_INITIALIZATION_FAILED),
                           "no device matches '" + wanted + "'");
    } else {
      int best_rank = -1;
      for (std::size_t i = 0; i < devices.size(); ++i) {
        VkPhysicalDeviceProperties p;
        vkGetPhysicalDeviceProperties(devices[i], &p);
        if (type_rank(p.deviceType) > best_rank && compute_family(devices[i]) >= 0) {
          best_rank = type_rank(p.deviceType);
          chosen = static_cast<int>(i);
        }
      }
    }
    if (chosen < 0 || compute_family(devices[chosen]) < 0)
      throw vulkan_error("vkGetPhysicalDeviceQueueFamilyProperties", result_name(VK_ERROR_FEATURE_NOT_PRESENT), "no compute queue");
    physical_ = devices[chosen];
    info_ = describe(physical_, static_cast<std::uint32_t>(chosen));
    queue_family_ = static_cast<std::uint32_t>(compute_family(physical_));
    vkGetPhysicalDeviceMemoryProperties(physical_, &memory_);
    for (std::uint32_t h = 0; h < memory_.memoryHeapCount; ++h)
      if ((memory_.memoryHeaps[h].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT) &&
          memory_.memoryHeaps[h].size > memory_.memoryHeaps[device_heap_].size)
        device_heap_ = h;
  }

  template <class = void>
  static bool contains_ignoring_case(std::string_view text, std::string_view part) {
    auto it = std::search(text.begin(), text.end(), part.begin(), part.end(),
                          [](char a, char b) { return std::tolower((unsigned char)a) == std::tolower((unsigned char)b); });
    return it != text.end();
  }

  // Prefers a compute-only family (async compute on GPUs), else any with compute.
  template <class D = void>
  static int compute_family(VkPhysicalDevice device) {
    std::uint32_t count = 0;
    vkGetPhysicalDeviceQueueFamilyProperties(device, &count, nullptr);
    detail::later<std::vector<VkQueueFamilyProperties>, D> families(count);
    vkGetPhysicalDeviceQueueFamilyProperties(device, &count, families.data());
    int any = -1;
    for (std::uint32_t i = 0; i < count; ++i) {
      if (!(families[i].queueFlags & VK_QUEUE_COMPUTE_BIT)) continue;
      if (!(families[i].queueFlags & VK_QUEUE_GRAPHICS_BIT)) return static_cast<int>(i);
      if (any < 0) any = static_cast<int>(i);
    }
    return any;
  }

  template <class D = void>
  void create_device() {
    const float priority = 1.0f;
    VkDeviceQueueCreateInfo queue{};
    queue.sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO;
    queue.queueFamilyIndex = queue_family_;
    queue.queueCount = 1;
    queue.pQueuePriorities = &priority;
    VkPhysicalDeviceFeatures supported, enabled{};
    vkGetPhysicalDeviceFeatures(physical_, &supported);
    enabled.shaderFloat64 = supported.shaderFloat64;
    enabled.shaderInt64 = supported.shaderInt64;
    std::uint32_t count = 0;
    check(vkEnumerateDeviceExtensionProperties(physical_, nullptr, &count, nullptr), "vkEnumerateDeviceExtensionProperties");
    detail::later<std::vector<VkExtensionProperties>, D> extensions(count);
    check(vkEnumerateDeviceExtensionProperties(physical_, nullptr, &count, extensions.data()),
          "vkEnumerateDeviceExtensionProperties");
    const char* budget_extension = VK_EXT_MEMORY_BUDGET_EXTENSION_NAME;
    for (const auto& e : extensions) has_memory_budget_ |= std::string_view(e.extensionName) == budget_extension;
    VkDeviceCreateInfo info{};
    info.sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO;
    info.queueCreateInfoCount = 1;
    info.pQueueCreateInfos = &queue;
    info.pEnabledFeatures = &enabled;
    info.enabledExtensionCount = has_memory_budget_ ? 1 : 0;
    info.ppEnabledExtensionNames = &budget_extension;
    check(vkCreateDevice(physical_, &info, nullptr, &device_), "vkCreateDevice");
    vkGetDeviceQueue(device_, queue_family_, 0, &queue_);
    VkPipelineCacheCreateInfo cache{};
    cache.sType = VK_STRUCTURE_TYPE_PIPELINE_CACHE_CREATE_INFO;
    check(vkCreatePipelineCache(device_, &cache, nullptr, &cache_), "vkCreatePipelineCache");
  }

  bool validation_ = false, force_staging_ = false, has_memory_budget_ = false;
  VkInstance instance_ = VK_NULL_HANDLE;
  VkDebugUtilsMessengerEXT messenger_ = VK_NULL_HANDLE;
  VkPhysicalDevice physical_ = VK_NULL_HANDLE;
  VkPhysicalDeviceMemoryProperties memory_{};
  std::uint32_t device_heap_ = 0;  // the largest device-local heap
  VkDevice device_ = VK_NULL_HANDLE;
  VkQueue queue_ = VK_NULL_HANDLE;
  std::uint32_t queue_family_ = 0;
  VkPipelineCache cache_ = VK_NULL_HANDLE;
  device_info info_;
  std::atomic<std::uint64_t> binding_limit_{UINT64_MAX}, budget_limit_{UINT64_MAX};
  std::atomic<std::uint64_t> uploaded_{0}, downloaded_{0}, submissions_{0}, allocations_{0};
  std::mutex queue_mutex_;      // vkQueueSubmit
  std::mutex pipelines_mutex_;  // the pipeline map (and the VkPipelineCache it fills)
  // A few dozen pipelines at most, looked up once per dispatch: a vector searched in order
  // (std::map would cost every including TU its red-black tree).
  std::vector<std::pair<std::string, std::unique_ptr<pipeline>>> pipelines_;
  std::mutex recorders_mutex_;
  std::vector<std::unique_ptr<recorder>> idle_recorders_;
  std::mutex pool_mutex_;                           // idle_
  std::vector<std::unique_ptr<allocation>> idle_;  // oldest first
  std::atomic<std::size_t> idle_bytes_{0}, held_bytes_{0}, peak_held_bytes_{0}, pool_limit_{0};
  std::mutex residents_mutex_;
  std::vector<std::pair<std::weak_ptr<const void>, std::shared_ptr<const void>>> residents_;
  mutable std::mutex messages_mutex_;
  std::vector<std::string> messages_;
  detail::destroy_first<context> destroy_{this};  // last: destroyed first
};

namespace detail {
// A context made once, on first use; a failure is remembered and rethrown (the same
// vulkan_error) on every later call instead of creating (and failing) again. A template
// only so that nothing of it is instantiated where nothing uses it.
template <class = void>
class context_once {
 public:
  explicit context_once(const context_options& options = {}) {
    try {
      ctx_ = std::make_unique<context>(options);
    } catch (const vulkan_error& e) {
      error_ = e;
    }
  }
  context& get() const {
    if (!ctx_) throw *error_;
    return *ctx_;
  }

 private:
  std::unique_ptr<context> ctx_;
  std::optional<vulkan_error> error_;
};
}  // namespace detail

// The process-wide context used by exec::vulkan without an explicit one, made on first
// use from the environment's options. If that fails, every call rethrows the same
// vulkan_error (with_fallback then costs nothing per call, and nothing leaks). The static
// is initialised once the attempt has been made, so its destructor is registered after the
// driver and layers were loaded and runs before theirs: destroyed the other way round, the
// validation layer leaked its state (LeakSanitizer) at exit.
template <class D = void>
context& default_context() {
  static const detail::context_once<D> instance;  // D: not even the class is instantiated unless called
  return instance.get();
}

}  // namespace polykern::vulkan

namespace polykern {
namespace detail {
template <class = void>
vulkan::context& context_of(const exec::vulkan_policy& policy) {
  return policy.ctx ? *policy.ctx : vulkan::default_context();
}
}  // namespace detail

template <class>
bool exec::vulkan_policy::available() const {
  try {
    detail::context_of(*this);
    return true;
  } catch (const vulkan_error&) {
    return false;
  }
}
}  // namespace polykern
