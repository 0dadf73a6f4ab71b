# The fault-injection suite's pieces (tests/faults/test-faults.sh): the
# commands under test, crash points from a traced run, the kill, and the
# checks a user would make afterwards. Sourced by bash; the checks print one
# line per problem and nothing when all is well. docs/faults.md explains.

. "$(dirname "${BASH_SOURCE[0]}")/../clients/lib.sh"   # tap_diag, remove_cgroups

# The syscalls that change the store, the mounts, the cgroups or the
# processes: the crash points are calls of these (openat only with O_CREAT,
# ioctl only the btrfs and file-clone ones).
FAULT_SYSCALLS=write,pwrite64,writev,rename,renameat,renameat2,fsync,fdatasync,syncfs
FAULT_SYSCALLS+=,mount,umount2,move_mount,mount_setattr,mkdir,mkdirat,unlink,unlinkat,rmdir
FAULT_SYSCALLS+=,symlink,symlinkat,link,linkat,clone,clone3,fork,vfork,ftruncate,fallocate
FAULT_SYSCALLS+=,openat,ioctl,kill,tgkill,pidfd_send_signal,setxattr,lsetxattr,fsetxattr
FAULT_SYSCALLS+=,copy_file_range
CMD_TIMEOUT=${BERTH_FAULTS_TIMEOUT:-60}
SETTLE_TENTHS=300   # how long processes of a killed command may take to exit

# berth on the point's store ($R) and driver ($DRIVER), with a timeout.
b () {
  timeout -k 5 "$CMD_TIMEOUT" "$BERTH_BIN" --root "$R" --storage-driver "$DRIVER" "$@"
}

# The container program: short, so monitors finish on their own; $TAG
# (its $0) finds its processes.
prog () { echo "sh -c 'echo faults; sleep 0.2' $TAG"; }

# What the store holds before the command under test ($1) runs.
setup_cmd () {
  case $1 in
    import|load) return 0 ;;
  esac
  b load -i "$FIX/image.tar" >/dev/null || return 1
  case $1 in
    commit) b run --name c1 busybox sh -c 'echo x >/made-here' >/dev/null ;;
    export) b create --name c1 busybox >/dev/null ;;
    rm-f) b run -d --name c1 busybox sh -c 'sleep 1000; true' "$TAG" >/dev/null ;;
    connect) b network create fnet >/dev/null &&
      b run -d --name c1 busybox sh -c 'sleep 1000; true' "$TAG" >/dev/null ;;
    rmi) b import "$FIX/rootfs.tar" imp:1 >/dev/null ;;
  esac
}

# The command under test ($1), the run number ($2) telling names apart,
# as words for berth.
cmd_words () {
  case $1 in
    import) echo "import $FIX/rootfs.tar imp:$2" ;;
    load) echo "load -i $FIX/image.tar" ;;
    create) echo "create --name c$2 busybox $(prog)" ;;
    run-d) echo "run -d --name c$2 busybox $(prog)" ;;
    run-rm) echo "run --rm busybox $(prog)" ;;
    run-vol) echo "run --rm -v vol$2:/etc -v /anon busybox $(prog)" ;;
    commit) echo "commit c1 snap:$2" ;;
    export) echo "export -o $W/out$2.tar c1" ;;
    rm-f) echo "rm -f c1" ;;
    connect) echo "network connect fnet c1" ;;
    rmi) echo "rmi busybox imp:1" ;;
  esac
}

# Run berth with the words of cmd_words ($@); eval keeps the quoting of prog.
b_words () { eval "b $*"; }

# Processes of this point: berth and its monitors name $R, containers $TAG.
point_pids () { pgrep -f -- "$R|$TAG" | grep -vx "$$" | sort; }

# Wait for the processes that were not there before ($1: a file of pids)
# to exit, as a user waits for a killed command's children; print those
# still running at the end.
settle () {
  local k left
  for k in $(seq "$SETTLE_TENTHS"); do
    left=$(point_pids | comm -23 - "$1")
    [ -n "$left" ] || return 0
    sleep 0.1
  done
  for k in $left; do echo "process still running: $k $(tr '\0' ' ' </proc/$k/cmdline 2>/dev/null)"; done
}

# Crash points of a traced run ($1: strace -f log): "SEQ WHO SYSCALL N" in
# the order they happened. WHO is berth (the command's own process, killed
# alone by a trace without -f) or child (a monitor or a container's process:
# the Nth call in each traced process, with N beyond berth's own count).
crash_points () {
  awk -v set=",$FAULT_SYSCALLS," '
    $2 ~ /^(---|\+\+\+|<\.\.\.)/ { next }
    { pid = $1; sc = $2; sub(/\(.*/, "", sc)
      if (index(set, "," sc ",") == 0) next
      if (main == "") main = pid
      n = ++count[pid, sc]
      if (sc == "openat" && $0 !~ /O_CREAT/) next
      if (sc == "ioctl" && $0 !~ /BTRFS_IOC|FICLONE|FS_IOC_/) next
      if (pid == main) { print ++seq, "berth", sc, n; mine[sc] = n; next }
      if (n <= mine[sc] || seen[sc, n]++) next
      print ++seq, "child", sc, n }' "$1"
}

# Keep at most $1 of the points on stdin, spread evenly. With fewer than
# there are (who, syscall) groups, one point of each of $1 groups spread
# over the groups in the order they first happen; else one of each group
# and the rest shared out by the groups' sizes. BERTH_FAULTS_SEED turns
# each group's picks round by that many calls, so that runs with other
# seeds try other points of the same spread.
sample_points () {
  awk -v want="$1" -v seed="${BERTH_FAULTS_SEED:-0}" '
    { line[NR] = $0; g = $2 " " $3; grp[NR] = g
      if (!(g in size)) order[ngroups++] = g
      size[g]++ }
    END {
      extra = want > ngroups ? want - ngroups : 0
      for (i = 0; i < ngroups; i++) {
        g = order[i]; keep[g] = 0
        if (want >= ngroups) keep[g] = 1 + int(extra * size[g] / NR)
        if (keep[g] > size[g]) keep[g] = size[g]
      }
      if (want < ngroups) for (j = 0; j < want; j++) keep[order[int((j + 0.5) * ngroups / want)]] = 1
      for (i = 1; i <= NR; i++) {
        g = grp[i]; n = size[g]; k = (idx[g]++ + seed) % n; m = keep[g]; pick = 0
        if (m == 1) pick = (k == int((n - 1) / 2))
        else for (j = 0; j < m; j++) if (k == int(j * (n - 1) / (m - 1) + 0.5)) pick = 1
        if (pick) print line[i]
      } }'
}

# The processes the injected SIGKILL ended ($1: the syscall, $2: the strace
# log, with or without -f), one line each: "berth" or "child PID", and the
# call it died in. Empty when the run never reached the point.
injected_kills () {
  awk -v sc="$1" '
    { pid = "berth"; l = $0
      if ($1 ~ /^[0-9]+$/) { pid = $1; sub(/^[0-9]+ +/, "", l); if (main == "") main = pid }
      if (pid == main) pid = "berth" }
    l ~ /^\+\+\+ killed by SIGKILL/ { if (last[pid] ~ ("^" sc "\\(") && last[pid] ~ /(= \?|<unfinished \.\.\.>)$/)
                                       print (pid == "berth" ? pid : "child " pid) ": " substr(last[pid], 1, 160)
                                     next }
    l ~ /^(---|\+\+\+|<\.\.\.)/ { next }
    { last[pid] = l }' "$2"
}

# The 64-hex ids a log and the store name: candidates for cgroups.
seen_ids () { cat "$@" 2>/dev/null | grep -oE '\b[0-9a-f]{64}\b' | sort -u; }

# ps -a and images against the disk; one line per mismatch.
check_consistency () {
  local id dir cid f d
  b ps -a -q >"$W/ps" 2>"$W/ps.err" || { echo "ps -a failed: $(head -c 300 "$W/ps.err")"; return; }
  b images -q >"$W/img" 2>"$W/img.err" || { echo "images failed: $(head -c 300 "$W/img.err")"; return; }
  b ps -a >"$W/ps-long" 2>&1
  while read -r id; do
    dir=$(ls -d "$R"/containers/"$id"* 2>/dev/null | head -n 1)
    # A half-made (or half-removed) container is listed as Incomplete until swept.
    if [ -n "$dir" ] && [ ! -f "$dir/container.json" ] && grep -q "^$id .*Incomplete" "$W/ps-long"; then continue; fi
    [ -n "$dir" ] && [ -f "$dir/container.json" ] || { echo "ps lists $id: no containers/$id*/container.json"; continue; }
    [ -n "$(find "$R/storage" -mindepth 2 -maxdepth 3 -name "$(basename "$dir")" -print -quit)" ] ||
      echo "ps lists $id: no writable layer under storage/"
  done <"$W/ps"
  for dir in "$R"/containers/*/; do
    [ -d "$dir" ] || continue
    cid=$(basename "$dir")
    [ -f "$dir/container.json" ] || continue   # a half-made create, swept by rmi (checked after)
    grep -qx "${cid:0:12}" "$W/ps" || echo "containers/$cid has container.json but ps -a does not list it"
  done
  b volume ls -q >"$W/vols" 2>"$W/vols.err" || { echo "volume ls failed: $(head -c 300 "$W/vols.err")"; return; }
  while read -r id; do
    [ -f "$R/volumes/$id/volume.json" ] && [ -d "$R/volumes/$id/_data" ] ||
      echo "volume ls lists $id: no volumes/$id/volume.json and _data"
  done <"$W/vols"
  for f in "$R"/images/*.json; do
    [ -f "$f" ] || continue
    id=$(basename "$f" .json)
    grep -qx "${id:0:12}" "$W/img" || echo "images/$id.json is not listed by images"
    for d in $(grep -oE '"diff_ids":\[[^]]*\]' "$f" | grep -oE '[0-9a-f]{64}'); do
      [ -f "$R/blobs/sha256/$d" ] || echo "image ${id:0:12}: layer blob $d missing"
    done
  done
  while read -r id; do
    ls "$R"/images/"$id"*.json >/dev/null 2>&1 || echo "images lists $id: no images/$id*.json"
  done <"$W/img"
  for f in "$R"/layers/*/*; do
    [ -f "$f" ] || continue
    d=$(basename "$(dirname "$f")")
    [ -n "$(find "$R/storage/$d" -mindepth 1 -maxdepth 2 -name "$(basename "$f")" -print -quit)" ] ||
      echo "layers/$d/$(basename "$f"): marked complete, not in storage/$d"
  done
}

# rm -f of every container, then rmi of every image and network rm of
# every network: what a user does to empty a store. One line per failure.
remove_everything () {
  local ids
  b ps -a -q >"$W/ps" 2>&1 || { echo "ps -a failed: $(head -c 300 "$W/ps")"; return; }
  ids=$(cat "$W/ps")
  if [ -n "$ids" ]; then
    b rm -f $ids >"$W/rm.out" 2>&1 || echo "rm -f $(echo $ids) failed: $(head -c 300 "$W/rm.out")"
  fi
  b images -q >"$W/img" 2>&1 || { echo "images failed: $(head -c 300 "$W/img")"; return; }
  ids=$(sort -u "$W/img")
  if [ -n "$ids" ]; then
    b rmi $ids >"$W/rmi.out" 2>&1 || echo "rmi $(echo $ids) failed: $(head -c 300 "$W/rmi.out")"
  fi
  b volume prune -f >"$W/volprune.out" 2>&1 ||
    echo "volume prune -f failed: $(head -c 300 "$W/volprune.out")"
  b network ls >"$W/nets" 2>&1 || { echo "network ls failed: $(head -c 300 "$W/nets")"; return; }
  ids=$(awk 'NR > 1 { print $1 }' "$W/nets")
  if [ -n "$ids" ]; then
    b network rm $ids >"$W/netrm.out" 2>&1 ||
      echo "network rm $(echo $ids) failed: $(head -c 300 "$W/netrm.out")"
  fi
}

# What an emptied store ($R) still holds, besides its skeleton; then the
# mounts, cgroups ($@: candidate ids), loop devices and processes of it.
store_leftovers () {
  local id
  { (cd "$R" && find . -mindepth 1 ! -type d) | sed 's#^\./##' |
    grep -vxE 'lock|berth-store|driver|tags\.json|events\.jsonl(\.1)?|storage/[^/]+/probed' | sed 's/^/left in the store: /'
  (cd "$R" && find . -mindepth 1 -type d) | sed 's#^\./##' |
    grep -vxE 'containers|images|networks|volumes|tmp|holds|blobs|blobs/sha256|layers|layers/[^/]+|storage|storage/[^/]+|storage/[^/]+/(dir|refs|l|subvolumes)' |
    sed 's/^/left in the store: /'; } |
    awk 'NR <= 12; END { if (NR > 12) print "... and " NR - 12 " more left in the store" }'
  [ ! -f "$R/tags.json" ] || [ "$(tr -d ' \n' <"$R/tags.json")" = "{}" ] ||
    echo "tags.json still names: $(head -c 200 "$R/tags.json")"
  awk -v r="$R/" 'index($5, r) == 1 { print "mount left: " $5 }' /proc/self/mountinfo
  for id in "$@"; do
    ls -d /sys/fs/cgroup/*/berth/"$id" /sys/fs/cgroup/berth/"$id" 2>/dev/null | sed 's/^/cgroup left: /'
    # A container's links (vbID for eth0, vbID1... for networks connected
    # later) and published ports (docs/networking.md).
    ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | sed 's/@.*//' |
      grep -xE "vb$(echo "$id" | cut -c1-10)[0-9]?" | sed 's/^/link left: /'
    nft list tables 2>/dev/null | grep -w "berth_p_vb$(echo "$id" | cut -c1-10)" | sed 's/^/nft table left: /'
  done
  # A bridge is labelled with its network record's path.
  ip -d -o link show 2>/dev/null | grep -F "alias berth network $R/" |
    awk -F': ' '{print "bridge left: " $2}'
  losetup -a 2>/dev/null | grep -F "$R/" | sed 's/^/loop device left: /'
  for id in $(point_pids); do echo "process left: $id $(tr '\0' ' ' </proc/$id/cmdline 2>/dev/null)"; done
}

# Whatever a failed point left, removed so the next one starts clean.
force_clean () {
  local p id
  p=$(point_pids)
  [ -z "$p" ] || { kill -9 $p 2>/dev/null; sleep 0.2; }
  for id in "$@"; do remove_cgroups "berth/$id" >/dev/null 2>&1; done
  awk -v r="$R/" 'index($5, r) == 1 { print $5 }' /proc/self/mountinfo | sort -r | xargs -r -n1 umount -l
  if [ "$DRIVER" = btrfs ] && [ -d "$R/storage/btrfs/subvolumes" ]; then
    find "$R/storage/btrfs/subvolumes" -mindepth 1 -maxdepth 1 -exec btrfs subvolume delete {} + >/dev/null 2>&1
  fi
  rm -rf "$R"
}
