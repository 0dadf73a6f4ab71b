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
# DOCKER_SCENARIOS and DOCKERD_EXTRA_FLAGS: another table on a daemon
# started with more flags (test-docker-userns.sh).
load_scenarios "$CLIENTS_SRCDIR/${DOCKER_SCENARIOS:-docker-scenarios}"
[ -z "$ONLY" ] || only_scenarios "$ONLY"
# The plain table's daemon also checks berth cp against docker cp
# (cp-differential.sh); a remapping daemon's cp owners differ by design.
EXTRA_CASES=()
[ -n "$DOCKER_SCENARIOS" ] || [[ -n "$ONLY" && ! "berth cp agrees with docker cp" =~ $ONLY ]] ||
  EXTRA_CASES=("berth cp agrees with docker cp")

reason=""
[ "$(id -u)" = 0 ] || reason="not root"
for p in /usr/sbin/dockerd $DOCKER containerd runc busybox iptables ip script curl; do
  [ -n "$reason" ] || command -v $p >/dev/null || reason="$p is not installed (.ci/install-deps)"
done
BERTH=$(find_berth_runc) || { [ -n "$reason" ] || reason="berth-runc is not built"; }
if [ -n "$reason" ]; then
  skip_all "$reason" "${EXTRA_CASES[@]}"
  exit 0
fi

take_lock
SCRATCH=$(mktemp -d /tmp/berth-docker.XXXXXX)
chmod 711 "$SCRATCH"   # a remapped root must reach the daemon's data below it
PREFIX=bd$$
BRIDGE=bdk$$
CGPARENT=berth-docker-$$
PORT_BASE=$((20000 + ($$ % 200) * 200))
SOCK=$SCRATCH/docker.sock
CTD_SOCK=$SCRATCH/containerd.sock
snapshot_host "$SCRATCH/before"

start_dockerd

cleanup () {
  local left
  stop_dockerd
  left=$(echo "$CGROUP_LEFTOVERS"; host_leftovers "$SCRATCH/before")
  left=$(echo "$left" | grep -v '^$')
  if [ -z "$left" ]; then
    echo "ok $NCASES - nothing left behind"
  else
    echo "not ok $NCASES - nothing left behind"
    echo "$left" | tap_diag
  fi
  rm -rf "$SCRATCH"
}

NCASES=$((${#S_NAME[@]} + ${#EXTRA_CASES[@]} + 1))
trap 'echo "# interrupted"; cleanup; exit 1' INT TERM
if ! $DOCKER version >/dev/null 2>&1; then
  why=$(grep -iE 'level=(error|fatal)|failed' "$SCRATCH/dockerd.log" | tail -n 1)
  [ -n "$why" ] || why=$(grep -v -e '^$' -e "^See '" "$SCRATCH/dockerd.log" | tail -n 1)
  echo "1..$NCASES"
  for i in "${!S_NAME[@]}"; do
    echo "ok $((i + 1)) - ${S_NAME[$i]} # SKIP dockerd does not start: ${why:-see its log}"
  done
  for i in "${!EXTRA_CASES[@]}"; do
    echo "ok $((${#S_NAME[@]} + i + 1)) - ${EXTRA_CASES[$i]} # SKIP dockerd does not start"
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
if [ ${#EXTRA_CASES[@]} -gt 0 ]; then
  . "$CLIENTS_SRCDIR/cp-differential.sh"
  cp_differential $((n + 1))
fi
cleanup
exit 0
}
