#!/bin/bash
# berth-runc under podman, differentially: podman with its own --root,
# --runroot, containers.conf and storage.conf in a temporary directory;
# every scenario of tests/clients/podman-scenarios runs with --runtime runc
# and then --runtime <berth-runc>, and berth-runc's result must be runc's.
# One TAP line per scenario and a last one: nothing left behind. Needs
# root; skips every case, saying why, where podman cannot run. By hand:
#     BERTH_RUNC_BIN=$PWD/berth-runc tests/clients/test-podman.sh
# ONLY=REGEX runs the scenarios whose name matches.
. "$(dirname "$0")/lib.sh"
# In braces: bash reads the whole script before running it (it may be
# edited while a run goes on).
{

load_scenarios "$CLIENTS_SRCDIR/podman-scenarios"
[ -z "$ONLY" ] || only_scenarios "$ONLY"
NCASES=$((${#S_NAME[@]} + 1))

reason=""
[ "$(id -u)" = 0 ] || reason="not root"
for p in podman conmon runc busybox iptables ip script; do
  [ -n "$reason" ] || command -v $p >/dev/null || reason="$p is not installed (.ci/install-deps)"
done
BERTH=$(find_berth_runc) || { [ -n "$reason" ] || reason="berth-runc is not built"; }
if [ -n "$reason" ]; then
  skip_all "$reason"
  exit 0
fi

take_lock
SCRATCH=$(mktemp -d /tmp/berth-podman.XXXXXX)
PREFIX=bp$$
CGPARENT=berth-podman-$$
PORT_BASE=$((20000 + ($$ % 200) * 200))
snapshot_host "$SCRATCH/before"
mkdir -p "$SCRATCH/tmp"
# The host's CAP_SYS_RESOURCE-less bounding set: no rlimit above its hard
# ones, so podman's defaults (nofile and nproc of 1048576) are lowered.
cat >"$SCRATCH/containers.conf" <<EOF
[containers]
netns = "none"
default_ulimits = ["nofile=1024:2048", "nproc=4096:4096"]
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$SCRATCH/events.log"
tmp_dir = "$SCRATCH/tmp"
volume_path = "$SCRATCH/volumes"
[network]
network_backend = "cni"
network_config_dir = "$SCRATCH/net"
EOF
cat >"$SCRATCH/storage.conf" <<EOF
[storage]
driver = "vfs"
graphroot = "$SCRATCH/root"
runroot = "$SCRATCH/runroot"
EOF
export CONTAINERS_CONF=$SCRATCH/containers.conf CONTAINERS_STORAGE_CONF=$SCRATCH/storage.conf
PODMAN="podman --root $SCRATCH/root --runroot $SCRATCH/runroot"

cleanup () {
  local left ids
  ids=$(timeout 30 $PODMAN ps -aq 2>/dev/null)
  [ -z "$ids" ] || timeout 60 $PODMAN rm -f -t 0 $ids >/dev/null 2>&1
  timeout 30 $PODMAN network prune -f >/dev/null 2>&1
  timeout 30 $PODMAN volume prune -f >/dev/null 2>&1
  timeout 60 $PODMAN rmi -af >/dev/null 2>&1
  for p in $(pgrep -f "$SCRATCH"); do kill -9 "$p" 2>/dev/null; echo "# killed leftover process $p"; done
  unmount_scratch | tap_diag   # dockerd leaves its netns/default
  rmdir /sys/fs/cgroup/*/"$CGPARENT"/conmon /sys/fs/cgroup/"$CGPARENT"/conmon 2>/dev/null   # podman's, for conmon (v1 or cgroup2-only)
  remove_plain_cgroup_dirs "$CGPARENT" | tap_diag
  left=$(remove_cgroups "$CGPARENT")
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

trap 'echo "# interrupted"; cleanup; exit 1' INT TERM
IMG=localhost/berth-busybox
make_rootfs_tar "$SCRATCH/rootfs" "$SCRATCH/rootfs.tar"
if ! err=$($PODMAN import --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'CMD ["sh"]' "$SCRATCH/rootfs.tar" $IMG 2>&1 >/dev/null); then
  echo "1..$NCASES"
  for i in "${!S_NAME[@]}"; do
    echo "ok $((i + 1)) - ${S_NAME[$i]} # SKIP podman import fails: $(echo "$err" | tail -n 1)"
  done
  cleanup
  exit 0
fi

cat >"$SCRATCH/env.sh" <<EOF
IMG=$IMG
SCRATCH=$SCRATCH
PREFIX=$PREFIX
CGPARENT=$CGPARENT
export CONTAINERS_CONF=$CONTAINERS_CONF CONTAINERS_STORAGE_CONF=$CONTAINERS_STORAGE_CONF
rtpath () { if [ "\$RT" = berth ]; then echo $BERTH; else echo runc; fi; }
PODMAN="$PODMAN"
pm () { $PODMAN "\$@"; }
# podman run of a container that goes away: prun [OPTIONS] IMAGE CMD...
prun () { $PODMAN run --rm --runtime "\$(rtpath)" --cgroup-parent /$CGPARENT "\$@"; }
# a named container in the background: pbg [OPTIONS] IMAGE CMD...
pbg () { $PODMAN run -d --runtime "\$(rtpath)" --cgroup-parent /$CGPARENT --name "\$C" "\$@" >/dev/null; }
ontty () { script -qec "\$1" /dev/null | tr -d '\r'; return \${PIPESTATUS[0]}; }
until_ok () { for _ in \$(seq 50); do "\$@" >/dev/null 2>&1 && return 0; sleep 0.2; done; return 1; }
EOF

variant_cleanup () {
  local ids
  ids=$(timeout 30 $PODMAN ps -aq --filter "name=$PREFIX-$1-$2" 2>/dev/null)
  [ -z "$ids" ] || timeout 60 $PODMAN rm -f -t 0 $ids >/dev/null 2>&1
}

echo "1..$NCASES"
start=$(date +%s)
for i in "${!S_NAME[@]}"; do
  run_scenario "$i" "$((i + 1))"
done
echo "# scenarios took $(( $(date +%s) - start )) s"
cleanup
exit 0
}
