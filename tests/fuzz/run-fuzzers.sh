#!/bin/bash
# Build berth's libFuzzer harnesses and run each for a fixed time; TAP out,
# one line per harness, then one closing line "fuzzing: ...".
#
#   tests/fuzz/run-fuzzers.sh [BUILDDIR [HARNESS...]]
#
# The harnesses need clang with ASan and UBSan on every object, so they get
# a build of their own: the checkout's files (tracked, and untracked ones
# git does not ignore) copied into BUILDDIR/build-fuzz/src, configured there
# with CC=clang --enable-fuzzing. Copies keep their times, so a second run
# rebuilds only what changed.
#
# Environment:
#   FUZZ_SECONDS  each harness's run (default 30)
#   FUZZ_BIN      a directory with harnesses built already (an
#                 --enable-fuzzing build's tests/fuzz): no build here
#   FUZZ_ARGS     more libFuzzer options, e.g. "-jobs=4 -workers=4"
#
# Each harness starts from its seed corpus (tests/fuzz/corpus/NAME, never
# written) and keeps what it finds in BUILDDIR/build-fuzz/corpus/NAME. A
# crash, leak, sanitizer report, timeout (10 s) or out-of-memory (2 GiB) is
# a failing line; its input is kept as BUILDDIR/tests/fuzz/crashes/NAME-*
# and reproduced by running the harness on that file alone.
set -u
srcdir=$(cd "$(dirname "$0")/../.." && pwd)
builddir=$(cd "${1:-$srcdir}" && pwd)
[ $# -gt 0 ] && shift
harnesses=${*:-archive manifest image-config seccomp oci-config cli-input registry}
seconds=${FUZZ_SECONDS:-30}
fuzz_build=$builddir/build-fuzz
crashes=$builddir/tests/fuzz/crashes

count=$(echo $harnesses | wc -w)

suite=fuzzing
# shellcheck source=tests/separate-build.sh
. "$srcdir/tests/separate-build.sh"

build () {
  command -v clang >/dev/null 2>&1 || skip_all "clang not installed (apt-get install clang libclang-rt-dev)"
  separate_build "$fuzz_build" "the harnesses" "CC=clang --enable-fuzzing --enable-werror" -- fuzzers
  FUZZ_BIN=$fuzz_build/src/tests/fuzz
}

# "stat::number_of_executed_units: N" from libFuzzer's -print_final_stats.
executions () {
  sed -n 's/^stat::number_of_executed_units: *//p' "$1" | tail -n 1
}

run_one () {
  local n=$1 name=$2 bin=$FUZZ_BIN/fuzz-$2
  local corpus=$fuzz_build/corpus/$name log=$fuzz_build/fuzz-$name.log
  local dict=$srcdir/tests/fuzz/dict/$name.dict opts=()
  [ -f "$dict" ] && opts+=("-dict=$dict")
  mkdir -p "$corpus" "$crashes"
  if [ ! -x "$bin" ]; then
    echo "not ok $n - fuzz-$name: no harness at $bin"
    return 1
  fi
  # shellcheck disable=SC2086
  "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$crashes/$name-" "${opts[@]}" ${FUZZ_ARGS:-} \
    "$corpus" "$srcdir/tests/fuzz/corpus/$name" >"$log" 2>&1
  local rc=$? execs
  execs=$(executions "$log")
  if [ "$rc" -eq 77 ]; then
    echo "ok $n - fuzz-$name # SKIP $(grep -m1 '^fuzz' "$log")"
    return 0
  fi
  total_execs=$(( total_execs + ${execs:-0} ))
  if [ "$rc" -eq 0 ]; then
    echo "ok $n - fuzz-$name: ${execs:-?} executions in ${seconds}s, no crash"
    return 0
  fi
  local saved
  saved=$(ls -t "$crashes" | grep "^$name-" | head -n 1)
  [ -n "$saved" ] && saved=$crashes/$saved
  echo "not ok $n - fuzz-$name: failed (exit $rc) after ${execs:-?} executions;" \
    "input: ${saved:-none saved}"
  grep -E 'ERROR|SUMMARY|runtime error|==[0-9]+==|^fuzz' "$log" | head -n 20 | sed 's/^/#   /'
  echo "#   reproduce: $bin $saved  (full log: $log)"
  return 1
}

[ -n "${FUZZ_BIN:-}" ] || build
echo "1..$count"
n=0 failed=0 total_execs=0
for h in $harnesses; do
  n=$((n + 1))
  run_one "$n" "$h" || failed=$((failed + 1))
done
echo "fuzzing: $count harnesses, ${seconds}s each, $total_execs executions, $failed failed"
[ "$failed" -eq 0 ]
