#!/bin/bash
# Two builds of berth side by side on the lifecycle a user feels: the medians
# of `berth run --rm busybox true` and of `berth ps -a` (on a store holding
# 20 containers), runs interleaved A, B, A, B... so load on the host hits
# both alike. For a change that must not slow berth down (a refactor, a new
# lock): build the old commit in another tree and give both.
#
# Usage: bench/compare-builds.sh [--runs N] BUILD_A BUILD_B
#   BUILD_*: a build tree holding berth and berth-exec-helper
# Timings live here, never in a test's pass/fail.
set -euo pipefail
RUNS=30
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) RUNS=$2; shift 2 ;;
    -*) echo "usage: $0 [--runs N] BUILD_A BUILD_B" >&2; exit 2 ;;
    *) break ;;
  esac
done
[ $# -eq 2 ] || { echo "usage: $0 [--runs N] BUILD_A BUILD_B" >&2; exit 2; }
A=$(cd "$1" && pwd)
B=$(cd "$2" && pwd)
for d in "$A" "$B"; do
  [ -x "$d/berth" ] && [ -x "$d/berth-exec-helper" ] ||
    { echo "$d: no berth or berth-exec-helper built there" >&2; exit 2; }
done
WORK=$(mktemp -d /var/tmp/berth-compare.XXXXXX)
cleanup () {
  for d in "$A" "$B"; do
    [ -d "$(root_of "$d")" ] || continue
    # shellcheck disable=SC2046
    berth_in "$d" rm -f $(berth_in "$d" ps -aq 2>/dev/null) >/dev/null 2>&1 || true
  done
  for m in $(grep -o "$WORK[^ ]*" /proc/self/mounts | sort -r); do umount -l "$m" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

root_of () { echo "$WORK/$(basename "$1")-$(echo "$1" | md5sum | cut -c1-6)"; }
berth_in () { local d=$1; shift; BERTH_EXEC_HELPER=$d/berth-exec-helper "$d/berth" --root "$(root_of "$d")" "$@"; }

for d in "$A" "$B"; do
  berth_in "$d" image bootstrap busybox >/dev/null
  for i in $(seq 1 20); do berth_in "$d" create busybox true >/dev/null; done
  berth_in "$d" run --rm busybox true   # warm the page cache and the layer
done

# Milliseconds one command takes, whole process.
time_ms () {
  local t0 t1
  t0=$(date +%s%N)
  "$@" >/dev/null
  t1=$(date +%s%N)
  echo $(( (t1 - t0) / 1000 ))
}
median () { sort -n | awk '{a[NR]=$1} END {m = (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2; printf "%.1f", m / 1000}'; }

declare -A samples=()
for i in $(seq 1 "$RUNS"); do
  for d in "$A" "$B"; do
    samples[$d run]+="$(time_ms berth_in "$d" run --rm busybox true) "
    samples[$d ps]+="$(time_ms berth_in "$d" ps -a) "
  done
done
printf '%-14s %12s %12s %8s\n' "median (ms)" "A" "B" "B/A"
for what in run ps; do
  a=$(echo "${samples[$A $what]}" | tr ' ' '\n' | grep . | median)
  b=$(echo "${samples[$B $what]}" | tr ' ' '\n' | grep . | median)
  label="run --rm"; [ "$what" = ps ] && label="ps -a (20)"
  printf '%-14s %12s %12s %8s\n' "$label" "$a" "$b" "$(awk -v a="$a" -v b="$b" 'BEGIN {printf "%.2f", b / a}')"
done
echo "A: $A"
echo "B: $B"
echo "$RUNS runs each, interleaved; $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
