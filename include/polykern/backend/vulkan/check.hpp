// VkResult names and the check() that turns a failed call into polykern::vulkan_error.
#pragma once
#include <vulkan/vulkan.h>

#include <string_view>

#include "../../error.hpp"

namespace polykern::vulkan {

inline std::string_view result_name(VkResult result) {
  switch (result) {
#define POLYKERN_VK_RESULT(r) \
  case r: return #r;
    POLYKERN_VK_RESULT(VK_SUCCESS)
    POLYKERN_VK_RESULT(VK_NOT_READY)
    POLYKERN_VK_RESULT(VK_TIMEOUT)
    POLYKERN_VK_RESULT(VK_INCOMPLETE)
    POLYKERN_VK_RESULT(VK_ERROR_OUT_OF_HOST_MEMORY)
    POLYKERN_VK_RESULT(VK_ERROR_OUT_OF_DEVICE_MEMORY)
    POLYKERN_VK_RESULT(VK_ERROR_INITIALIZATION_FAILED)
    POLYKERN_VK_RESULT(VK_ERROR_DEVICE_LOST)
    POLYKERN_VK_RESULT(VK_ERROR_MEMORY_MAP_FAILED)
    POLYKERN_VK_RESULT(VK_ERROR_LAYER_NOT_PRESENT)
    POLYKERN_VK_RESULT(VK_ERROR_EXTENSION_NOT_PRESENT)
    POLYKERN_VK_RESULT(VK_ERROR_FEATURE_NOT_PRESENT)
    POLYKERN_VK_RESULT(VK_ERROR_INCOMPATIBLE_DRIVER)
    POLYKERN_VK_RESULT(VK_ERROR_TOO_MANY_OBJECTS)
    POLYKERN_VK_RESULT(VK_ERROR_FORMAT_NOT_SUPPORTED)
    POLYKERN_VK_RESULT(VK_ERROR_FRAGMENTED_POOL)
    POLYKERN_VK_RESULT(VK_ERROR_OUT_OF_POOL_MEMORY)
    POLYKERN_VK_RESULT(VK_ERROR_UNKNOWN)
#undef POLYKERN_VK_RESULT
    default: return "VkResult(unknown)";
  }
}

namespace detail {
// T, spelled as a type that depends on D. The runtime's members are templates on an unused
// D so that their bodies are instantiated only where they are called; a local variable of
// type later<std::vector<X>, D> in such a body is dependent too, so std::vector<X> is not
// even instantiated as a class in TUs that never call the member (docs/benchmarks.md,
// "Compile cost").
template <class T, class D>
struct later_type {
  using type = T;
};
template <class T, class D>
using later = typename later_type<T, D>::type;
}  // namespace detail

// Throws vulkan_error naming the call and the result unless it succeeded.
inline void check(VkResult result, const char* call) {
  if (result != VK_SUCCESS) throw vulkan_error(call, result_name(result));
}

}  // namespace polykern::vulkan
