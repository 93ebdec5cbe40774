// Typed-test plumbing: every case runs on every policy this build has, and test names
// carry the policy name (Affine/openmp.*), so a filter like *vulkan* selects a backend.
#pragma once
#include <gtest/gtest.h>

#include <string>
#include <polykern/execution.hpp>
#if POLYKERN_HAS_VULKAN
#include <polykern/vulkan.hpp>
#endif

namespace polykern::testing {

using all_policies = ::testing::Types<exec::scalar_policy, exec::simd_policy
#if POLYKERN_HAS_OPENMP
                                      , exec::openmp_policy
#endif
#if POLYKERN_HAS_VULKAN
                                      , exec::vulkan_policy
#endif
                                      >;

struct policy_name {
  template <class P>
  static std::string GetName(int) {
    return std::string(P::name);
  }
};

// The policy object a typed test runs with.
template <class P>
P make_policy() {
  return P{};
}

template <class P>
constexpr bool is_vulkan = POLYKERN_HAS_VULKAN && P::name == "vulkan";

}  // namespace polykern::testing
