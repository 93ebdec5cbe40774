#!/usr/bin/env bash
# The demo: installs what is missing, builds in Release, and prints the benchmark
# tables of every policy next to its peers (point transforms against memcpy, Eigen and
# cv::transform; more families as they are built). Pass --all to benchmark every family
# and regenerate docs/benchmarks.md instead of printing.
set -euo pipefail
cd "$(dirname "$0")/.."
bash .ci/bootstrap
build=${POLYKERN_BUILD_DIR:-build}/release
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j "$(nproc)"
if [ "${1:-}" = "--all" ]; then
  python3 bench/report.py --build "$build"
else
  python3 bench/report.py --build "$build" --families affine --repetitions 3 --min-time 0.1 --print
fi
