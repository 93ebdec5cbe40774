#!/usr/bin/env python3
"""A large image blurred with polykern.dask on a dask.distributed LocalCluster, checked
against one polykern call on crops with the same borders.

The image (default 20000x20000 float32, 1.6 GB; far more than one chunk) is generated
chunk by chunk on the workers and never exists in one piece. The blurred result is
reduced on the cluster (a sum), so only numbers come back. Two crops are checked bit for
bit: the top-left corner (the image's outer border: polykern's reflection) and one in
the middle across chunk boundaries; each against one pk.gaussian_blur call on the crop
plus the halo it needs, with the same border.

    PYTHONPATH=build/python /usr/bin/python3 examples/python/dask_blur.py --size 20000
    PYTHONPATH=build/python /usr/bin/python3 examples/python/dask_blur.py --size 800 --chunk 256   # CI
"""

import argparse
import time

import dask.array as da
import numpy as np
from dask.distributed import Client, LocalCluster

import polykern as pk
import polykern.dask as pkd


def make_image(size, chunk):
    """A deterministic image built per chunk on the workers (float32 noise + waves)."""
    def block(b, block_info=None):
        (y0, y1), (x0, x1) = block_info[None]["array-location"]
        y, x = np.mgrid[y0:y1, x0:x1].astype(np.float32)
        rng = np.random.default_rng([y0, x0])
        return (0.5 + 0.3 * np.sin(x / 91) * np.cos(y / 57) + 0.2 * rng.random((y1 - y0, x1 - x0))).astype(np.float32)
    template = da.empty((size, size), dtype=np.float32, chunks=chunk)
    return template.map_blocks(block, dtype=np.float32)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", type=int, default=20000)
    ap.add_argument("--chunk", type=int, default=2048)
    ap.add_argument("--sigma", type=float, default=8.0)
    ap.add_argument("--border", default="reflect")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--policy", default="openmp", choices=pk.policies())
    args = ap.parse_args()
    with LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True, dashboard_address=None,
                      silence_logs=40) as cluster, Client(cluster) as client:
        img = make_image(args.size, args.chunk)
        blurred = pkd.gaussian_blur(img, args.sigma, border=args.border, policy=args.policy)
        t0 = time.perf_counter()
        total = float(blurred.sum(dtype=np.float64).compute())
        elapsed = time.perf_counter() - t0
        mpix = args.size * args.size / elapsed / 1e6
        print(f"{args.size}x{args.size} float32, chunks {args.chunk}, sigma {args.sigma}, {args.border}, "
              f"{args.workers} workers, policy {args.policy}: {elapsed:.2f} s ({mpix:.1f} Mpixel/s), "
              f"mean {total / args.size ** 2:.6f}")
        halo = pkd.gaussian_halo(args.sigma, 0.0, 0, np.float32)[0]
        crop = min(1000, args.size - 2 * halo - 1)
        # the top-left corner: the crop plus the halo on the right and below, border at the edge
        region = img[:crop + halo, :crop + halo].compute()
        want = pk.gaussian_blur(region, args.sigma, border=args.border, policy=args.policy)[:crop, :crop]
        got = blurred[:crop, :crop].compute()
        same = (lambda a, b: np.allclose(a, b, atol=1e-5)) if args.policy.startswith("vulkan") else np.array_equal
        corner = same(got, want)
        # a crop in the middle, across chunk boundaries: halo on every side, no border involved
        c = args.size // 2 - crop // 2
        region = img[c - halo:c + crop + halo, c - halo:c + crop + halo].compute()
        want = pk.gaussian_blur(region, args.sigma, border=args.border, policy=args.policy)[halo:-halo, halo:-halo]
        middle = same(blurred[c:c + crop, c:c + crop].compute(), want)
        print(f"corner crop {crop}x{crop} equals one call: {corner}; middle crop: {middle}")
        if not (corner and middle):
            raise SystemExit(1)


if __name__ == "__main__":
    main()
