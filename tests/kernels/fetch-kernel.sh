#!/bin/sh
# Fetch a Debian generic kernel for one series (e.g. 6.1) into a cache and
# print its unpacked directory. Nothing is installed into /boot: the .deb is
# only unpacked (dpkg-deb -x) and depmod is run on the unpacked tree, since
# Debian's packages leave modules.dep to the postinst.
#
# usage: fetch-kernel.sh SERIES
# env:   BERTH_KERNEL_CACHE (default /var/cache/berth/kernels)
# prints: <cache>/<version>  (holds root/ with boot/vmlinuz-<version> and
#         lib/modules/<version>/, and a "version" file)
set -eu

series=${1:?usage: fetch-kernel.sh SERIES}
cache=${BERTH_KERNEL_CACHE:-/var/cache/berth/kernels}

log() { echo "fetch-kernel: $*" >&2; }
die() { log "$*"; exit 1; }

# The newest generic image package of the series. linux-image-amd64 names it
# when the series is the distribution's own; otherwise take the highest ABI
# among linux-image-SERIES.*-amd64 (the generic flavour: the cloud flavour has
# no 9p, rt is a different kernel, -dbg/-unsigned are not images).
# Whole series: "6.1" must not also match 6.10.
pick_package() {
	pkg=$(apt-cache depends linux-image-amd64 2>/dev/null |
		sed -n "s/^ *Depends: \(linux-image-${series}\.[0-9.-]*-amd64\)\$/\1/p" | head -n1)
	if [ -z "$pkg" ]; then
		pkg=$(apt-cache pkgnames "linux-image-${series}." 2>/dev/null |
			grep -E "^linux-image-${series}\.[0-9]+-[0-9]+-amd64\$" |
			sort -V | tail -n1)
	fi
	[ -n "$pkg" ] || return 1
	echo "$pkg"
}

# The newest kernel of the series already in the cache, for when apt cannot
# answer (no network): a matrix run should not need the mirror every time.
cached_fallback() {
	for v in $(ls -d "$cache/$series".*-amd64 2>/dev/null | sort -V -r); do
		if [ -f "$v/version" ]; then
			log "apt has no answer; using cached $(cat "$v/version")"
			echo "$v"
			exit 0
		fi
	done
	die "no Debian generic kernel image for series $series"
}

# apt's lists may be missing (fresh container) or stale (a removed ABI).
pkg=$(pick_package) || {
	log "no package for series $series in apt's lists; running apt-get update"
	apt-get update -qq >&2 || true
	pkg=$(pick_package) || cached_fallback
}
ver=${pkg#linux-image-}
dir=$cache/$ver
root=$dir/root

if [ -f "$dir/version" ] && [ -f "$root/boot/vmlinuz-$ver" ]; then
	log "cached: $dir"
	echo "$dir"
	exit 0
fi

mkdir -p "$dir"
# Download into the cache dir itself, as root: apt's _apt sandbox user could
# not write there.
download() {
	(cd "$dir" && apt-get download -q -o APT::Sandbox::User=root "$pkg" >&2)
}
deb=
for f in "$dir/${pkg}"_*.deb; do [ -f "$f" ] && deb=$f; done
if [ -z "$deb" ]; then
	log "downloading $pkg"
	download || { apt-get update -qq >&2 || true; download; } || die "apt-get download $pkg failed"
	for f in "$dir/${pkg}"_*.deb; do [ -f "$f" ] && deb=$f; done
	[ -n "$deb" ] || die "apt-get download $pkg left no .deb in $dir"
fi

# Unpack into a temp dir first, so an interrupted run never looks complete.
rm -rf "$root" "$root.tmp"
dpkg-deb -x "$deb" "$root.tmp"
depmod -b "$root.tmp" "$ver"
mv "$root.tmp" "$root"
rm -f "$deb"
echo "$ver" > "$dir/version"
log "unpacked $pkg into $dir"
echo "$dir"
