// The one translation unit that compiles stb_image (Debian libstb-dev: <stb/stb_image.h>).
#include "load_image.hpp"

#include <cstring>

#define STB_IMAGE_IMPLEMENTATION
#define STBI_FAILURE_USERMSG
#include <stb/stb_image.h>

namespace grid_video {

std::optional<polykern::image<std::uint8_t>> load_rgb(const std::string& path, std::string& why) {
  int w = 0, h = 0, channels = 0;
  unsigned char* pixels = stbi_load(path.c_str(), &w, &h, &channels, 3);
  if (!pixels) {
    why = stbi_failure_reason() ? stbi_failure_reason() : "unreadable";
    return std::nullopt;
  }
  polykern::image<std::uint8_t> im(static_cast<std::size_t>(w), static_cast<std::size_t>(h), 3);
  for (int y = 0; y < h; ++y)
    std::memcpy(im.view().row(static_cast<std::size_t>(y)), pixels + static_cast<std::size_t>(y) * w * 3,
                static_cast<std::size_t>(w) * 3);
  stbi_image_free(pixels);
  return im;
}

}  // namespace grid_video
