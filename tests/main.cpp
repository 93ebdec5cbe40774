// The GoogleTest main shared by every test binary.
// - A Vulkan device is required when CI=true: its absence fails the run. Elsewhere the
//   Vulkan cases are filtered out with a note (never skipped silently inside a test).
// - With POLYKERN_VULKAN_VALIDATION=1 every validation-layer message fails the test
//   during which it was reported.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include <polykern/execution.hpp>
#if POLYKERN_HAS_VULKAN
#include <polykern/vulkan.hpp>
#endif

namespace {
#if POLYKERN_HAS_VULKAN
class validation_listener : public testing::EmptyTestEventListener {
 public:
  void OnTestEnd(const testing::TestInfo& test) override {
    auto& ctx = polykern::vulkan::default_context();
    for (const auto& message : ctx.validation_messages()) {
      std::fprintf(stderr, "[validation] %s.%s: %s\n", test.test_suite_name(), test.name(), message.c_str());
      failed = true;
    }
    ctx.clear_validation_messages();
  }
  bool failed = false;
};
#endif
}  // namespace

int main(int argc, char** argv) {
  testing::InitGoogleTest(&argc, argv);
#if POLYKERN_HAS_VULKAN
  const char* ci = std::getenv("CI");
  const bool in_ci = ci && std::string(ci) == "true";
  validation_listener* listener = nullptr;
  try {
    auto& ctx = polykern::vulkan::default_context();
    std::printf("Vulkan device: %s (%s, %s)%s\n", ctx.info().name.c_str(), ctx.info().type.c_str(),
                ctx.info().driver.c_str(), ctx.validation_enabled() ? ", validation layer on" : "");
    if (ctx.validation_enabled()) {
      listener = new validation_listener;
      testing::UnitTest::GetInstance()->listeners().Append(listener);  // gtest owns it
    }
  } catch (const polykern::vulkan_error& e) {
    if (in_ci) {
      std::fprintf(stderr, "CI=true and no usable Vulkan device: %s\n", e.what());
      return 1;
    }
    std::printf("No Vulkan device (%s): the Vulkan cases are left out of this run.\n", e.what());
    auto& filter = testing::GTEST_FLAG(filter);
    filter += (filter.find('-') == std::string::npos ? "-" : ":") + std::string("*vulkan*");
  }
  const int result = RUN_ALL_TESTS();
  return result != 0 || (listener && listener->failed) ? 1 : 0;
#else
  return RUN_ALL_TESTS();
#endif
}
