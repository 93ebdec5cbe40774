// Must NOT compile (ctest device_object_on_cpu_policy_is_a_compile_error): a device image
// passed to a CPU policy is a static_assert that says why (api.md §7).
#include <polykern/convolve.hpp>
#include <polykern/vulkan.hpp>

void blur_on_the_cpu(polykern::vulkan::device_image<float>& src, polykern::vulkan::device_image<float>& dst) {
  polykern::gaussian_blur(polykern::exec::scalar, src, dst, 2.0);
}
