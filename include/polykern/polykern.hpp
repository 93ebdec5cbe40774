// Everything polykern offers, in one include.
#pragma once
#include "affine.hpp"
#include "border.hpp"
#include "error.hpp"
#include "execution.hpp"
#include "image.hpp"
#include "view.hpp"
#if POLYKERN_HAS_VULKAN
#include "vulkan.hpp"
#endif
