// Overflow-checked size arithmetic: every product of sizes, strides and element sizes that
// decides how much memory a view spans or an allocation takes goes through these, so that
// no wrapped product can pass a bound check. A result that does not fit is an
// invalid_argument naming the function, the quantity and its operands. The message parts
// (`what...`) are only joined when the check fails.
#pragma once
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string_view>

#include "../error.hpp"

namespace polykern::detail {

// The most bytes one object can span: pointer differences are std::ptrdiff_t.
inline constexpr std::size_t max_object_bytes = static_cast<std::size_t>(std::numeric_limits<std::ptrdiff_t>::max());

// a * b, or invalid_argument("fn: <what> is a * b, more than limit; ...") when the product
// wraps or exceeds `limit`.
template <class... What>
std::size_t checked_mul(std::string_view fn, std::size_t a, std::size_t b, std::size_t limit, const What&... what) {
  std::size_t product = 0;
  const bool wrapped = __builtin_mul_overflow(a, b, &product);
  require(!wrapped && product <= limit, fn, what..., " is ", a, " * ", b, ", more than ", limit,
          "; does not fit in addressable memory");
  return product;
}

// a + b, or invalid_argument as checked_mul.
template <class... What>
std::size_t checked_add(std::string_view fn, std::size_t a, std::size_t b, std::size_t limit, const What&... what) {
  std::size_t sum = 0;
  const bool wrapped = __builtin_add_overflow(a, b, &sum);
  require(!wrapped && sum <= limit, fn, what..., " is ", a, " + ", b, ", more than ", limit,
          "; does not fit in addressable memory");
  return sum;
}

// The number of elements (of `element_bytes` each) spanned by `rows` rows of
// `row_elements` elements, `stride` elements apart: (rows - 1) * stride + row_elements.
// Checked so that the stride, the span and their byte counts fit in one object and `data`
// plus the span does not wrap around the address space. 0 when nothing is addressed. The
// sign of the stride and stride >= row are left to the caller's own checks.
inline std::size_t checked_span(std::string_view fn, std::string_view arg, const void* data, std::size_t rows,
                                std::size_t row_elements, std::ptrdiff_t stride, std::size_t element_bytes) {
  if (rows == 0 || row_elements == 0) return 0;
  const std::size_t max_elements = max_object_bytes / element_bytes;
  const std::size_t stride_magnitude =
      stride < 0 ? std::size_t{0} - static_cast<std::size_t>(stride) : static_cast<std::size_t>(stride);
  require(rows <= 1 || stride_magnitude <= max_elements, fn, arg, " stride is ", stride, " elements of ", element_bytes,
          " bytes, more than ", max_object_bytes, " bytes; does not fit in addressable memory");
  require(row_elements <= max_elements, fn, arg, " rows are ", row_elements, " elements of ", element_bytes,
          " bytes, more than ", max_object_bytes, " bytes; does not fit in addressable memory");
  std::size_t span = row_elements;
  if (rows > 1 && stride > 0)
    span = checked_add(fn, checked_mul(fn, rows - 1, stride_magnitude, max_elements, "(", arg, " rows - 1) * stride"),
                       row_elements, max_elements, "the extent of ", arg, " ((rows - 1) * stride + row, in elements)");
  const auto start = reinterpret_cast<std::uintptr_t>(data);
  require(start <= std::numeric_limits<std::uintptr_t>::max() - span * element_bytes, fn, arg, " at ", data, " spans ",
          span * element_bytes, " bytes, past the end of the address space");
  return span;
}

}  // namespace polykern::detail
