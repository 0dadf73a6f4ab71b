#!/bin/bash
# berth serve (Docker's Engine API) driven by Debian's docker CLI,
# differentially: a private containerd and dockerd in a temporary
# directory answer each scenario of tests/clients/serve-scenarios first
# (the expected result), then berth serve on its own socket and store
# answers the same snippet, and its result (exit code, output, error) must
# be dockerd's. One TAP line per scenario, and a last one: nothing left
# behind (mount, cgroup, process). Needs root; skips every case, saying
# why, where Docker cannot run. make check runs it; by hand:
#     BERTH_BIN=$PWD/berth tests/clients/test-serve.sh
# ONLY=REGEX runs the scenarios whose name matches.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/registry-lib.sh"
{

DOCKER=/usr/bin/docker   # Debian's docker.io CLI, not /usr/local/bin/docker
load_scenarios "$CLIENTS_SRCDIR/serve-scenarios"
[ -z "$ONLY" ] || only_scenarios "$ONLY"

reason=""
[ "$(id -u)" = 0 ] || reason="not root"
for p in /usr/sbin/dockerd $DOCKER containerd runc busybox iptables ip docker-registry skopeo; do
  [ -n "$reason" ] || command -v $p >/dev/null || reason="$p is not installed (.ci/install-deps)"
done
BERTH_CMD=${BERTH_BIN:-$CLIENTS_SRCDIR/../../berth}
[ -n "$reason" ] || [ -x "$BERTH_CMD" ] || reason="berth is not built"
[ -n "$reason" ] || [ -x "$(dirname "$BERTH_CMD")/berth-serve" ] ||
  reason="berth-serve is not built (libsoup-3.0-dev missing at configure)"
BERTH=$(find_berth_runc) || { [ -n "$reason" ] || reason="berth-runc is not built"; }
if [ -n "$reason" ]; then
  skip_all "$reason" "docker-py: berth serve answers as dockerd" \
    "docker-compose: berth serve answers as dockerd"
  exit 0
fi

take_lock
SCRATCH=$(mktemp -d /tmp/berth-serve.XXXXXX)
chmod 711 "$SCRATCH"
PREFIX=bs$$
BRIDGE=bsk$$
CGPARENT=berth-serve-$$
PORT_BASE=$((20000 + ($$ % 200) * 200))
SOCK=$SCRATCH/docker.sock
CTD_SOCK=$SCRATCH/containerd.sock
BSOCK=$SCRATCH/berth.sock
BROOT=$SCRATCH/berth-store
snapshot_host "$SCRATCH/before"

CLIENTS_NETWORK=none start_dockerd
"$BERTH_CMD" --root "$BROOT" serve --host "unix://$BSOCK" >"$SCRATCH/serve.log" 2>&1 &
SERVE_PID=$!
for _ in $(seq 50); do [ -S "$BSOCK" ] && break; sleep 0.1; done

cleanup () {
  local left ids
  if kill -0 "$SERVE_PID" 2>/dev/null; then
    ids=$(DOCKER_HOST=unix://$BSOCK timeout 30 $DOCKER ps -aq 2>/dev/null)
    [ -z "$ids" ] || DOCKER_HOST=unix://$BSOCK timeout 60 $DOCKER rm -f $ids >/dev/null 2>&1
    # networks a failed compose case left (their bridges are the host's)
    ids=$(DOCKER_HOST=unix://$BSOCK timeout 30 $DOCKER network ls --format '{{.Name}}' 2>/dev/null |
          grep "^$PREFIX-")
    [ -z "$ids" ] || DOCKER_HOST=unix://$BSOCK timeout 60 $DOCKER network rm $ids >/dev/null 2>&1
    kill "$SERVE_PID"
    wait_pid_gone "$SERVE_PID" 50 || { echo "# berth serve did not stop on TERM: killed"; kill -9 "$SERVE_PID"; }
  fi
  [ ! -e "$BSOCK" ] || echo "# berth serve left its socket behind"
  reg_stop "$SCRATCH/registry"
  stop_dockerd
  left=$(echo "$CGROUP_LEFTOVERS"; host_leftovers "$SCRATCH/before")
  [ ! -e "$BSOCK" ] || left=$(echo "$left"; echo "socket $BSOCK")
  left=$(echo "$left" | grep -v '^$')
  if [ -z "$left" ]; then
    echo "ok $NCASES - nothing left behind"
  else
    echo "not ok $NCASES - nothing left behind"
    echo "$left" | tap_diag
  fi
  rm -rf "$SCRATCH"
}

EXTRA_CASES=("docker-py: berth serve answers as dockerd"
             "docker-compose: berth serve answers as dockerd")
NCASES=$((${#S_NAME[@]} + ${#EXTRA_CASES[@]} + 1))
trap 'echo "# interrupted"; cleanup; exit 1' INT TERM
if ! $DOCKER version >/dev/null 2>&1 || ! DOCKER_HOST=unix://$BSOCK $DOCKER version >/dev/null 2>&1; then
  echo "1..$NCASES"
  for i in "${!S_NAME[@]}"; do
    echo "ok $((i + 1)) - ${S_NAME[$i]} # SKIP dockerd or berth serve does not answer"
  done
  for i in "${!EXTRA_CASES[@]}"; do
    echo "ok $((${#S_NAME[@]} + i + 1)) - ${EXTRA_CASES[$i]} # SKIP dockerd or berth serve does not answer"
  done
  tail -n 10 "$SCRATCH/dockerd.log" "$SCRATCH/serve.log" | tap_diag
  cleanup
  exit 0
fi

# The image: busybox with PATH and CMD, imported into dockerd and saved
# from there into berth's store: the same image on both sides.
IMG=berth-busybox
make_rootfs_tar "$SCRATCH/rootfs" "$SCRATCH/rootfs.tar"
$DOCKER import -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  -c 'CMD ["sh"]' "$SCRATCH/rootfs.tar" $IMG >/dev/null
$DOCKER save -o "$SCRATCH/image.tar" $IMG
"$BERTH_CMD" --root "$BROOT" load -i "$SCRATCH/image.tar" >/dev/null
# A registry on loopback (plain HTTP: both treat 127.0.0.1 as insecure)
# holding the image as test/bb:1 and :2, for pulls.
REG_PORT=$((PORT_BASE + 199))
reg_start_plain "$SCRATCH/registry" "$REG_PORT" >/dev/null 2>&1
REG=127.0.0.1:$REG_PORT
for t in 1 2; do reg_push_archive "$SCRATCH/image.tar" "$REG/test/bb:$t" >/dev/null 2>&1; done

# What the snippets see: dk talks to the variant's daemon ($RT: runc for
# dockerd, berth for berth serve).
cat >"$SCRATCH/env.sh" <<ENV
DOCKER=$DOCKER
IMG=$IMG
REG=$REG
SCRATCH=$SCRATCH
PREFIX=$PREFIX
if [ "\$RT" = berth ]; then export DOCKER_HOST=unix://$BSOCK; else export DOCKER_HOST=unix://$SOCK; fi
dk () { $DOCKER "\$@"; }
drun () { $DOCKER run --rm --network none "\$@"; }
dbg () { $DOCKER run -d --network none --name "\$C" "\$@" >/dev/null; }
until_ok () { for _ in \$(seq 50); do "\$@" >/dev/null 2>&1 && return 0; sleep 0.2; done; return 1; }
ENV

# Containers a scenario left, of variant $1, scenario $2.
variant_cleanup () {
  local ids host=unix://$SOCK
  [ "$1" = berth ] && host=unix://$BSOCK
  ids=$(DOCKER_HOST=$host timeout 30 $DOCKER ps -aq --filter "name=$PREFIX-$1-$2" 2>/dev/null)
  [ -z "$ids" ] || DOCKER_HOST=$host timeout 60 $DOCKER rm -f $ids >/dev/null 2>&1
  ids=$(DOCKER_HOST=$host timeout 30 $DOCKER volume ls -q 2>/dev/null | grep "^$PREFIX-$1-$2")
  [ -z "$ids" ] || DOCKER_HOST=$host timeout 60 $DOCKER volume rm -f $ids >/dev/null 2>&1
  DOCKER_HOST=$host timeout 60 $DOCKER rmi -f "$REG/test/bb:1" "$REG/test/bb:2" >/dev/null 2>&1
}

echo "1..$NCASES"
start=$(date +%s)
for i in "${!S_NAME[@]}"; do
  run_scenario "$i" "$((i + 1))"
done
echo "# scenarios took $(( $(date +%s) - start )) s"
# A client program run against each socket (dockerd's, then berth
# serve's), its output compared: TAP case $1, named $2, skipped saying $3
# when command $4 is missing; the rest is the command line, where HOST
# and NAME stand for the socket and a name unique to the variant.
client_case () {
  local n=$1 name=$2 missing=$3 need=$4 rt host a args
  shift 4
  if ! eval "$need" >/dev/null 2>&1; then
    echo "ok $n - $name # SKIP $missing"
    return
  fi
  for rt in runc berth; do
    host=unix://$SOCK
    [ $rt = berth ] && host=unix://$BSOCK
    args=()
    for a in "$@"; do
      a=${a//HOST/$host}
      args+=("${a//NAME/$PREFIX-$rt-x}")
    done
    timeout -k 5 180 "${args[@]}" >"$SCRATCH/client.$rt" 2>&1
    echo "exit $?" >>"$SCRATCH/client.$rt"
    sed -i -e "s/$PREFIX-$rt-x/<c>/g" -e 's/\b[0-9a-f]\{12,64\}\b/<id>/g' "$SCRATCH/client.$rt"
  done
  if cmp -s "$SCRATCH/client.runc" "$SCRATCH/client.berth"; then
    echo "ok $n - $name"
  else
    echo "not ok $n - $name"
    diff -u --label dockerd --label "berth serve" "$SCRATCH/client.runc" "$SCRATCH/client.berth" |
      tap_diag
  fi
}
n=${#S_NAME[@]}
client_case $((n + 1)) "${EXTRA_CASES[0]}" "python3-docker is not installed (.ci/install-deps)" \
  "python3 -c 'import docker'" python3 "$CLIENTS_SRCDIR/serve-docker-py.py" HOST "$IMG" NAME
client_case $((n + 2)) "${EXTRA_CASES[1]}" "docker-compose is not installed (.ci/install-deps)" \
  "command -v docker-compose" "$CLIENTS_SRCDIR/serve-compose.sh" HOST "$IMG" NAME "$SCRATCH/NAME"
cleanup
exit 0
}
