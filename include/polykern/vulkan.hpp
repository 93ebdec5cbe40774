// The Vulkan runtime for users: vulkan::context (device choice, info(), stats(),
// memory_budget()), device-resident data (device_image, device_points, device_matrix,
// device_tile), buffers and command recording. Needs the polykern::vulkan CMake target (POLYKERN_HAS_VULKAN=1).
#pragma once
#include "execution.hpp"
#if !POLYKERN_HAS_VULKAN
#error "<polykern/vulkan.hpp> needs POLYKERN_HAS_VULKAN=1: link the polykern::vulkan CMake target"
#endif
#include "backend/vulkan/buffer.hpp"
#include "backend/vulkan/commands.hpp"
#include "backend/vulkan/context.hpp"
#include "backend/vulkan/device_data.hpp"
