"""polykern: compute kernels over execution policies, on NumPy arrays.

Every kernel takes ``policy=`` ('scalar', 'simd', 'openmp' (default), 'vulkan' or
'vulkan,openmp' = Vulkan with a rerun on OpenMP when the device fails) and ``threads=``
(an OpenMP cap, 0 = default). Images are H x W or H x W x C (C in 1..4) uint8 or float32
arrays whose pixels are contiguous within a row (rows may be strided); such arrays are
used in place, anything else is copied first. ``out=`` arrays must have that layout.

Bad arguments raise ValueError with polykern's message (function, argument, value), a
wrong dtype or rank raises TypeError, a Vulkan failure raises VulkanError (a
RuntimeError). Nothing is written to ``out`` on error. The GIL is released while a kernel
runs. See docs/python.md.
"""

from ._polykern import (  # noqa: F401  (the public names)
    KDTree,
    NeighborGraph,
    VulkanError,
    compose,
    convolve,
    correlate,
    correlate_batch,
    devices,
    empty,
    gaussian_blur,
    gaussian_kernel,
    gaussian_smooth,
    has_openmp,
    has_vulkan,
    policies,
    resize,
    separable_correlate,
    smooth_neighbors,
    transform_normals,
    transform_normals_batched,
    transform_points,
    transform_points_batched,
    warp_affine,
)

BORDERS = ("reflect", "reflect101", "replicate", "constant", "wrap")

__all__ = [
    "BORDERS", "KDTree", "NeighborGraph", "VulkanError", "compose", "convolve", "correlate",
    "correlate_batch", "devices", "empty", "gaussian_blur", "gaussian_kernel", "gaussian_smooth",
    "policies", "resize", "separable_correlate", "smooth_neighbors", "transform_normals",
    "transform_normals_batched", "transform_points", "transform_points_batched", "warp_affine",
]
