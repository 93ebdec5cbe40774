// The Vulkan runtime, part 2: compute pipelines built from embedded SPIR-V, with
// specialisation constants. The context caches them per (name, specialisation).
#pragma once
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "check.hpp"

namespace polykern::vulkan {

// One compute pipeline: its layout takes `bindings` storage buffers at set 0, bindings
// 0..n-1, and `push_bytes` of push constants.
struct pipeline {
  VkDevice device = VK_NULL_HANDLE;
  VkDescriptorSetLayout set_layout = VK_NULL_HANDLE;
  VkPipelineLayout layout = VK_NULL_HANDLE;
  VkPipeline handle = VK_NULL_HANDLE;
  std::uint32_t bindings = 0, push_bytes = 0;

  pipeline() = default;
  pipeline(const pipeline&) = delete;
  pipeline& operator=(const pipeline&) = delete;
  ~pipeline() {
    if (handle) vkDestroyPipeline(device, handle, nullptr);
    if (layout) vkDestroyPipelineLayout(device, layout, nullptr);
    if (set_layout) vkDestroyDescriptorSetLayout(device, set_layout, nullptr);
  }
};

// What a family asks the context for. `specialization` fills constant_id 0..n-1, four
// bytes each (use std::bit_cast for floats); keep the variants few, since each one is
// compiled by the driver on first use.
struct pipeline_desc {
  std::string_view name;
  std::span<const std::uint32_t> spirv;
  std::uint32_t bindings = 0;
  std::uint32_t push_bytes = 0;
  std::span<const std::uint32_t> specialization = {};
};

// Creates the layout, shader module and pipeline; the module is dropped once compiled. A
// template only so that it is instantiated where a pipeline is made (context::get_pipeline).
template <class D = void>
std::unique_ptr<pipeline> make_pipeline(VkDevice device, VkPipelineCache cache, const pipeline_desc& desc) {
  auto made = std::make_unique<pipeline>();
  made->device = device;
  made->bindings = desc.bindings;
  made->push_bytes = desc.push_bytes;
  detail::later<std::vector<VkDescriptorSetLayoutBinding>, D> bindings(desc.bindings);
  for (std::uint32_t i = 0; i < desc.bindings; ++i)
    bindings[i] = {i, VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, 1, VK_SHADER_STAGE_COMPUTE_BIT, nullptr};
  VkDescriptorSetLayoutCreateInfo set_info{};
  set_info.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO;
  set_info.bindingCount = desc.bindings;
  set_info.pBindings = bindings.data();
  check(vkCreateDescriptorSetLayout(device, &set_info, nullptr, &made->set_layout), "vkCreateDescriptorSetLayout");
  VkPushConstantRange push{VK_SHADER_STAGE_COMPUTE_BIT, 0, desc.push_bytes};
  VkPipelineLayoutCreateInfo layout_info{};
  layout_info.sType = VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO;
  layout_info.setLayoutCount = 1;
  layout_info.pSetLayouts = &made->set_layout;
  layout_info.pushConstantRangeCount = desc.push_bytes ? 1 : 0;
  layout_info.pPushConstantRanges = &push;
  check(vkCreatePipelineLayout(device, &layout_info, nullptr, &made->layout), "vkCreatePipelineLayout");

  VkShaderModuleCreateInfo module_info{};

  module_info.sType = VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO;
  module_info.codeSize = desc.spirv.size_bytes();
  module_info.pCode = desc.spirv.data();
  VkShaderModule module = VK_NULL_HANDLE;
  check(vkCreateShaderModule(device, &module_info, nullptr, &module), "vkCreateShaderModule");
  detail::later<std::vector<VkSpecializationMapEntry>, D> entries(desc.specialization.size());
  for (std::uint32_t i = 0; i < entries.size(); ++i) entries[i] = {i, i * 4u, 4u};
  VkSpecializationInfo spec{static_cast<std::uint32_t>(entries.size()), entries.data(), desc.specialization.size_bytes(),
                            desc.specialization.data()};
  VkComputePipelineCreateInfo info{};
  info.sType = VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO;
  info.stage.sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO;
  info.stage.stage = VK_SHADER_STAGE_COMPUTE_BIT;
  info.stage.module = module;
  info.stage.pName = "main";
  info.stage.pSpecializationInfo = entries.empty() ? nullptr : &spec;
  info.layout = made->layout;
  const VkResult result = vkCreateComputePipelines(device, cache, 1, &info, nullptr, &made->handle);
  vkDestroyShaderModule(device, module, nullptr);
  check(result, "vkCreateComputePipelines");
  return made;
}

}  // namespace polykern::vulkan
