#!/bin/bash
# Start-latency benchmark: start-to-exit of /bin/true, medians of RUNS runs,
# all timed by bench/bench-start from one process:
#   - fork+exec of /bin/true (the floor);
#   - unshare --fork with pid, mnt, uts, ipc and net namespaces;
#   - berth's runtime path alone: the native driver's vtable on an unpacked
#     busybox rootfs (spec, clone, mounts, exec, wait, cgroup removal);
#   - the whole `berth run --rm busybox /bin/true` (writable layer, mount,
#     monitor, start, wait, teardown);
#   - `berth run --rm --exec-driver lxc` (liblxc), where it is built;
#   - `berth-runc run` (berth's OCI runtime CLI), crun and runc on the same
#     rootfs, where installed. crun 1.8 refuses a
#     hybrid cgroup layout, so on such a host it runs inside `unshare -m`
#     with /sys/fs/cgroup/unified unmounted.
# Usage: bench/start.sh [--runs N]        (needs `make bench` first)
# Timings live here, never in a test's pass/fail.
set -euo pipefail
RUNS=100
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) RUNS=$2; shift 2 ;;
    *) echo "usage: $0 [--runs N]" >&2; exit 2 ;;
  esac
done
TOP=$(cd "$(dirname "$0")/.." && pwd)
BERTH=${BERTH:-$TOP/berth}
BENCH=$TOP/bench/bench-start
export BERTH_EXEC_HELPER=${BERTH_EXEC_HELPER:-$TOP/berth-exec-helper}
[ -x "$BENCH" ] || { echo "build it first: make bench" >&2; exit 2; }
WORK=$(mktemp -d /var/tmp/berth-start.XXXXXX)
STORE=$WORK/store
cleanup() {
  "$BERTH" --root "$STORE" rm -f bench-rootfs >/dev/null 2>&1 || true
  for m in $(grep -o "$WORK[^ ]*" /proc/self/mounts | sort -r); do umount -l "$m" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

"$BERTH" --root "$STORE" image bootstrap busybox >/dev/null
"$BERTH" --root "$STORE" create --name bench-rootfs busybox >/dev/null
ROOTFS=$("$BERTH" --root "$STORE" mount bench-rootfs)
echo "host: $(uname -r), $(nproc) CPUs, cgroups: $("$BERTH" info 2>/dev/null | awk -F': *' '/Cgroup layout/ {print $2; exit}')"
echo "busybox rootfs: $ROOTFS ($RUNS runs each)"
echo

"$BENCH" --runs "$RUNS" --label "fork+exec /bin/true" -- /bin/true
"$BENCH" --runs "$RUNS" --label "unshare pid,mnt,uts,ipc,net" -- unshare --fork -p -m -u -i -n /bin/true
"$BENCH" --runs "$RUNS" --driver native "$ROOTFS"
"$BENCH" --runs "$RUNS" --label "berth run --rm" -- "$BERTH" --root "$STORE" run --rm busybox /bin/true
# The LXC driver where this berth has it, through the whole CLI. (Its vtable
# alone does not run under bench-start yet: its keeper needs the monitor's
# setup.)
if "$BERTH" --root "$STORE" info 2>/dev/null | grep -q '^  lxc  *available'; then
  "$BENCH" --runs "$RUNS" --label "berth run --rm --exec-driver lxc" -- \
    "$BERTH" --root "$STORE" run --rm --exec-driver lxc busybox /bin/true
else
  echo "lxc: $("$BERTH" --root "$STORE" info 2>/dev/null | grep '^  lxc' || echo 'not built into this berth')"
fi

bundle() { # NAME RUNTIME: an OCI bundle over the same rootfs, /bin/true, no tty
  mkdir -p "$WORK/$1"
  (cd "$WORK/$1" && "$2" spec >/dev/null 2>&1 || "$2" spec)
  sed -i -e "s#\"path\" *: *\"rootfs\"#\"path\": \"$ROOTFS\"#" -e 's#"terminal" *: *true#"terminal": false#' \
    -e 's#"sh"#"/bin/true"#' "$WORK/$1/config.json"
}
# berth's own runtime CLI on the same rootfs, as crun and runc are timed.
BERTH_RUNC=${BERTH_RUNC:-$TOP/berth-runc}
if [ -x "$BERTH_RUNC" ]; then
  bundle berth-runc "$BERTH_RUNC"
  "$BENCH" --runs "$RUNS" --label "berth-runc run" -- \
    sh -c "exec $BERTH_RUNC --root $WORK/berth-runc-state run --bundle $WORK/berth-runc bench-\$\$"
else
  echo "berth-runc: not built"
fi
if command -v crun >/dev/null; then
  bundle crun crun
  if [ -d /sys/fs/cgroup/unified ]; then
    "$BENCH" --runs "$RUNS" --label "crun run (hybrid hidden)" -- unshare -m --propagation private \
      sh -c "umount /sys/fs/cgroup/unified && exec crun run --bundle $WORK/crun bench-crun-\$\$"
    "$BENCH" --runs "$RUNS" --label "  unshare+umount alone" -- unshare -m --propagation private \
      sh -c "umount /sys/fs/cgroup/unified"
  else
    "$BENCH" --runs "$RUNS" --label "crun run" -- sh -c "exec crun run --bundle $WORK/crun bench-crun-\$\$"
  fi
else
  echo "crun: not installed"
fi
if command -v runc >/dev/null; then
  bundle runc runc
  "$BENCH" --runs "$RUNS" --label "runc run" -- sh -c "exec runc run --bundle $WORK/runc bench-runc-\$\$"
else
  echo "runc: not installed"
fi
