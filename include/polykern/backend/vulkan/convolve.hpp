// Placeholder while the Vulkan convolution backend is written.
#pragma once
#include <span>

#include "../../detail/convolve_plan.hpp"
#include "../../execution.hpp"
#include "context.hpp"

namespace polykern::detail::conv {
template <class In, class Out>
void run(vulkan_tag, const exec::vulkan_policy&, const request&, std::span<const job<In, Out>>) {
  throw vulkan_error("convolve", "VK_ERROR_FEATURE_NOT_PRESENT", "not written yet");
}
}  // namespace polykern::detail::conv
