#!/bin/sh
# Build a kernel with AUFS for the kernel matrix: Debian's linux-source-6.1
# with the aufs6.1 standalone sources compiled in, and a small config made
# for the guest (virtio, 9p, the filesystems and device-mapper targets the
# storage drivers use, namespaces, cgroup v1 and v2, seccomp, BPF).
#
# No distribution kernel reachable from here carries AUFS, so this is the
# only way berth's aufs driver runs for real. The result is laid out as
# fetch-kernel.sh lays out a downloaded kernel (root/boot/vmlinuz-VER,
# root/lib/modules/VER, "version" and "package"), cached under a key of the
# source package version, the aufs tarball and this script, so a second run
# prints the cached directory at once.
#
# usage: build-aufs-kernel.sh           (prints the kernel directory)
# env:   BERTH_KERNEL_CACHE   (default /var/cache/berth/kernels)
#        BERTH_AUFS_SOURCES   the aufs6.1-standalone tarball (default: the one
#                             in ../shared/third_party/ beside the checkout)
#        BERTH_KERNEL_JOBS_MAKE  make -j (default: the number of CPUs)
set -eu

here=$(cd "$(dirname "$0")" && pwd -P)
cache=${BERTH_KERNEL_CACHE:-/var/cache/berth/kernels}
log() { echo "build-aufs-kernel: $*" >&2; }
die() { log "$*"; exit 1; }

# The tarball lives in the shared folder beside the checkout (the checkout's
# parent, or the one above it for a clone inside the workspace).
find_aufs() {
	if [ -n "${BERTH_AUFS_SOURCES:-}" ]; then
		echo "$BERTH_AUFS_SOURCES"
		return
	fi
	d=$here
	while [ "$d" != / ]; do
		for f in "$d"/shared/third_party/aufs6.1-standalone-*.tar.gz; do
			[ -f "$f" ] && { echo "$f"; return; }
		done
		d=$(dirname "$d")
	done
	return 1
}
aufs_tar=$(find_aufs) || die "no aufs6.1-standalone tarball (shared/third_party/; set BERTH_AUFS_SOURCES)"

for t in make gcc flex bison bc xz perl apt-get dpkg-deb depmod; do
	command -v $t >/dev/null || die "missing $t (run .ci/install-deps)"
done

# The source package's version names the kernel; apt may need fresh lists.
src_version() {
	apt-cache policy linux-source-6.1 2>/dev/null | awk '$1 == "Candidate:" && $2 != "(none)" { print $2 }'
}
srcver=$(src_version)
if [ -z "$srcver" ]; then
	apt-get update -qq >&2 || true
	srcver=$(src_version)
fi
# Offline with a build in the cache: use the newest one.
if [ -z "$srcver" ]; then
	for d in $(ls -d "$cache"/6.1.*-aufs-* 2>/dev/null | sort -V -r); do
		[ -f "$d/version" ] && { log "apt has no linux-source-6.1; using cached $d"; echo "$d"; exit 0; }
	done
	die "apt knows no linux-source-6.1 and nothing is cached"
fi

# The key: the source, the aufs sources and this script's commands (its
# comments may change without a rebuild).
key=$( (echo "$srcver"; sha256sum < "$aufs_tar"; grep -v '^[[:space:]]*#' "$0" | grep -v '^[[:space:]]*$') |
	sha256sum | cut -c1-8)
# "6.1.192-aufs": uname -r in the guest. The directory adds the key.
ver=${srcver%%-*}-aufs
dir=$cache/$ver-$key
# One build at a time: CI starts one early in the background, and the
# matrix's own call then waits for it and finds it cached.
mkdir -p "$cache"
exec 9> "$cache/aufs-build.lock"
if ! flock -n 9; then
	log "waiting for another build of the AUFS kernel"
	flock 9
fi
if [ -f "$dir/version" ] && [ -f "$dir/root/boot/vmlinuz-$ver" ]; then
	log "cached: $dir"
	echo "$dir"
	exit 0
fi

work=$(mktemp -d "${TMPDIR:-/var/tmp}/berth-aufs-kernel.XXXXXX")
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT TERM HUP
cd "$work"

log "downloading linux-source-6.1 $srcver"
apt-get download -q -o APT::Sandbox::User=root "linux-source-6.1=$srcver" >&2 ||
	die "apt-get download linux-source-6.1=$srcver failed"
dpkg-deb --fsys-tarfile linux-source-6.1_*.deb | tar -xO ./usr/src/linux-source-6.1.tar.xz | tar -xJf -
rm -f linux-source-6.1_*.deb
src=$work/linux-source-6.1
[ -f "$src/Makefile" ] || die "the source package held no linux-source-6.1 tree"

tar -xzf "$aufs_tar"
aufs=$(ls -d "$work"/aufs6.1-standalone* | head -n1)
[ -f "$aufs/aufs6-base.patch" ] || die "$aufs_tar holds no aufs6-base.patch"

# For aufs built into the kernel: kbuild, base and mmap (README, "Configuration
# and Compilation"); standalone.patch only exports symbols for a module.
cd "$src"
patch -p1 -s < "$aufs/aufs6-kbuild.patch" || die "aufs6-kbuild.patch does not apply to $srcver"
patch -p1 -s < "$aufs/aufs6-base.patch" || die "aufs6-base.patch does not apply to $srcver"
# mmap.patch predates 6.1.115's rework of mm/mmap.c (the error path's label was
# renamed and remap_file_pages checks security outside the lock). All its
# hunks but three apply (with patch's default fuzz: more puts remap_file_pages'
# declaration into another function); what they did is done here by hand:
# - mmap_region's error path drops the vma's file with vma_fput, which also
#   drops aufs's vm_prfile;
# - remap_file_pages is left as the kernel has it: the new vma gets no
#   vm_prfile, so /proc/PID/maps shows the branch's file for it. Nothing
#   berth or its tests do calls that deprecated syscall.
patch -p1 -s < "$aufs/aufs6-mmap.patch" > "$work/mmap-patch.log" 2>&1 || true
rm -f mm/mmap.c.rej mm/mmap.c.orig
grep -q 'vma_fput' mm/mmap.c || die "aufs6-mmap.patch did not apply to mm/mmap.c of $srcver"
awk '/^unmap_and_free_(file_)?vma:$/ { print; getline; sub(/fput\(vma->vm_file\)/, "vma_fput(vma)") } { print }' \
	mm/mmap.c > mm/mmap.c.new && mv mm/mmap.c.new mm/mmap.c
grep -q 'fput(vma->vm_file);' mm/mmap.c && die "mm/mmap.c of $srcver still drops vm_file without vma_fput"
if find . -name '*.rej' | grep -q .; then
	die "aufs patches left rejects: $(find . -name '*.rej' | tr '\n' ' ')"
fi
cp -r "$aufs/fs/aufs" fs/
cp "$aufs/include/uapi/linux/aufs_type.h" include/uapi/linux/
cp -r "$aufs/Documentation/." Documentation/ 2>/dev/null || true

# The config: x86_64's defconfig and the kvm guest fragment, then what the
# guest and berth's drivers need, built in; the heavy desktop drivers off.
make -s x86_64_defconfig >&2
make -s kvm_guest.config >&2
scripts/config \
	-e AUFS_FS -e AUFS_BRANCH_MAX_127 -e AUFS_XATTR -e AUFS_FHSM -e AUFS_DIRREN \
	-e NET_9P -e NET_9P_VIRTIO -e 9P_FS -e 9P_FS_POSIX_ACL -e 9P_FS_SECURITY \
	-e VIRTIO_PCI -e VIRTIO_BLK -e VIRTIO_NET -e VIRTIO_CONSOLE \
	-e OVERLAY_FS -e OVERLAY_FS_REDIRECT_DIR -e OVERLAY_FS_INDEX -e OVERLAY_FS_METACOPY \
	-e BTRFS_FS -e BTRFS_FS_POSIX_ACL -e XFS_FS -e EXT4_FS -e EXT4_FS_POSIX_ACL -e EXT4_FS_SECURITY \
	-e TMPFS -e TMPFS_POSIX_ACL -e TMPFS_XATTR -e DEVTMPFS -e DEVTMPFS_MOUNT -e FUSE_FS \
	-e BLK_DEV_LOOP -e MD -e BLK_DEV_DM -e DM_THIN_PROVISIONING -e DM_SNAPSHOT \
	-e NAMESPACES -e UTS_NS -e IPC_NS -e USER_NS -e PID_NS -e NET_NS -e TIME_NS \
	-e CGROUPS -e MEMCG -e BLK_CGROUP -e CGROUP_SCHED -e FAIR_GROUP_SCHED -e CFS_BANDWIDTH \
	-e CGROUP_PIDS -e CGROUP_FREEZER -e CGROUP_HUGETLB -e CPUSETS -e CGROUP_DEVICE \
	-e CGROUP_CPUACCT -e CGROUP_PERF -e CGROUP_BPF -e CGROUP_MISC -e BLK_DEV_THROTTLING \
	-e CGROUP_NET_PRIO -e CGROUP_NET_CLASSID -e PSI \
	-e SECCOMP -e SECCOMP_FILTER -e BPF_SYSCALL -e BPF_JIT \
	-e POSIX_MQUEUE -e CHECKPOINT_RESTORE -e KEYS -e FHANDLE -e IKCONFIG -e IKCONFIG_PROC \
	-e VETH -e BRIDGE -e MACVLAN -e TUN -e DUMMY \
	-e MAGIC_SYSRQ \
	-d DRM -d SOUND -d USB_SUPPORT -d WLAN -d WIRELESS -d CFG80211 -d HID \
	-d INPUT_JOYSTICK -d INPUT_TABLET -d INPUT_TOUCHSCREEN -d AGP -d FB -d NET_VENDOR_INTEL \
	-d ETHERNET -d PCCARD -d NETFILTER -d NET_SCHED -d RFKILL -d ATA -d SCSI -d NFS_FS -d NFSD -d ROOT_NFS \
	-d ISO9660_FS -d VFAT_FS -d MSDOS_FS -d QUOTA -d EFI -d HIBERNATION -d SUSPEND -d CPU_FREQ \
	-d FTRACE -d KPROBES -d PROFILING -d AUDIT -d X86_MCE -d MICROCODE -d INPUT_MOUSE -d HWMON \
	-d THERMAL -d LOGO -d SECURITY_SELINUX -e DEBUG_INFO_NONE -d DEBUG_INFO -d DEBUG_INFO_DWARF5 \
	-d DEBUG_INFO_DWARF_TOOLCHAIN_DEFAULT -d DEBUG_INFO_BTF -d MODULE_SIG -d SYSTEM_TRUSTED_KEYRING \
	-d LOCALVERSION_AUTO -d WERROR \
	--set-str LOCALVERSION "" --set-str SYSTEM_TRUSTED_KEYS "" --set-str SYSTEM_REVOCATION_KEYS ""
make -s olddefconfig >&2
for opt in AUFS_FS 9P_FS OVERLAY_FS BTRFS_FS DM_THIN_PROVISIONING CGROUP_BPF SECCOMP_FILTER USER_NS; do
	grep -q "^CONFIG_$opt=y" .config || die "CONFIG_$opt did not stay built in (a dependency missing?)"
done

jobs=${BERTH_KERNEL_JOBS_MAKE:-$(nproc)}
log "building $ver (make -j$jobs; about 20 minutes on 2 cores)"
t0=$(date +%s)
# The version string must be exactly $ver: kernelrelease is the Makefile's
# version plus LOCALVERSION, and Debian's source says 6.1.N.
# aufs first: its errors show in a minute, not at the end.
make -s -j"$jobs" KBUILD_BUILD_USER=berth KBUILD_BUILD_HOST=kernel-matrix \
	LOCALVERSION=-aufs fs/aufs/ > "$work/build.log" 2>&1 &&
make -s -j"$jobs" KBUILD_BUILD_USER=berth KBUILD_BUILD_HOST=kernel-matrix \
	LOCALVERSION=-aufs bzImage modules >> "$work/build.log" 2>&1 || {
	tail -n 30 "$work/build.log" >&2
	die "the kernel build failed"
}
built=$(make -s LOCALVERSION=-aufs kernelrelease)
[ "$built" = "$ver" ] || die "the build is $built, expected $ver"

rm -rf "$dir.tmp"
mkdir -p "$dir.tmp/root/boot"
cp arch/x86/boot/bzImage "$dir.tmp/root/boot/vmlinuz-$ver"
cp .config "$dir.tmp/root/boot/config-$ver"
make -s LOCALVERSION=-aufs INSTALL_MOD_PATH="$dir.tmp/root" INSTALL_MOD_STRIP=1 modules_install >&2
rm -f "$dir.tmp/root/lib/modules/$ver/build" "$dir.tmp/root/lib/modules/$ver/source"
depmod -b "$dir.tmp/root" "$ver"
echo "linux-source-6.1+aufs6.1 $srcver+aufs-$(basename "$aufs_tar" .tar.gz | sed 's/.*-//') built" \
	> "$dir.tmp/package"
echo "$ver" > "$dir.tmp/version"
rm -rf "$dir"
mv "$dir.tmp" "$dir"
# Older builds of the same kernel (another key) are dropped.
for old in "$cache/$ver"-*; do
	[ "$old" = "$dir" ] || rm -rf "$old"
done
log "built $ver in $(($(date +%s) - t0))s: $dir"
echo "$dir"
