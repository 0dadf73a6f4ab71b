#!/bin/bash
# `docker run --rm IMAGE true` through three Engine API servers, with the
# same docker CLI (Debian's 20.10) and the same busybox image, in one run:
#   - dockerd (Debian's docker.io) with runc, a private one (tests/clients/lib.sh)
#   - berth serve, on a store of its own
#   - podman's API service (podman system service), on storage of its own
# interleaved (the order turns each round) so a slow moment of the host
# falls on all three; every run with --network none, so that the runtimes
# and API servers are compared, not three networks' setups. Prints the
# medians (ms) and each over berth's. A benchmark: timings never decide a
# test. Usage (root): bench/serve-start.sh [--runs N]     (default 20)
set -u
RUNS=20
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
BERTH_CMD=${BERTH_BIN:-$TOP/berth}
[ -x "$BERTH_CMD" ] && [ -x "$(dirname "$BERTH_CMD")/berth-serve" ] ||
  { echo "build berth and berth-serve first (make; libsoup-3.0-dev)" >&2; exit 2; }
BERTH=$(BERTH_RUNC_BIN=${BERTH_RUNC_BIN:-$(dirname "$BERTH_CMD")/berth-runc} find_berth_runc) ||
  { echo "build berth-runc first (make)" >&2; exit 2; }
for p in /usr/sbin/dockerd containerd runc busybox podman; do
  command -v $p >/dev/null || { echo "$p is not installed (.ci/install-deps)" >&2; exit 2; }
done

take_lock
SCRATCH=$(mktemp -d /tmp/berth-sbench.XXXXXX)
BRIDGE=bsb$$
CGPARENT=berth-sbench-$$
SOCK=$SCRATCH/docker.sock
CTD_SOCK=$SCRATCH/containerd.sock
BSOCK=$SCRATCH/berth.sock
PSOCK=$SCRATCH/podman.sock
mkdir -p "$SCRATCH/podman/tmp"
# As tests/clients/test-podman.sh: rlimits within the host's hard ones
# (podman's default nofile of 1048576 fails here), cgroupfs, no journald.
cat >"$SCRATCH/containers.conf" <<CONF
[containers]
default_ulimits = ["nofile=1024:2048", "nproc=4096:4096"]
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$SCRATCH/podman/events.log"
tmp_dir = "$SCRATCH/podman/tmp"
CONF
export CONTAINERS_CONF=$SCRATCH/containers.conf
PODMAN="podman --root $SCRATCH/podman/root --runroot $SCRATCH/podman/run"
snapshot_host "$SCRATCH/before"
finish () {
  [ -z "${SERVE_PID:-}" ] || { kill "$SERVE_PID"; wait "$SERVE_PID"; } 2>/dev/null
  [ -z "${PODMAN_PID:-}" ] || { kill "$PODMAN_PID"; wait "$PODMAN_PID"; } 2>/dev/null
  $PODMAN rm -af >/dev/null 2>&1
  stop_dockerd >/dev/null
  [ -z "$CGROUP_LEFTOVERS" ] || echo "$CGROUP_LEFTOVERS" >&2
  umount -R "$SCRATCH/podman/root" 2>/dev/null
  rm -rf "$SCRATCH"
}
trap finish EXIT
[ -z "${KEEP_LOGS:-}" ] || trap 'cp $SCRATCH/*.log /tmp/; finish' EXIT
CLIENTS_NETWORK=none start_dockerd
$DOCKER version >/dev/null 2>&1 || { echo "dockerd does not start: $(tail -n 1 "$SCRATCH/dockerd.log")" >&2; exit 1; }

IMG=berth-busybox
make_rootfs_tar "$SCRATCH/rootfs" "$SCRATCH/rootfs.tar"
$DOCKER import -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  "$SCRATCH/rootfs.tar" $IMG >/dev/null
$DOCKER save -o "$SCRATCH/image.tar" $IMG
"$BERTH_CMD" --root "$SCRATCH/berth" load -i "$SCRATCH/image.tar" >/dev/null
$PODMAN load -i "$SCRATCH/image.tar" >/dev/null 2>&1
"$BERTH_CMD" --root "$SCRATCH/berth" serve --host "unix://$BSOCK" >"$SCRATCH/serve.log" 2>&1 &
SERVE_PID=$!
$PODMAN system service --time=0 "unix://$PSOCK" >"$SCRATCH/podman.log" 2>&1 &
PODMAN_PID=$!
for _ in $(seq 100); do [ -S "$BSOCK" ] && [ -S "$PSOCK" ] && break; sleep 0.1; done

host_of () {
  case $1 in dockerd) echo "unix://$SOCK" ;; berth) echo "unix://$BSOCK" ;; podman) echo "unix://$PSOCK" ;; esac
}
# podman names a loaded image localhost/NAME. Through its API, podman 4.3
# takes no default_ulimits from containers.conf and asks runc for nofile
# and nproc of 1048576, which this host's hard limits refuse ("error
# setting rlimit type 7"): its runs name rlimits within them.
image_of () {
  if [ "$1" = podman ]; then
    echo "--ulimit nofile=1024:2048 --ulimit nproc=4096:4096 localhost/$IMG"
  else
    echo "$IMG"
  fi
}


servers="dockerd berth podman"
for s in $servers; do   # warm each: the image, the runtime, the caches
  DOCKER_HOST=$(host_of $s) $DOCKER run --rm --network none $(image_of $s) true >"$SCRATCH/warm.$s" 2>&1 ||
    { echo "docker run through $s failed; its log:" >&2; cat "$SCRATCH/warm.$s" >&2; exit 1; }
done
for i in $(seq "$RUNS"); do
  case $((i % 3)) in
    0) order="dockerd berth podman" ;; 1) order="berth podman dockerd" ;; *) order="podman dockerd berth" ;;
  esac
  for s in $order; do
    DOCKER_HOST=$(host_of $s) timed "run.$s" $DOCKER run --rm --network none $(image_of $s) true
  done
done

echo "docker CLI $($DOCKER version -f '{{.Client.Version}}'); dockerd $($DOCKER version -f '{{.Server.Version}}') with $(runc --version | head -n 1); $(podman --version); berth $("$BERTH_CMD" version | sed -n 's/^Version: *//p')"
echo "host: $(uname -r), $(nproc) CPUs; $RUNS runs each, interleaved; medians"
b=$(median_ms run.berth)
printf '%-44s %10s %14s\n' "docker run --rm --network none IMAGE true" "ms" "over berth's"
for s in $servers; do
  m=$(median_ms "run.$s")
  printf '%-44s %10s %14s\n' "  through $s" "$m" "$(awk -v m="$m" -v b="$b" 'BEGIN { printf "%.2fx", m / b }')"
done
