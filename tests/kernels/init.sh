#!/bin/sh
# /init of the kernel-matrix guest, in two stages.
#
# Stage 1 (busybox sh, in the initramfs): load the modules, mount the host's
# root read-only over 9p on /newroot, put the guest's own writable filesystems
# over it (proc, sys, cgroup2 only, dev, run, tmp, and the scratch disk on
# /var/tmp, where tests/testutil.c makes its temp dirs), then switch_root into
# it, as a real initramfs does. A plain chroot would not do: the mount
# namespace's root would stay the initramfs, and a process that joins a
# container's namespaces (berth exec: setns) would land there.
#
# Stage 2 (the host's /bin/sh, as PID 1 of the new root: this same file,
# copied to /run/berth/init.sh): run the job the host left in the results
# share, record its exit status in results/exit-status (absent: the guest
# never finished) and power off.

# Seconds since boot on every line: the host reports how long booting took.
say() {
	read -r up _ < /proc/uptime
	echo "berth-init [${up}s]: $*"
}
# Whatever went wrong, power off (sysrq: no poweroff binary needed in either
# stage). The host then reports the console's tail. sysrq powers off
# asynchronously and PID 1 must not exit meanwhile (a panic), nor run a
# program: the 9p root is already going away. So: spin in the shell.
halt_now() {
	sync
	echo o > /proc/sysrq-trigger
	while :; do :; done
}
die() {
	say "FATAL: $*"
	halt_now
}

stage2() {
	export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
	res=/run/berth/results
	. $res/job.env
	say "running the guest job"
	# env -i: nothing of the init's environment leaks into the job; the
	# host's locale does, since messages and formatted sizes depend on it.
	# The job's output goes to the console and to results/job.log.
	{
		env -i PATH="$PATH" HOME=/root TMPDIR=/var/tmp TERM=dumb \
			${BERTH_LANG:+LANG="$BERTH_LANG"} ${BERTH_LC_ALL:+LC_ALL="$BERTH_LC_ALL"} \
			BERTH_BUILD=/run/berth/build BERTH_RESULTS=$res \
			BERTH_KERNEL_EXEC="${BERTH_KERNEL_EXEC:-}" BERTH_KERNEL_JOBS="${BERTH_KERNEL_JOBS:-}" \
			BERTH_KERNEL_JOB_TIMEOUT="${BERTH_KERNEL_JOB_TIMEOUT:-600}" BERTH_CGROUPS="${BERTH_CGROUPS:-v2}" \
			/bin/sh $res/guest-job.sh
		echo $? > $res/exit-status.tmp
	} 2>&1 | tee $res/job.log
	sync
	mv $res/exit-status.tmp $res/exit-status
	say "done, powering off"
	halt_now
}

if [ "${1:-}" = stage2 ]; then
	stage2
	exit 1
fi

export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1
ver=$(uname -r)
say "kernel $ver"

# The host's accelerator probe (check-kernels.sh) boots with berth.probe on
# the command line: reaching this line proves the kernel boots under that
# accelerator, which is all the probe asks.
case " $(cat /proc/cmdline) " in
*" berth.probe "*)
	echo "berth-probe: userspace reached"
	halt_now
	;;
esac

# In load order; a module that is built in, or whose CPU feature the virtual
# CPU lacks, fails here and is only reported.
while read -r ko; do
	insmod "/lib/modules/$ver/$ko" 2>/tmp/insmod.err ||
		grep -q 'File exists' /tmp/insmod.err ||
		say "insmod $ko: $(cat /tmp/insmod.err)"
done < "/lib/modules/$ver/load-order"

# lo up, as every init system brings it: 127.0.0.1 is where a published
# port is reached from the host itself (tests/test-network).
ip link set lo up 2>/dev/null || ifconfig lo 127.0.0.1 up || say "lo: could not bring it up"

# virtio probes asynchronously: wait for the scratch disk.
i=0
while [ ! -b /dev/vda ]; do
	i=$((i + 1))
	[ "$i" -gt 100 ] && die "no scratch disk /dev/vda"
	sleep 0.1
done

# The v1 hierarchies as systemd mounts them: a tmpfs holding one hierarchy
# per controller (cpu and cpuacct together, net_cls and net_prio together,
# each name linked to the pair) and systemd's named hierarchy. A controller
# the kernel offers only to cgroup2 (6.12's Debian config leaves out
# CONFIG_CPUSETS_V1 and CONFIG_MEMCG_V1) fails to mount; systemd leaves it
# unmounted, so this does the same, once cgroup2 shows it is there.
mount_v1() {
	base=$1
	mount -t tmpfs -o mode=755 tmpfs "$base" || die "cannot mount a tmpfs on $base"
	v2_only=
	# /proc/cgroups: subsys_name hierarchy num_cgroups enabled
	for c in $(awk '!/^#/ && $4 == 1 { print $1 }' /proc/cgroups); do
		case $c in
		cpu | cpuacct) set -- cpu,cpuacct cpu cpuacct ;;
		net_cls | net_prio) set -- net_cls,net_prio net_cls net_prio ;;
		*) set -- "$c" ;;
		esac
		[ -d "$base/$1" ] || [ -L "$base/$1" ] && continue
		mkdir "$base/$1"
		if ! mount -t cgroup -o "$1" cgroup "$base/$1" 2>"/tmp/mount-$c.err"; then
			rmdir "$base/$1"
			v2_only="$v2_only $c"
			continue
		fi
		[ $# -eq 1 ] || { ln -s "$1" "$base/$2"; ln -s "$1" "$base/$3"; }
	done
	[ -z "$v2_only" ] || v1_missing_are_v2_only $v2_only
	mkdir "$base/systemd"
	mount -t cgroup -o none,name=systemd cgroup "$base/systemd" ||
		die "cannot mount the named hierarchy systemd"
}

# usage: v1_missing_are_v2_only CONTROLLER...; dies unless cgroup2's root
# offers each one (a controller no v1 hierarchy holds is cgroup2's).
v1_missing_are_v2_only() {
	mkdir -p /tmp/cg2
	mount -t cgroup2 cgroup2 /tmp/cg2 || die "cannot mount cgroup2 to check the v1 controllers"
	offered=" $(cat /tmp/cg2/cgroup.controllers) "
	umount /tmp/cg2
	for c in "$@"; do
		case $offered in
		*" $c "*) ;;
		*) die "cannot mount the v1 hierarchy $c: $(cat "/tmp/mount-$c.err")" ;;
		esac
	done
	say "no v1 hierarchy for:$(printf ' %s' "$@") (this kernel offers them to cgroup2 only)"
}

# usage: mount_cgroups DIR LAYOUT. v2: cgroup2 only (cgroup_no_v1=all on the
# command line, too), current distributions; v1: one hierarchy per
# controller, the layout of RHEL 7-era hosts; hybrid: v1 plus an empty
# cgroup2 at unified/, systemd's default from 233 to 246 (and this host's).
mount_cgroups() {
	case $2 in
	v2) mount -t cgroup2 -o nsdelegate cgroup2 "$1" || die "cannot mount cgroup2" ;;
	v1) mount_v1 "$1" ;;
	hybrid)
		mount_v1 "$1"
		mkdir "$1/unified"
		mount -t cgroup2 -o nsdelegate cgroup2 "$1/unified" || die "cannot mount cgroup2 on unified"
		;;
	*) die "BERTH_CGROUPS is v2, v1 or hybrid, not '$2'" ;;
	esac
}

# 9p2000.L for ownership, modes and xattrs; msize well above the 8 KiB
# default, or reading the host's binaries crawls. The results share has no
# cache option (cache=none): every write reaches the host at once.
p9="trans=virtio,version=9p2000.L,msize=512000"
mount -t 9p -o "$p9" results /results || die "cannot mount the results share"
[ -f /results/job.env ] || die "no job.env in the results share"
. /results/job.env
# cache=loose: the host's tree does not change while the guest runs, and it
# makes running binaries and exec-heavy tests over 9p several times faster.
mount -t 9p -o "$p9,ro,cache=loose" hostroot /newroot || die "cannot mount the host root"
[ -d "/newroot$BERTH_BUILD_DIR" ] || die "build dir $BERTH_BUILD_DIR not in the host root"

# Pin the build dir before anything is mounted over the host's tree: it may
# live under /tmp, /var/tmp or /run, which get the guest's own mounts below.
mount -o bind "/newroot$BERTH_BUILD_DIR" /build || die "cannot bind the build dir"

r=/newroot
mount -t proc proc $r/proc
mount -t sysfs sysfs $r/sys
mount_cgroups "$r/sys/fs/cgroup" "${BERTH_CGROUPS:-v2}"
mount -t devtmpfs devtmpfs $r/dev
# The links udev and systemd make on every host. Without /dev/fd, 5.10 fails
# execveat(fd, "", AT_EMPTY_PATH) with ENOENT (6.1 does not), and with it
# runc's re-exec of its cloned binary: no runc container starts.
ln -sfn /proc/self/fd $r/dev/fd
ln -sfn /proc/self/fd/0 $r/dev/stdin
ln -sfn /proc/self/fd/1 $r/dev/stdout
ln -sfn /proc/self/fd/2 $r/dev/stderr
mkdir -p $r/dev/pts $r/dev/shm
mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts $r/dev/pts
mount -t tmpfs -o mode=1777 tmpfs $r/dev/shm
mount -t tmpfs -o mode=755 tmpfs $r/run
mount -t tmpfs -o mode=1777 tmpfs $r/tmp
# The scratch disk: a real ext4 for loop files, thin pools and overlay upper
# dirs (neither 9p nor tmpfs would do for all of them).
mount -t ext4 /dev/vda $r/var/tmp || die "cannot mount the scratch disk"
chmod 1777 $r/var/tmp
mkdir -p $r/run/berth/build $r/run/berth/results
mount -o move /build $r/run/berth/build
mount -o move /results $r/run/berth/results
cp /init $r/run/berth/init.sh

# switch_root empties the initramfs and moves /newroot, with everything
# mounted under it, onto /.
exec switch_root $r /bin/sh /run/berth/init.sh stage2
