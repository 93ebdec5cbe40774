#!/usr/bin/env bash
# Builds and runs every test: installs what is missing, then the whole suite twice —
# Release (with the Vulkan cases once more under the validation layer, the package
# consumers and the examples' end-to-end tests), and ASan+UBSan.
# Vulkan runs on Mesa's lavapipe when CI=true (or POLYKERN_TEST_LAVAPIPE=1); elsewhere
# on the best device the loader finds.
set -euo pipefail
cd "$(dirname "$0")/.."
bash .ci/bootstrap

lavapipe=/usr/share/vulkan/icd.d/lvp_icd.x86_64.json
if [ "${CI:-}" = "true" ] || [ "${POLYKERN_TEST_LAVAPIPE:-0}" = "1" ]; then
  export VK_DRIVER_FILES=$lavapipe VK_ICD_FILENAMES=$lavapipe
fi
jobs=$(nproc)
build=${POLYKERN_BUILD_DIR:-build}

echo "== Release =="
# The default generator (Make), as a user types it: `cmake -S . -B build && cmake --build build`.
# A folder configured earlier with another generator cannot be reused: start it afresh.
if [ -f "$build/release/CMakeCache.txt" ] && ! grep -q '^CMAKE_GENERATOR:INTERNAL=Unix Makefiles$' "$build/release/CMakeCache.txt"; then
  rm -rf "$build/release"
fi
cmake -S . -B "$build/release" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build/release" -j "$jobs"
ctest --test-dir "$build/release" --output-on-failure -j "$jobs"

echo "== ASan + UBSan =="
# The driver (lavapipe's LLVM JIT) keeps allocations for the process lifetime: those are
# not our leaks, and the suppressions file names only the driver's libraries.
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:check_initialization_order=1
export LSAN_OPTIONS=suppressions=$PWD/tests/lsan.supp:print_suppressions=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
cmake -S . -B "$build/asan" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g" \
  -DPOLYKERN_SANITIZE=ON -DPOLYKERN_BUILD_PYTHON=OFF -DPOLYKERN_BUILD_BENCH=OFF -DPOLYKERN_BUILD_EXAMPLES=OFF >/dev/null
cmake --build "$build/asan" -j "$jobs"
ctest --test-dir "$build/asan" --output-on-failure -j "$jobs" -L unit

# Issue 11: every libFuzzer harness for a bounded time, then TSan over the openmp cases
# (both scripts fail with a clear message when clang 14 / libFuzzer / libomp are missing).
bash tests/fuzz/run.sh "${POLYKERN_FUZZ_SECONDS:-60}"
POLYKERN_TSAN_TESTS=${POLYKERN_TSAN_TESTS:-affine smooth warp} bash tests/tsan.sh
