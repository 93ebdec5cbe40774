// Execution policies (api.md §1). A policy is a value whose type picks the backend at
// compile time, like std::execution::par. Kernels take it as their first argument.
#pragma once
#include <concepts>
#include <string_view>
#include <type_traits>

#include "error.hpp"

#if defined(_OPENMP)
#define POLYKERN_HAS_OPENMP 1
#else
#define POLYKERN_HAS_OPENMP 0
#endif
#ifndef POLYKERN_HAS_VULKAN
#define POLYKERN_HAS_VULKAN 0  // set to 1 by linking polykern::vulkan
#endif

namespace polykern::vulkan {
class context;
}

namespace polykern::exec {

// Plain loops on one thread: the readable reference every backend is tested against.
struct scalar_policy {
  static constexpr std::string_view name = "scalar";
  static constexpr bool available() { return true; }
};

// xsimd batches of the widest instruction set the build targets, one thread.
struct simd_policy {
  static constexpr std::string_view name = "simd";
  static constexpr bool available() { return true; }
};

#if POLYKERN_HAS_OPENMP
// OpenMP threads over fixed-size chunks, SIMD inside. `threads` caps the team
// (0 = OpenMP's default). Results never depend on the thread count.
struct openmp_policy {
  int threads = 0;
  static constexpr std::string_view name = "openmp";
  static constexpr bool available() { return true; }
};
#endif

#if POLYKERN_HAS_VULKAN
// Vulkan compute on `ctx`, or on vulkan::default_context() when none is given.
// Never falls back to the CPU on its own: see with_fallback.
struct vulkan_policy {
  ::polykern::vulkan::context* ctx = nullptr;
  constexpr vulkan_policy() = default;
  constexpr vulkan_policy(::polykern::vulkan::context& context) : ctx(&context) {}  // NOLINT: implicit on purpose
  static constexpr std::string_view name = "vulkan";
  // True when a Vulkan device can be opened (defined in backend/vulkan/context.hpp). A
  // template only so that the context's construction is instantiated where it is called,
  // not in every TU that includes a family header (docs/benchmarks.md, "Compile cost").
  template <class = void>
  bool available() const;
};
#endif

// Runs on Primary; if that throws polykern::vulkan_error, reruns the whole call on
// Fallback. The result is then exactly what Fallback alone produces.
template <class Primary, class Fallback>
struct fallback_policy {
  Primary primary;
  Fallback fallback;
  static constexpr std::string_view name = "with_fallback";
  constexpr bool available() const { return true; }
};

inline constexpr scalar_policy scalar{};
inline constexpr simd_policy simd{};
#if POLYKERN_HAS_OPENMP
inline constexpr openmp_policy openmp{};
#endif
#if POLYKERN_HAS_VULKAN
inline constexpr vulkan_policy vulkan{};
#endif

}  // namespace polykern::exec

namespace polykern {

namespace detail {
template <class P> struct is_policy : std::false_type {};
template <> struct is_policy<exec::scalar_policy> : std::true_type {};
template <> struct is_policy<exec::simd_policy> : std::true_type {};
#if POLYKERN_HAS_OPENMP
template <> struct is_policy<exec::openmp_policy> : std::true_type {};
#endif
#if POLYKERN_HAS_VULKAN
template <> struct is_policy<exec::vulkan_policy> : std::true_type {};
#endif
template <class P, class F>
struct is_policy<exec::fallback_policy<P, F>> : std::bool_constant<is_policy<P>::value && is_policy<F>::value> {};
}  // namespace detail

// Satisfied by the policy types above (and with_fallback of two of them) only.
template <class P>
concept execution_policy = detail::is_policy<std::remove_cvref_t<P>>::value;

namespace exec {
template <execution_policy Primary, execution_policy Fallback>
constexpr fallback_policy<Primary, Fallback> with_fallback(Primary primary, Fallback fallback) {
  return {primary, fallback};
}

// The policy chosen at build time: POLYKERN_DEFAULT_POLICY (CMake) or openmp, else simd.
#define POLYKERN_POLICY_scalar 1
#define POLYKERN_POLICY_simd 2
#define POLYKERN_POLICY_openmp 3
#define POLYKERN_POLICY_vulkan 4
#define POLYKERN_POLICY_ID_(name) POLYKERN_POLICY_##name
#define POLYKERN_POLICY_ID(name) POLYKERN_POLICY_ID_(name)
#if defined(POLYKERN_DEFAULT_POLICY_NAME)
#if POLYKERN_POLICY_ID(POLYKERN_DEFAULT_POLICY_NAME) == POLYKERN_POLICY_scalar
using default_policy = scalar_policy;
#elif POLYKERN_POLICY_ID(POLYKERN_DEFAULT_POLICY_NAME) == POLYKERN_POLICY_simd
using default_policy = simd_policy;
#elif POLYKERN_POLICY_ID(POLYKERN_DEFAULT_POLICY_NAME) == POLYKERN_POLICY_openmp
static_assert(POLYKERN_HAS_OPENMP, "POLYKERN_DEFAULT_POLICY=openmp but this build has no OpenMP");
using default_policy = openmp_policy;
#elif POLYKERN_POLICY_ID(POLYKERN_DEFAULT_POLICY_NAME) == POLYKERN_POLICY_vulkan
static_assert(POLYKERN_HAS_VULKAN, "POLYKERN_DEFAULT_POLICY=vulkan but this target does not link polykern::vulkan");
using default_policy = vulkan_policy;
#else
#error "POLYKERN_DEFAULT_POLICY must be one of scalar, simd, openmp, vulkan"
#endif
#elif POLYKERN_HAS_OPENMP
using default_policy = openmp_policy;
#else
using default_policy = simd_policy;
#endif
}  // namespace exec

namespace detail {

// Backend selection tags. Backends overload on backend_tag<...>; the inheritance makes a
// kernel without a dedicated OpenMP body use the SIMD one, and a kernel without a SIMD
// body use the scalar one. Vulkan has no CPU base: it never falls back silently.
template <class P> struct backend_tag;
template <> struct backend_tag<exec::scalar_policy> {};
template <> struct backend_tag<exec::simd_policy> : backend_tag<exec::scalar_policy> {};
#if POLYKERN_HAS_OPENMP
template <> struct backend_tag<exec::openmp_policy> : backend_tag<exec::simd_policy> {};
#endif
#if POLYKERN_HAS_VULKAN
template <> struct backend_tag<exec::vulkan_policy> {};
#endif

using scalar_tag = backend_tag<exec::scalar_policy>;
using simd_tag = backend_tag<exec::simd_policy>;
#if POLYKERN_HAS_OPENMP
using openmp_tag = backend_tag<exec::openmp_policy>;
#endif
#if POLYKERN_HAS_VULKAN
using vulkan_tag = backend_tag<exec::vulkan_policy>;
#endif

// Calls run(backend_tag<P>{}, policy) for a plain policy. For with_fallback, calls it
// with the primary policy and, on vulkan_error, again with the fallback one. Public
// entry points validate first, then hand the backend call to this.
template <class Policy, class Run>
decltype(auto) dispatch(const Policy& policy, Run&& run) {
  if constexpr (requires { policy.primary; policy.fallback; }) {
    try {
      return dispatch(policy.primary, run);
    } catch (const vulkan_error&) {
      return dispatch(policy.fallback, run);
    }
  } else {
    return run(backend_tag<Policy>{}, policy);
  }
}

}  // namespace detail
}  // namespace polykern
