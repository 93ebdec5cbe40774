// Image warps, part 4: the Vulkan backend (stub while the shader is written).
#pragma once
#include "../../execution.hpp"
#if !POLYKERN_HAS_VULKAN
#error "backend/vulkan/warp.hpp needs POLYKERN_HAS_VULKAN=1: link the polykern::vulkan CMake target"
#endif
#include "../scalar/warp.hpp"
#include "context.hpp"

namespace polykern::detail::warp {
template <class T>
void run(vulkan_tag, const exec::vulkan_policy&, const std::vector<job<T>>&, image_view<T>) {
  throw vulkan_error("warp", "VK_ERROR_FEATURE_NOT_PRESENT", "not written yet");
}
}  // namespace polykern::detail::warp
