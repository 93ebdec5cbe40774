#!/usr/bin/env python3
"""Runs the polykern benchmark binaries and writes docs/benchmarks.md.

Every binary is run once with repetitions; the table reports medians, and each ratio
is taken between rows of the same run (policies and peers are rows of one binary).
Benchmark names follow docs/contributing.md: W<id>[.<variant>]/<impl>/<size>.

  python3 bench/report.py                      # all families, writes docs/benchmarks.md
  python3 bench/report.py --families affine --print   # one family, table to stdout only
"""
import argparse
import datetime
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile

FAMILIES = ["affine", "convolve", "smooth", "warp"]
POLICY_ORDER = ["scalar", "simd", "openmp", "vulkan"]

# workload -> (peer row, kind, target, what it means). kind "speedup": peer time / ours
# must be >= target; "time_ratio": our time / peer time must be <= target.
TARGETS = {
    "W1": ("peer.opencv", "speedup", 10.0, "Gaussian k201 vs cv::GaussianBlur"),
    "W2": ("peer.opencv", "speedup", 8.0, "halation vs 3x cv::GaussianBlur + sum"),
    "W3": ("peer.opencv", "speedup", 2.5, "full-rank 201x201 vs cv::filter2D"),
    "W4.3x3": ("peer.opencv", "speedup", 2.0, "3x3 vs cv::filter2D"),
    "W4.5x5": ("peer.opencv", "speedup", 2.0, "5x5 vs cv::filter2D"),
    "W4.7x7": ("peer.opencv", "speedup", 2.0, "7x7 vs cv::filter2D"),
    "W4.u8_3x3": ("peer.opencv", "speedup", 2.0, "uint8 3x3 vs cv::filter2D"),
    "W4.u8_5x5": ("peer.opencv", "speedup", 2.0, "uint8 5x5 vs cv::filter2D"),
    "W4.u8_7x7": ("peer.opencv", "speedup", 2.0, "uint8 7x7 vs cv::filter2D"),
    "W4.15x15": ("peer.opencv", "speedup", 5.0, "15x15 vs cv::filter2D"),
    "W4.rgb8_k31": ("peer.opencv", "speedup", 4.0, "RGB8 Gaussian k31 vs cv::GaussianBlur"),
    "W5.end_to_end": ("peer.nanoflann", "speedup", 4.0, "100k points smoothing vs nanoflann pipeline"),
    "W6.end_to_end": ("peer.nanoflann", "speedup", 8.0, "1M points smoothing vs nanoflann pipeline"),
    "W7": ("peer.memcpy", "time_ratio", 1.25, "transform_points vs memcpy of the same bytes"),
    "W8": ("peer.memcpy", "time_ratio", 1.5, "transform_normals vs memcpy of the same bytes"),
    "W9": ("{policy}.per_mesh", "time_ratio", 1.05, "batched call vs one call per mesh"),
    "W10.compose": ("peer.opencv", "speedup", 2.0, "compose 16 tiles vs cv::resize loop"),
    "W10.compose.area": ("peer.opencv", "speedup", 3.0, "compose 16 tiles (area) vs cv::resize INTER_AREA loop"),
    "W10.warp_affine": ("peer.opencv", "speedup", 2.0, "warp_affine 1080p vs cv::warpAffine"),
}
# The demo's tour: one headline workload per family, openmp against its peer.
HEADLINE = {
    "convolve": "^W1/(openmp|peer\\.opencv)/",
    "smooth": "^W5\\.end_to_end/(openmp|peer\\.nanoflann)/100k",
    "affine": "^W7/(openmp|peer\\.memcpy)/10M",
    "warp": "^W10\\.compose/(openmp|peer\\.opencv)/",
}
# Sections of docs/benchmarks.md that other scripts write (bench/compile_cost.sh,
# bench/python.py) or that record profiles and paired measurements: kept as they are
# when the report is regenerated.
KEPT_SECTIONS = ("## -O2 against -O3, paired", "## Issue 12", "## Compile cost", "## Python")
TARGET_POLICY = "openmp"  # performance.md: targets are for the openmp policy
# performance.md sets these targets at one size; the other sizes are listed for information.
TARGET_SIZES = {"W7": "10M", "W8": "10M", "W9": "1M"}


def run_family(binary, repetitions, min_time, extra):
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as out:
        path = out.name
    cmd = [binary, f"--benchmark_out={path}", "--benchmark_out_format=json",
           f"--benchmark_repetitions={repetitions}", "--benchmark_display_aggregates_only=true",
           f"--benchmark_min_time={min_time}"] + extra
    print("+", " ".join(cmd), file=sys.stderr, flush=True)
    subprocess.run(cmd, check=True, stdout=sys.stderr)
    with open(path) as f:
        data = json.load(f)
    os.unlink(path)
    return data


def row_groups(binary, pattern):
    """The binary's rows (after `pattern`), grouped by workload and size: one anchored
    --benchmark_filter per group, so a group can run on its own."""
    cmd = [binary, "--benchmark_list_tests"] + ([f"--benchmark_filter={pattern}"] if pattern else [])
    names = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.split()
    groups = {}
    for name in names:
        parts = re.sub(r"/(real_time|iterations:\d+|repeats:\d+|min_time:[\d.]+)", "", name).split("/")
        if len(parts) < 3:
            continue
        groups.setdefault((parts[0], "/".join(parts[2:])), []).append("/".join(parts))
    return ["^(" + "|".join(re.escape(n) for n in rows) + ")(/|$)" for rows in groups.values()]


def to_ms(entry):
    scale = {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}[entry.get("time_unit", "ns")]
    return entry["real_time"] * scale


def medians(*runs):
    """{(workload, size): {impl: ms}}: per row, the median of every repetition of `runs`
    (several runs of one binary, e.g. the rounds of an interleaved -O3/-O2 comparison)."""
    times = {}
    for data in runs:
        for b in data.get("benchmarks", []):
            if b.get("run_type") != "iteration" or b.get("error_occurred"):
                continue
            parts = b.get("run_name", b["name"]).split("/")
            if len(parts) < 3:
                continue
            workload, impl, size = parts[0], parts[1], "/".join(parts[2:])
            size = re.sub(r"/(real_time|iterations:\d+|repeats:\d+|min_time:[\d.]+)", "", size)
            times.setdefault((workload, size), {}).setdefault(impl, []).append(to_ms(b))
    return {key: {impl: statistics.median(v) for impl, v in impls.items()} for key, impls in times.items()}


def impl_key(impl):
    base = impl.split(".")[0]
    if impl.startswith("peer."):
        return (2, impl)
    return (0 if impl == base else 1, POLICY_ORDER.index(base) if base in POLICY_ORDER else 9, impl)


def baseline_for(workload, impl, impls):
    spec = TARGETS.get(workload)
    if not spec:
        return None, None
    peer = spec[0].format(policy=impl.split(".")[0])
    return (peer, spec[1]) if peer in impls and peer != impl else (None, None)


def fmt_ms(ms):
    return f"{ms:.3f}" if ms < 10 else f"{ms:.1f}"


def size_rank(size):
    m = re.match(r"([\d.]+)([kM]?)", size)
    if not m:
        return (1, size)
    return (0, float(m.group(1)) * {"": 1, "k": 1e3, "M": 1e6}[m.group(2)], size)


def tables(rows):
    out = []
    for (workload, size) in sorted(rows, key=lambda k: (k[0], size_rank(k[1]))):
        impls = rows[(workload, size)]
        peer_col = TARGETS.get(workload, (None,))[0]
        out.append(f"\n#### {workload} — {size}" + (f" ({TARGETS[workload][3]})" if workload in TARGETS else ""))
        out.append("\n| impl | median ms | vs peer | speed-up over scalar |\n|---|---:|---:|---:|")
        scalar = impls.get("scalar")
        for impl in sorted(impls, key=impl_key):
            ms = impls[impl]
            peer, kind = baseline_for(workload, impl, impls)
            if peer and kind == "speedup":
                vs = f"{impls[peer] / ms:.2f}x faster than {peer}"
            elif peer:
                vs = f"{ms / impls[peer]:.2f}x the time of {peer}"
            else:
                vs = ""
            up = f"{scalar / ms:.2f}x" if scalar and not impl.startswith("peer.") else ""
            out.append(f"| {impl} | {fmt_ms(ms)} | {vs} | {up} |")
    return "\n".join(out)


def summary(rows):
    out = ["| workload | size | openmp ms | peer ms | measured | target | met |", "|---|---|---:|---:|---:|---:|---|"]
    for (workload, size) in sorted(rows, key=lambda k: (k[0], size_rank(k[1]))):
        impls = rows[(workload, size)]
        if workload not in TARGETS or TARGET_POLICY not in impls:
            continue
        peer, kind = baseline_for(workload, TARGET_POLICY, impls)
        if not peer:
            continue
        ours, theirs = impls[TARGET_POLICY], impls[peer]
        target = TARGETS[workload][2]
        if kind == "speedup":
            value, met, text = theirs / ours, theirs / ours >= target, f"≥ {target}x"
            measured = f"{value:.2f}x faster"
        else:
            value, met, text = ours / theirs, ours / theirs <= target, f"≤ {target}x time"
            measured = f"{value:.2f}x time"
        verdict = "yes" if met else "**no**"
        if TARGET_SIZES.get(workload, size) != size:
            verdict = f"— (target set at {TARGET_SIZES[workload]})"
        out.append(f"| {workload} | {size} | {fmt_ms(ours)} | {fmt_ms(theirs)} | {measured} | {text} | {verdict} |")
    return "\n".join(out)


def o2_table(o3_rows, o2_rows):
    """-O2 time over -O3 time for every row both builds ran (target: <= 1.15)."""
    out = ["| row | -O3 ms | -O2 ms | -O2 / -O3 |", "|---|---:|---:|---:|"]
    worst = 0.0
    for (workload, size) in sorted(o3_rows, key=lambda k: (k[0], size_rank(k[1]))):
        for impl in sorted(o3_rows[(workload, size)], key=impl_key):
            if impl.startswith("peer.") or impl not in o2_rows.get((workload, size), {}):
                continue
            a, b = o3_rows[(workload, size)][impl], o2_rows[(workload, size)][impl]
            worst = max(worst, b / a)
            flag = "" if b / a <= 1.15 else " **over 1.15**"
            out.append(f"| {workload}/{impl}/{size} | {fmt_ms(a)} | {fmt_ms(b)} | {b / a:.2f}{flag} |")
    out.append(f"\nWorst row: {worst:.2f}x.")
    return "\n".join(out)


def kept_sections(path):
    """The KEPT_SECTIONS of an existing report, each up to the next '## ' heading."""
    try:
        with open(path) as f:
            text = f.read()
    except OSError:
        return []
    sections, current = [], None
    for line in text.splitlines(keepends=True):
        if line.startswith("## "):
            current = [line] if line.startswith(KEPT_SECTIONS) else None
            if current is not None:
                sections.append(current)
        elif current is not None:
            current.append(line)
    return ["".join(s) for s in sections]


def chart(rows, svg_path):
    """Speed-up of each policy over scalar, largest size of each workload (gnuplot SVG)."""
    if not shutil.which("gnuplot"):
        return False
    largest = {}
    for (workload, size) in rows:
        if "scalar" in rows[(workload, size)]:
            if workload not in largest or size_rank(size) > size_rank(largest[workload]):
                largest[workload] = size
    policies = [p for p in POLICY_ORDER[1:] if any(p in rows[(w, s)] for w, s in largest.items())]
    if not largest or not policies:
        return False
    with tempfile.NamedTemporaryFile("w", suffix=".dat", delete=False) as dat:
        for workload in sorted(largest):
            impls = rows[(workload, largest[workload])]
            values = [f"{impls['scalar'] / impls[p]:.3f}" if p in impls else "0" for p in policies]
            dat.write(f"\"{workload}\\n{largest[workload]}\" " + " ".join(values) + "\n")
        dat_path = dat.name
    plots = ", ".join(f"'{dat_path}' using {i + 2}:xtic(1) title '{p}'" for i, p in enumerate(policies))
    script = f"""set terminal svg size 1000,420 dynamic font 'sans,11'
set output '{svg_path}'
set style data histograms
set style histogram cluster gap 1
set style fill solid 0.85 border -1
set logscale y 2
set grid ytics
set ylabel 'speed-up over exec::scalar (log2)'
set key top left
set xtics font 'sans,9'
plot {plots}
"""
    subprocess.run(["gnuplot"], input=script, text=True, check=True)
    os.unlink(dat_path)
    return True


def machine(build):
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(l.split(":", 1)[1].strip() for l in f if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    mem = ""
    try:
        with open("/proc/meminfo") as f:
            mem = f"{int(f.readline().split()[1]) / 2**20:.0f} GiB"
    except OSError:
        pass
    compiler = subprocess.run(["c++", "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    device = "none"
    probe = os.path.join(build, "tests", "test_core")
    if os.path.exists(probe):
        first = subprocess.run([probe, "--gtest_filter=Border.DocumentedPatterns"], capture_output=True,
                               text=True).stdout.splitlines()
        device = next((l.split(":", 1)[1].strip() for l in first if l.startswith("Vulkan device:")), device)
    return f"{cpu}, {os.cpu_count()} logical cores, {mem}; {platform.platform()}; {compiler}; Vulkan: {device}"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default="build/release", help="CMake build directory (Release)")
    ap.add_argument("--families", default=",".join(FAMILIES))
    ap.add_argument("--repetitions", type=int, default=5)
    ap.add_argument("--min-time", default="0.2")
    ap.add_argument("--filter", default="", help="--benchmark_filter passed to every binary")
    ap.add_argument("--print", action="store_true", help="print the tables; do not write docs/")
    ap.add_argument("--headline", action="store_true", help="only the demo's headline row of each family")
    ap.add_argument("--o2-build", default="", help="a second build of the same benchmarks at -O2: adds an -O2 vs -O3 table")
    ap.add_argument("--rounds", type=int, default=2, help="with --o2-build: interleaved -O3/-O2 rounds per family")
    ap.add_argument("--interleave", choices=["family", "group"], default="family",
                    help="with --o2-build: alternate the builds per family run, or per workload and size")
    ap.add_argument("--out", default="docs/benchmarks.md")
    args = ap.parse_args()

    rows = {}
    o2_rows = {}
    ran = []
    for family in args.families.split(","):
        binary = os.path.join(args.build, "bench", f"bench_{family}")
        if not os.path.exists(binary):
            print(f"report: {binary} not built, skipped", file=sys.stderr)
            continue
        pattern = HEADLINE.get(family, "") if args.headline else args.filter
        if args.headline and not pattern:
            continue
        extra = [f"--benchmark_filter={pattern}"] if pattern else []
        o2_binary = os.path.join(args.o2_build, "bench", f"bench_{family}") if args.o2_build else ""
        if o2_binary and os.path.exists(o2_binary):
            # Interleaved rounds, -O3 then -O2, so that the two builds see the same drift
            # of a shared machine; each row's median is over every round's repetitions.
            o3_runs, o2_runs = [], []
            if args.interleave == "group":
                # Alternate per workload and size, not per family: a family takes minutes,
                # long enough for the machine's speed to drift between the two builds.
                for group in row_groups(binary, pattern):
                    for _ in range(args.rounds):
                        o3_runs.append(run_family(binary, args.repetitions, args.min_time, [f"--benchmark_filter={group}"]))
                        o2_runs.append(run_family(o2_binary, args.repetitions, args.min_time, [f"--benchmark_filter={group}"]))
            else:
                for _ in range(args.rounds):
                    o3_runs.append(run_family(binary, args.repetitions, args.min_time, extra))
                    o2_runs.append(run_family(o2_binary, args.repetitions, args.min_time, extra))
            rows.update(medians(*o3_runs))
            o2_rows.update(medians(*o2_runs))
        else:
            rows.update(medians(run_family(binary, args.repetitions, args.min_time, extra)))
        ran.append(family)
    if not rows:
        sys.exit("report: no benchmark results")

    body = "## Targets (openmp policy vs peer, same run)\n\n" + summary(rows)
    if o2_rows:
        body += "\n\n## Targets at -O2 (the same rows built with -O2)\n\n" + summary(o2_rows)
        body += "\n\n## -O2 against -O3 (every row of both builds)\n\n" + o2_table(rows, o2_rows)
    if args.headline:
        print(body)
        return
    body += "\n\n## All rows\n" + tables(rows)
    if args.print:
        print(body)
        return
    svg = os.path.join(os.path.dirname(args.out), "images", "speedup.svg")
    os.makedirs(os.path.dirname(svg), exist_ok=True)
    has_chart = chart(rows, svg)
    when = datetime.date.today().isoformat()
    env = "OMP_WAIT_POLICY=" + os.environ["OMP_WAIT_POLICY"] + " " if "OMP_WAIT_POLICY" in os.environ else ""
    command = f"{env}python3 bench/report.py --build {args.build} --families {','.join(ran)} --repetitions {args.repetitions} --min-time {args.min_time}"
    if args.o2_build:
        command += f" --o2-build {args.o2_build} --rounds {args.rounds} --interleave {args.interleave}"
    if args.filter:
        command += f" --filter='{args.filter}'"
    per = "each workload and size" if args.interleave == "group" else "each family"
    rounds_text = (f" in each of {args.rounds} rounds that alternate the -O3 and the -O2 binary for {per}"
                   if args.o2_build else "")
    kept = kept_sections(args.out)
    with open(args.out, "w") as f:
        f.write(f"""# Benchmarks

Generated by `bench/report.py` on {when}. Do not edit by hand: rerun it.

- **Machine:** {machine(args.build)}
- **Command:** `bash examples/demo.sh` builds everything; then `{command}`
- Medians of {args.repetitions} repetitions{rounds_text}; every ratio is between rows of the same run
  (policies and peers are rows of one Google Benchmark binary). The shared 2-core machines
  drift in absolute time; the ratios are what to compare.

{body}
""")
        if has_chart:
            f.write("\n## Speed-up over the scalar policy\n\n![speed-up chart](images/speedup.svg)\n")
        for section in kept:
            f.write("\n" + section.rstrip() + "\n")
    print(f"report: wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
