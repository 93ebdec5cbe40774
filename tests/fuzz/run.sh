#!/usr/bin/env bash
# Builds the libFuzzer harnesses (tests/fuzz/fuzz_*.cpp) with clang and runs each for
# SECONDS (argument, else $POLYKERN_FUZZ_SECONDS, else 60) from its committed seed corpus
# (tests/fuzz/corpus/<harness>/). New inputs go to $build/fuzz/corpus/<harness>/, crashes to
# $build/fuzz/crash-<harness>-*; the script fails if any harness finds one.
#   POLYKERN_FUZZ_HARNESSES="affine warp"  only these
#   POLYKERN_FUZZ_VULKAN=1                 also run exec::vulkan (lavapipe), small shapes
# Reproduce a crash: $build/fuzz/fuzz_<harness> <crash file>   (docs/reliability.md)
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-${POLYKERN_FUZZ_SECONDS:-60}}
cxx=${POLYKERN_FUZZ_CXX:-clang++-14}
if ! command -v "$cxx" >/dev/null 2>&1; then
  echo "tests/fuzz/run.sh: $cxx not found; the fuzzers need clang 14 and libFuzzer (Debian: clang-14 libclang-rt-14-dev libomp-14-dev)" >&2
  exit 1
fi
out=${POLYKERN_BUILD_DIR:-build}/fuzz
mkdir -p "$out"
read -r -a harnesses <<<"${POLYKERN_FUZZ_HARNESSES:-affine warp smooth convolve kdtree}"
flags=(-std=c++20 -O1 -g -march=native -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined
       -fno-sanitize-recover=all -fopenmp -Wall -Wextra -Wpedantic -Iinclude -I/usr/include/eigen3)
libs=()
if [ "${POLYKERN_FUZZ_VULKAN:-0}" = "1" ]; then
  flags+=(-DPOLYKERN_HAS_VULKAN=1)
  libs+=(-lvulkan)
  lavapipe=/usr/share/vulkan/icd.d/lvp_icd.x86_64.json
  export VK_DRIVER_FILES=$lavapipe VK_ICD_FILENAMES=$lavapipe
  out=$out/vulkan
  mkdir -p "$out"
fi

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export LSAN_OPTIONS=suppressions=$PWD/tests/lsan.supp:print_suppressions=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export OMP_WAIT_POLICY=passive

failed=()
for h in "${harnesses[@]}"; do
  bin=$out/fuzz_$h
  src=tests/fuzz/fuzz_$h.cpp
  # Rebuild when the harness or any header is newer than the binary.
  if [ ! -x "$bin" ] || [ -n "$(find "$src" tests/fuzz/common.hpp include -newer "$bin" -print -quit)" ]; then
    echo "== building fuzz_$h =="
    start=$SECONDS
    "$cxx" "${flags[@]}" "$src" -o "$bin" "${libs[@]}"
    echo "fuzz_$h built in $((SECONDS - start)) s"
  fi
  work=$out/corpus/$h
  mkdir -p "$work"
  echo "== fuzz_$h for $seconds s =="
  if ! "$bin" -max_total_time="$seconds" -max_len=4096 -timeout=120 -rss_limit_mb=4096 -print_final_stats=1 \
      -artifact_prefix="$out/crash-$h-" "$work" "tests/fuzz/corpus/fuzz_$h" >"$out/$h.log" 2>&1; then
    failed+=("$h")
    tail -n 60 "$out/$h.log"
  fi
  grep -E "^stat::(number_of_executed_units|average_exec_per_sec|new_units_added)|^Done|cov: " "$out/$h.log" | tail -n 4
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "tests/fuzz/run.sh: crashes in ${failed[*]} (inputs: $out/crash-*)" >&2
  exit 1
fi
echo "tests/fuzz/run.sh: ${#harnesses[@]} harnesses, $seconds s each, no crash"
