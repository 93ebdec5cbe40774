// Everything polykern offers, in one include.
#pragma once
#include "affine.hpp"
#include "border.hpp"
#include "convolve.hpp"
#include "error.hpp"
#include "execution.hpp"
#include "image.hpp"
#include "kdtree.hpp"
#include "smooth.hpp"
#include "view.hpp"
#include "warp.hpp"
#if POLYKERN_HAS_VULKAN
#include "vulkan.hpp"
#endif
