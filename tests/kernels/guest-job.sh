#!/bin/sh
# The kernel-matrix job, run by tests/kernels/init.sh inside the guest as root,
# chrooted into the host's root (read-only over 9p) with its own /proc, /sys,
# cgroup2-only /sys/fs/cgroup, /dev, /run, /tmp and an ext4 scratch disk on
# /var/tmp.
#
# env (set by init.sh): BERTH_BUILD (the build dir, read-only), BERTH_RESULTS
# (the read-write share the host reads back), BERTH_KERNEL_EXEC (0: leave out
# the exec tests on overlay), BERTH_KERNEL_JOBS (job names to run,
# space-separated; empty: all), BERTH_KERNEL_JOB_TIMEOUT (seconds per job).
#
# Each job writes <job>.tap (stdout) and <job>.err (stderr) into the results
# share and one line into times.txt; the host summarises them.
set -eu

B=${BERTH_BUILD:?}
R=${BERTH_RESULTS:?}
# Not "berth-...": tests/test-storage.c removes every berth-* device it finds
# between cases, and would take the pool away under the suite.
POOL=kernel-matrix-pool

say() { echo "guest-job: $*"; }

# One line per job to the console, so a slow run shows where it is. Each job
# runs under its own time limit (a hung case must not eat the whole guest's
# time: the later jobs still run, and this one's TAP ends without its plan),
# and every result line gets a "# time: Ns" comment after it (glib writes TAP
# unbuffered), so the host can name the slow cases.
# usage: run_job NAME COMMAND...
run_job() {
	name=$1
	shift
	start=$(date +%s)
	{
		# (set -e holds in this subshell: a failing job must not end it.)
		jrc=0
		timeout -k 10 "${BERTH_KERNEL_JOB_TIMEOUT:-600}" "$@" 2> "$R/$name.err" || jrc=$?
		echo "$jrc" > "$R/$name.rc"
	} | stamp > "$R/$name.tap"
	rc=$(cat "$R/$name.rc" 2>/dev/null || echo "?")
	[ "$rc" != 124 ] || echo "# job $name: killed after ${BERTH_KERNEL_JOB_TIMEOUT:-600}s" >> "$R/$name.err"
	secs=$(($(date +%s) - start))
	echo "$name $secs $rc" >> "$R/times.txt"
	skip=$(grep -c '^ok .*# SKIP' "$R/$name.tap" || true)
	say "$name: exit $rc, $(($(grep -c '^ok' "$R/$name.tap" || true) - skip)) ok," \
		"$(grep -c '^not ok' "$R/$name.tap" || true) not ok, $skip skipped, ${secs}s"
}

# Copy TAP through, adding "# time: Ns" after each result: the seconds since
# the previous one. A shell loop, since awk may buffer its input from a pipe
# (mawk does) and every line would arrive at the end.
stamp() {
	last=$(date +%s)
	while IFS= read -r line || [ -n "$line" ]; do
		printf '%s\n' "$line"
		case $line in
		"ok "* | "not ok "*)
			now=$(date +%s)
			echo "# time: $((now - last))s"
			last=$now
			;;
		esac
	done
}

# The storage drivers built into tests/test-storage, one per line, in the
# storage table's order (check-kernels.sh lists the same for its report).
storage_drivers() {
	"$B/tests/test-storage" -l | sed -n 's|^/storage/\([^/]*\)/.*|\1|p' | awk '!seen[$0]++'
}

# Is job NAME selected (BERTH_KERNEL_JOBS empty: every job)?
want() {
	case " ${BERTH_KERNEL_JOBS:-$1} " in
	*" $1 "*) return 0 ;;
	*) return 1 ;;
	esac
}

# Is job NAME named in BERTH_KERNEL_JOBS? For the jobs that only mean
# something on one kernel (the aufs ones): "every job" leaves them out.
asked() {
	case " ${BERTH_KERNEL_JOBS:-} " in
	*" $1 "*) return 0 ;;
	*) return 1 ;;
	esac
}

# usage: job NAME COMMAND...: run_job, then sweep what it left.
job() {
	want "$1" || return 0
	run_job "$@"
	sweep "$1"
}

# A thin pool of our own for direct-lvm mode: two sparse files on the scratch
# disk behind loop devices, as an administrator would set up with LVM.
# dmsetup without udev: create the nodes itself and wait for nobody.
# (Called in an || list, where set -e is off: every step checks itself.)
meta_dev=
data_dev=
pool_create() {
	truncate -s 128M "$SCRATCH/pool-meta.img" || return 1
	truncate -s 4G "$SCRATCH/pool-data.img" || return 1
	# A fresh sparse file reads as zeros, but make it explicit: thin-pool
	# formats metadata whose superblock is zeroed, and only then.
	dd if=/dev/zero of="$SCRATCH/pool-meta.img" bs=4096 count=1 conv=notrunc 2>/dev/null ||
		return 1
	meta_dev=$(losetup -f --show "$SCRATCH/pool-meta.img") || return 1
	data_dev=$(losetup -f --show "$SCRATCH/pool-data.img") || return 1
	sectors=$(blockdev --getsz "$data_dev") || return 1
	DM_DISABLE_UDEV=1 dmsetup create --noudevsync "$POOL" \
		--table "0 $sectors thin-pool $meta_dev $data_dev 128 32768 1 error_if_no_space" ||
		return 1
	echo "# pool $POOL: $meta_dev (metadata) $data_dev (data, $sectors sectors)" >&2
}

pool_remove() {
	for _ in 1 2 3 4 5; do
		DM_DISABLE_UDEV=1 dmsetup remove --noudevsync "$POOL" 2>/dev/null && break
		sleep 1
	done
	if DM_DISABLE_UDEV=1 dmsetup info "$POOL" >/dev/null 2>&1; then
		echo "# pool $POOL still busy: $(dmsetup ls 2>&1 | tr '\n' ' ')" >&2
	fi
	for dev in $meta_dev $data_dev; do
		losetup -d "$dev" 2>/dev/null || true
	done
}

# direct-lvm: the suite on a pool the "operator" made. The pool itself is
# not a leftover: it goes before the sweep.
devicemapper_direct() {
	name=storage-devicemapper-direct
	want $name || return 0
	if pool_create; then
		run_job $name env BERTH_TEST_STORAGE_OPTS_DEVICEMAPPER="dm.thinpooldev=$POOL,dm.basesize=1G" \
			"$B/tests/test-storage" --tap -k -p /storage/devicemapper
	else
		echo "Bail out! cannot create the thin pool $POOL" > "$R/$name.tap"
	fi
	pool_remove
	sweep "$name"
}

# What a job left behind in the guest: device-mapper devices, loop devices
# and mounts on the scratch disk. Recorded as one TAP result per job in
# leftovers.tap (the host counts it like any test), then removed, so that one
# job's leak does not fail the next job's "nothing left active" checks.
n_sweep=0
sweep() {
	who=$1
	dm=$(DM_DISABLE_UDEV=1 dmsetup ls 2>/dev/null | grep -v '^No devices found' || true)
	loops=$(losetup -a 2>/dev/null || true)
	mnts=$(awk '$2 ~ "^/var/tmp/" {print $2}' /proc/mounts)
	n_sweep=$((n_sweep + 1))
	if [ -z "$dm$loops$mnts" ]; then
		echo "ok $n_sweep $who left no device-mapper devices, loop devices or mounts" >> "$R/leftovers.tap"
		return 0
	fi
	{
		echo "not ok $n_sweep $who left devices or mounts behind"
		printf '%s\n' "$dm" "$loops" "$mnts" | sed '/^$/d; s/^/# /'
	} >> "$R/leftovers.tap"
	say "$who left devices or mounts behind; removing them"
	# Deepest mounts first; then dm devices (thin volumes before their pool:
	# remove_all retries in dependency order), then the loops under them.
	for m in $(echo "$mnts" | sort -r); do umount "$m" 2>/dev/null || umount -l "$m" || true; done
	DM_DISABLE_UDEV=1 dmsetup remove_all --force >/dev/null 2>&1 || true
	losetup -D 2>/dev/null || true
}

cd "$B"
: > "$R/times.txt"
: > "$R/leftovers.tap"
SCRATCH=$(mktemp -d /var/tmp/berth-kernel-job.XXXXXX)
{
	echo "kernel: $(uname -r)"
	echo "cgroup mounts:"
	awk '$3 ~ /^cgroup/ {print "  " $2 " " $3 " " $4}' /proc/mounts
	echo "cgroup layout: ${BERTH_CGROUPS:-v2}"
	for c2 in /sys/fs/cgroup /sys/fs/cgroup/unified; do
		[ ! -f "$c2/cgroup.controllers" ] || echo "cgroup2 controllers ($c2): $(cat "$c2/cgroup.controllers")"
	done
	echo "scratch: $(df -h /var/tmp | tail -n1)"
} | tee "$R/env.txt"

# berth info twice: on a fresh store, where it only probes (the sweep checks
# that it left no pool, loop device or mount), then once devicemapper holds
# an image, where it opens the driver and shows its loop-lvm pool.
start=$(date +%s)
info_store() {
	./berth --root "$SCRATCH/info-store" --storage-opt dm.loopdatasize=2G \
		--storage-opt dm.loopmetadatasize=64M --storage-opt dm.basesize=1G "$@"
}
info_store info > "$R/info.txt" 2>&1 || echo "(berth info exited $?)" >> "$R/info.txt"
sweep "berth info"
mkdir "$SCRATCH/empty"
tar -C "$SCRATCH/empty" -cf "$SCRATCH/empty.tar" .
if info_store --storage-driver devicemapper import "$SCRATCH/empty.tar" empty:1 >> "$R/info.txt" 2>&1; then
	{ echo "after an import into devicemapper:"; info_store info; } >> "$R/info.txt" 2>&1 ||
		echo "(berth info exited $?)" >> "$R/info.txt"
else
	echo "(the import into devicemapper failed)" >> "$R/info.txt"
fi
echo "info $(($(date +%s) - start)) 0" >> "$R/times.txt"
sweep "berth info on devicemapper"

# One job per storage driver this build has: those tests/test-storage has
# cases for (it registers them from the storage table, include/berth/family.h),
# in the table's order. Options reach a driver through the environment
# (tests/test-storage.c): devicemapper's loop-lvm pool sized for the scratch disk.
for driver in $(storage_drivers); do
	job "storage-$driver" env \
		BERTH_TEST_STORAGE_OPTS_DEVICEMAPPER="dm.loopdatasize=4G,dm.loopmetadatasize=128M,dm.basesize=1G" \
		"$B/tests/test-storage" --tap -k -p "/storage/$driver"
done
devicemapper_direct
# The whole CLI on devicemapper with its defaults (loop-lvm, 10G base
# device): bootstrap, create, mount, diff, commit, rm, rmi; and, where
# device-mapper exists, that info and garbage collection make no pool for
# a store that never used it.
job cli-devicemapper env BERTH_BIN="$B/berth" BERTH_EXEC_HELPER="$B/berth-exec-helper" \
	"$B/tests/test-cli" --tap -k -p /cli/devicemapper -p /cli/status-side-effects

# The AUFS kernel's own jobs (build-aufs-kernel.sh): the CLI scenario on
# aufs with berth info (which must show aufs available where the kernel
# lists it), and berth bench with aufs among its backends.
if asked cli-aufs; then
	job cli-aufs env BERTH_BIN="$B/berth" BERTH_EXEC_HELPER="$B/berth-exec-helper" \
		"$B/tests/test-cli" --tap -k -p /cli/aufs -p /cli/info
fi
if asked bench-aufs; then
	job bench-aufs env BERTH_BIN="$B/berth" BERTH_EXEC_HELPER="$B/berth-exec-helper" \
		"$B/tests/test-bench" --tap -k -p /bench/end-to-end
fi

# berth info's kernel-feature table against this kernel's release: a row
# answered "no" on a kernel at least as new as the feature is a probe that
# misreads the kernel.
job kernel-features env BERTH_BIN="$B/berth" BERTH_EXEC_HELPER="$B/berth-exec-helper" \
	"$B/tests/test-cli" --tap -k -p /cli/info-kernel-features -p /cli/info

# The native exec driver on a cgroup2-only kernel: about a minute under TCG.
if [ "${BERTH_KERNEL_EXEC:-1}" != 0 ]; then
	job exec-overlay env BERTH_BIN="$B/berth" BERTH_EXEC_HELPER="$B/berth-exec-helper" \
		"$B/tests/test-exec" --tap -k -p /exec/overlay
fi

# The network drivers (tests/test-network): bridge, veth, nftables NAT and
# published ports, macvlan, container:, on this kernel. Its probe skips
# every case, with the reason, where the kernel has no nf_tables.
if [ "${BERTH_KERNEL_EXEC:-1}" != 0 ]; then
	job network env BERTH_BIN="$B/berth" BERTH_EXEC_HELPER="$B/berth-exec-helper" \
		BERTH_BUILDDIR="$B" "$B/tests/test-network" --tap -k
fi

# berth-runc on a cgroup2-only kernel: the runtime-spec conformance set and
# the command line (hooks, devices, cgroups, namespaces, exec, pause,
# update, the console socket). containerd's test is left to the host.
if [ "${BERTH_KERNEL_EXEC:-1}" != 0 ]; then
	job oci-conformance env BERTH_RUNC_BIN="$B/berth-runc" BERTH_EXEC_HELPER="$B/berth-exec-helper" \
		"$B/tests/oci/test-conformance" --tap -k
	job oci-cli env BERTH_RUNC_BIN="$B/berth-runc" BERTH_EXEC_HELPER="$B/berth-exec-helper" \
		"$B/tests/oci/test-oci" --tap -k
fi

# berth-runc under Docker and podman on a cgroup2-only kernel, each
# scenario against runc (tests/clients/): a part of each table, since every
# scenario runs twice and a container start takes half a minute under TCG
# (the daemons' start and the image import three minutes); no
# networking (CLIENTS_NETWORK=none: the guest loads no bridge or netfilter
# modules), so dockerd runs with --bridge=none --iptables=false.
GUEST_DOCKER='^(run echo|exec|cgroup is the container.s own|mknod /tmp/tun c 10 200|devices in /dev|--read-only|run -t tty)$'
GUEST_PODMAN='^(run echo|exec|--read-only|--tmpfs|devices in /dev|run -t tty)$'
if [ "${BERTH_KERNEL_EXEC:-1}" != 0 ]; then
	job clients-docker env BERTH_RUNC_BIN="$B/berth-runc" BERTH_EXEC_HELPER="$B/berth-exec-helper" \
		CLIENTS_NETWORK=none ONLY="$GUEST_DOCKER" "$B/tests/clients/test-docker.sh"
	job clients-podman env BERTH_RUNC_BIN="$B/berth-runc" BERTH_EXEC_HELPER="$B/berth-exec-helper" \
		ONLY="$GUEST_PODMAN" "$B/tests/clients/test-podman.sh"
fi

echo "1..$n_sweep" >> "$R/leftovers.tap"
dmesg | tail -n 50 > "$R/dmesg.txt"
rm -rf --one-file-system "$SCRATCH" 2>/dev/null || true
say "all jobs done"
