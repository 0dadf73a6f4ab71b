#!/bin/bash
# Cross-check of berth bench's data path (bench-aio, bench/lib/bench-aio.c)
# against fio's libaio engine: the eight jobs of `berth bench`, each run by
# both on the SAME file, RUNS runs interleaved ABBA so drift in the device
# treats both alike. Prints each tool's median and the median of the
# per-run ratios ("pair diff"); a row is "ok" within 10%, else "DIFF".
# Not a test (make check never runs it): timings live here.
# Usage: bench/fio-check.sh [--dir DIR] [--size SIZE] [--runs N] [--settle S]
#                           [--cpu N|none] [--no-hugepages]
#   BENCH_AIO=path/to/bench-aio overrides the binary (default: next to this script).
#
# fio's job is made bench-aio's:
#   same file, region (--size) and bytes moved (--io_size): the whole region
#     for sequential jobs, a quarter of it for random ones, as berth bench does;
#   --norandommap: bench-aio draws offsets uniformly, repeats allowed; fio's
#     default map would hand out every block once;
#   --randrepeat=1: a fixed seed, as bench-aio's (the generators differ, so
#     the offsets do too; the distribution is the same);
#   --invalidate=1, --ramp_time=0, --end_fsync=0 (fio's defaults, said
#     aloud): both drop the file's page cache first, time every byte, and
#     (direct writes) leave the device's volatile cache unflushed;
#   --iodepth_batch_submit=QD --iodepth_batch_complete_max=QD: bench-aio
#     reaps up to QD completions per io_getevents and resubmits them in one
#     io_submit. fio's default, one I/O per io_submit and one per
#     io_getevents, halves 4 KiB QD 32 IOPS on a 2-CPU VM: it is CPU-bound
#     on syscalls and virtio notifications, not on the disk;
#   --gtod_reduce=1: no per-I/O clock reads for latency statistics that
#     bench-aio does not keep either;
#   --scramble_buffers=0: bench-aio writes the same incompressible buffers
#     again; fio's per-I/O scrambling made its 1 MiB QD 1 writes a third
#     slower here;
#   --zero_buffers (read jobs): touches fio's buffers before the clock runs,
#     as bench-aio does; else the first I/Os fault them in, timed (6 ms for
#     one huge page here, 15% of a 40 ms job);
#   --iomem=mmaphuge: bench-aio's buffers sit in transparent huge pages, so a
#     1 MiB I/O is one physically contiguous segment. In 4 KiB pages it is
#     256 segments, more than virtio-blk takes in one request (254 here):
#     each I/O is split in two or not depending on where the pages happened
#     to land, a coin tossed again in every process, and worth 30% (1 MiB
#     writes) to 2-4x (host-cached reads) on this VM. fio has no THP option,
#     so the script lends it hugetlb pages (vm.nr_hugepages, raised and put
#     back on exit; needs root); without them the 1 MiB rows compare a
#     settled layout with a lucky one;
#   taskset -c CPU, both: with one virtio queue, whether the job runs on the
#     CPU that takes the completion interrupt doubled or halved 1 MiB QD 1
#     throughput here, and the scheduler placed bench-aio and fio's job
#     process differently. Pinned to the same CPU (--cpu, default 0) they
#     agree;
#   a sync and a pause before every run: a write job leaves the device (or
#     the VM host) flushing, and the next job, whoever's, would pay for it.
#
# Findings on the dev VM (Debian bookworm guest, kernel 6.18, 2 vCPUs, ext4
# on virtio-blk with one queue; defaults: 256M, 5 runs; pair diff):
#   seq-read-qd1 +8.6% ok     seq-write-qd1 +2.9% ok    rand-read-qd1 +4.4% ok
#   seq-read-qd32 +12.8% DIFF seq-write-qd32 +4.4% ok   rand-read-qd32 -2.8% ok
#   rand-write-qd1 +0.5% ok   rand-write-qd32 +7.1% ok
# (--size 1G: seq-read-qd32 +10.3% DIFF, every other row within 5%.) With
# --cpu none --no-hugepages, fio as usually run, every 1 MiB row came out
# 2-4x lower in fio, by the splits above, and the random rows 3-16% apart,
# by where each process ran.
#   seq-read-qd32 stays 10-15% apart, in fio's disfavour. This disk serves
#   those reads from the VM host's page cache at 6-8 GB/s, so the row times
#   the host's memory copies and any pause of the job. Both tools issue the
#   same I/O: strace shows the same io_submit and io_getevents batch sizes,
#   /sys/block/vda/stat the same number of requests (1 MiB I/Os merged to
#   4 MiB), and neither is CPU-bound (fio's job <20% CPU). But where
#   bench-aio repeats within 5% (7.4-7.8 GB/s over 1 GiB), fio ranges from
#   4.2 to 7.6 GB/s run to run, whatever its reaping, threading or eta
#   settings: its best runs match bench-aio, its median does not. What
#   stalls it was not found; it is not the storage.
#   The device itself drifts between runs (up to 2x on a write row as the
#   host's cache fills), so compare the pair diff, not the two medians; and
#   fio's first run in a QD 32 1 MiB row is often slow (its fresh hugetlb
#   pages), which the median absorbs.
set -euo pipefail

DIR=/var/tmp SIZE=256M RUNS=5 SETTLE=1 CPU=0 HUGE=1
while [ $# -gt 0 ]; do
  case "$1" in
    --dir) DIR=$2; shift 2 ;;
    --size) SIZE=$2; shift 2 ;;
    --runs) RUNS=$2; shift 2 ;;
    --settle) SETTLE=$2; shift 2 ;;
    --cpu) CPU=$2; shift 2 ;;
    --no-hugepages) HUGE=0; shift ;;
    *) echo "usage: $0 [--dir DIR] [--size SIZE] [--runs N] [--settle S] [--cpu N|none] [--no-hugepages]" >&2
       exit 2 ;;
  esac
done
BENCH_AIO=${BENCH_AIO:-$(dirname "$0")/bench-aio}
for tool in "$BENCH_AIO" fio python3 taskset; do
  command -v "$tool" >/dev/null || { echo "$0: $tool not found (make bench?)" >&2; exit 1; }
done

# 4k, 1M, 256M, 1G -> bytes (1024-based, as both tools read them)
bytes() {
  python3 - "$1" <<'EOF'
import re, sys
m = re.fullmatch(r'(\d+)([kKmMgGtT]?)[iI]?[bB]?', sys.argv[1])
if not m: sys.exit(f"not a size: {sys.argv[1]}")
print(int(m[1]) << {'': 0, 'k': 10, 'm': 20, 'g': 30, 't': 40}[m[2].lower()])
EOF
}
SIZE_BYTES=$(bytes "$SIZE")

NR_HUGE=/proc/sys/vm/nr_hugepages HUGE_OLD=""
FILE=$(mktemp "$DIR/berth-fio-check.XXXXXX")
cleanup() {
  rm -f "$FILE" "$FILE.json"
  if [ -n "$HUGE_OLD" ]; then echo "$HUGE_OLD" >"$NR_HUGE"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

PIN=()
[ "$CPU" = none ] || PIN=(taskset -c "$CPU")

# fio's 1 MiB QD 32 buffers take 16 huge pages and a spare; bench-aio's are
# transparent ones, so fio gets them only where THP is on for bench-aio too.
FIO_MEM=() MEM_NOTE="4 KiB pages for fio"
if [ "$HUGE" = 1 ] && ! grep -q '\[never\]' /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null; then
  old=$(cat "$NR_HUGE")
  if echo $((old + 24)) 2>/dev/null >"$NR_HUGE" && [ "$(cat "$NR_HUGE")" -ge $((old + 24)) ]; then
    HUGE_OLD=$old FIO_MEM=(--iomem=mmaphuge) MEM_NOTE="hugetlb pages for fio"
  else
    echo "$old" >"$NR_HUGE" 2>/dev/null || true
    echo "warning: no huge pages for fio: the 1 MiB rows compare different buffer layouts" >&2
  fi
fi

# name rw bs qd; metric: MiB/s for sequential rows, IOPS for random ones
JOBS="seq-read-qd1 read 1M 1
seq-read-qd32 read 1M 32
seq-write-qd1 write 1M 1
seq-write-qd32 write 1M 32
rand-read-qd1 randread 4k 1
rand-read-qd32 randread 4k 32
rand-write-qd1 randwrite 4k 1
rand-write-qd32 randwrite 4k 32"

run_berth() { # rw bs qd total -> "MiB/s IOPS"
  "${PIN[@]}" "$BENCH_AIO" --rw "$1" --bs "$2" --iodepth "$3" --direct 1 --size "$SIZE_BYTES" \
    --total "$4" "$FILE" | sed -n 's|.*: \([0-9.]*\) MiB/s, \([0-9.]*\) IOPS.*|\1 \2|p'
}

run_fio() { # rw bs qd total -> "MiB/s IOPS"
  local dir=read touch=(--zero_buffers)
  case "$1" in *write) dir=write touch=() ;; esac
  "${PIN[@]}" fio --name=x --ioengine=libaio --rw="$1" --bs="$2" --iodepth="$3" --direct=1 \
    --size="$SIZE_BYTES" --io_size="$4" --filename="$FILE" --output-format=json \
    --norandommap --randrepeat=1 --invalidate=1 --ramp_time=0 --end_fsync=0 \
    --iodepth_batch_submit="$3" --iodepth_batch_complete_max="$3" --gtod_reduce=1 \
    --scramble_buffers=0 "${touch[@]}" "${FIO_MEM[@]}" >"$FILE.json"
  python3 - "$FILE.json" "$dir" <<'EOF'
import json, sys
job = json.load(open(sys.argv[1]))["jobs"][0][sys.argv[2]]
print(f"{job['bw_bytes'] / 2**20:.1f} {job['iops']:.0f}")
EOF
}

# Before every run: what the last write job left in the device's (or a VM
# host's) write-back cache is flushed now, untimed, not in the next job.
settle() { sync; sleep "$SETTLE"; }

echo "file $FILE ($(df -T "$DIR" | awk 'NR==2 {print $2}')), size $SIZE, $RUNS runs," \
  "cpu $CPU, $MEM_NOTE, $(fio --version), load $(cut -d' ' -f1 /proc/loadavg)" >&2
awk '$1 > 1 { print "warning: load average " $1 ": another job shares the machine" }' \
  /proc/loadavg >&2
# fill once, untimed, so the first timed job reads real blocks
"$BENCH_AIO" --rw read --bs 4k --iodepth 1 --size "$SIZE_BYTES" --total 4k "$FILE" >/dev/null

printf '%-16s %-6s %10s %10s %9s\n' row metric berth fio "pair diff"
while read -r name rw bs qd; do
  total=$SIZE_BYTES field=1 metric=MiB/s
  case "$rw" in rand*) total=$((SIZE_BYTES / 4)) field=2 metric=IOPS ;; esac
  pairs=""
  for ((i = 0; i < RUNS; i++)); do
    if ((i % 2 == 0)); then
      settle; b=$(run_berth "$rw" "$bs" "$qd" "$total")
      settle; f=$(run_fio "$rw" "$bs" "$qd" "$total")
    else
      settle; f=$(run_fio "$rw" "$bs" "$qd" "$total")
      settle; b=$(run_berth "$rw" "$bs" "$qd" "$total")
    fi
    b=$(echo "$b" | cut -d' ' -f$field) f=$(echo "$f" | cut -d' ' -f$field)
    echo "  $name run $((i + 1)): berth $b fio $f" >&2
    pairs+="$b $f"$'\n'
  done
  # medians of each tool, and the median of the per-run ratios: a device
  # that drifts between runs moves both halves of a pair, not their ratio
  printf '%s' "$pairs" | python3 -c '
import statistics as st, sys
n, m = sys.argv[1:3]
pairs = [tuple(map(float, l.split())) for l in sys.stdin if l.strip()]
d = (st.median(b / f for b, f in pairs) - 1) * 100
b, f = st.median(p[0] for p in pairs), st.median(p[1] for p in pairs)
verdict = "ok" if abs(d) <= 10 else "DIFF"
print(f"{n:<16} {m:<6} {b:10.1f} {f:10.1f} {d:+8.1f}%  {verdict}")
' "$name" "$metric"
done <<<"$JOBS"
