#!/usr/bin/env python3
"""polykern through Python: call overhead, W1 against the C++ benchmark, the two seed
ports against polykern, and polykern.dask on a local cluster against one call.
Prints a Markdown table (medians of --repeat runs). Run with OMP_WAIT_POLICY=passive on a
shared machine (the script sets it when unset, before polykern loads OpenMP):

    PYTHONPATH=build/python /usr/bin/python3 bench/python.py --build build
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

os.environ.setdefault("OMP_WAIT_POLICY", "passive")

import numpy as np  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "examples", "python"))

import polykern as pk  # noqa: E402
import halation  # noqa: E402
import retarget_smoothing as retarget  # noqa: E402


def median_s(fn, repeat, warmup=1):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def call_overhead(calls=20000):
    one = np.zeros((1, 1), np.float32)
    out = np.zeros((1, 1), np.float32)
    k = np.ones((1, 1), np.float32)
    rows = []
    for name, fn in [("baseline: numpy np.add 1x1, out=", lambda: np.add(one, one, out=out)),
                     ("gaussian_blur 1x1, scalar, out=", lambda: pk.gaussian_blur(one, 1.0, out=out, policy="scalar")),
                     ("correlate 1x1 (kernel 1x1), scalar", lambda: pk.correlate(one, k, policy="scalar")),
                     ("transform_points 1 point, scalar",
                      lambda p=np.zeros((1, 3)), m=np.eye(4): pk.transform_points(p, m, policy="scalar"))]:
        per = []
        for _ in range(5):
            t0 = time.perf_counter()
            for _ in range(calls):
                fn()
            per.append((time.perf_counter() - t0) / calls)
        rows.append((f"call overhead: {name}", statistics.median(per) * 1e6, "µs per call", "goal <= 5 µs"))
    return rows


def cpp_w1(build):
    exe = os.path.join(build, "bench", "bench_convolve")
    if not os.path.exists(exe):
        return None, f"{exe} not built"
    r = subprocess.run([exe, "--benchmark_filter=^W1/openmp/2000x3000", "--benchmark_repetitions=5",
                        "--benchmark_report_aggregates_only=true", "--benchmark_format=json"],
                       capture_output=True, text=True, env=dict(os.environ, OMP_WAIT_POLICY="passive"))
    try:
        data = json.loads(r.stdout)
    except json.JSONDecodeError:
        return None, "bench_convolve failed: " + r.stderr[-200:]
    for b in data["benchmarks"]:
        if b.get("aggregate_name") == "median":
            scale = {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}[b["time_unit"]]
            return b["real_time"] * scale, b["name"]
    return None, "no median row"


def w1(repeat, build):
    numpy_img = np.random.default_rng(0).random((3000, 2000), dtype=np.float32)  # NumPy: 16-byte aligned
    img = pk.empty(numpy_img.shape)  # 64-byte aligned, as the C++ benchmark's polykern::image
    img[...] = numpy_img
    out = pk.empty(img.shape)

    def blur(src, dst):
        return pk.gaussian_blur(src, 201 / 6, 0.0, 201, border="reflect", out=dst, policy="openmp")

    t_numpy = median_s(lambda: blur(numpy_img, np.empty_like(numpy_img)), repeat)
    t = median_s(lambda: blur(img, out), repeat)
    cpp, what = cpp_w1(build)
    rows = [("W1 gaussian_blur 2000x3000 f32 k201 reflect, openmp, Python, pk.empty arrays", t * 1e3, "ms", ""),
            ("W1 the same on np.empty arrays (16-byte aligned)", t_numpy * 1e3, "ms", f"{t_numpy / t:.2f}x")]
    if cpp is None:
        rows.append(("W1 C++ (bench_convolve)", float("nan"), "ms", what))
    else:
        rows.append((f"W1 C++ ({what})", cpp, "ms", f"Python / C++ = {t * 1e3 / cpp:.3f}"))
    return rows


def halation_rows(repeat, policy):
    img = halation.load(None, 3000, 2000)
    kernel = halation.halation_kernel()
    out = np.empty_like(img)
    t_seed = median_s(lambda: halation.seed_halation(img), repeat)
    t_pk = median_s(lambda: halation.polykern_halation(img, policy, kernel, out), repeat)
    t_three = median_s(lambda: halation.polykern_three_blurs(img, policy), repeat)
    return [("halation 3000x2000x3: seed (3x cv2.GaussianBlur + sum)", t_seed * 1e3, "ms", ""),
            (f"halation: pk.correlate summed kernel, {policy}", t_pk * 1e3, "ms", f"{t_seed / t_pk:.2f}x vs seed"),
            (f"halation: 3x pk.gaussian_blur + sum, {policy}", t_three * 1e3, "ms", f"{t_seed / t_three:.2f}x vs seed")]


def retarget_rows(repeat, policy, vertices=50000, subset=300):
    radius, iterations = 0.03, 3
    sigma = radius / 2
    pts, w = retarget.make_mesh(vertices, 8)
    steps = retarget.scipy_smoothing_steps(pts, w, radius, sigma, iterations)
    sub = np.random.default_rng(1).choice(vertices, subset, replace=False)
    t0 = time.perf_counter()
    retarget.seed_smoothing(pts, w, radius, sigma, iterations, sub, steps)
    t_seed = (time.perf_counter() - t0) * vertices / subset
    t_sp = median_s(lambda: retarget.scipy_smoothing(pts, w, radius, sigma, iterations), repeat)
    t_pk = median_s(lambda: retarget.polykern_smoothing(pts, w, radius, sigma, iterations, policy), repeat)
    name = f"retarget {vertices} vertices x 8 channels, 3 iterations"
    return [(f"{name}: seed Python loop (extrapolated from {subset})", t_seed * 1e3, "ms", ""),
            (f"{name}: SciPy cKDTree vectorised", t_sp * 1e3, "ms", f"{t_seed / t_sp:.0f}x vs seed"),
            (f"{name}: pk.smooth_neighbors, {policy}", t_pk * 1e3, "ms",
             f"{t_seed / t_pk:.0f}x vs seed, {t_sp / t_pk:.1f}x vs SciPy")]


def dask_rows(repeat, size=4000, chunk=1000, sigma=8.0):
    import dask.array as da
    from dask.distributed import Client, LocalCluster
    from dask.distributed import wait as distributed_wait
    import polykern.dask as pkd

    img = np.random.default_rng(0).random((size, size), dtype=np.float32)
    t_one = median_s(lambda: pk.gaussian_blur(img, sigma, policy="openmp"), repeat)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                      silence_logs=40) as cluster, Client(cluster) as client:
        # made on the workers (da.from_array would ship the whole NumPy array inside the graph)
        d = da.random.RandomState(0).random_sample((size, size), chunks=chunk).astype(np.float32).persist()
        distributed_wait(d)
        blurred = pkd.gaussian_blur(d, sigma, policy="simd")
        t_dask = median_s(lambda: blurred.sum(dtype=np.float64).compute(), repeat)
    local = pkd.gaussian_blur(da.from_array(img, chunks=chunk), sigma, policy="simd")
    t_threads = median_s(lambda: local.sum(dtype=np.float64).compute(scheduler="threads"), repeat)
    mpix = size * size / 1e6
    return [(f"dask: one pk.gaussian_blur {size}x{size} f32 sigma {sigma}, openmp", t_one * 1e3, "ms",
             f"{mpix / t_one:.0f} Mpixel/s"),
            (f"dask: polykern.dask, chunks {chunk}, LocalCluster 2 workers x simd", t_dask * 1e3, "ms",
             f"{mpix / t_dask:.0f} Mpixel/s, {t_dask / t_one:.2f}x the one call"),
            (f"dask: polykern.dask, chunks {chunk}, threaded scheduler x simd", t_threads * 1e3, "ms",
             f"{mpix / t_threads:.0f} Mpixel/s, {t_threads / t_one:.2f}x the one call")]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default="build", help="the CMake build folder (for bench/bench_convolve)")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--policy", default="openmp")
    ap.add_argument("--skip", default="", help="comma-separated: overhead,w1,halation,retarget,dask")
    args = ap.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    rows = []
    if "overhead" not in skip:
        rows += call_overhead()
    if "w1" not in skip:
        rows += w1(args.repeat, args.build)
    if "halation" not in skip:
        rows += halation_rows(args.repeat, args.policy)
    if "retarget" not in skip:
        rows += retarget_rows(args.repeat, args.policy)
    if "dask" not in skip:
        rows += dask_rows(args.repeat)
    print(f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')}, {os.cpu_count()} CPUs, "
          f"medians of {args.repeat}\n")
    print("| workload | time | unit | note |\n|---|---:|---|---|")
    for name, value, unit, note in rows:
        print(f"| {name} | {value:.2f} | {unit} | {note} |")


if __name__ == "__main__":
    main()
