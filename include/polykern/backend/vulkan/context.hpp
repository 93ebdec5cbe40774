// The Vulkan runtime, part 1: instance, device choice, queue, limits, and the cache of
// pipelines (architecture.md, "Vulkan runtime"). C API with small RAII wrappers.
#pragma once
#include <vulkan/vulkan.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "../../execution.hpp"
#include "check.hpp"
#include "pipeline.hpp"

namespace polykern::vulkan {

namespace testing {
// Fault injection for tests of out-of-memory handling: lavapipe "succeeds" at huge
// allocations, so tests make the n-th next device allocation fail instead.
inline std::atomic<long> allocations_until_failure{-1};  // -1: never fail

class scoped_allocation_failure {
 public:
  explicit scoped_allocation_failure(long after_allocations = 0) { allocations_until_failure = after_allocations; }
  ~scoped_allocation_failure() { allocations_until_failure = -1; }
  scoped_allocation_failure(const scoped_allocation_failure&) = delete;
  scoped_allocation_failure& operator=(const scoped_allocation_failure&) = delete;
};
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

  static bool env_flag(const char* name) {
    const char* v = std::getenv(name);
    return v && *v && std::string_view(v) != "0";
  }
};

class context {
 public:
  explicit context(const context_options& options = {}) : validation_(options.validation) {
    create_instance();
    choose_device(options.device.empty() ? env_device() : options.device);
    create_device();
  }
  ~context() {
    pipelines_.clear();
    if (cache_) vkDestroyPipelineCache(device_, cache_, nullptr);
    if (pool_) vkDestroyCommandPool(device_, pool_, nullptr);
    if (device_) vkDestroyDevice(device_, nullptr);
    if (messenger_) {
      auto destroy = reinterpret_cast<PFN_vkDestroyDebugUtilsMessengerEXT>(
          vkGetInstanceProcAddr(instance_, "vkDestroyDebugUtilsMessengerEXT"));
      if (destroy) destroy(instance_, messenger_, nullptr);
    }
    if (instance_) vkDestroyInstance(instance_, nullptr);
  }
  context(const context&) = delete;
  context& operator=(const context&) = delete;

  const device_info& info() const { return info_; }

  // Every Vulkan device the loader sees, in enumeration order (index = override index).
  static std::vector<device_info> list_devices() {
    instance_holder holder;
    std::vector<device_info> out;
    for (VkPhysicalDevice d : enumerate(holder.instance)) out.push_back(describe(d, static_cast<std::uint32_t>(out.size())));
    return out;
  }

  VkDevice device() const { return device_; }
  VkPhysicalDevice physical_device() const { return physical_; }
  std::uint32_t queue_family() const { return queue_family_; }

  // Largest byte range one storage-buffer binding may cover: maxStorageBufferRange, or
  // less when a test lowers it to exercise the chunked paths cheaply.
  std::uint64_t max_binding_bytes() const {
    return std::min<std::uint64_t>(info_.max_storage_buffer_range, binding_limit_.load());
  }
  void limit_binding_bytes_for_testing(std::uint64_t bytes) { binding_limit_ = bytes ? bytes : UINT64_MAX; }

  // Warnings and errors reported by the validation layer since the last clear.
  std::vector<std::string> validation_messages() const {
    std::lock_guard lock(messages_mutex_);
    return messages_;
  }
  void clear_validation_messages() {
    std::lock_guard lock(messages_mutex_);
    messages_.clear();
  }
  bool validation_enabled() const { return messenger_ != VK_NULL_HANDLE; }

  // A memory type among `type_bits` with all of `required`, preferring `preferred` too.
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
  const pipeline& get_pipeline(const pipeline_desc& desc) {
    std::string key(desc.name);
    for (auto v : desc.specialization) key.append(":").append(std::to_string(v));
    std::lock_guard lock(mutex_);
    auto it = pipelines_.find(key);
    if (it != pipelines_.end()) return *it->second;
    auto made = make_pipeline(device_, cache_, desc);
    return *pipelines_.emplace(std::move(key), std::move(made)).first->second;
  }

  // Command buffers come from the context's pool; pools and queues need external sync.
  VkCommandBuffer allocate_command_buffer() {
    std::lock_guard lock(mutex_);
    VkCommandBufferAllocateInfo info{};
    info.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO;
    info.commandPool = pool_;
    info.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
    info.commandBufferCount = 1;
    VkCommandBuffer cmd = VK_NULL_HANDLE;
    check(vkAllocateCommandBuffers(device_, &info, &cmd), "vkAllocateCommandBuffers");
    return cmd;
  }
  void free_command_buffer(VkCommandBuffer cmd) {
    std::lock_guard lock(mutex_);
    vkFreeCommandBuffers(device_, pool_, 1, &cmd);
  }
  // Submits one recorded command buffer and blocks until the device has finished it.
  void submit_and_wait(VkCommandBuffer cmd) {
    VkFenceCreateInfo fence_info{};
    fence_info.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO;
    VkFence fence = VK_NULL_HANDLE;
    check(vkCreateFence(device_, &fence_info, nullptr, &fence), "vkCreateFence");
    VkSubmitInfo submit{};
    submit.sType = VK_STRUCTURE_TYPE_SUBMIT_INFO;
    submit.commandBufferCount = 1;
    submit.pCommandBuffers = &cmd;
    VkResult result;
    {
      std::lock_guard lock(mutex_);
      result = vkQueueSubmit(queue_, 1, &submit, fence);
    }
    if (result == VK_SUCCESS) result = vkWaitForFences(device_, 1, &fence, VK_TRUE, UINT64_MAX);
    vkDestroyFence(device_, fence, nullptr);
    check(result, "vkQueueSubmit/vkWaitForFences");
  }

 private:
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
    }
    ~instance_holder() { vkDestroyInstance(instance, nullptr); }
  };

  static std::string env_device() {
    const char* v = std::getenv("POLYKERN_VULKAN_DEVICE");
    return v ? v : "";
  }

  static std::vector<VkPhysicalDevice> enumerate(VkInstance instance) {
    std::uint32_t count = 0;
    check(vkEnumeratePhysicalDevices(instance, &count, nullptr), "vkEnumeratePhysicalDevices");
    std::vector<VkPhysicalDevice> devices(count);
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

  static VKAPI_ATTR VkBool32 VKAPI_CALL on_validation_message(VkDebugUtilsMessageSeverityFlagBitsEXT,
                                                              VkDebugUtilsMessageTypeFlagsEXT,
                                                              const VkDebugUtilsMessengerCallbackDataEXT* data,
                                                              void* self) {
    auto* ctx = static_cast<context*>(self);
    std::lock_guard lock(ctx->messages_mutex_);
    ctx->messages_.emplace_back(data && data->pMessage ? data->pMessage : "(no message)");
    return VK_FALSE;
  }

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
      messenger.pfnUserCallback = &on_validation_message;
      messenger.pUserData = this;
      info.enabledLayerCount = 1;
      info.ppEnabledLayerNames = &layer;
      info.enabledExtensionCount = 1;
      info.ppEnabledExtensionNames = &extension;
      info.pNext = &messenger;  // also catches messages from vkCreate/DestroyInstance
    }
    check(vkCreateInstance(&info, nullptr, &instance_), validation_ ? "vkCreateInstance(validation)" : "vkCreateInstance");
    if (validation_) {
      auto create = reinterpret_cast<PFN_vkCreateDebugUtilsMessengerEXT>(
          vkGetInstanceProcAddr(instance_, "vkCreateDebugUtilsMessengerEXT"));
      if (!create) throw vulkan_error("vkCreateDebugUtilsMessengerEXT", result_name(VK_ERROR_EXTENSION_NOT_PRESENT));
      check(create(instance_, &messenger, nullptr, &messenger_), "vkCreateDebugUtilsMessengerEXT");
    }
  }

  void choose_device(const std::string& wanted) {
    const auto devices = enumerate(instance_);
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
  }

  static bool contains_ignoring_case(std::string_view text, std::string_view part) {
    auto it = std::search(text.begin(), text.end(), part.begin(), part.end(),
                          [](char a, char b) { return std::tolower((unsigned char)a) == std::tolower((unsigned char)b); });
    return it != text.end();
  }

  // Prefers a compute-only family (async compute on GPUs), else any with compute.
  static int compute_family(VkPhysicalDevice device) {
    std::uint32_t count = 0;
    vkGetPhysicalDeviceQueueFamilyProperties(device, &count, nullptr);
    std::vector<VkQueueFamilyProperties> families(count);
    vkGetPhysicalDeviceQueueFamilyProperties(device, &count, families.data());
    int any = -1;
    for (std::uint32_t i = 0; i < count; ++i) {
      if (!(families[i].queueFlags & VK_QUEUE_COMPUTE_BIT)) continue;
      if (!(families[i].queueFlags & VK_QUEUE_GRAPHICS_BIT)) return static_cast<int>(i);
      if (any < 0) any = static_cast<int>(i);
    }
    return any;
  }

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
    VkDeviceCreateInfo info{};
    info.sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO;
    info.queueCreateInfoCount = 1;
    info.pQueueCreateInfos = &queue;
    info.pEnabledFeatures = &enabled;
    check(vkCreateDevice(physical_, &info, nullptr, &device_), "vkCreateDevice");
    vkGetDeviceQueue(device_, queue_family_, 0, &queue_);
    VkCommandPoolCreateInfo pool{};
    pool.sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO;
    pool.flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT;
    pool.queueFamilyIndex = queue_family_;
    check(vkCreateCommandPool(device_, &pool, nullptr, &pool_), "vkCreateCommandPool");
    VkPipelineCacheCreateInfo cache{};
    cache.sType = VK_STRUCTURE_TYPE_PIPELINE_CACHE_CREATE_INFO;
    check(vkCreatePipelineCache(device_, &cache, nullptr, &cache_), "vkCreatePipelineCache");
  }

  bool validation_ = false;
  VkInstance instance_ = VK_NULL_HANDLE;
  VkDebugUtilsMessengerEXT messenger_ = VK_NULL_HANDLE;
  VkPhysicalDevice physical_ = VK_NULL_HANDLE;
  VkPhysicalDeviceMemoryProperties memory_{};
  VkDevice device_ = VK_NULL_HANDLE;
  VkQueue queue_ = VK_NULL_HANDLE;
  std::uint32_t queue_family_ = 0;
  VkCommandPool pool_ = VK_NULL_HANDLE;
  VkPipelineCache cache_ = VK_NULL_HANDLE;
  device_info info_;
  std::atomic<std::uint64_t> binding_limit_{UINT64_MAX};
  std::mutex mutex_;  // guards the queue, the command pool and the pipeline map
  std::map<std::string, std::unique_ptr<pipeline>> pipelines_;
  mutable std::mutex messages_mutex_;
  std::vector<std::string> messages_;
};

// The process-wide context used by exec::vulkan without an explicit one. Created on
// first use; if creation fails, the vulkan_error propagates and the next call retries.
// The static is initialised only once the context exists (a throwing initialisation is
// retried on the next call), so its destructor is registered after the driver and layers
// were loaded and runs before theirs: destroyed the other way round, the validation layer
// leaked its state (LeakSanitizer) at exit.
inline context& default_context() {
  static const std::unique_ptr<context> instance = std::make_unique<context>();
  return *instance;
}

}  // namespace polykern::vulkan

namespace polykern {
namespace detail {
inline vulkan::context& context_of(const exec::vulkan_policy& policy) {
  return policy.ctx ? *policy.ctx : vulkan::default_context();
}
}  // namespace detail

inline bool exec::vulkan_policy::available() const {
  try {
    detail::context_of(*this);
    return true;
  } catch (const vulkan_error&) {
    return false;
  }
}
}  // namespace polykern
