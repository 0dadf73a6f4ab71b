#!/bin/bash
# Test check-kernels.sh's accelerator choice on hosts whose KVM is absent or
# broken, and that the matrix still passes there. Not part of `make
# check-kernels` (three short guests under TCG, about 5 minutes); run it by
# hand after changing the probe.
#
# usage: test-accel.sh [BUILD_DIR [CASE...]]  (as root, with util-linux's unshare)
# env:   BERTH_KERNELS (default 6.1), BERTH_KERNEL_JOBS (default storage-vfs)
#
# Cases, each a check-kernels.sh run that must pass and choose TCG:
#   host    this host as it is; with no /dev/kvm the reason must say so
#   nokvm   a private mount namespace whose /dev has a "kvm" that opens but
#           is /dev/null's device: qemu cannot use it and says why
#   hang    as nokvm, and a qemu whose KVM guests never print anything (the
#           "hangs after the decompressor" host): the probe must time out
# Nothing outside the namespaces changes.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -eu

here=$(cd "$(dirname "$0")" && pwd -P)
build=$(cd "${1:-.}" && pwd -P)
shift $(($# > 0 ? 1 : 0))
cases=" ${*:-host nokvm hang} "
export BERTH_KERNEL_JOBS=${BERTH_KERNEL_JOBS:-storage-vfs}
# The hang case waits this long; short, since what matters is the path.
export BERTH_KERNEL_PROBE_TIMEOUT=${BERTH_KERNEL_PROBE_TIMEOUT:-15}
unset BERTH_KERNEL_ACCEL
failed=0

log() { echo "test-accel: $*"; }
[ "$(id -u)" = 0 ] || { log "needs root (mount namespaces)"; exit 1; }
command -v unshare >/dev/null || { log "missing unshare (util-linux)"; exit 1; }

# Runs inside "unshare -m --propagation private": a tmpfs over /dev holding
# what the host's /dev has (device nodes bound one by one, directories such
# as pts and shm bound whole, symlinks copied) plus a kvm node that is
# /dev/null's device (char 1:3), which opens like /dev/kvm and answers no
# KVM ioctl. With "hang", a qemu-system-x86_64 first on PATH sleeps instead
# of starting a KVM guest.
# usage: fake_dev MODE DIR (an empty directory for the mount points)
# shellcheck disable=SC2317  # it runs in the namespace's shell (declare -f)
fake_dev() {
	local mode=$1 saved=$2/dev wrap=$2/qemu real
	mkdir "$saved" "$wrap"
	mount --rbind /dev "$saved"
	mount -t tmpfs -o mode=755 berth-fakedev /dev
	for e in "$saved"/* "$saved"/.[!.]*; do
		[ -e "$e" ] || [ -L "$e" ] || continue
		local n=/dev/${e##*/}
		if [ -L "$e" ]; then
			cp -a "$e" "$n"
		elif [ -d "$e" ]; then
			mkdir "$n" && mount --rbind "$e" "$n"
		else
			touch "$n" && mount --bind "$e" "$n"
		fi
	done
	mknod /dev/kvm c 1 3
	if [ "$mode" = hang ]; then
		# First on PATH, so check-kernels.sh runs it. (Run under another
		# name, qemu would not find its accelerator modules.)
		real=$(command -v qemu-system-x86_64)
		mount -t tmpfs berth-fakeqemu "$wrap"
		printf '#!/bin/sh\ncase " $* " in *" -accel kvm "*) exec sleep 3600 ;; esac\nexec %s "$@"\n' \
			"$real" > "$wrap/qemu-system-x86_64"
		chmod 755 "$wrap/qemu-system-x86_64"
		PATH=$wrap:$PATH
	fi
}

# usage: run_case NAME EXPECTED-REASON-REGEX [fake mode]
run_case() {
	local name=$1 want=$2 out rc=0 line tmp
	[[ $cases == *" $name "* ]] || return 0
	out=$(mktemp /tmp/berth-test-accel.XXXXXX)
	log "case $name"
	if [ -n "${3:-}" ]; then
		tmp=$(mktemp -d /tmp/berth-test-accel.XXXXXX)
		# shellcheck disable=SC2016
		unshare -m --propagation private bash -c "$(declare -f fake_dev)"'
			set -eu; fake_dev "$1" "$2"; exec "$3" "$4"' _ "$3" "$tmp" \
			"$here/check-kernels.sh" "$build" > "$out" 2>&1 || rc=$?
		# The mounts went with the namespace: only empty directories are left.
		rmdir "$tmp"/* "$tmp"
	else
		"$here/check-kernels.sh" "$build" > "$out" 2>&1 || rc=$?
	fi
	line=$(grep -m1 '^check-kernels: accelerator: ' "$out" || echo "(no accelerator line)")
	log "  $line"
	log "  $(grep '^kernel matrix:' "$out" || echo "(no summary line)") [exit $rc]"
	if [ "$rc" -ne 0 ] || ! grep -Eq "^check-kernels: accelerator: tcg \\($want" <<< "$line"; then
		log "  FAILED (wanted tcg with a reason matching \"$want\" and exit 0); output tail:"
		tail -n 30 "$out" | sed 's/^/    /'
		failed=1
	fi
	rm -f "$out"
}

if [ -e /dev/kvm ] && [[ $cases == *" host "* ]]; then
	log "case host: skipped (this host has a /dev/kvm; the other cases hide it)"
else
	run_case host '/dev/kvm is absent'
fi
run_case nokvm 'KVM probe: qemu' nokvm
run_case hang 'KVM probe timed out' hang
if [ "$failed" = 0 ]; then log "all cases passed"; else log "some cases failed"; fi
exit "$failed"
