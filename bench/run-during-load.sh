#!/bin/bash
# How long `berth run --rm busybox true` takes while another process loads
# a large image into the same store, for one or more berth binaries on the
# same input (issue 16: a load must not stall other commands).
#
#   bench/run-during-load.sh [--mb N] [--files N] [--driver D] BERTH_BIN [BERTH_BIN...]
#
# For each binary: a fresh store on /var/tmp, busybox bootstrapped, an image
# of N MiB (default 400) in --files files (default 400) of random data made with berth itself
# and saved; the image is removed, then loaded again in the background while
# `run --rm busybox true` is timed back to back until the load ends. Prints
# the load's time and the runs' count, median and maximum. Run as root;
# BERTH_EXEC_HELPER must name the helper that goes with each binary (it is
# taken from the binary's directory when unset).
set -euo pipefail

mb=400
files=400
driver=overlay
while [ $# -gt 0 ]; do
	case $1 in
	--mb) mb=$2; shift 2 ;;
	--files) files=$2; shift 2 ;;
	--driver) driver=$2; shift 2 ;;
	*) break ;;
	esac
done
[ $# -ge 1 ] || { echo "usage: $0 [--mb N] [--files N] [--driver D] BERTH_BIN..." >&2; exit 2; }

now_ms() { date +%s%3N; }

measure() {
	local bin=$1 dir root tar load_pid t0 t1 start end
	dir=$(mktemp -d /var/tmp/berth-bench-load.XXXXXX)
	root=$dir/store
	tar=$dir/big.tar
	export BERTH_EXEC_HELPER=${BERTH_EXEC_HELPER_OVERRIDE:-$(dirname "$bin")/berth-exec-helper}
	b() { "$bin" --root "$root" --storage-driver "$driver" "$@"; }
	b image bootstrap busybox >/dev/null
	b run --name filler busybox sh -c \
		"mkdir /data && i=0; while [ \$i -lt $files ]; do dd if=/dev/urandom of=/data/f\$i bs=1024 count=$((mb * 1024 / files)) 2>/dev/null; i=\$((i+1)); done"
	b commit filler big >/dev/null
	b save -o "$tar" big
	b rm filler >/dev/null
	b rmi big >/dev/null
	sync
	local times=()
	start=$(now_ms)
	b load -i "$tar" >/dev/null &
	load_pid=$!
	while kill -0 "$load_pid" 2>/dev/null; do
		t0=$(now_ms)
		b run --rm busybox true
		t1=$(now_ms)
		times+=($((t1 - t0))) # started while the load ran
	done
	wait "$load_pid"
	end=$(now_ms)
	local sorted n
	sorted=$(printf '%s\n' "${times[@]:-}" | grep . | sort -n || true)
	n=$(printf '%s\n' "$sorted" | grep -c . || true)
	if [ "$n" -gt 0 ]; then
		printf '%s: load of %d MiB in %d files took %d ms; %d runs started during it: median %d ms, max %d ms\n' \
			"$bin" "$mb" "$files" $((end - start)) "$n" \
			"$(printf '%s\n' "$sorted" | sed -n "$(((n + 1) / 2))p")" \
			"$(printf '%s\n' "$sorted" | tail -n 1)"
	else
		printf '%s: load of %d MiB took %d ms; no run started while it ran\n' \
			"$bin" "$mb" $((end - start))
	fi
	b rmi big busybox >/dev/null
	rm -rf "$dir"
}

for bin in "$@"; do
	measure "$(realpath "$bin")"
done
