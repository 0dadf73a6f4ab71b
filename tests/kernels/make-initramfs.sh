#!/bin/sh
# Build the guest's initramfs: busybox-static with its applet links, the
# kernel modules the tests need (with their dependencies, in load order) and
# tests/kernels/init.sh as /init.
#
# usage: make-initramfs.sh KERNEL_DIR OUT.cpio.gz
#   KERNEL_DIR is what fetch-kernel.sh printed (holds version and root/).
# env:   BERTH_KERNEL_MODULES overrides the module list below.
set -eu

kdir=${1:?usage: make-initramfs.sh KERNEL_DIR OUT}
out=${2:?usage: make-initramfs.sh KERNEL_DIR OUT}
here=$(cd "$(dirname "$0")" && pwd)
ver=$(cat "$kdir/version")
kroot=$kdir/root

# What berth's drivers and the harness need: devicemapper thin pools, loop
# devices, the filesystems the storage drivers run on, virtio for the
# scratch disk and the 9p shares, and the network drivers' links and
# nftables expressions (bridge, veth, macvlan; nat chains, masquerade,
# dnat, fib, conntrack): with them the guest's default network is bridge,
# as on a host. Anything built in is simply skipped; one a kernel lacks
# (the AUFS kernel has no netfilter) leaves that driver's probe to say so.
modules=${BERTH_KERNEL_MODULES:-"virtio_pci virtio_blk 9p 9pnet_virtio
  dm-mod dm-bufio dm-bio-prison dm-persistent-data dm-thin-pool loop
  ext4 xfs overlay btrfs
  bridge veth macvlan nf_tables nft_chain_nat nft_nat nft_masq nft_fib_ipv4 nft_ct"}

log() { echo "make-initramfs: $*" >&2; }
die() { log "$*"; exit 1; }

busybox=$(command -v busybox) || die "busybox not found (install busybox-static)"
# A dynamic busybox would need the host's libc inside the initramfs.
if command -v file >/dev/null 2>&1 && ! file -L "$busybox" | grep -q 'statically linked'; then
	die "$busybox is not static (install busybox-static)"
fi

stage=$(mktemp -d "${TMPDIR:-/tmp}/berth-initramfs.XXXXXX")
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/bin" "$stage/dev" "$stage/proc" "$stage/sys" "$stage/tmp" "$stage/newroot" \
	"$stage/results" "$stage/build" "$stage/lib/modules/$ver"

cp "$busybox" "$stage/bin/busybox"
# "busybox --list" names busybox itself: linking it onto itself would fail.
for applet in $("$busybox" --list); do
	[ "$applet" = busybox ] && continue
	ln -s busybox "$stage/bin/$applet"
done
cp "$here/init.sh" "$stage/init"
chmod 0755 "$stage/init"

# modprobe --show-depends prints "insmod PATH" lines, dependencies first, or
# "builtin NAME". The union of the outputs, first occurrence kept, is a valid
# load order. Debian 6.1 ships plain .ko; newer kernels ship .ko.xz/.ko.zst,
# which busybox insmod cannot load, so they are decompressed here.
order=$stage/lib/modules/$ver/load-order
: > "$order"
found=0
for m in $modules; do
	deps=$(modprobe -d "$kroot" -S "$ver" --show-depends "$m" 2>/dev/null) || {
		log "module $m: not in $ver (skipped)"
		continue
	}
	found=$((found + 1))
	echo "$deps" | while read -r kind path _; do
		[ "$kind" = insmod ] || continue
		rel=${path#"$kroot"}
		rel=${rel#/./}
		rel=/${rel#/}
		name=$(basename "$rel")
		case $name in
		*.ko.xz) plain=${name%.xz} ;;
		*.ko.zst) plain=${name%.zst} ;;
		*.ko.gz) plain=${name%.gz} ;;
		*) plain=$name ;;
		esac
		grep -qx "$plain" "$order" && continue
		dest=$stage/lib/modules/$ver/$plain
		case $name in
		*.xz) xz -dc "$path" > "$dest" ;;
		*.zst) zstd -q -dc "$path" > "$dest" ;;
		*.gz) gzip -dc "$path" > "$dest" ;;
		*) cp "$path" "$dest" ;;
		esac
		echo "$plain" >> "$order"
	done
done
# A kernel built for the matrix (build-aufs-kernel.sh) has them all built
# in: an empty load order is right when modprobe knew every one.
[ -s "$order" ] || [ "$found" -gt 0 ] || die "no modules found for $ver"

(cd "$stage" && find . | "$busybox" cpio -o -H newc 2>/dev/null) | gzip -1 > "$out.tmp"
mv "$out.tmp" "$out"
log "$out: $(wc -l < "$order") modules for $ver"
