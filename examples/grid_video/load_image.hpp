// Loading a photo as 8-bit RGB (stb_image: JPEG, PNG, BMP, GIF, TGA, PSD, HDR, PIC, PNM).
#pragma once
#include <polykern/image.hpp>

#include <cstdint>
#include <optional>
#include <string>

namespace grid_video {

// The image at `path` as interleaved RGB, or nothing (and `why`) when it cannot be read or decoded.
std::optional<polykern::image<std::uint8_t>> load_rgb(const std::string& path, std::string& why);

}  // namespace grid_video
