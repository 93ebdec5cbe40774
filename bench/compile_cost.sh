#!/usr/bin/env bash
# What a user's compiler pays for polykern: seconds and peak memory to compile an empty TU
# that includes each public header, a TU calling one kernel, and the every-family consumer
# with -Wall -Wextra -Wpedantic (its warning count at -O1/-O2/-O3), with GCC and clang.
# Prints a markdown table (docs/benchmarks.md, "Compile cost").
#   bash bench/compile_cost.sh [--vulkan]
set -euo pipefail
cd "$(dirname "$0")/.."
flags=(-std=c++20 -O2 -march=native -fopenmp -Iinclude -isystem /usr/include/eigen3)
label="-std=c++20 -O2 -march=native -fopenmp"
if [ "${1:-}" = "--vulkan" ]; then flags+=(-DPOLYKERN_HAS_VULKAN=1); label="$label -DPOLYKERN_HAS_VULKAN=1"; fi
compilers=(g++)
command -v clang++ >/dev/null && compilers+=(clang++)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# "wall s (CPU s), MB" of a compile, or "failed": the median of $runs runs (default 3; the
# every-family rows run once), since one run on a shared machine can be 50% off. CPU time
# (user + system) is the figure to trust on a loaded machine; wall time is what a user waits.
runs=${POLYKERN_COMPILE_RUNS:-3}
measure_n() {
  local n=$1 cxx=$2; shift 2
  : >"$tmp/runs"
  for _ in $(seq "$n"); do
    /usr/bin/time -f "%e %U %S %M" -o "$tmp/time" "$cxx" "${flags[@]}" "$@" -c -o /dev/null >"$tmp/log" 2>&1 || { printf 'failed'; return; }
    read -r s user sys kb <"$tmp/time"
    echo "$s $(echo "$user + $sys" | bc) $kb" >>"$tmp/runs"
  done
  sort -n "$tmp/runs" | sed -n "$(((n + 1) / 2))p" | { read -r s cpu kb; printf '%s s (CPU %.2f s), %d MB' "$s" "$cpu" $((kb / 1024)); }
}
measure() { measure_n "$runs" "$@"; }
echo "Compile cost ($label; $(date -u +%F), $(nproc) cores: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'))"
echo
printf '| what a user compiles |'; for c in "${compilers[@]}"; do printf ' %s |' "$("$c" --version | head -1 | sed 's/ (.*)//')"; done; echo
printf '|---|'; for _ in "${compilers[@]}"; do printf -- '---:|'; done; echo
headers=(execution view image border error affine_matrix affine convolve kdtree smooth warp polykern)
# <polykern/vulkan.hpp> exists only for the polykern::vulkan target (it #errors otherwise).
[ "${1:-}" = "--vulkan" ] && headers+=(vulkan)
for h in "${headers[@]}"; do
  [ -f "include/polykern/$h.hpp" ] || continue
  printf '#include <polykern/%s.hpp>\n' "$h" >"$tmp/$h.cpp"
  printf '| `#include <polykern/%s.hpp>` |' "$h"
  for c in "${compilers[@]}"; do printf ' %s |' "$(measure "$c" "$tmp/$h.cpp")"; done; echo
done
kernels=("" "gaussian_blur, float" "correlate 2D, float" "warp_affine, uint8" "transform_points, float" "smooth_neighbors, float")
for k in 1 2 3 4 5; do
  printf '| one call: %s |' "${kernels[$k]}"
  for c in "${compilers[@]}"; do printf ' %s |' "$(measure "$c" -DKERNEL=$k bench/compile_cost/one_kernel.cpp)"; done; echo
done
for level in -O1 -O2 -O3; do
  printf '| every family, `-Wall -Wextra -Wpedantic %s` |' "$level"
  for c in "${compilers[@]}"; do
    r=$(measure_n 1 "$c" "$level" -Wall -Wextra -Wpedantic tests/consumer/every_family.cpp)
    printf ' %s, %s warnings |' "$r" "$(grep -c 'warning:' "$tmp/log" || true)"
  done
  echo
done
