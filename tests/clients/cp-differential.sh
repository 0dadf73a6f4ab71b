# Sourced by test-docker.sh once its dockerd runs: berth cp against docker
# cp on the same image and the same host files, one TAP line. The same list
# of copies runs through both, into a stopped container and then a running
# one (berth takes two paths there: the stopped root mounted with its
# volume placed, /proc/PID/root), and out again; then each tool's results
# (names, types, modes, owners, sizes, link targets) and exit codes must be
# the other's. Timestamps are not compared. Needs: $DOCKER, $IMG,
# $SCRATCH/rootfs.tar; prints "ok N - ..." or "not ok" with the diff.

# The copies, as "cp" lines for tool $1 ("docker" or "berth") with
# container $2, host files under $3, results under $4.
cp_copies () {
  local t=$1 c=$2 in=$3 out=$4 cp
  if [ "$t" = docker ]; then cp="$DOCKER cp"; else cp="$BERTH_CLI --root $BERTH_ROOT_DIR cp"; fi
  mkdir -p "$out"
  {
    $cp "$in/f" "$c:/tmp/f1"; echo "file to a new name: $?"
    $cp "$in/f" "$c:/tmp/"; echo "file into a directory: $?"
    $cp "$in/d" "$c:/tmp/newd"; echo "directory to a new name: $?"
    $cp "$in/d" "$c:/tmp/"; echo "directory into a directory: $?"
    $cp "$in/d/." "$c:/tmp/newd"; echo "contents into a directory: $?"
    $cp -a "$in/f" "$c:/tmp/fa"; echo "file with -a: $?"
    $cp "$in/l" "$c:/tmp/"; echo "symlink: $?"
    $cp -L "$in/l" "$c:/tmp/lf"; echo "symlink with -L: $?"
    $cp "$in/f" "$c:/data/"; echo "file into a volume: $?"
    $cp "$in/d" "$c:/etc/passwd" 2>/dev/null; echo "directory onto a file: $?"
    $cp "$in/f" "$c:/nodir/" 2>/dev/null; echo "file into a missing directory: $?"
    $cp "$c:/nope" "$out/nope" 2>/dev/null; echo "missing source: $?"
    $cp "$c:/tmp" "$out/tmp"; echo "directory out: $?"
    $cp "$c:/etc/passwd" "$out/"; echo "file out into a directory: $?"
    $cp "$c:/home/user/." "$out/home"; echo "contents out to a new directory: $?"
    $cp "$c:/data" "$out/"; echo "a volume out: $?"
    $cp "$c:/etc/group" - | tar --numeric-owner -tvf - | awk '{print $1, $2, $3, $6}'; echo "file out as a tar: $?"
  } >"$out.codes" 2>&1
  (cd "$out" && find . -printf '%p|%y|%m|%U|%G|%l|%s\n' | awk -F'|' -v OFS='|' '$2 != "f" { $7 = "-" } 1' | sort)
  cat "$out.codes"
}

cp_host_files () {
  local in=$1
  mkdir -p "$in/d/sub"
  echo file >"$in/f"; chmod 640 "$in/f"; chown 1234:2345 "$in/f"
  echo deeper >"$in/d/sub/g"; chmod 700 "$in/d/sub"; chown -R 42:43 "$in/d"
  ln -s f "$in/l"
}

# TAP line $1.
cp_differential () {
  local n=$1 in=$SCRATCH/cp-in w=$SCRATCH/cp rc=0
  BERTH_CLI=${BERTH_BIN:-$CLIENTS_SRCDIR/../../berth}
  if [ ! -x "$BERTH_CLI" ]; then
    echo "ok $n - berth cp agrees with docker cp # SKIP berth is not built"
    return
  fi
  BERTH_ROOT_DIR=$SCRATCH/berth-store
  mkdir -p "$w"
  cp_host_files "$in"
  local b="$BERTH_CLI --root $BERTH_ROOT_DIR"
  {
    $b import "$SCRATCH/rootfs.tar" cpimg:1 >/dev/null &&
    $DOCKER volume create "$PREFIX-cpvol" >/dev/null &&
    $DOCKER create --runtime runc --name "$PREFIX-cp" -v "$PREFIX-cpvol:/data" \
      --network none $IMG sleep 600 >/dev/null &&
    $b create --name cp1 -v cpvol:/data --network none cpimg:1 sleep 600 >/dev/null
  } >"$w/setup.log" 2>&1 || rc=1
  if [ $rc = 0 ]; then
    cp_copies docker "$PREFIX-cp" "$in" "$w/docker-stopped" >"$w/docker.stopped" 2>&1
    cp_copies berth cp1 "$in" "$w/berth-stopped" >"$w/berth.stopped" 2>&1
    $DOCKER start "$PREFIX-cp" >/dev/null 2>&1 && $b start cp1 >/dev/null 2>&1 || rc=1
  fi
  if [ $rc = 0 ]; then
    $DOCKER exec "$PREFIX-cp" rm -rf /tmp/f1 /tmp/newd /tmp/d /tmp/fa /tmp/l /tmp/lf /tmp/f
    $b exec cp1 rm -rf /tmp/f1 /tmp/newd /tmp/d /tmp/fa /tmp/l /tmp/lf /tmp/f
    cp_copies docker "$PREFIX-cp" "$in" "$w/docker-running" >"$w/docker.running" 2>&1
    cp_copies berth cp1 "$in" "$w/berth-running" >"$w/berth.running" 2>&1
  fi
  $DOCKER rm -f "$PREFIX-cp" >/dev/null 2>&1
  $DOCKER volume rm "$PREFIX-cpvol" >/dev/null 2>&1
  $b rm -f -v cp1 >/dev/null 2>&1
  $b volume rm cpvol >/dev/null 2>&1
  if [ $rc != 0 ]; then
    echo "not ok $n - berth cp agrees with docker cp (set-up failed)"
    tap_diag <"$w/setup.log"
  elif cmp -s "$w/docker.stopped" "$w/berth.stopped" && cmp -s "$w/docker.running" "$w/berth.running"; then
    echo "ok $n - berth cp agrees with docker cp ($(grep -c ': ' "$w/docker.stopped") copies, stopped and running)"
  else
    echo "not ok $n - berth cp agrees with docker cp"
    diff -u --label docker --label berth "$w/docker.stopped" "$w/berth.stopped" | tap_diag
    diff -u --label docker --label berth "$w/docker.running" "$w/berth.running" | tap_diag
    [ -z "$CP_KEEP" ] || cp -a "$w" "$CP_KEEP"
  fi
  if grep -q " $BERTH_ROOT_DIR" /proc/mounts; then
    echo "# berth left mounts under its store:"; grep " $BERTH_ROOT_DIR" /proc/mounts | tap_diag
  fi
}
