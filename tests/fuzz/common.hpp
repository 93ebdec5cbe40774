// Shared plumbing of the libFuzzer harnesses (docs/reliability.md).
//
// Every harness lays its views out in one byte arena (so that inputs and outputs can
// alias or overlap), fills the arena from the fuzzer's bytes, then runs the same call on
// every CPU policy from the same starting arena. Each run must either
//   - throw polykern::invalid_argument and leave the whole arena untouched, or
//   - change only the bytes the output views cover, and agree with exec::scalar
//     (bitwise or within the family's documented tolerance: the harness decides).
// All policies must agree on whether the call is rejected. Anything else (another
// exception, a sanitizer report, a mismatch) aborts, and libFuzzer keeps the input.
#pragma once
#include <fuzzer/FuzzedDataProvider.h>

#include <polykern/error.hpp>
#include <polykern/execution.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <string_view>
#include <type_traits>
#include <vector>

namespace fuzz {

namespace pk = polykern;

// Aborts with where and why: libFuzzer saves the input as a crash-* file. (A macro: clang
// 14 with libstdc++ 12 has no std::source_location.)
[[noreturn]] inline void fail(const char* what, const char* file, int line) {
  std::fprintf(stderr, "fuzz check failed: %s at %s:%d\n", what, file, line);
  std::abort();
}
#define check(ok, what) ((ok) ? void() : ::fuzz::fail(what, __FILE__, __LINE__))

using input = FuzzedDataProvider;

inline std::size_t pick(input& in, std::size_t lo, std::size_t hi) { return in.ConsumeIntegralInRange(lo, hi); }

// A size no view can address whatever it multiplies (a channel count, a stride, an
// element size): each is >= 2^63, and times 2, 3 or 4 most wrap to a small number, which
// is exactly what an unchecked product would let through.
inline std::size_t unaddressable_size(input& in) {
  constexpr std::size_t half = std::size_t{1} << 63;
  static constexpr std::size_t values[] = {half, half + 1, half + 2, half + (half >> 1) + 1,
                                           std::numeric_limits<std::size_t>::max(),
                                           std::numeric_limits<std::size_t>::max() - 1};
  return values[pick(in, 0, std::size(values) - 1)];
}

// Doubles a hostile caller passes: NaN, infinities, zeros, huge, tiny, negative.
inline double special_double(input& in) {
  static constexpr double values[] = {0.0,
                                      -0.0,
                                      1.0,
                                      -1.0,
                                      0.5,
                                      2.0,
                                      1e-7,
                                      1e-300,
                                      -1e-300,
                                      1e300,
                                      -1e300,
                                      std::numeric_limits<double>::max(),
                                      std::numeric_limits<double>::lowest(),
                                      std::numeric_limits<double>::denorm_min(),
                                      std::numeric_limits<double>::infinity(),
                                      -std::numeric_limits<double>::infinity(),
                                      std::numeric_limits<double>::quiet_NaN(),
                                      4194304.0,
                                      1e9,
                                      -1e9};
  return values[pick(in, 0, std::size(values) - 1)];
}

// A double in [lo, hi] most of the time, a special value otherwise.
inline double some_double(input& in, double lo, double hi) {
  if (in.ConsumeIntegralInRange(0, 7) == 0) return special_double(in);
  return lo + (hi - lo) * in.ConsumeProbability<double>();
}

// One byte arena holding every view of a call, so that views may alias or overlap.
// Bytes start as a canary pattern; the harness writes the inputs over it.
class arena {
 public:
  static constexpr unsigned char canary = 0xA5;

  explicit arena(std::size_t bytes) : words_((bytes + 7) / 8 + 1), size_(bytes) {
    std::memset(words_.data(), canary, words_.size() * 8);
    writable_.assign(words_.size() * 8, false);
  }
  unsigned char* base() { return reinterpret_cast<unsigned char*>(words_.data()); }
  std::size_t size() const { return size_; }
  template <class T>
  T* at(std::size_t element_offset) {
    return reinterpret_cast<T*>(base()) + element_offset;
  }
  // Marks [p, p + bytes) as bytes a successful call may change.
  void allow(const void* p, std::size_t bytes) {
    const auto first = static_cast<std::size_t>(static_cast<const unsigned char*>(p) - base());
    for (std::size_t i = 0; i < bytes; ++i) writable_.at(first + i) = true;
  }
  // The inputs are in place: remember the arena as every run starts from it.
  void commit() { initial_.assign(base(), base() + words_.size() * 8); }
  void reset() { std::memcpy(base(), initial_.data(), initial_.size()); }
  bool untouched() { return std::memcmp(base(), initial_.data(), initial_.size()) == 0; }
  bool only_writable_changed() {
    for (std::size_t i = 0; i < initial_.size(); ++i)
      if (!writable_[i] && base()[i] != initial_[i]) return false;
    return true;
  }
  std::vector<unsigned char> bytes() { return {base(), base() + initial_.size()}; }
  // Where `p` (inside this arena) lies in a snapshot taken by bytes().
  template <class T>
  const T* in_snapshot(const std::vector<unsigned char>& snapshot, const T* p) {
    return reinterpret_cast<const T*>(snapshot.data() + (reinterpret_cast<const unsigned char*>(p) - base()));
  }

 private:
  std::vector<std::uint64_t> words_;
  std::size_t size_;
  std::vector<unsigned char> initial_;
  std::vector<bool> writable_;
};

// Equal, or both NaN (SIMD and scalar may produce NaNs of different payloads).
template <class T>
bool same_value(T a, T b) {
  if constexpr (std::is_floating_point_v<T>) {
    if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
    return std::memcmp(&a, &b, sizeof(T)) == 0;  // +0 and -0 differ bitwise
  } else {
    return a == b;
  }
}

// Whether the Vulkan policy joins the CPU ones (POLYKERN_FUZZ_VULKAN=1, builds with
// -DPOLYKERN_HAS_VULKAN=1 only).
inline bool with_vulkan() {
  static const bool on = [] {
    const char* v = std::getenv("POLYKERN_FUZZ_VULKAN");
    return v != nullptr && std::string_view(v) == "1";
  }();
  return on;
}

// Runs call(policy) on every policy from the same arena and checks the protocol above.
// call returns whatever the kernel returns (or anything, e.g. 0, for void kernels);
// agree(policy, arena, reference_bytes, result, reference_result) compares one policy's
// successful run with the scalar one.
template <class Call, class Agree>
void across_policies(arena& a, Call&& call, Agree&& agree) {
  using result = decltype(call(pk::exec::scalar));
  result reference_result{};
  std::vector<unsigned char> reference_bytes;
  bool reference_threw = false;
  const auto one = [&](const auto& policy, bool is_reference) {
    a.reset();
    result r{};
    bool threw = false;
    try {
      r = call(policy);
    } catch (const pk::invalid_argument&) {
      threw = true;
    }
    if (threw) check(a.untouched(), "a rejected call wrote to memory");
    else check(a.only_writable_changed(), "a call wrote outside its output views");
    if (is_reference) {
      reference_threw = threw;
      reference_bytes = a.bytes();
      reference_result = std::move(r);
      return;
    }
    check(threw == reference_threw, "policies disagree on whether the call is valid");
    if (!threw) agree(policy, a, reference_bytes, r, reference_result);
  };
  one(pk::exec::scalar, true);
  one(pk::exec::simd, false);
#if POLYKERN_HAS_OPENMP
  one(pk::exec::openmp_policy{.threads = 2}, false);
#endif
#if POLYKERN_HAS_VULKAN
  if (with_vulkan()) one(pk::exec::vulkan, false);
#endif
}

// The shape of one image view of a call, drawn from the input: usually small and valid
// (sides 1..max_side, 1..4 channels, a little row padding), sometimes invalid (a zero side,
// 0 or 5 channels, a short or negative stride, null data), sometimes unaddressable.
struct image_plan {
  std::size_t width = 1, height = 1, channels = 1;
  std::ptrdiff_t row_stride = 1;
  std::size_t offset = 0;  // in elements from the arena's start
  bool null = false, unaddressable = false;

  // Elements the view covers inside the arena (0 when the call must not touch it).
  std::size_t span() const {
    if (null || unaddressable || width == 0 || height == 0 || channels == 0) return 0;
    const std::size_t row = width * channels;
    return row_stride <= 0 ? row : (height - 1) * static_cast<std::size_t>(row_stride) + row;
  }
  template <class T>
  pk::image_view<T> view(arena& a) const {
    pk::image_view<T> v;
    v.data = null ? nullptr : a.at<T>(offset);
    v.width = width, v.height = height, v.channels = channels, v.row_stride = row_stride;
    return v;
  }
};

inline image_plan draw_image(input& in, std::size_t max_side) {
  image_plan p;
  p.width = pick(in, 1, max_side);
  p.height = pick(in, 1, max_side);
  p.channels = pick(in, 1, 4);
  p.row_stride = static_cast<std::ptrdiff_t>(p.width * p.channels + pick(in, 0, 3));
  switch (in.ConsumeIntegralInRange(0, 15)) {
    case 0: p.width = 0; break;
    case 1: p.height = 0; break;
    case 2: p.channels = in.ConsumeBool() ? 0 : 5; break;
    case 3: p.row_stride = in.ConsumeBool() ? -p.row_stride : p.row_stride - 1 - static_cast<std::ptrdiff_t>(pick(in, 0, 2)); break;
    case 4: p.null = true; break;
    case 5:
      p.unaddressable = true;
      switch (pick(in, 0, 2)) {
        case 0: p.width = unaddressable_size(in); break;
        case 1: p.height = unaddressable_size(in); break;
        default: p.height = std::max<std::size_t>(p.height, 2), p.row_stride = std::numeric_limits<std::ptrdiff_t>::max();
      }
      break;
    default: break;
  }
  return p;
}

// A points view of a call (points_view<T, Dim>: count points, stride elements apart), drawn
// from the input by fuzz_affine and fuzz_kdtree.
struct points_plan {
  std::size_t count = 0;
  std::ptrdiff_t stride = 3;
  std::size_t offset = 0;  // in elements from the arena's start
  bool null = false, unaddressable = false;

  // Elements the view covers inside the arena (0 when the call must not touch it).
  std::size_t span(std::size_t dim) const {
    if (null || unaddressable || count == 0) return 0;
    return stride <= 0 ? dim : (count - 1) * static_cast<std::size_t>(stride) + dim;
  }
  // Whether a kernel that takes any stride for at most one point must accept the view.
  bool valid(std::size_t dim) const {
    return !unaddressable && (count <= 1 || stride >= static_cast<std::ptrdiff_t>(dim)) && (count == 0 || !null);
  }
};

// How a harness draws the hostile points views: each keeps the odds and cases it was
// written with, so that its committed inputs decode as they did.
struct points_odds {
  std::size_t extra_stride = 2;  // valid strides: dim .. dim + extra_stride
  int one_in = 24;               // each hostile case below is drawn once in one_in
  bool short_below_dim = true;   // short strides: dim-1 down to dim-5; else 0..2, either sign
  std::ptrdiff_t huge_stride = std::numeric_limits<std::ptrdiff_t>::max();  // unaddressable
  bool zero_stride = true;       // also stride 0 (every point the same memory)
};

inline points_plan draw_points(input& in, std::size_t count, std::size_t dim, const points_odds& odds) {
  points_plan p;
  p.count = count;
  p.stride = static_cast<std::ptrdiff_t>(dim + pick(in, 0, odds.extra_stride));
  switch (in.ConsumeIntegralInRange(0, odds.one_in - 1)) {
    case 0:
      if (odds.short_below_dim) p.stride = static_cast<std::ptrdiff_t>(dim) - 1 - static_cast<std::ptrdiff_t>(pick(in, 0, 4));
      else p.stride = static_cast<std::ptrdiff_t>(pick(in, 0, 2)) * (in.ConsumeBool() ? 1 : -1);
      break;
    case 1: p.null = true; break;
    case 2:
      p.unaddressable = true;
      if (in.ConsumeBool()) p.count = unaddressable_size(in);
      else p.count = std::max<std::size_t>(p.count, 2), p.stride = odds.huge_stride;
      break;
    case 3:
      if (odds.zero_stride) p.stride = 0;
      break;
    default: break;
  }
  return p;
}

template <class P>
constexpr bool is_vulkan_policy = POLYKERN_HAS_VULKAN && std::remove_cvref_t<P>::name == "vulkan";

}  // namespace fuzz
