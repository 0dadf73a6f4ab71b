#!/bin/bash
# Docker's own start and exec latency with each runtime: one private
# containerd and dockerd (tests/clients/lib.sh's, berth-runc added as the
# runtime "berth"), the same busybox image, and RUNS timings of
#   - docker run --rm --runtime R IMAGE true
#   - docker exec C true   (C: a container of runtime R running sleep)
# for R = runc and berth, interleaved (runc, berth, berth, runc, ...) so a
# slow moment of the host falls on both. Prints the medians (ms) and
# berth-runc's over runc's. A benchmark: timings never decide a test.
# Usage (root): bench/docker-start.sh [--runs N]     (default 30)
set -u
RUNS=30
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) RUNS=$2; shift 2 ;;
    *) echo "usage: $0 [--runs N]" >&2; exit 2 ;;
  esac
done
TOP=$(cd "$(dirname "$0")/.." && pwd)
. "$TOP/tests/clients/lib.sh"
. "$TOP/bench/timing.sh"
DOCKER=/usr/bin/docker   # not /usr/local/bin/docker, an unrelated CLI
BERTH=$(BERTH_RUNC_BIN=${BERTH_RUNC_BIN:-$TOP/berth-runc} find_berth_runc) \
  || { echo "build berth-runc first (make)" >&2; exit 2; }
for p in /usr/sbin/dockerd containerd runc busybox iptables; do
  command -v $p >/dev/null || { echo "$p is not installed (.ci/install-deps)" >&2; exit 2; }
done

take_lock
SCRATCH=$(mktemp -d /tmp/berth-dbench.XXXXXX)
BRIDGE=bdb$$
CGPARENT=berth-dbench-$$
SOCK=$SCRATCH/docker.sock
CTD_SOCK=$SCRATCH/containerd.sock
snapshot_host "$SCRATCH/before"
finish () {
  stop_dockerd >/dev/null
  [ -z "$CGROUP_LEFTOVERS" ] || echo "$CGROUP_LEFTOVERS" >&2
  rm -rf "$SCRATCH"
}
trap finish EXIT
start_dockerd
$DOCKER version >/dev/null 2>&1 || { echo "dockerd does not start: $(tail -n 1 "$SCRATCH/dockerd.log")" >&2; exit 1; }

IMG=berth-busybox
make_rootfs_tar "$SCRATCH/rootfs" "$SCRATCH/rootfs.tar"
$DOCKER import -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  "$SCRATCH/rootfs.tar" $IMG >/dev/null


for rt in runc berth; do
  $DOCKER run --rm --runtime $rt $IMG true >/dev/null   # warm the image and the runtime
  $DOCKER run -d --runtime $rt --name "bench-$rt" $IMG sleep 100000 >/dev/null
done
for i in $(seq "$RUNS"); do
  order="runc berth"
  [ $((i % 2)) = 0 ] && order="berth runc"
  for rt in $order; do
    timed "run.$rt" $DOCKER run --rm --runtime $rt $IMG true
    timed "exec.$rt" $DOCKER exec "bench-$rt" true
  done
done

echo "docker $($DOCKER version -f '{{.Server.Version}}'), $(runc --version | head -n 1), berth-runc $BERTH"
echo "host: $(uname -r), $(nproc) CPUs; $RUNS runs each, interleaved; medians"
printf '%-32s %10s %12s %8s\n' "" "runc (ms)" "berth (ms)" "ratio"
for what in run exec; do
  r=$(median_ms "$what.runc")
  b=$(median_ms "$what.berth")
  label="docker run --rm IMAGE true"
  [ $what = exec ] && label="docker exec C true"
  printf '%-32s %10s %12s %8s\n' "$label" "$r" "$b" "$(awk -v b="$b" -v r="$r" 'BEGIN { printf "%.2f", b / r }')"
done
