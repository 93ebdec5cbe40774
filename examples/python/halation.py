#!/usr/bin/env python3
"""The film-emulation app's halation, ported: each colour channel blurred with three
Gaussians and summed, 0.5*G(61, sigma 8) + 0.3*G(121, sigma 16) + 0.2*G(151, sigma 32).

The seed did it with three cv2.GaussianBlur calls and a NumPy sum; polykern does it as one
correlate with the summed 151x151 kernel (rank 3: 'automatic' runs three separable passes
summed in one block, rounded once), or as three gaussian_blur calls. Prints each
approach's time (median of --repeat runs) and the largest difference to the seed's result.

    PYTHONPATH=build/python /usr/bin/python3 examples/python/halation.py photo.jpg --policy openmp
    (no image: a synthetic 3000x2000 one)
"""

import argparse
import statistics
import time

import cv2
import numpy as np

import polykern as pk

TERMS = [(61, 8.0, 0.5), (121, 16.0, 0.3), (151, 32.0, 0.2)]  # (ksize, sigma, weight)
BORDER = "reflect101"  # cv2.GaussianBlur's default (BORDER_REFLECT_101)


def seed_halation(img):
    """The seed's own approach: three cv2.GaussianBlur and a weighted sum."""
    out = np.zeros_like(img)
    for ksize, sigma, weight in TERMS:
        out += weight * cv2.GaussianBlur(img, (ksize, ksize), sigma)
    return out


def halation_kernel():
    """The three weighted Gaussians as one 151x151 kernel (each centred)."""
    size = max(k for k, _, _ in TERMS)
    kernel = np.zeros((size, size), np.float64)
    for ksize, sigma, weight in TERMS:
        g = pk.gaussian_kernel(ksize, sigma).astype(np.float64)
        o = (size - ksize) // 2
        kernel[o:o + ksize, o:o + ksize] += weight * np.outer(g, g)
    return kernel.astype(np.float32)


def polykern_halation(img, policy, kernel=None, out=None):
    """One polykern call: correlate with the summed kernel (automatic: low rank, r = 3)."""
    kernel = halation_kernel() if kernel is None else kernel
    return pk.correlate(img, kernel, border=BORDER, out=out, policy=policy)


def polykern_three_blurs(img, policy):
    """Three gaussian_blur calls and the sum, as the seed but on polykern."""
    out = np.zeros_like(img)
    tmp = np.empty_like(img)
    for ksize, sigma, weight in TERMS:
        pk.gaussian_blur(img, sigma, 0.0, ksize, border=BORDER, out=tmp, policy=policy)
        out += weight * tmp
    return out


def median_time(fn, repeat):
    times = []
    result = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def load(path, width, height):
    if path:
        img = cv2.imread(path, cv2.IMREAD_COLOR)
        if img is None:
            raise SystemExit(f"halation.py: cannot read {path}")
        return img.astype(np.float32) / 255.0
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    img = np.stack([0.5 + 0.5 * np.sin(x / 37 + c) * np.cos(y / 53 - c) for c in range(3)], axis=-1)
    img[rng.random((height, width)) > 0.999] = 1.0  # bright specks: what halation spreads
    return img.astype(np.float32)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("image", nargs="?", help="an image file cv2 can read (default: synthetic)")
    ap.add_argument("--policy", default="openmp", choices=pk.policies())
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--size", default="3000x2000", help="synthetic image WIDTHxHEIGHT")
    ap.add_argument("--output", help="write the halation layer here (8-bit)")
    args = ap.parse_args()
    w, h = (int(v) for v in args.size.split("x"))
    img = load(args.image, w, h)
    print(f"image {img.shape[1]}x{img.shape[0]}x{img.shape[2]} float32, policy {args.policy}")
    t_seed, want = median_time(lambda: seed_halation(img), args.repeat)
    kernel = halation_kernel()
    out = np.empty_like(img)
    t_pk, got = median_time(lambda: polykern_halation(img, args.policy, kernel, out), args.repeat)
    t_three, three = median_time(lambda: polykern_three_blurs(img, args.policy), args.repeat)
    print(f"seed (3x cv2.GaussianBlur + sum)   {t_seed * 1e3:9.1f} ms")
    print(f"polykern correlate (one call)      {t_pk * 1e3:9.1f} ms  {t_seed / t_pk:5.2f}x  "
          f"max |diff| {np.abs(got - want).max():.2e}")
    print(f"polykern 3x gaussian_blur + sum    {t_three * 1e3:9.1f} ms  {t_seed / t_three:5.2f}x  "
          f"max |diff| {np.abs(three - want).max():.2e}")
    if args.output:
        cv2.imwrite(args.output, np.clip(got * 255 + 0.5, 0, 255).astype(np.uint8))


if __name__ == "__main__":
    main()
