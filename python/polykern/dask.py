"""polykern on dask.arrays: gaussian_blur and correlate over chunks with halos.

The result equals one polykern call on the whole array: bit for bit on the CPU policies
for the direct and separable methods (gaussian_blur is always separable). How:

* Every chunk is computed from its own pixels plus a halo of the kernel's half size on
  each side (``dask.array.map_overlap`` with ``boundary='none'``), and the halo is cut
  from the result; each output pixel therefore sees exactly the input pixels it sees in a
  whole-array call, with the same taps in the same order.
* The array's outer edge: for 'reflect', 'reflect101', 'replicate' and 'wrap' the whole
  array is first padded by the halo with polykern's own index map (``border_index``
  below, the closed forms of ``polykern/border.hpp``: reflection repeats when the halo is
  wider than the image, 'wrap' takes the other side), so the pixels beyond the edge are
  the pixels polykern would read. For 'constant' nothing is padded: the chunks on the
  outer edge start (or end) at the array's edge, and polykern's own constant border is
  applied there, so even its shortcut for all-outside rows is the same as in one call.
* Chunks smaller than the halo are merged with their neighbours first (``map_overlap``
  needs every chunk at least as deep as the overlap); halos wider than a chunk or than the
  whole array are fine.
* The method of ``correlate`` is chosen once for the whole array, never per chunk:
  'automatic' is resolved up front (``resolve_method``) and the chunks get that explicit
  method. 'low_rank' and 'fft' are exact only up to their documented tolerance (1e-4
  relative), as FFT tiles depend on the chunk.

The arrays are H x W or H x W x C; the channel axis is never chunked (it is rechunked to
one chunk). Works on any Dask scheduler, dask.distributed included (the workers need
``import polykern`` to work, e.g. the same PYTHONPATH).
"""

import math

import numpy as np
import dask.array as da

import polykern as _pk

_BORDER_ALIASES = {"mirror": "reflect101", "nearest": "replicate", "grid-wrap": "wrap"}


def border_index(p, n, mode):
    """polykern's index map (border.hpp): indices p (any integers) into [0, n), -1 for
    'constant' outside."""
    p = np.asarray(p, dtype=np.int64)
    inside = (p >= 0) & (p < n)
    if mode == "replicate":
        q = np.clip(p, 0, n - 1)
    elif mode == "constant":
        q = np.where(inside, p, -1)
    elif mode == "wrap":
        q = np.mod(p, n)
    elif mode == "reflect":
        r = np.mod(p, 2 * n)
        q = np.where(r < n, r, 2 * n - 1 - r)
    elif mode == "reflect101":
        if n == 1:
            q = np.zeros_like(p)
        else:
            r = np.mod(p, 2 * n - 2)
            q = np.where(r < n, r, 2 * n - 2 - r)
    else:
        raise ValueError(f"border_index: border is '{mode}'")
    return np.where(inside, p, q)


def _border_mode(function, border):
    mode = _BORDER_ALIASES.get(border, border)
    if mode not in _pk.BORDERS:
        # the library's own message for an unknown name
        _pk.correlate(np.zeros((1, 1), np.float32), np.ones((1, 1), np.float32), border=border,
                      policy="scalar")
    return mode


def _as_image_array(function, darr):
    darr = da.asarray(darr)
    if darr.ndim not in (2, 3):
        raise TypeError(f"{function}: darr has shape {darr.shape}; an image must be H x W or H x W x C")
    if darr.dtype not in (np.uint8, np.float32):
        raise TypeError(f"{function}: darr has dtype {darr.dtype}; must be uint8 or float32")
    if darr.ndim == 3 and len(darr.chunks[2]) > 1:
        darr = darr.rechunk({2: -1})  # channels are never split
    return darr


def _merge_small(chunks, minimum):
    """Chunks with every one >= minimum (neighbours merged, left to right)."""
    out = []
    for c in chunks:
        if out and out[-1] < minimum:
            out[-1] += c
        else:
            out.append(c)
    if len(out) > 1 and out[-1] < minimum:
        last = out.pop()
        out[-1] += last
    return tuple(out)


def _pad_axis(x, axis, halo, mode):
    """x padded by halo on both sides of axis with polykern's index map."""
    n = x.shape[axis]
    if halo == 0:
        return x
    before = border_index(np.arange(-halo, 0), n, mode)
    after = border_index(np.arange(n, n + halo), n, mode)
    index = [slice(None)] * x.ndim
    pieces = []
    for idx in (before, None, after):
        if idx is None:
            pieces.append(x)
        else:
            index[axis] = idx
            pieces.append(x[tuple(index)])
    return da.concatenate(pieces, axis=axis)


def _with_halo(function, darr, halo, border, value, run):
    """run(block) on every chunk with halo = (rows, columns) and the edge handled as the
    module docstring says; returns the dask array of the results."""
    mode = _border_mode(function, border)
    padded = mode != "constant"
    x = darr
    chunks = list(darr.chunks)
    out_chunks = []
    for axis in range(2):
        h = halo[axis]
        c = list(chunks[axis])
        if padded and h:
            x = _pad_axis(x, axis, h, mode)
            c[0] += h
            c[-1] += h
        merged = _merge_small(c, max(h, 1) + (h if padded else 0))
        chunks[axis] = merged
        if padded and h:
            o = list(merged)
            o[0] -= h
            o[-1] -= h
            out_chunks.append(tuple(o))
        else:
            out_chunks.append(merged)
    if darr.ndim == 3:
        out_chunks.append(darr.chunks[2])
    x = x.rechunk(tuple(chunks))
    # A single chunk along an axis has no neighbours: a depth beyond the array is not needed
    # (Dask rejects it), and the constant border then comes from polykern itself.
    depth = {axis: min(halo[axis], x.shape[axis]) for axis in range(2)}
    if darr.ndim == 3:
        depth[2] = 0

    def block(b, block_info=None):
        info = block_info[0] if block_info else None
        result = run(b)
        cut = []
        for axis in range(2):
            h = halo[axis]
            lo = hi = h
            if not padded and info is not None:
                where, count = info["chunk-location"][axis], info["num-chunks"][axis]
                lo = 0 if where == 0 else h
                hi = 0 if where == count - 1 else h
            cut.append(slice(lo, result.shape[axis] - hi))
        return result[tuple(cut)]

    return x.map_overlap(block, depth=depth, boundary="none", trim=False, dtype=darr.dtype,
                         chunks=tuple(out_chunks),
                         meta=np.empty((0,) * darr.ndim, dtype=darr.dtype))


def _round_half_away(v):
    return math.floor(v + 0.5)


def gaussian_halo(sigma, sigma_y, ksize, dtype):
    """(rows, columns) of halo gaussian_blur needs: half the kernel on each axis, from the
    same rule as gaussian_blur (ksize 0: round(sigma * (uint8 ? 3 : 4) * 2 + 1) | 1), plus
    one row/column of margin (a wider halo never changes the result)."""
    sx = sigma
    sy = sigma_y if sigma_y > 0 else sigma
    if ksize > 0:
        nx = ny = ksize
    else:
        factor = 3 if np.dtype(dtype) == np.uint8 else 4
        nx = _round_half_away(sx * factor * 2 + 1) | 1
        ny = _round_half_away(sy * factor * 2 + 1) | 1
    return ny // 2 + 1, nx // 2 + 1


def gaussian_blur(darr, sigma, sigma_y=0.0, ksize=0, border="reflect", value=0.0, policy="openmp", threads=0):
    """pk.gaussian_blur on a dask.array (H x W or H x W x C); the result equals one call on
    the whole array, bit for bit on the CPU policies."""
    darr = _as_image_array("gaussian_blur", darr)
    probe = np.zeros((1, 1) + darr.shape[2:], dtype=darr.dtype)
    _pk.gaussian_blur(probe, sigma, sigma_y, ksize, border=border, value=value, policy="scalar")
    if policy not in _pk.policies():
        _pk.gaussian_blur(probe, sigma, sigma_y, ksize, policy=policy)  # the library's message
    halo = gaussian_halo(sigma, sigma_y, ksize, darr.dtype)

    def run(b):
        return _pk.gaussian_blur(b, sigma, sigma_y, ksize, border=border, value=value, policy=policy,
                                 threads=threads)

    return _with_halo("gaussian_blur", darr, halo, border, value, run)


def resolve_method(kernel, method="automatic", policy="openmp"):
    """The explicit method used for every chunk. 'automatic' becomes 'separable' when
    polykern accepts the kernel as rank 1; otherwise the cheapest of 'direct', 'low_rank'
    (rank from numpy's SVD, singular values above 1e-7 * s_max) and 'fft' (not on
    Vulkan) by the per-pixel cost model of docs/convolve.md (fft taken as ~40 ns/pixel),
    evaluated on the kernel once for the whole array."""
    if method != "automatic":
        return method
    kernel = np.asarray(kernel, dtype=np.float32)
    try:
        _pk.correlate(np.zeros((1, 1), np.float32), kernel, method="separable", policy="scalar")
        return "separable"
    except ValueError:
        pass
    kh, kw = kernel.shape
    s = np.linalg.svd(kernel.astype(np.float64), compute_uv=False)
    rank = int(np.count_nonzero(s > 1e-7 * s[0])) if s.size and s[0] > 0 else 1
    cost = {
        "direct": 0.035 * kw * kh + 0.8,
        "low_rank": 0.5 + rank * (0.014 * (kw + kh + 15) + 0.15),
    }
    if not policy.startswith("vulkan"):
        cost["fft"] = 40.0
    return min(cost, key=cost.get)


def correlate(darr, kernel, border="reflect", value=0.0, method="automatic", policy="openmp", threads=0):
    """pk.correlate on a dask.array (H x W or H x W x C) with the method chosen once for
    the whole array (resolve_method); the result equals one call on the whole array with
    that method, bit for bit on the CPU policies for 'direct' and 'separable'."""
    darr = _as_image_array("correlate", darr)
    kernel = np.ascontiguousarray(np.asarray(kernel, dtype=np.float32))
    probe = np.zeros((1, 1) + darr.shape[2:], dtype=darr.dtype)
    _pk.correlate(probe, kernel, border=border, value=value, method=method, policy="scalar")
    if policy not in _pk.policies():
        _pk.correlate(probe, kernel, policy=policy)  # the library's message
    chosen = resolve_method(kernel, method, policy)
    kh, kw = kernel.shape
    halo = (kh // 2, kw // 2)

    def run(b):
        return _pk.correlate(b, kernel, border=border, value=value, method=chosen, policy=policy, threads=threads)

    result = _with_halo("correlate", darr, halo, border, value, run)
    result.polykern_method = chosen
    return result


__all__ = ["gaussian_blur", "correlate", "resolve_method", "border_index", "gaussian_halo"]
