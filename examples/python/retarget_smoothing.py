#!/usr/bin/env python3
"""The mesh retargeting tool's weight smoothing, ported: every skinning-weight channel of
every vertex averaged over its radius neighbours with Gaussian weights exp(-d^2/2 sigma^2),
several (Jacobi) iterations. Three implementations on the same data, timed side by side:

1. the seed: a per-vertex Python loop (a KD-tree rebuilt every iteration, one radius query
   per vertex, the weighted sum in Python) -- run on a subset of the vertices and
   extrapolated to all of them (it is the slow one; the printout says so);
2. SciPy vectorised: one cKDTree, the neighbour graph as a sparse matrix, W @ V per iteration;
3. pk.smooth_neighbors: tree + radius graph + smoothing in one polykern call.

    PYTHONPATH=build/python /usr/bin/python3 examples/python/retarget_smoothing.py --vertices 50000
"""

import argparse
import math
import time

import numpy as np
import scipy.sparse
from scipy.spatial import cKDTree

import polykern as pk


def make_mesh(n, channels, seed=0):
    """Vertices of a clothing-like surface (a wavy cylinder) and normalised bone weights."""
    rng = np.random.default_rng(seed)
    t = rng.uniform(0, 2 * np.pi, n)
    z = rng.uniform(0, 1.8, n)
    r = 0.25 + 0.03 * np.sin(5 * t) * np.cos(3 * z)
    pts = np.stack([r * np.cos(t), r * np.sin(t), z], axis=1)
    centres = np.linspace(0, 1.8, channels)
    w = np.exp(-((z[:, None] - centres[None, :]) ** 2) / 0.05) + 0.05 * rng.random((n, channels))
    w /= w.sum(axis=1, keepdims=True)
    return pts.astype(np.float64), w.astype(np.float64)


def seed_smoothing(points, weights, radius, sigma, iterations, subset, exact_steps):
    """The seed's loop, for the vertices in `subset` only. Each iteration reads the previous
    iteration's weights of all neighbours, which the full loop would have computed; they
    come from `exact_steps` (the vectorised result of every iteration), so the subset's
    values are what the seed computes."""
    out = np.empty((len(subset), weights.shape[1]))
    two_s2 = 2.0 * sigma * sigma
    for it in range(iterations):
        tree = cKDTree(points)  # the seed rebuilt its tree every iteration
        previous = exact_steps[it]
        for row, i in enumerate(subset):
            neighbours = tree.query_ball_point(points[i], radius)
            total = [0.0] * weights.shape[1]
            norm = 0.0
            for j in neighbours:
                d2 = sum((points[i][a] - points[j][a]) ** 2 for a in range(3))
                w = math.exp(-d2 / two_s2)
                norm += w
                for c in range(weights.shape[1]):
                    total[c] += w * previous[j][c]
            out[row] = [v / norm for v in total]
    return out


def scipy_graph(points, radius, sigma):
    tree = cKDTree(points)
    # every pair within radius, the point itself included (distance 0, an explicit entry)
    d = tree.sparse_distance_matrix(tree, radius, output_type="coo_matrix")
    w = scipy.sparse.csr_matrix((np.exp(-d.data ** 2 / (2 * sigma * sigma)), (d.row, d.col)), shape=d.shape)
    return w, np.asarray(w.sum(axis=1)).ravel()


def scipy_smoothing_steps(points, weights, radius, sigma, iterations):
    w, norm = scipy_graph(points, radius, sigma)
    steps = [weights]
    for _ in range(iterations):
        steps.append((w @ steps[-1]) / norm[:, None])
    return steps


def scipy_smoothing(points, weights, radius, sigma, iterations):
    return scipy_smoothing_steps(points, weights, radius, sigma, iterations)[-1]


def polykern_smoothing(points, weights, radius, sigma, iterations, policy):
    return pk.smooth_neighbors(points, weights, radius, sigma, iterations=iterations, policy=policy)


def timed(fn):
    t0 = time.perf_counter()
    r = fn()
    return time.perf_counter() - t0, r


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--vertices", type=int, default=50000)
    ap.add_argument("--channels", type=int, default=8)
    ap.add_argument("--radius", type=float, default=0.03)
    ap.add_argument("--iterations", type=int, default=3)
    ap.add_argument("--subset", type=int, default=500, help="vertices the seed's Python loop runs on")
    ap.add_argument("--policy", default="openmp", choices=pk.policies())
    args = ap.parse_args()
    sigma = args.radius / 2
    pts, w = make_mesh(args.vertices, args.channels)
    subset = np.random.default_rng(1).choice(args.vertices, min(args.subset, args.vertices), replace=False)
    print(f"{args.vertices} vertices, {args.channels} weight channels, radius {args.radius}, "
          f"sigma {sigma}, {args.iterations} iterations, policy {args.policy}")
    t_pk, got = timed(lambda: polykern_smoothing(pts, w, args.radius, sigma, args.iterations, args.policy))
    t_sp, want = timed(lambda: scipy_smoothing(pts, w, args.radius, sigma, args.iterations))
    steps = scipy_smoothing_steps(pts, w, args.radius, sigma, args.iterations)
    t_sub, seed_sub = timed(lambda: seed_smoothing(pts, w, args.radius, sigma, args.iterations, subset, steps))
    t_seed = t_sub * args.vertices / len(subset)  # the loop is linear in the vertices
    print(f"seed per-vertex Python loop  {t_seed:10.2f} s   (measured on {len(subset)} vertices: "
          f"{t_sub:.2f} s, extrapolated to {args.vertices})")
    print(f"SciPy cKDTree vectorised     {t_sp:10.3f} s   {t_seed / t_sp:8.1f}x vs seed")
    print(f"pk.smooth_neighbors          {t_pk:10.3f} s   {t_seed / t_pk:8.1f}x vs seed, "
          f"{t_sp / t_pk:.1f}x vs SciPy")
    print(f"max |polykern - SciPy| {np.abs(got - want).max():.2e}; "
          f"max |polykern - seed| on the subset {np.abs(got[subset] - seed_sub).max():.2e}; "
          f"weights still sum to 1 within {np.abs(got.sum(axis=1) - 1).max():.1e}")


if __name__ == "__main__":
    main()
