#!/bin/bash
# Fault injection: berth killed at the syscalls that change the store.
# For each command and storage driver, one traced run (strace -f) lists the
# crash points; then, for each point kept, a fresh store is set up, the
# command runs under strace with -e inject=SYSCALL:signal=KILL:when=N, and
# afterwards: the processes it left are waited for, ps -a and images must
# work and match the disk, the command must work again, rm -f and rmi of
# everything must work and leave no layer, blob, ref count, mount, cgroup,
# loop device or process. One TAP line per driver and command, saying how
# many crash points were tried of how many. docs/faults.md has the details.
#
# BERTH_FAULTS_FULL=1: every crash point. BERTH_FAULTS_POINTS=N: about N per
# command and driver (default 10). BERTH_FAULTS_DRIVERS, BERTH_FAULTS_COMMANDS:
# space-separated subsets. BERTH_FAULTS_ONLY=WHO:SYSCALL:N: that point alone.
set -u
. "$(dirname "$0")/lib.sh"
{

DRIVERS=${BERTH_FAULTS_DRIVERS:-overlay vfs btrfs}
COMMANDS=${BERTH_FAULTS_COMMANDS:-import load create run-d run-rm run-vol commit export rm-f rmi connect}
WANT=${BERTH_FAULTS_POINTS:-10}
[ "${BERTH_FAULTS_FULL:-0}" = 1 ] && WANT=1000000
BERTH_BIN=${BERTH_BIN:-$(cd "$(dirname "$0")/../.." && pwd)/berth}
export BERTH_EXEC_HELPER=${BERTH_EXEC_HELPER:-$(dirname "$BERTH_BIN")/berth-exec-helper}
NTESTS=$(( $(echo $DRIVERS | wc -w) * $(echo $COMMANDS | wc -w) ))
ALL_TRIED=0 ALL_TOTAL=0

skip_all () {
  local d c n=0
  echo "1..$NTESTS"
  for d in $DRIVERS; do for c in $COMMANDS; do
    n=$((n + 1)); echo "ok $n - $d $c # SKIP $1"
  done; done
  exit 0
}

reason=""
[ "$(id -u)" = 0 ] || reason="not root"
for p in strace busybox losetup pgrep; do
  [ -n "$reason" ] || command -v $p >/dev/null || reason="$p is not installed (.ci/install-deps)"
done
[ -n "$reason" ] || [ -x "$BERTH_BIN" ] || reason="berth is not built ($BERTH_BIN)"
[ -z "$reason" ] || skip_all "$reason"

SCRATCH=$(mktemp -d /var/tmp/berth-faults.XXXXXX)
BTRFS_MNT=$SCRATCH/btrfs
FIX=$SCRATCH/fixtures
W=$SCRATCH/work
mkdir -p "$FIX" "$W"
finish () {
  mountpoint -q "$BTRFS_MNT" && umount "$BTRFS_MNT"
  rm -rf "$SCRATCH"
}
trap finish EXIT

# The image as a docker-save tar (for load) and its root as a tar (import).
make_fixtures () {
  local R=$FIX/store DRIVER=vfs
  b image bootstrap busybox >/dev/null && b save -o "$FIX/image.tar" busybox &&
    b create --name e busybox >/dev/null && b export -o "$FIX/rootfs.tar" e &&
    b rm e >/dev/null && b rmi busybox >/dev/null
}
make_fixtures 2>"$W/fixtures.err" || skip_all "cannot make the busybox image: $(head -n 1 "$W/fixtures.err")"

# Where driver $1's stores live, or why it cannot run here (return 1).
driver_base () {
  local R DRIVER=$1
  if [ "$1" = btrfs ]; then
    if ! mountpoint -q "$BTRFS_MNT"; then
      command -v mkfs.btrfs >/dev/null || { echo "mkfs.btrfs is not installed"; return 1; }
      mkdir -p "$BTRFS_MNT" && truncate -s 2G "$SCRATCH/btrfs.img" && mkfs.btrfs -q "$SCRATCH/btrfs.img" >/dev/null 2>&1 &&
        mount -o loop "$SCRATCH/btrfs.img" "$BTRFS_MNT" || { echo "cannot mount a btrfs on a loop device"; return 1; }
    fi
    R=$BTRFS_MNT/probe
  else
    R=$SCRATCH/$1-probe
  fi
  "$BERTH_BIN" --root "$R" info 2>&1 | grep -E "^  $1 " | grep -q ' available' ||
    { "$BERTH_BIN" --root "$R" info 2>&1 | grep -E "^  $1 " | sed 's/^ *//'; rm -rf "$R"; return 1; }
  rm -rf "$R"
  dirname "$R"
}

# One store for one run: $R, its container tag $TAG.
POINT=0
new_store () { POINT=$((POINT + 1)); R=$BASE/p$POINT; TAG=berth-faults-$$-$POINT; }

# After the command ran (killed or not; $1: its log): wait, check, empty
# the store, check again. Prints the problems, one a line.
after_run () {
  local log=$1 ids
  settle "$W/before"
  check_consistency
  case $CMD in
    # Connect again after a finished connect says "already connected".
    rm-f|rmi|connect) ;;
    *) b_words "$(cmd_words "$CMD" 2)" >"$W/retry.out" 2>&1 ||
         echo "the command again failed: $(head -c 300 "$W/retry.out")"
       settle "$W/before" ;;
  esac
  ids=$(seen_ids "$log" <(find "$R" -maxdepth 4 2>/dev/null))
  remove_everything
  settle /dev/null
  store_leftovers $ids
  force_clean $ids
}

# Run the command under strace ($@: strace's options) on the store made
# by new_store, into $W/log; setup problems are printed.
traced_run () {
  setup_cmd "$CMD" >"$W/setup.out" 2>&1 || { echo "setup failed: $(head -c 300 "$W/setup.out")"; return 1; }
  point_pids >"$W/before"
  eval "timeout --verbose -k 5 $CMD_TIMEOUT strace -o $W/log -y -s 64 -e trace=$FAULT_SYSCALLS $* \
    $BERTH_BIN --root $R --storage-driver $DRIVER $(cmd_words "$CMD" 1)" >"$W/out" 2>&1 </dev/null
}

# The line that reproduces a point by hand.
repro () {
  echo "BERTH_FAULTS_DRIVERS=$DRIVER BERTH_FAULTS_COMMANDS=$CMD BERTH_FAULTS_ONLY=$1:$2:$3 $0" \
    "  (strace $([ "$1" = child ] && echo '-f ')-e inject=$2:signal=KILL:when=$3 berth --storage-driver $DRIVER $(cmd_words "$CMD" 1))"
}

# One driver and command: the TAP line and its diagnostics.
test_command () {
  local n=$1 points kept tried=0 reached=0 failed=0 who sc k problems kills diag=$W/diag
  : >"$diag"
  # The crash points, from a run that is not killed (it must pass too).
  new_store
  problems=$(traced_run -f; rc=$?; [ $rc = 0 ] || echo "the traced run without a kill failed (exit $rc): $(tail -c 300 "$W/out")"
             cp "$W/log" "$W/enum.log"; after_run "$W/enum.log")
  if [ -n "$problems" ]; then
    failed=1
    { echo "without a kill:"; echo "$problems" | sed 's/^/  /'; } >>"$diag"
  fi
  points=$(crash_points "$W/enum.log")
  kept=$(echo "$points" | grep . | sample_points "$WANT")
  [ -z "${BERTH_FAULTS_ONLY:-}" ] || kept=$(echo "$points" | awk -v o="${BERTH_FAULTS_ONLY//:/ }" '$2 " " $3 " " $4 == o')
  while read -r _ who sc k; do
    [ -n "${who:-}" ] || continue
    tried=$((tried + 1))
    new_store
    problems=$(traced_run $([ "$who" = child ] && echo -f) -e inject="$sc:signal=KILL:when=$k"
               kills=$(injected_kills "$sc" "$W/log")
               [ -z "$kills" ] || echo "$kills" >"$W/kills"
               grep -q 'timeout: sending' "$W/out" && echo "the killed command hung (timeout)"
               after_run "$W/log")
    kills=$(cat "$W/kills" 2>/dev/null); rm -f "$W/kills"
    [ -z "$kills" ] || reached=$((reached + 1))
    [ -n "$problems" ] || continue
    failed=$((failed + 1))
    {
      echo "kill $who at $sc #$k${kills:+ (}$(echo "$kills" | head -n 3 | tr '\n' ';' | sed 's/;$//')${kills:+)}:"
      echo "$problems" | sed 's/^/  /'
      echo "  reproduce: $(repro "$who" "$sc" "$k")"
    } >>"$diag"
  done <<<"$kept"
  local total
  total=$(echo "$points" | grep -c .)
  ALL_TRIED=$((ALL_TRIED + tried)) ALL_TOTAL=$((ALL_TOTAL + total))
  local what="$DRIVER $CMD: $tried of $total crash points tried, $reached reached"
  if [ "$failed" = 0 ]; then echo "ok $n - $what"
  else echo "not ok $n - $what, $failed failed"; tap_diag <"$diag"; fi
}

echo "1..$NTESTS"
n=0
for DRIVER in $DRIVERS; do
  BASE=$(driver_base "$DRIVER")
  ok=$?
  for CMD in $COMMANDS; do
    n=$((n + 1))
    if [ $ok != 0 ]; then echo "ok $n - $DRIVER $CMD # SKIP $BASE"; continue; fi
    test_command $n
  done
done
echo "# crash points tried: $ALL_TRIED of $ALL_TOTAL"
exit 0
}
