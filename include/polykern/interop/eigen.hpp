// Eigen interop (api.md §2): polykern views over Eigen storage, and affine3 from Eigen
// transforms. Nothing is copied: the views point into the Eigen object, which must outlive
// them.
//
//   Eigen::Matrix3Xf cloud(3, n);                        // column-major, one point per column
//   Eigen::Matrix<float, Eigen::Dynamic, 3, Eigen::RowMajor> rows(n, 3);   // one per row
//   pk::transform_points(pk::exec::openmp, pk::eigen::as_points(cloud),
//                        pk::eigen::to_affine3(iso), pk::eigen::as_points(rows));
#pragma once
#include <algorithm>
#include <cstddef>
#include <type_traits>

#include <Eigen/Core>
#include <Eigen/Geometry>

#include "../affine.hpp"
#include "../error.hpp"
#include "../view.hpp"

namespace polykern::eigen {

namespace detail {
template <class E>
concept direct_dense = std::is_base_of_v<Eigen::DenseBase<std::remove_cvref_t<E>>, std::remove_cvref_t<E>> &&
                       ((Eigen::internal::traits<std::remove_cvref_t<E>>::Flags & Eigen::DirectAccessBit) != 0);

template <class E>
using element_t = std::remove_pointer_t<decltype(std::declval<E&>().data())>;
}  // namespace detail

// A points_view over an Eigen dense object with direct access (Matrix, Map, Block, Ref):
// - row-major with 3 columns (Matrix<T, Dynamic, 3, RowMajor>, or the first 3 columns of a
//   wider row-major matrix: stride = its outer stride), one point per row;
// - column-major with 3 rows (Matrix3X<T>, Map<Matrix3Xf, 0, OuterStride<4>>), one point
//   per column.
// The element type is const when the object is (points_view<const T> for inputs).
// Anything else (another shape, a non-unit inner stride) is an invalid_argument.
template <class E>
  requires detail::direct_dense<E>
auto as_points(E&& m) {
  using M = std::remove_cvref_t<E>;
  using T = detail::element_t<std::remove_reference_t<E>>;
  constexpr bool row_major = M::IsRowMajor;
  const Eigen::Index shape = row_major ? m.cols() : m.rows();
  const Eigen::Index count = row_major ? m.rows() : m.cols();
  ::polykern::detail::require(shape == 3, "eigen::as_points",
                              row_major ? "row-major matrix has " : "column-major matrix has ", shape,
                              row_major ? " columns" : " rows", "; must be 3 (x, y, z)");
  ::polykern::detail::require(m.innerStride() == 1 || count == 0, "eigen::as_points", "inner stride is ",
                              m.innerStride(), "; x, y, z must be adjacent (1)");
  // For a single point Eigen may report any outer stride; the view needs >= 3.
  const std::ptrdiff_t stride = count <= 1 ? 3 : static_cast<std::ptrdiff_t>(m.outerStride());
  return points_view<T, 3>(m.data(), static_cast<std::size_t>(count), stride);
}

// A matrix_view (row-major rows x cols, per-point values) over a row-major Eigen object
// with direct access and unit inner stride; a column vector is accepted too (one value per row).
template <class E>
  requires detail::direct_dense<E>
auto as_matrix(E&& m) {
  using M = std::remove_cvref_t<E>;
  using T = detail::element_t<std::remove_reference_t<E>>;
  static_assert(M::IsRowMajor || M::ColsAtCompileTime == 1,
                "eigen::as_matrix: matrix_view is row-major; use Eigen::RowMajor storage");
  if constexpr (M::IsRowMajor) {
    ::polykern::detail::require(m.innerStride() == 1 || m.size() == 0, "eigen::as_matrix", "inner stride is ",
                                m.innerStride(), "; must be 1");
    return matrix_view<T>(m.data(), static_cast<std::size_t>(m.rows()), static_cast<std::size_t>(m.cols()),
                          m.rows() <= 1 ? static_cast<std::ptrdiff_t>(std::max<Eigen::Index>(m.cols(), 1))
                                        : static_cast<std::ptrdiff_t>(m.outerStride()));
  } else {
    return matrix_view<T>(m.data(), static_cast<std::size_t>(m.rows()), 1,
                          static_cast<std::ptrdiff_t>(std::max<Eigen::Index>(m.innerStride(), 1)));
  }
}

// affine3 from an Eigen transform (Affine, AffineCompact, Isometry; a Projective one
// must have (0, 0, 0, 1) as its last row).
template <class T, int Mode, int Options>
affine3<T> to_affine3(const Eigen::Transform<T, 3, Mode, Options>& t) {
  if constexpr (Mode == Eigen::Projective) {
    const auto& h = t.matrix();
    ::polykern::detail::require(h(3, 0) == 0 && h(3, 1) == 0 && h(3, 2) == 0 && h(3, 3) == 1, "eigen::to_affine3",
                                "last row is (", h(3, 0), ", ", h(3, 1), ", ", h(3, 2), ", ", h(3, 3),
                                "); a projective transform must end in (0, 0, 0, 1)");
  }
  affine3<T> a;
  for (int r = 0; r < 3; ++r)
    for (int c = 0; c < 4; ++c) a.m[r][c] = t.matrix()(r, c);
  return a;
}

// affine3 from a 4x4 homogeneous matrix (last row must be (0, 0, 0, 1)) or a 3x4 [R | t],
// of either storage order.
template <class Derived>
  requires(Derived::ColsAtCompileTime == 4 && (Derived::RowsAtCompileTime == 4 || Derived::RowsAtCompileTime == 3))
affine3<typename Derived::Scalar> to_affine3(const Eigen::MatrixBase<Derived>& m) {
  using T = typename Derived::Scalar;
  if constexpr (Derived::RowsAtCompileTime == 4)
    ::polykern::detail::require(m(3, 0) == T(0) && m(3, 1) == T(0) && m(3, 2) == T(0) && m(3, 3) == T(1),
                                "eigen::to_affine3", "last row is (", m(3, 0), ", ", m(3, 1), ", ", m(3, 2), ", ",
                                m(3, 3), "); must be (0, 0, 0, 1)");
  affine3<T> a;
  for (int r = 0; r < 3; ++r)
    for (int c = 0; c < 4; ++c) a.m[r][c] = m(r, c);
  return a;
}

// The Eigen transform of an affine3 (for composing, inverting, printing).
template <class T>
Eigen::Transform<T, 3, Eigen::Affine> to_transform(const affine3<T>& a) {
  Eigen::Transform<T, 3, Eigen::Affine> t = Eigen::Transform<T, 3, Eigen::Affine>::Identity();
  for (int r = 0; r < 3; ++r)
    for (int c = 0; c < 4; ++c) t.matrix()(r, c) = a.m[r][c];
  return t;
}

}  // namespace polykern::eigen
