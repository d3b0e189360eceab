#!/usr/bin/env bash
# Runs every libFuzzer target of tests/fuzz for SECONDS each (default 60) and prints a table:
# target, executions, exec/s, crashes. docs/reliability.md has the results and what they cover.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]      (no TARGET: all of them)
#
# Builds build/fuzz (the `fuzz` preset: clang, ASan + UBSan) when needed. Each target starts from
# its seed corpus tests/fuzz/corpus/<target>/ (read only) and a scratch corpus outside the repo,
# where new interesting inputs go; crash inputs are saved under the scratch folder. Environment:
#   HDV_FUZZ_SCRATCH  scratch folder (default: ~/.cache/hdvila/fuzz)
#   HDV_FUZZ_JOBS     build jobs (default: 2)
# Exit status: 0 when no target crashed, 1 when one did (the table names the crash files), 2 usage.
set -euo pipefail

usage() { echo "usage: scripts/fuzz.sh [SECONDS] [TARGET...]" >&2; exit 2; }
root=$(cd "$(dirname "$0")/.." && pwd)
seconds=60
if [[ $# -gt 0 && $1 =~ ^[0-9]+$ ]]; then seconds=$1; shift; fi
[[ $seconds -ge 1 ]] || usage
for arg in "$@"; do [[ $arg == -* ]] && usage; done
all_targets=$(sed -n '/^set(HDV_FUZZ_TARGETS/,/)/p' "$root/tests/fuzz/CMakeLists.txt" | tr -d '()' |
  sed 's/set\s*HDV_FUZZ_TARGETS//' | tr -s ' \n' ' ')
targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || read -r -a targets <<< "$all_targets"
for t in "${targets[@]}"; do
  [[ " $all_targets " == *" $t "* ]] || { echo "error: unknown target \"$t\" (targets: $all_targets)" >&2; exit 2; }
done

scratch=${HDV_FUZZ_SCRATCH:-$HOME/.cache/hdvila/fuzz}
build=$root/build/fuzz
if [[ ! -f $build/CMakeCache.txt ]]; then
  (cd "$root" && cmake --preset fuzz >/dev/null)
fi
fuzzers=()
for t in "${targets[@]}"; do fuzzers+=("fuzz_$t"); done
echo "building ${fuzzers[*]} in $build" >&2
cmake --build "$build" -j "${HDV_FUZZ_JOBS:-2}" --target "${fuzzers[@]}" >&2

stamp=$(date +%Y%m%d-%H%M%S)
printf '%-12s %12s %8s %8s  %s\n' target executions exec/s crashes "crash files"
crashed=0
for t in "${targets[@]}"; do
  corpus=$scratch/corpus/$t
  crashes=$scratch/crashes/$t/$stamp
  mkdir -p "$corpus" "$crashes"
  dict=()
  [[ -f $root/tests/fuzz/$t.dict ]] && dict=(-dict="$root/tests/fuzz/$t.dict")
  log=$scratch/logs/$t-$stamp.log
  mkdir -p "$(dirname "$log")"
  # The first corpus folder receives new inputs; the repo's seeds are only read. A crash stops the
  # target (libFuzzer saves the input); -fork would go on but loses the per-input exec count.
  set +e
  "$build/bin/fuzz_$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$crashes/" "${dict[@]}" "$corpus" "$root/tests/fuzz/corpus/$t" > "$log" 2>&1
  rc=$?
  set -e
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  if [[ -z $runs ]]; then runs=$(grep -o '^#[0-9]*' "$log" | tail -1 | tr -d '#'); fi
  runs=${runs:-0}
  elapsed=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log" | tail -1)
  rate=$(( runs / ${elapsed:-$seconds} )) 2>/dev/null || rate=0
  found=$(find "$crashes" -type f | wc -l)
  files=$(find "$crashes" -type f | head -3 | tr '\n' ' ')
  if [[ $rc -ne 0 || $found -gt 0 ]]; then
    crashed=1
    [[ $found -gt 0 ]] || files="(exit $rc, see $log)"
  else
    rmdir "$crashes" 2>/dev/null || true
  fi
  printf '%-12s %12s %8s %8s  %s\n' "$t" "$runs" "$rate" "$found" "$files"
done
echo "logs and scratch corpora: $scratch" >&2
exit $crashed
