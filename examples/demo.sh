#!/usr/bin/env bash
# The demo — a tour of polykern in about two minutes (after the build):
#   1. one headline workload per family against the peer a user would otherwise call
#      (W1 Gaussian k201 vs cv::GaussianBlur, W5 neighbour smoothing vs nanoflann,
#      W7 point transforms vs memcpy, W10 compose vs a cv::resize loop), openmp policy;
#   2. the film app's halation on a photo (docs/images/halation_before.jpg);
#   3. a short grid video composed by polykern and encoded by ffmpeg;
#   and prints where each landed. `--all` instead benchmarks every row of every family
#   and regenerates docs/benchmarks.md.
set -euo pipefail
cd "$(dirname "$0")/.."
bash .ci/bootstrap
build=${POLYKERN_BUILD_DIR:-build}/release
out=${POLYKERN_DEMO_DIR:-build/demo}
mkdir -p "$out"
# OpenMP's idle threads must not spin on the cores OpenCV's peer rows run on.
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
if [ -f "$build/CMakeCache.txt" ] && ! grep -q '^CMAKE_GENERATOR:INTERNAL=Unix Makefiles$' "$build/CMakeCache.txt"; then
  rm -rf "$build"  # configured earlier with another generator
fi
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
if [ "${1:-}" = "--all" ]; then
  cmake --build "$build" -j "$(nproc)"
  python3 bench/report.py --build "$build"
  exit 0
fi
echo "== building the benchmarks and examples (Release) =="
cmake --build "$build" -j "$(nproc)" --target bench_convolve bench_smooth bench_affine bench_warp halation grid_video

echo "== 1. one headline workload per family, against its peer (openmp policy, $(nproc) threads) =="
python3 bench/report.py --build "$build" --print --headline --repetitions 3 --min-time 0.1 2>"$out/bench.log" \
  | tee "$out/headline.md"

echo
echo "== 2. halation (three Gaussians per channel, 61/121/151 taps) on a photo =="
"$build/examples/halation/halation" docs/images/halation_before.jpg "$out/halation_after.jpg" --policy openmp
echo "   picture: $out/halation_after.jpg (before: docs/images/halation_before.jpg)"

echo
echo "== 3. a grid video: 16 tiles sliding across a 1080p canvas, 3 s at 30 fps, libx264 =="
"$build/examples/grid_video/grid_video" --synthetic 16 --grid 4x4 --duration 3 --fps 30 --policy openmp \
  --output "$out/grid.mp4"
echo "   video: $out/grid.mp4"

echo
echo "== where each landed =="
grep -E '^\| W' "$out/headline.md" | sed 's/^/  /' || true
echo "  halation picture: $out/halation_after.jpg"
echo "  grid video:       $out/grid.mp4 ($(du -h "$out/grid.mp4" | cut -f1))"
echo "  every row of every family: bash examples/demo.sh --all (writes docs/benchmarks.md)"
