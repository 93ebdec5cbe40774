// The Vulkan runtime for users: vulkan::context (device choice, info()), buffers and
// command recording. Needs the polykern::vulkan CMake target (POLYKERN_HAS_VULKAN=1).
#pragma once
#include "execution.hpp"
#if !POLYKERN_HAS_VULKAN
#error "<polykern/vulkan.hpp> needs POLYKERN_HAS_VULKAN=1: link the polykern::vulkan CMake target"
#endif
#include "backend/vulkan/buffer.hpp"
#include "backend/vulkan/commands.hpp"
#include "backend/vulkan/context.hpp"
