// Exceptions thrown by polykern (api.md §3). Bad arguments are reported before any
// output is written; Vulkan failures carry the VkResult name and the failing call.
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>

namespace polykern {

// A bad argument: the message names the function, the argument and its value.
class invalid_argument : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

// A failure of the Vulkan device or driver (no device, out of memory, device lost).
// exec::with_fallback catches exactly this type and reruns on the CPU.
class vulkan_error : public std::runtime_error {
 public:
  vulkan_error(std::string_view call, std::string_view result, std::string_view detail = {})
      : std::runtime_error(compose(call, result, detail)), call_(call), result_(result) {}
  // The Vulkan call that failed, e.g. "vkAllocateMemory".
  const std::string& call() const noexcept { return call_; }
  // The VkResult name, e.g. "VK_ERROR_OUT_OF_DEVICE_MEMORY".
  const std::string& result() const noexcept { return result_; }

 private:
  static std::string compose(std::string_view call, std::string_view result, std::string_view detail) {
    std::string text = "vulkan: ";
    text.append(call).append(" failed: ").append(result);
    if (!detail.empty()) text.append(" (").append(detail).append(")");
    return text;
  }
  std::string call_, result_;
};

namespace detail {

// Streams the pieces into one string: concat("kernel is ", w, "x", h).
template <class... Parts>
std::string concat(const Parts&... parts) {
  std::ostringstream out;
  out.precision(17);
  (out << ... << parts);
  return out.str();
}

// Throws invalid_argument("function: message") unless `ok` holds.
template <class... Parts>
void require(bool ok, std::string_view function, const Parts&... message) {
  if (!ok) throw invalid_argument(concat(function, ": ", message...));
}

}  // namespace detail
}  // namespace polykern
