#!/bin/bash
# berth-runc under Docker, differentially: a private containerd and dockerd
# (Debian's docker.io 20.10) in a temporary directory, with berth-runc
# added as the runtime "berth"; every scenario of tests/clients/
# docker-scenarios runs with --runtime runc and then --runtime berth, and
# berth-runc's result (exit code, output, error) must be runc's. One TAP
# line per scenario, and a last one: nothing left behind (no bridge,
# iptables rule or chain, mount or cgroup). Needs root; skips every case,
# saying why, where Docker cannot run. make check runs it; by hand:
#     BERTH_RUNC_BIN=$PWD/berth-runc tests/clients/test-docker.sh
# ONLY=REGEX runs the scenarios whose name matches.
. "$(dirname "$0")/lib.sh"
# In braces: bash reads the whole script before running it (it may be
# edited while a run goes on).
{

DOCKER=/usr/bin/docker   # not /usr/local/bin/docker, an unrelated CLI
load_scenarios "$CLIENTS_SRCDIR/docker-scenarios"
[ -z "$ONLY" ] || only_scenarios "$ONLY"

reason=""
[ "$(id -u)" = 0 ] || reason="not root"
for p in /usr/sbin/dockerd $DOCKER containerd runc busybox iptables ip script curl; do
  [ -n "$reason" ] || command -v $p >/dev/null || reason="$p is not installed (.ci/install-deps)"
done
BERTH=$(find_berth_runc) || { [ -n "$reason" ] || reason="berth-runc is not built"; }
if [ -n "$reason" ]; then
  skip_all "$reason"
  exit 0
fi

take_lock
SCRATCH=$(mktemp -d /tmp/berth-docker.XXXXXX)
PREFIX=bd$$
BRIDGE=bdk$$
CGPARENT=berth-docker-$$
PORT_BASE=$((20000 + ($$ % 200) * 200))
SOCK=$SCRATCH/docker.sock
CTD_SOCK=$SCRATCH/containerd.sock
snapshot_host "$SCRATCH/before"

# A private /24 for the default bridge, not on any route of the host.
for k in $(seq 0 60); do
  SUBNET=10.$((200 + $$ % 50)).$(( ($$ / 50 + k) % 250 ))
  ip route | grep -q "^$SUBNET\." || break
done
ip link add "$BRIDGE" type bridge && ip addr add "$SUBNET.1/24" dev "$BRIDGE" && ip link set "$BRIDGE" up

cat >"$SCRATCH/containerd.toml" <<EOF
version = 2
root = "$SCRATCH/containerd/root"
state = "$SCRATCH/containerd/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$CTD_SOCK"
[ttrpc]
  address = "$CTD_SOCK.ttrpc"
EOF
containerd --config "$SCRATCH/containerd.toml" >"$SCRATCH/containerd.log" 2>&1 &
CTD_PID=$!
/usr/sbin/dockerd --data-root "$SCRATCH/data" --exec-root "$SCRATCH/exec" --pidfile "$SCRATCH/docker.pid" \
  -H "unix://$SOCK" --containerd "$CTD_SOCK" --exec-opt native.cgroupdriver=cgroupfs \
  --cgroup-parent "/$CGPARENT" --add-runtime "berth=$BERTH" --bridge "$BRIDGE" --iptables=true \
  --userland-proxy=true >"$SCRATCH/dockerd.log" 2>&1 &
DOCKERD_PID=$!
export DOCKER_HOST=unix://$SOCK
for k in $(seq 150); do
  $DOCKER version >/dev/null 2>&1 && break
  kill -0 $DOCKERD_PID 2>/dev/null || break
  sleep 0.2
done

cleanup () {
  local left
  if [ -n "$DOCKERD_PID" ]; then
    local ids
    ids=$(timeout 30 $DOCKER ps -aq 2>/dev/null)
    [ -z "$ids" ] || timeout 60 $DOCKER rm -f $ids >/dev/null 2>&1
    timeout 30 $DOCKER network prune -f >/dev/null 2>&1
    timeout 30 $DOCKER volume prune -f >/dev/null 2>&1
    kill "$DOCKERD_PID" 2>/dev/null
    wait_pid_gone "$DOCKERD_PID" 200 || { echo "# dockerd did not stop: killed"; kill -9 "$DOCKERD_PID"; }
    kill "$CTD_PID" 2>/dev/null
    wait_pid_gone "$CTD_PID" 100 || { echo "# containerd did not stop: killed"; kill -9 "$CTD_PID"; }
    wait "$DOCKERD_PID" "$CTD_PID" 2>/dev/null
  fi
  # Shims and docker-proxy outlive a killed daemon; ours name our paths.
  for p in $(pgrep -f "$SCRATCH"); do kill -9 "$p" 2>/dev/null; echo "# killed leftover process $p"; done
  unmount_scratch | tap_diag   # dockerd leaves its netns/default
  left=$(remove_cgroups "$CGPARENT")
  ip link del "$BRIDGE" 2>/dev/null
  restore_iptables "$SCRATCH/before"
  left=$(echo "$left"; host_leftovers "$SCRATCH/before")
  left=$(echo "$left" | grep -v '^$')
  if [ -z "$left" ]; then
    echo "ok $NCASES - nothing left behind"
  else
    echo "not ok $NCASES - nothing left behind"
    echo "$left" | tap_diag
  fi
  rm -rf "$SCRATCH"
}

NCASES=$((${#S_NAME[@]} + 1))
trap 'echo "# interrupted"; cleanup; exit 1' INT TERM
if ! $DOCKER version >/dev/null 2>&1; then
  why=$(grep -iE 'level=(error|fatal)|failed' "$SCRATCH/dockerd.log" | tail -n 1)
  [ -n "$why" ] || why=$(grep -v -e '^$' -e "^See '" "$SCRATCH/dockerd.log" | tail -n 1)
  echo "1..$NCASES"
  for i in "${!S_NAME[@]}"; do
    echo "ok $((i + 1)) - ${S_NAME[$i]} # SKIP dockerd does not start: ${why:-see its log}"
  done
  tail -n 20 "$SCRATCH/dockerd.log" | tap_diag
  cleanup
  exit 0
fi

# The image: busybox, with PATH (an import has no environment).
IMG=berth-busybox
make_rootfs_tar "$SCRATCH/rootfs" "$SCRATCH/rootfs.tar"
$DOCKER import -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  -c 'CMD ["sh"]' "$SCRATCH/rootfs.tar" $IMG >/dev/null
ROOTDEV=$(lsblk -no PKNAME "$(findmnt -no SOURCE /)" 2>/dev/null)
[ -n "$ROOTDEV" ] || ROOTDEV=$(basename "$(findmnt -no SOURCE /)")

# What the snippets see.
cat >"$SCRATCH/env.sh" <<EOF
DOCKER=$DOCKER
IMG=$IMG
SCRATCH=$SCRATCH
PREFIX=$PREFIX
ROOTDEV=/dev/$ROOTDEV
export DOCKER_HOST=$DOCKER_HOST
dk () { $DOCKER "\$@"; }
# docker run of a container that goes away: drun [OPTIONS] IMAGE CMD...
drun () { $DOCKER run --rm --runtime "\$RT" "\$@"; }
# a named container in the background, its id kept quiet: dbg [OPTIONS] IMAGE CMD...
dbg () { $DOCKER run -d --runtime "\$RT" --name "\$C" "\$@" >/dev/null; }
# a command with a terminal (docker's -t wants one): ontty 'COMMAND LINE'
ontty () { script -qec "\$1" /dev/null | tr -d '\r'; return \${PIPESTATUS[0]}; }
# poll until a command succeeds (at most 10 s)
until_ok () { for _ in \$(seq 50); do "\$@" >/dev/null 2>&1 && return 0; sleep 0.2; done; return 1; }
EOF

# Containers and images a scenario left, of runtime $1, scenario $2.
variant_cleanup () {
  local ids
  ids=$(timeout 30 $DOCKER ps -aq --filter "name=$PREFIX-$1-$2" 2>/dev/null)
  [ -z "$ids" ] || timeout 60 $DOCKER rm -f $ids >/dev/null 2>&1
}

echo "1..$NCASES"
start=$(date +%s)
n=0
for i in "${!S_NAME[@]}"; do
  n=$((i + 1))
  run_scenario "$i" "$n"
done
echo "# scenarios took $(( $(date +%s) - start )) s"
cleanup
exit 0
}
