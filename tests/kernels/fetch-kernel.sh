#!/bin/sh
# Fetch a Debian generic kernel for one series (e.g. 6.1) into a cache and
# print its unpacked directory. Nothing is installed into /boot: the .deb is
# only unpacked (dpkg-deb -x) and depmod is run on the unpacked tree, since
# Debian's packages leave modules.dep to the postinst.
#
# A series the host's apt does not know (5.10 on bookworm) is looked up in
# other Debian suites (bullseye, trixie) through a private apt configuration
# under the cache: its own sources list, lists and package cache, on the
# host's Debian mirror. The system's apt configuration is never changed.
#
# usage: fetch-kernel.sh SERIES
# env:   BERTH_KERNEL_CACHE (default /var/cache/berth/kernels)
#        BERTH_KERNEL_SUITES other suites to search, in order ("bullseye trixie")
#        BERTH_KERNEL_MIRROR their mirror (default: the host's Debian mirror)
# prints: <cache>/<version>  (holds root/ with boot/vmlinuz-<version> and
#         lib/modules/<version>/, a "version" file and a "package" file:
#         "<package> <version> <suite>")
set -eu

series=${1:?usage: fetch-kernel.sh SERIES}
cache=${BERTH_KERNEL_CACHE:-/var/cache/berth/kernels}
suites=${BERTH_KERNEL_SUITES:-bullseye trixie}

log() { echo "fetch-kernel: $*" >&2; }
die() { log "$*"; exit 1; }

# apt with the host's configuration (suite "") or a private one for SUITE:
# usage: apt_for SUITE apt-get|apt-cache ARGS...
apt_for() {
	a_suite=$1 a_tool=$2
	shift 2
	if [ -z "$a_suite" ]; then
		"$a_tool" "$@"
		return
	fi
	a_dir=$cache/apt/$a_suite
	"$a_tool" -o Dir::Etc::SourceList="$a_dir/sources.list" -o Dir::Etc::SourceParts="$a_dir/empty" \
		-o Dir::Etc::Preferences=/dev/null -o Dir::Etc::PreferencesParts="$a_dir/empty" \
		-o Dir::State::Lists="$a_dir/lists" -o Dir::Cache="$a_dir/cache" \
		-o Acquire::Languages=none "$@"
}

host_codename() {
	# shellcheck disable=SC1091
	(. /etc/os-release && echo "${VERSION_CODENAME:-}")
}

# The host's Debian mirror: the URI of its own codename's main suite.
host_mirror() {
	apt-cache policy 2>/dev/null |
		awk -v s="$(host_codename)/main" '$3 == s && $2 ~ /^https?:/ { print $2; exit }'
}

# Lay out SUITE's private apt tree (once) and fetch its lists.
private_update() {
	p_dir=$cache/apt/$1
	p_mirror=${BERTH_KERNEL_MIRROR:-$(host_mirror)}
	[ -n "$p_mirror" ] || { log "cannot tell the host's Debian mirror (set BERTH_KERNEL_MIRROR)"; return 1; }
	mkdir -p "$p_dir/empty" "$p_dir/lists/partial" "$p_dir/cache/archives/partial"
	echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $p_mirror $1 main" \
		> "$p_dir/sources.list"
	log "apt-get update for $1 ($p_mirror, private lists in $p_dir)"
	apt_for "$1" apt-get update -qq -o APT::Sandbox::User=root >&2
}

# The newest generic image package of the series in $suite's lists ("" is
# the host's). linux-image-amd64 names it when the series is the suite's own;
# otherwise take the highest ABI among linux-image-SERIES.*-amd64 (the generic
# flavour: the cloud flavour has no 9p, rt is a different kernel,
# -dbg/-unsigned are not images). Whole series: "6.1" must not also match 6.10.
# The ABI is "-57" up to bookworm and "+deb13" from trixie on.
pick_package() {
	pkg=$(apt_for "$suite" apt-cache depends linux-image-amd64 2>/dev/null |
		sed -n "s/^ *Depends: \(linux-image-${series}\.[0-9][0-9.+a-z-]*-amd64\)\$/\1/p" | head -n1)
	if [ -z "$pkg" ]; then
		pkg=$(apt_for "$suite" apt-cache pkgnames "linux-image-${series}." 2>/dev/null |
			grep -E "^linux-image-${series}\.[0-9]+(-[0-9]+|\+deb[0-9]+)-amd64\$" |
			sort -V | tail -n1)
	fi
	[ -n "$pkg" ] || return 1
	echo "$pkg"
}

# The other suites in turn: sets $suite and $pkg. With "update", each
# suite's lists are fetched first; without, only suites that have lists are
# asked (so a cached series costs no apt-get update).
pick_elsewhere() {
	for suite in $suites; do
		if [ "${1:-}" = update ]; then
			private_update "$suite" || { log "$suite: apt-get update failed"; continue; }
		elif [ ! -d "$cache/apt/$suite/lists" ]; then
			continue
		fi
		pkg=$(pick_package) && return 0
	done
	suite=
	return 1
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
suite=
pkg=$(pick_package) || pick_elsewhere || {
	log "no package for series $series in apt's lists; running apt-get update"
	apt-get update -qq >&2 || true
	pkg=$(pick_package) || pick_elsewhere update || cached_fallback
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
	(cd "$dir" && apt_for "$suite" apt-get download -q -o APT::Sandbox::User=root "$pkg" >&2)
}
deb=
for f in "$dir/${pkg}"_*.deb; do [ -f "$f" ] && deb=$f; done
if [ -z "$deb" ]; then
	log "downloading $pkg"
	download || { apt_for "$suite" apt-get update -qq -o APT::Sandbox::User=root >&2 || true
		download; } || die "apt-get download $pkg failed"
	for f in "$dir/${pkg}"_*.deb; do [ -f "$f" ] && deb=$f; done
	[ -n "$deb" ] || die "apt-get download $pkg left no .deb in $dir"
fi

# Unpack into a temp dir first, so an interrupted run never looks complete.
rm -rf "$root" "$root.tmp"
dpkg-deb -x "$deb" "$root.tmp"
depmod -b "$root.tmp" "$ver"
mv "$root.tmp" "$root"
# The report names the exact package version it tested.
echo "$pkg $(dpkg-deb -f "$deb" Version) ${suite:-$(host_codename)}" \
	> "$dir/package"
rm -f "$deb"
echo "$ver" > "$dir/version"
log "unpacked $pkg ($(cut -d' ' -f2- "$dir/package")) into $dir"
echo "$dir"
