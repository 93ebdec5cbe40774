#!/usr/bin/env bash
# ThreadSanitizer run of the OpenMP test cases (tests/test_*.cpp filtered to *openmp*).
#
# GCC's libgomp is not instrumented, so TSan cannot see its barriers and reports false
# races on every parallel region. This build uses clang with LLVM's OpenMP runtime
# (libomp) and its Archer tool (libarcher.so, loaded through OMPT), which tells TSan about
# every OpenMP synchronisation; TSan ignores the uninstrumented runtime's own accesses.
# No suppression file: any report is about our code and fails the run.
#   POLYKERN_TSAN_TESTS="affine smooth"   only these test binaries
set -euo pipefail
cd "$(dirname "$0")/.."
cxx=${POLYKERN_TSAN_CXX:-clang++-14}
archer=${POLYKERN_ARCHER:-/usr/lib/llvm-14/lib/libarcher.so}
if ! command -v "$cxx" >/dev/null 2>&1 || [ ! -f "$archer" ]; then
  echo "tests/tsan.sh: needs $cxx and $archer (Debian: clang-14 libomp-14-dev)" >&2
  exit 1
fi
build=${POLYKERN_BUILD_DIR:-build}/tsan
read -r -a tests <<<"${POLYKERN_TSAN_TESTS:-affine convolve smooth warp}"
jobs=$(nproc)

# Vulkan off: the device path has no OpenMP, and lavapipe's threads are not ours.
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_COMPILER="$cxx" \
  -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g -fsanitize=thread -fno-omit-frame-pointer" \
  -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=thread" -DPOLYKERN_WITH_VULKAN=OFF \
  -DPOLYKERN_BUILD_BENCH=OFF -DPOLYKERN_BUILD_EXAMPLES=OFF >/dev/null
start=$SECONDS
cmake --build "$build" -j "$jobs" --target "${tests[@]/#/test_}"
echo "tests/tsan.sh: built in $((SECONDS - start)) s"

export OMP_TOOL_LIBRARIES=$archer
export TSAN_OPTIONS="halt_on_error=1 exitcode=66 ignore_noninstrumented_modules=1 second_deadlock_stack=1"
export ARCHER_OPTIONS="verbose=1"  # prints that Archer is active
export OMP_WAIT_POLICY=passive
# The tests pick team sizes 1..3 themselves; OMP_NUM_THREADS=3 sets the default team.
for t in "${tests[@]}"; do
  echo "== test_$t --gtest_filter=*openmp* =="
  start=$SECONDS
  OMP_NUM_THREADS=3 "$build/tests/test_$t" --gtest_filter='*openmp*' --gtest_brief=1
  echo "test_$t under TSan: $((SECONDS - start)) s"
done
echo "tests/tsan.sh: no ThreadSanitizer report in ${tests[*]}"
