#!/bin/bash
# Build berth with AddressSanitizer (LeakSanitizer included) and
# UndefinedBehaviorSanitizer and run the unit and CLI test programs on that
# build; TAP out, one line per program, then one closing line
# "sanitizers: ...". See docs/sanitizers.md.
#
#   tests/sanitize/run-sanitized.sh [BUILDDIR [PROGRAM...]]
#
# PROGRAM is a test program's path in the build, e.g. tests/test-cli,
# optionally with the GTest paths to run, e.g. tests/test-exec:/exec/overlay
# (several: tests/test-exec:/exec/overlay,/exec/lxc).
# Like tests/fuzz/run-fuzzers.sh, the build is one of its own: the
# checkout's files (tracked, and untracked ones git does not ignore) copied
# into BUILDDIR/build-asan/src, configured there with CC=clang
# --enable-sanitizers --enable-werror. Copies keep their times, so a second
# run rebuilds only what changed. berth, berth-runc, libberth and the test
# programs are instrumented; berth-exec-helper, the static program berth
# runs inside each container, is not (ASan cannot link statically), and the
# container tests run it as it is.
#
# Environment:
#   SANITIZE_BIN     a directory with an --enable-sanitizers build done
#                    already (its top): no build here
#   SANITIZE_CC      the compiler (default clang; gcc works too)
#   SANITIZE_ARGS    more arguments for each test program, e.g. "-p /cli/run"
#   SANITIZE_TIMEOUT seconds one program may run (default 600): a hang
#                    (a sanitizer waiting on something it cannot see, say)
#                    is then a failing line, not a stuck CI
#
# A failing case, a program that does not finish its plan, or any sanitizer
# report from any process the program started (berth, berth-runc, a
# monitor berth run -d left, a forked child) is a failing line: every report
# goes to a file (log_path) under BUILDDIR/build-asan/reports/NAME/ (NAME:
# the program's, with its GTest paths), so
# one from a berth whose failure the test expected is not lost. A leak is
# a report unless tests/sanitize/lsan.supp suppresses it, and that file
# names only third-party libraries.

# make runs this with $(SHELL), which may be dash: the rest needs bash.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -u
started=$SECONDS
srcdir=$(cd "$(dirname "$0")/../.." && pwd)
builddir=$(cd "${1:-$srcdir}" && pwd)
[ $# -gt 0 ] && shift
asan_build=$builddir/build-asan
limit=${SANITIZE_TIMEOUT:-600}
reports=$asan_build/reports

# By default every test program of `make check` (Makefile.am's TEST_PROGS,
# so a new one is sanitized too), each whole but test-exec (below): about
# 12 minutes on 2 cores, build included (docs/sanitizers.md). The shell suites of make check
# (tests/clients/ under docker and podman, tests/faults/) are not run here.
# test-exec's scenarios run once per exec and storage driver; here on
# overlay (native) and lxc only: vfs and btrfs differ from overlay only in
# the storage driver, which test-storage runs sanitized whole (half of
# test-exec's 9 minutes under ASan, for CI's hour).
default_programs=$(sed -n '/^TEST_PROGS *=/,/[^\\]$/p' "$srcdir/Makefile.am" |
                   sed 's/^TEST_PROGS *=//; s/\\$//' |
                   sed 's|tests/test-exec\b|tests/test-exec:/exec/overlay,/exec/lxc|')
programs=${*:-$default_programs}
count=$(echo $programs | wc -w)

suite=sanitizers
# shellcheck source=tests/separate-build.sh
. "$srcdir/tests/separate-build.sh"

build () {
  local cc=${SANITIZE_CC:-clang}
  command -v "$cc" >/dev/null 2>&1 || skip_all "$cc not installed (apt-get install clang libclang-rt-dev)"
  separate_build "$asan_build" "with ASan+UBSan" "CC=$cc --enable-sanitizers --enable-werror" -- \
    check TESTS= bench
  SANITIZE_BIN=$asan_build/src
}

# The reports a program's processes wrote (report.PID), if any. A file
# holding nothing but LSan's "Running thread N was not suspended. False
# leaks are possible." (a thread still exiting as the process did; what it
# may have caused is matched against lsan.supp like any leak) is a warning,
# not a finding.
report_files () {
  local f
  for f in $(find "$1" -type f 2>/dev/null | sort); do
    grep -qv -e '^ *$' -e 'was not suspended\. False leaks are possible\.$' "$f" && echo "$f"
  done
  return 0
}

show_reports () {
  local f
  for f in $(report_files "$1"); do
    echo "#   $f:"
    grep -v '^ *$' "$f" | head -n 30 | sed 's/^/#     /'
  done
}

# An entry's name for its log and reports: tests/test-exec:/exec/lxc is
# test-exec-exec-lxc.
entry_name () {
  local prog=${1%%:*}
  prog=${prog##*/}
  if [ "$1" = "${1%%:*}" ]; then
    echo "$prog"
  else
    echo "$prog$(printf '%s' "${1#*:}" | tr '/,' '--')"
  fi
}

run_one () {
  local n=$1 prog=${2%%:*} paths=() p name
  name=$(entry_name "$2")
  local bin=$SANITIZE_BIN/$prog dir=$reports/$name log=$asan_build/$name.log
  if [ "$prog" != "$2" ]; then
    local IFS=,
    for p in ${2#*:}; do paths+=(-p "$p"); done
    unset IFS
  fi
  rm -rf "$dir"
  mkdir -p "$dir"
  if [ ! -x "$bin" ]; then
    echo "not ok $n - $prog: not built at $bin"
    failed=$((failed + 1))
    return
  fi
  local start=$SECONDS rc
  # The sanitized berth and berth-runc, the plain static helper.
  # shellcheck disable=SC2086
  ( cd "$SANITIZE_BIN" &&
    BERTH_BIN=$SANITIZE_BIN/berth BERTH_RUNC_BIN=$SANITIZE_BIN/berth-runc \
    BERTH_EXEC_HELPER=$SANITIZE_BIN/berth-exec-helper \
    ASAN_OPTIONS=$asan_options:log_path=$dir/report \
    UBSAN_OPTIONS=$ubsan_options:log_path=$dir/report \
    exec timeout -k 10 "$limit" "$bin" --tap -k "${paths[@]}" ${SANITIZE_ARGS:-} ) >"$log" 2>&1
  rc=$?
  local secs=$((SECONDS - start)) ok notok skip planned ran
  ok=$(grep -c '^ok ' "$log")
  skip=$(grep -c '^ok .*# SKIP' "$log")
  notok=$(grep -c '^not ok ' "$log")
  planned=$(sed -n 's/^1\.\.\([0-9]*\).*/\1/p' "$log" | tail -n 1)
  ran=$((ok + notok))
  ok=$((ok - skip))
  passed=$((passed + ok)) skipped=$((skipped + skip)) cases_failed=$((cases_failed + notok))
  local nrep
  nrep=$(report_files "$dir" | wc -l)
  sanitizer_reports=$((sanitizer_reports + nrep))
  local what="$ok passed, $notok failed, $skip skipped, $nrep sanitizer reports in ${secs}s"
  if [ "$rc" -eq 0 ] && [ "$notok" -eq 0 ] && [ "$nrep" -eq 0 ] && [ "${planned:-x}" = "$ran" ]; then
    echo "ok $n - $2: $what"
    return
  fi
  failed=$((failed + 1))
  echo "not ok $n - $2: $what (exit $rc, ${ran}/${planned:-?} cases ran)"
  grep -E '^not ok |^Bail out' "$log" | head -n 20 | sed 's/^/#   /'
  show_reports "$dir"
  echo "#   log: $log; reports: $dir"
}

supp=$srcdir/tests/sanitize/lsan.supp
[ -f "$supp" ] || bail "no $supp"
# detect_leaks: LeakSanitizer checks at each instrumented process's exit()
#   (not at _exit or exec: a forked child that execs or _exits is not
#   checked, by design; see docs/sanitizers.md).
# exitcode=86: a process with a report exits 86, whatever it meant to
#   return; the report file is what fails the line, since many cases expect
#   berth to fail.
# fast_unwind_on_malloc=0: GLib, json-glib and libarchive are built
#   without frame pointers, so the fast unwinder stops at g_malloc; a leak
#   needs its whole allocation stack, both to find berth's frame in it and
#   to match the suppressions.
asan_options="detect_leaks=1:exitcode=86:abort_on_error=0:fast_unwind_on_malloc=0"
export LSAN_OPTIONS="suppressions=$supp:print_suppressions=0"
ubsan_options="print_stacktrace=1:halt_on_error=1"

[ -n "${SANITIZE_BIN:-}" ] || build
[ "$(id -u)" = 0 ] || echo "# not root: the container and storage cases will skip"
echo "1..$count"
n=0 failed=0 passed=0 skipped=0 cases_failed=0 sanitizer_reports=0 begin=$SECONDS
for p in $programs; do
  n=$((n + 1))
  run_one "$n" "$p"
done
# A monitor left by berth run -d may exit after its program did; its report
# lands in that program's directory then, and is counted here.
sleep 2
total_reports=0
for p in $programs; do
  total_reports=$((total_reports + $(report_files "$reports/$(entry_name "$p")" | wc -l)))
done
if [ "$total_reports" -gt "$sanitizer_reports" ]; then
  echo "# $((total_reports - sanitizer_reports)) sanitizer reports came after their program ended:"
  for p in $programs; do
    show_reports "$reports/$(entry_name "$p")"
  done
  failed=$((failed + 1))
  sanitizer_reports=$total_reports
fi
echo "sanitizers: $passed passed, $cases_failed failed, $skipped skipped in $count programs;" \
  "$sanitizer_reports sanitizer reports; $failed programs failed;" \
  "$((SECONDS - begin))s of tests, $((SECONDS - started))s in all"
[ "$failed" -eq 0 ]
