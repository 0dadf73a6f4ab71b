# Shared by tests/clients/test-docker.sh and test-podman.sh: the busybox
# image, the scenario table, the differential runner (each scenario under
# runc, then under berth-runc, compared) and the host-state bookkeeping the
# final cleanup case checks. Sourced by bash; speaks TAP on stdout.
#
# A scenario table line is
#     name :: runc's expected exit code :: shell snippet
# '#' lines and blank lines are ignored. The snippet runs in bash with
# $RT (the runtime's name: runc or berth), $C and $C2 (container names
# unique to the scenario and runtime), $W (an empty scratch directory),
# $IMG (the busybox image), $PORT (a free loopback port) and the helper
# functions of the suite. Its exit code, stdout and stderr, normalised by
# norm() below, are the scenario's result; the case passes when
# berth-runc's result is runc's. When runc's exit code is not the
# expected one, runc itself fails on this host and the case is skipped.

CLIENTS_SRCDIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SCENARIO_TIMEOUT=${SCENARIO_TIMEOUT:-90}

tap_diag () { sed 's/^/# /'; }

# One client suite at a time on a host (make -j, or another worktree's
# make check): each snapshots iptables and removes what appeared since.
take_lock () {
  exec 9>/tmp/berth-clients.lock
  flock 9
}

# The berth-runc under test: $BERTH_RUNC_BIN (make check sets it), else the
# one built next to the sources.
find_berth_runc () {
  local b=${BERTH_RUNC_BIN:-$CLIENTS_SRCDIR/../../berth-runc}
  [ -x "$b" ] || return 1
  (cd "$(dirname "$b")" && echo "$(pwd)/$(basename "$b")")
}

# The scenario table, parsed into the arrays S_NAME, S_RC, S_CODE.
load_scenarios () {
  S_NAME=(); S_RC=(); S_CODE=()
  local line name rest
  while IFS= read -r line || [ -n "$line" ]; do
    case "$line" in ''|'#'*) continue ;; esac
    name=${line%% :: *}; rest=${line#* :: }
    S_NAME+=("$name"); S_RC+=("${rest%% :: *}"); S_CODE+=("${rest#* :: }")
  done < "$1"
}

# Keep only the scenarios whose name matches the regex $1.
only_scenarios () {
  local i n=() r=() c=()
  for i in "${!S_NAME[@]}"; do
    [[ ${S_NAME[$i]} =~ $1 ]] || continue
    n+=("${S_NAME[$i]}"); r+=("${S_RC[$i]}"); c+=("${S_CODE[$i]}")
  done
  S_NAME=("${n[@]}"); S_RC=("${r[@]}"); S_CODE=("${c[@]}")
}

# A busybox root file system as a tar: relative links (the image has no
# /bin/busybox of the host's path), root and a uid-1000 user.
make_rootfs_tar () {
  local dir=$1 tar=$2 bb a
  bb=$(command -v busybox) || return 1
  mkdir -p "$dir"/bin "$dir"/etc "$dir"/tmp "$dir"/root "$dir"/home/user "$dir"/proc "$dir"/sys "$dir"/dev
  cp "$bb" "$dir"/bin/busybox
  for a in $("$bb" --list); do
    [ "$a" = busybox ] || ln -sf busybox "$dir/bin/$a"
  done
  printf 'root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home/user:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n' >"$dir"/etc/passwd
  printf 'root:x:0:\nuser:x:1000:\nnogroup:x:65534:\n' >"$dir"/etc/group
  echo 'hello from httpd' >"$dir"/etc/index.html
  chmod 1777 "$dir"/tmp
  chown -R 1000:1000 "$dir"/home/user
  tar -C "$dir" -cf "$tar" .
}

# What may differ between two runs of the same thing and means nothing:
# container ids, the names' runtime part, the scratch paths, timestamps.
norm () {
  sed -E -e "s#$SCRATCH#<tmp>#g" -e "s#$BERTH#<berth-runc>#g" \
         -e "s/$PREFIX-(runc|berth)-/<c>-/g" \
         -e 's/\b[0-9a-f]{64}\b/<id>/g' -e 's/\b[0-9a-f]{12}\b/<id>/g' \
         -e 's/[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+(Z|[+-][0-9:]+)?/<time>/g' \
         -e 's/\r$//'
}

# Run scenario $1 under runtime $2 into $SCRATCH/res/$1.$2.
run_variant () {
  local i=$1 rt=$2 w=$SCRATCH/w/$i.$2 out=$SCRATCH/res/$i.$2
  mkdir -p "$w" "$SCRATCH/res"
  (
    cd "$w" || exit 1
    export RT=$rt W=$w C=$PREFIX-$rt-$i C2=$PREFIX-$rt-$i-b PORT=$((PORT_BASE + i))
    timeout -k 5 "$SCENARIO_TIMEOUT" bash -c '. "$1"; eval "$2"' _ "$SCRATCH/env.sh" "${S_CODE[$i]}" \
      </dev/null >"$w/.out" 2>"$w/.err"
    echo $? >"$w/.rc"
  )
  {
    echo "exit code: $(cat "$w/.rc")"
    echo "--- stdout"
    norm <"$w/.out"
    echo "--- stderr"
    norm <"$w/.err"
  } >"$out"
  variant_cleanup "$rt" "$i"
}

# A result in one line for the report: the exit code, then stdout's and
# stderr's first lines.
summary () {
  local f=$SCRATCH/w/$1 o e
  o=$(norm <"$f/.out" | grep -v '^$' | head -n 2 | tr '\n' ' ' | cut -c1-80)
  e=$(norm <"$f/.err" | grep -v '^$' | head -n 1 | cut -c1-160)
  echo "exit $(cat "$f/.rc")${o:+; out: ${o% }}${e:+; err: $e}" | tr '\t' ' ' | sed 's/|/\\|/g'
}

# With CLIENTS_REPORT=FILE, one markdown table row a scenario is appended
# to FILE: name, runc's result, berth-runc's result, verdict.
report () {
  [ -n "$CLIENTS_REPORT" ] || return 0
  local name=${S_NAME[$1]//|/\\|}
  echo "| \`$name\` | $2 | $3 | $4 |" >>"$CLIENTS_REPORT"
}

# One TAP line for scenario $1 (its number $2).
run_scenario () {
  local i=$1 n=$2 name=${S_NAME[$1]} rrc
  run_variant "$i" runc
  rrc=$(cat "$SCRATCH/w/$i.runc/.rc")
  # The exit code alone misses a snippet that goes on after its container
  # failed to start (exec's "echo exec exit $?"): runc's own refusal to
  # create one means there is nothing to compare with, whatever the code.
  if [ "$rrc" != "${S_RC[$i]}" ] || grep -q 'runc create failed' "$SCRATCH/w/$i.runc/.err"; then
    local why
    why=$(norm <"$SCRATCH/w/$i.runc/.err" | grep -m 1 'runc create failed')
    [ -n "$why" ] || why=$(norm <"$SCRATCH/w/$i.runc/.err" | grep -v '^$' | tail -n 1)
    [ -n "$why" ] || why=$(norm <"$SCRATCH/w/$i.runc/.out" | grep -v '^$' | tail -n 1)
    echo "ok $n - $name # SKIP runc fails here: exit $rrc (expected ${S_RC[$i]}) ${why:-(no message)}"
    report "$i" "$(summary "$i.runc")" "not run" "skip: runc fails here"
    return
  fi
  run_variant "$i" berth
  if cmp -s "$SCRATCH/res/$i.runc" "$SCRATCH/res/$i.berth"; then
    echo "ok $n - $name"
    report "$i" "$(summary "$i.runc")" "same" "ok"
  else
    echo "not ok $n - $name"
    diff -u --label runc --label berth-runc "$SCRATCH/res/$i.runc" "$SCRATCH/res/$i.berth" | tap_diag
    report "$i" "$(summary "$i.runc")" "$(summary "$i.berth")" "**differs**"
  fi
}

# Every scenario skipped, with the reason ($1), then the extra cases named
# by the other arguments, then the cleanup case.
skip_all () {
  local i why=$1 extra
  shift
  echo "1..$((${#S_NAME[@]} + $# + 1))"
  for i in "${!S_NAME[@]}"; do
    echo "ok $((i + 1)) - ${S_NAME[$i]} # SKIP $why"
  done
  i=${#S_NAME[@]}
  for extra in "$@"; do
    i=$((i + 1))
    echo "ok $i - $extra # SKIP $why"
  done
  echo "ok $((i + 1)) - nothing left behind # SKIP $why"
}

# Host state that the suite must give back as it found it: iptables'
# filter and nat tables, the links, the mounts, ip_forward.
snapshot_host () {
  local d=$1
  mkdir -p "$d"
  iptables -t filter -S >"$d/filter" 2>/dev/null
  iptables -t nat -S >"$d/nat" 2>/dev/null
  ip -o link show | awk -F': ' '{print $2}' | sed 's/@.*//' | sort >"$d/links"
  cat /proc/sys/net/ipv4/ip_forward >"$d/ip_forward"
}

# Remove what the daemon added to iptables (its rules, its DOCKER* chains,
# the FORWARD policy) since the snapshot in $1.
restore_iptables () {
  local d=$1 t line chain
  for t in filter nat; do
    iptables -t $t -S >"$d/$t.after" 2>/dev/null || continue
    grep -vxF -f "$d/$t" "$d/$t.after" | grep '^-A ' | while IFS= read -r line; do
      eval "iptables -t $t -D ${line#-A }"
    done
    grep -vxF -f "$d/$t" "$d/$t.after" | grep '^-P ' | while IFS= read -r line; do
      chain=$(echo "$line" | cut -d' ' -f2)
      eval "iptables -t $t $(grep "^-P $chain " "$d/$t")"
    done
    grep -vxF -f "$d/$t" "$d/$t.after" | grep '^-N ' | while IFS= read -r line; do
      chain=${line#-N }
      iptables -t $t -F "$chain"; iptables -t $t -X "$chain"
    done
  done
  cat "$d/ip_forward" >/proc/sys/net/ipv4/ip_forward
}

# What is still different from the snapshot in $1 (empty when nothing).
host_leftovers () {
  local d=$1 t
  for t in filter nat; do
    iptables -t $t -S 2>/dev/null | grep -vxF -f "$d/$t" | sed "s/^/iptables -t $t: /"
  done
  ip -o link show | awk -F': ' '{print $2}' | sed 's/@.*//' | sort | grep -vxF -f "$d/links" | sed 's/^/link: /'
  grep -F "$SCRATCH" /proc/self/mountinfo | awk '{print "mount: " $5}'
  [ "$(cat /proc/sys/net/ipv4/ip_forward)" = "$(cat "$d/ip_forward")" ] || echo "ip_forward changed"
}

# Unmount whatever is left under $SCRATCH, deepest first; say what.
unmount_scratch () {
  local m
  grep -F "$SCRATCH" /proc/self/mountinfo | awk '{print $5}' | sort -r | while read -r m; do
    echo "unmounted leftover $m"
    umount -l "$m"
  done
}

# Remove the cgroup directories below $1 in every hierarchy, deepest first;
# print those that held a process or could not be removed.
remove_cgroups () {
  local parent=$1 top d
  for top in /sys/fs/cgroup/*/ /sys/fs/cgroup/; do
    [ -d "$top$parent" ] || continue
    case $(stat -f -c %T "$top") in cgroupfs | cgroup2fs) ;; *) continue ;; esac
    find "$top$parent" -depth -type d | while read -r d; do
      if [ -s "$d/cgroup.procs" ]; then echo "cgroup with processes: $d"; fi
      [ "$d" = "$top$parent" ] || echo "leftover cgroup: $d"
      rmdir "$d" 2>/dev/null || echo "cannot remove cgroup: $d"
    done
  done
}

# podman's cgroupfs manager makes /sys/fs/cgroup/CONTROLLER/$1 for every v1
# controller it knows, with mkdir -p, even where no hierarchy is mounted
# (6.12 without v1 memory and cpuset): plain directories on the tmpfs,
# made whichever runtime ran. Removed, and said, but not a runtime's leftover.
remove_plain_cgroup_dirs () {
  local parent=$1 top
  for top in /sys/fs/cgroup/*/; do
    [ -d "$top$parent" ] || continue
    case $(stat -f -c %T "$top") in cgroupfs | cgroup2fs) continue ;; esac
    rm -rf "$top$parent"
    rmdir "$top" 2>/dev/null
    echo "removed ${top}$parent: a plain directory, not a cgroup (no hierarchy is mounted at $top)"
  done
}

# Wait (up to $2 tenths of a second) for pid $1 to exit.
wait_pid_gone () {
  local k
  for k in $(seq "$2"); do
    kill -0 "$1" 2>/dev/null || return 0
    sleep 0.1
  done
  return 1
}

# A private containerd and dockerd in $SCRATCH (socket $SOCK, containerd's
# $CTD_SOCK), berth-runc ($BERTH) added as the runtime "berth", containers
# under the cgroup /$CGPARENT, the default bridge $BRIDGE on a private /24
# that no route of the host uses (with CLIENTS_NETWORK=none: no bridge and
# no iptables, for hosts without them). Sets DOCKERD_PID and CTD_PID and exports
# DOCKER_HOST; returns once the daemon answers or has died (the caller
# asks `docker version`). Shared by test-docker.sh and bench/docker-start.sh.
start_dockerd () {
  local k net
  if [ "${CLIENTS_NETWORK:-bridge}" = none ]; then
    # a host without bridge or netfilter (the kernel matrix's guests)
    net="--bridge=none --iptables=false --ip-forward=false --ip-masq=false"
  else
    for k in $(seq 0 60); do
      SUBNET=10.$((200 + $$ % 50)).$(( ($$ / 50 + k) % 250 ))
      ip route | grep -q "^$SUBNET\." || break
    done
    ip link add "$BRIDGE" type bridge && ip addr add "$SUBNET.1/24" dev "$BRIDGE" && ip link set "$BRIDGE" up
    net="--bridge $BRIDGE --iptables=true --userland-proxy=true"
  fi
  printf '%s\n' 'version = 2' "root = \"$SCRATCH/containerd/root\"" \
    "state = \"$SCRATCH/containerd/state\"" 'disabled_plugins = ["io.containerd.grpc.v1.cri"]' \
    '[grpc]' "  address = \"$CTD_SOCK\"" '[ttrpc]' "  address = \"$CTD_SOCK.ttrpc\"" \
    >"$SCRATCH/containerd.toml"
  containerd --config "$SCRATCH/containerd.toml" >"$SCRATCH/containerd.log" 2>&1 &
  CTD_PID=$!
  /usr/sbin/dockerd --data-root "$SCRATCH/data" --exec-root "$SCRATCH/exec" --pidfile "$SCRATCH/docker.pid" \
    -H "unix://$SOCK" --containerd "$CTD_SOCK" --exec-opt native.cgroupdriver=cgroupfs \
    --cgroup-parent "/$CGPARENT" --add-runtime "berth=$BERTH" $net \
    ${DOCKERD_EXTRA_FLAGS:-} >"$SCRATCH/dockerd.log" 2>&1 &
  DOCKERD_PID=$!
  export DOCKER_HOST=unix://$SOCK
  for k in $(seq 150); do
    $DOCKER version >/dev/null 2>&1 && break
    kill -0 $DOCKERD_PID 2>/dev/null || break
    sleep 0.2
  done
}

# Everything start_dockerd made, undone: containers, networks and volumes
# removed, the daemons stopped by pid (killed after a while, said in a "#"
# line), leftover shims and proxies of ours killed, mounts under $SCRATCH
# unmounted, the bridge deleted, iptables as in $SCRATCH/before. The
# cgroups that had to be removed by hand are left in CGROUP_LEFTOVERS.
stop_dockerd () {
  local p ids
  if [ -n "$DOCKERD_PID" ]; then
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
  CGROUP_LEFTOVERS=$(remove_cgroups "$CGPARENT")
  ip link del "$BRIDGE" 2>/dev/null
  restore_iptables "$SCRATCH/before"
}
