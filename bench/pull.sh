#!/bin/bash
# Pull speed from a registry: berth pull against podman pull and skopeo
# copy (to containers-storage) of the same images from one local
# docker-registry (distribution 2.8, plain HTTP on loopback), started here:
#   - debian: a debootstrap --variant=minbase bookworm root, one layer
#     (cached in $CACHE after the first run);
#   - ten: ten layers of 4 MiB each (incompressible) on busybox.
# Every run starts from an empty store for each tool (nothing cached), the
# three tools interleaved in a rotating order so a slow moment of the host
# falls on each. Prints each run and the medians. A benchmark: timings
# never decide a test. Usage (root): bench/pull.sh [--runs N] (default 5)
set -u
RUNS=5
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) RUNS=$2; shift 2 ;;
    *) echo "usage: $0 [--runs N]" >&2; exit 2 ;;
  esac
done
TOP=$(cd "$(dirname "$0")/.." && pwd)
. "$TOP/tests/clients/registry-lib.sh"
BERTH=${BERTH_BIN:-$TOP/berth}
CACHE=${CACHE:-/var/tmp/berth-bench-cache}
for p in docker-registry skopeo podman debootstrap "$BERTH"; do
  command -v "$p" >/dev/null || { echo "$p is missing (.ci/install-deps; apt-get install debootstrap)" >&2; exit 2; }
done
W=$(mktemp -d /var/tmp/berth-pull-bench.XXXXXX)
PORT=$((18000 + $$ % 500))
REG=127.0.0.1:$PORT
trap 'reg_stop "$W/reg"; umount -R "$W"/*/ 2>/dev/null; rm -rf "$W"' EXIT

debian_layer () {
  local tar=$CACHE/debian-bookworm-minbase-image.tar
  if [ ! -s "$tar" ]; then
    mkdir -p "$CACHE" "$W/debroot"
    debootstrap --variant=minbase bookworm "$W/debroot" http://deb.debian.org/debian \
      >"$W/debootstrap.log" 2>&1 || { tail "$W/debootstrap.log" >&2; return 1; }
    # As Docker Hub's debian image: /dev empty (device nodes come from the
    # runtime), no .deb files nor apt lists.
    tar -C "$W/debroot" --numeric-owner --exclude='./dev/*' --exclude='./var/cache/apt/archives/*.deb' \
      --exclude='./var/lib/apt/lists/*_*' -cf "$tar.tmp" . && mv "$tar.tmp" "$tar"
    rm -rf "$W/debroot"
  fi
  echo "$tar"
}

setup () {
  cd "$W" || return 1
  reg_start_plain "$W/reg" "$PORT" || return 1
  make_docker_archive debian.tar amd64 "$(debian_layer)" || return 1
  make_busybox_layer bb.tar
  local layers=(bb.tar) i
  for i in $(seq 1 10); do make_layer_tar "l$i.tar" "$i" 4096; layers+=("l$i.tar"); done
  make_docker_archive ten.tar amd64 "${layers[@]}" || return 1
  reg_push_archive debian.tar "$REG/bench/debian:bookworm" &&
  reg_push_archive ten.tar "$REG/bench/ten:v1"
}

now_ms () { echo $(( $(date +%s%N) / 1000000 )); }

# One pull of IMAGE by TOOL into a fresh store; prints milliseconds.
pull_once () {
  local tool=$1 image=$2 dir=$W/$1-store start end
  rm -rf "$dir"; mkdir -p "$dir"
  start=$(now_ms)
  case $tool in
    berth) "$BERTH" --root "$dir/root" pull -q "$REG/$image" >/dev/null ;;
    podman) podman --root "$dir/root" --runroot "$dir/run" pull -q --tls-verify=false \
              "$REG/$image" >/dev/null ;;
    skopeo) skopeo copy -q --src-tls-verify=false "docker://$REG/$image" \
              "containers-storage:[overlay@$dir/root+$dir/run]$REG/$image" >/dev/null ;;
  esac || { echo "$tool pull of $image failed" >&2; return 1; }
  end=$(now_ms)
  echo $((end - start))
  # podman and skopeo leave overlay mounts of their store's own.
  grep -o " $dir[^ ]*" /proc/mounts | sort -r | xargs -r -n1 umount -l
  rm -rf "$dir"
}

median () { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : int((a[NR/2]+a[NR/2+1])/2)}'; }

setup >"$W/setup.log" 2>&1 || { cat "$W/setup.log" >&2; exit 1; }
tools=(berth podman skopeo)
echo "# pull from $REG, $RUNS runs, empty stores; $(nproc) cores, kernel $(uname -r)"
for image in bench/debian:bookworm bench/ten:v1; do
  declare -A times=()
  for ((r = 0; r < RUNS; r++)); do
    line="$image run $((r + 1)):"
    for ((k = 0; k < 3; k++)); do
      t=${tools[$(((r + k) % 3))]}
      ms=$(pull_once "$t" "$image") || exit 1
      times[$t]="${times[$t]:-} $ms"
      line="$line $t ${ms}ms"
    done
    echo "$line"
  done
  for t in "${tools[@]}"; do
    printf '%-22s %-7s median %6d ms\n' "$image" "$t" "$(echo ${times[$t]} | tr ' ' '\n' | median)"
  done
  unset times
done
