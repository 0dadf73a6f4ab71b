#!/bin/bash
# Storage benchmark: berth import / create / mount per driver, beside GNU tar
# and (where installed) podman, on one generated image: FILES small files plus
# a few large ones (default 20000 files, ~80 MB). Prints medians of RUNS runs.
# Usage: bench/storage.sh [--files N] [--runs N] [--drivers "overlay vfs btrfs"]
# Timings live here, never in a test's pass/fail.
set -euo pipefail
FILES=20000 RUNS=5 DRIVERS="overlay vfs btrfs"
while [ $# -gt 0 ]; do
  case "$1" in
    --files) FILES=$2; shift 2 ;;
    --runs) RUNS=$2; shift 2 ;;
    --drivers) DRIVERS=$2; shift 2 ;;
    *) echo "usage: $0 [--files N] [--runs N] [--drivers LIST]" >&2; exit 2 ;;
  esac
done
BERTH=${BERTH:-$(dirname "$0")/../berth}
WORK=$(mktemp -d /var/tmp/berth-bench.XXXXXX)
cleanup() {
  for m in $(grep -o "$WORK[^ ]*" /proc/self/mounts | sort -r); do umount -l "$m" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

now() { date +%s%N; }
ms() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", (b - a) / 1e6 }'; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

echo "generating $FILES files ..." >&2
mkdir -p "$WORK/src"
perl -e '
  my ($dir, $n) = @ARGV; my $buf = "x" x 4000;
  for my $i (0 .. $n - 1) {
    my $d = "$dir/d" . ($i % 200); mkdir $d unless -d $d;
    open my $f, ">", "$d/f$i" or die; print $f substr($buf, 0, 1000 + $i % 3000); close $f;
  }
  for my $i (1 .. 4) { open my $f, ">", "$dir/big$i" or die; print $f ("y" x (4 << 20)); close $f; }
' "$WORK/src" "$FILES"
tar -C "$WORK/src" -cf "$WORK/image.tar" .
echo "image: $(du -sh "$WORK/image.tar" | cut -f1), $FILES files" >&2

if ! grep -q btrfs /proc/filesystems || ! command -v mkfs.btrfs >/dev/null; then
  DRIVERS=${DRIVERS//btrfs/}
else
  truncate -s 4G "$WORK/btrfs.img" && mkfs.btrfs -q "$WORK/btrfs.img" >/dev/null 2>&1 && mkdir "$WORK/btrfs" &&
    mount -o loop "$WORK/btrfs.img" "$WORK/btrfs"
fi

printf '%-34s %10s\n' "work" "median ms"
t=(); for r in $(seq "$RUNS"); do
  rm -rf "$WORK/x"; mkdir "$WORK/x"; sync
  a=$(now); tar -C "$WORK/x" -xf "$WORK/image.tar"; b=$(now); t+=("$(ms "$a" "$b")")
done
printf '%-34s %10s\n' "GNU tar -x (ext4)" "$(printf '%s\n' "${t[@]}" | median)"
rm -rf "$WORK/x"

for d in $DRIVERS; do
  root="$WORK/store-$d"; [ "$d" = btrfs ] && root="$WORK/btrfs/store"
  imp=(); for r in $(seq "$RUNS"); do
    "$BERTH" --root "$root" rmi img:1 >/dev/null 2>&1 || true; sync
    a=$(now); "$BERTH" --root "$root" --storage-driver "$d" import "$WORK/image.tar" img:1 >/dev/null; b=$(now)
    imp+=("$(ms "$a" "$b")")
  done
  printf '%-34s %10s\n' "berth import ($d)" "$(printf '%s\n' "${imp[@]}" | median)"
  cr=(); mo=(); for r in $(seq "$RUNS"); do
    a=$(now); "$BERTH" --root "$root" --storage-driver "$d" create --name "c$r" img:1 >/dev/null; b=$(now)
    cr+=("$(ms "$a" "$b")")
    a=$(now); "$BERTH" --root "$root" mount "c$r" >/dev/null; "$BERTH" --root "$root" umount "c$r"; b=$(now)
    mo+=("$(ms "$a" "$b")")
  done
  printf '%-34s %10s\n' "berth create ($d)" "$(printf '%s\n' "${cr[@]}" | median)"
  printf '%-34s %10s\n' "berth mount+umount, 2 cmds ($d)" "$(printf '%s\n' "${mo[@]}" | median)"
done

a=$(now); for r in $(seq 20); do "$BERTH" --version >/dev/null; done; b=$(now)
printf '%-34s %10s\n' "berth --version (process floor)" "$(awk -v t="$(ms "$a" "$b")" 'BEGIN { printf "%.1f", t / 20 }')"

if command -v podman >/dev/null; then
  P="podman --root $WORK/podman --runroot $WORK/podman-run"
  a=$(now); $P import "$WORK/image.tar" pimg:1 >/dev/null; b=$(now)
  printf '%-34s %10s\n' "podman import" "$(ms "$a" "$b")"
  a=$(now); $P create pimg:1 /bin/true >/dev/null; b=$(now)
  printf '%-34s %10s\n' "podman create" "$(ms "$a" "$b")"
else
  echo "(podman not installed: no podman figures)"
fi
