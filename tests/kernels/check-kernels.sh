#!/bin/bash
# The kernel matrix: run berth's test binaries, as built on this host, inside
# other kernels under qemu, and report their TAP results.
#
# usage: check-kernels.sh [BUILD_DIR]          (as root; `make check-kernels`)
# env:   BERTH_KERNEL_PLAN    guests to boot, ";"-separated, each "SERIES LAYOUT
#                             [JOB...]" (no job: the series' own set; "all":
#                             every job). Default: CI's plan, below.
#        BERTH_KERNELS        kernel series, instead of a plan: "5.10", "6.1",
#                             "6.12" (Debian's) or "aufs" (6.1 built with AUFS,
#                             build-aufs-kernel.sh); each booted under every
#                             layout of BERTH_KERNEL_CGROUPS with its own set
#        BERTH_KERNEL_CGROUPS cgroup layouts to boot each series with: v2 (cgroup2
#                             only), v1 (a hierarchy per controller, systemd's
#                             named one too), hybrid (v1 plus cgroup2 at
#                             /sys/fs/cgroup/unified); default "v2"
#        BERTH_KERNEL_CACHE   kernels and initramfs cache (/var/cache/berth/kernels)
#        BERTH_KERNEL_TIMEOUT seconds one guest may run (default 3600)
#        BERTH_KERNEL_JOB_TIMEOUT seconds one job in the guest may run (600)
#        BERTH_KERNEL_EXEC    0: leave out tests/test-exec on overlay (~1 min under TCG)
#        BERTH_KERNEL_JOBS    only these guest jobs (e.g. "storage-devicemapper-direct")
#        BERTH_KERNEL_KEEP    a directory to copy each kernel's results into
#        BERTH_KERNEL_WORKDIR where the scratch disk and results live (/var/tmp)
#        BERTH_KERNEL_ACCEL   kvm or tcg: no probe (default: KVM if a probe boot works)
#        BERTH_KERNEL_PROBE_TIMEOUT seconds the KVM probe boot may take (25)
#        BERTH_KERNEL_APPEND  more words for the guest kernel's command line
#
# The guest sees the host's whole root read-only over 9p, so the binaries run
# unchanged against the host's libraries; only the kernel differs. Nothing is
# mounted or attached on the host: the scratch disk is a plain file qemu opens.
# Last line: "kernel matrix: VER: N passed, N failed, N skipped (ACCEL, Ns); ...".
# BERTH_KERNEL_ACCEL=kvm|tcg skips the KVM probe (see choose_accel).

# make runs this with $(SHELL), which may be dash: the rest needs bash.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd -P)
build=$(cd "${1:-.}" && pwd -P)
# CI's plan, sized for its hour on 2 cores under TCG (about 14 minutes in
# all): 6.1 cgroup2-only with every job but devicemapper's direct-lvm
# suite, the vfs and btrfs suites, podman's scenarios and the network
# drivers (the host runs those; btrfs's took 168 s of the guest, network's
# 208 s, and the 5.10 guest runs network too; aufs's suite would only
# skip); bullseye's 5.10 under cgroup v1 with what its
# missing syscalls touch, the exec suite, the network drivers and the OCI
# conformance set (its
# storage suites' deep cases alone take 25 minutes there); and the AUFS
# kernel with the aufs jobs. The host itself is the hybrid layout on a
# current kernel. check-kernels-all runs every job everywhere.
ci_61="storage-overlay storage-devicemapper cli-devicemapper kernel-features
  exec-overlay oci-conformance oci-cli clients-docker"
ci_plan="6.1 v2 ${ci_61//$'\n'/}; 5.10 v1 kernel-features exec-overlay network oci-conformance; aufs v2"
cache=${BERTH_KERNEL_CACHE:-/var/cache/berth/kernels}
# Under TCG on 2 cores a 6.1 guest takes about 8 minutes and a 5.10 one 25
# to 35 (its storage suites' "deep" cases, devicemapper's above all); the
# per-job limit keeps a hung case from costing the later jobs their results.
limit=${BERTH_KERNEL_TIMEOUT:-3600}
workbase=${BERTH_KERNEL_WORKDIR:-/var/tmp}
mkdir -p "$workbase" || { echo "check-kernels: BERTH_KERNEL_WORKDIR $workbase: cannot be made" >&2; exit 1; }
probe_limit=${BERTH_KERNEL_PROBE_TIMEOUT:-25}
accel_forced=${BERTH_KERNEL_ACCEL:-}
# The plan: BERTH_KERNEL_PLAN, else the cross product of BERTH_KERNELS and
# BERTH_KERNEL_CGROUPS when either is set, else CI's.
if [ -n "${BERTH_KERNEL_PLAN:-}" ]; then
	plan=$BERTH_KERNEL_PLAN
elif [ -n "${BERTH_KERNELS:-}${BERTH_KERNEL_CGROUPS:-}" ]; then
	plan=
	for series in ${BERTH_KERNELS:-6.1}; do
		for layout in ${BERTH_KERNEL_CGROUPS:-v2}; do
			plan+="${plan:+; }$series $layout"
		done
	done
else
	plan=$ci_plan
fi
IFS=';' read -ra guests <<< "$plan"
for g in "${guests[@]}"; do
	read -r series layout _ <<< "$g"
	case $layout in
	v2 | v1 | hybrid) ;;
	*) echo "check-kernels: a guest's layout is v2, v1 or hybrid, not '$layout' (in '$g')" >&2; exit 2 ;;
	esac
	case $series in
	aufs | [0-9]*.[0-9]*) ;;
	*) echo "check-kernels: a kernel series is aufs or a Debian series such as 6.1, not '$series'" >&2; exit 2 ;;
	esac
done
case $accel_forced in
"" | kvm | tcg) ;;
*) echo "check-kernels: BERTH_KERNEL_ACCEL must be kvm or tcg, not '$accel_forced'" >&2; exit 2 ;;
esac
export BERTH_KERNEL_CACHE=$cache

# Every job the guest runs; a missing TAP file is a failure. One storage job
# per driver tests/test-storage has cases for (the storage table's built
# drivers), as tests/kernels/guest-job.sh runs them. Called per guest,
# after preflight has checked that tests/test-storage is built.
# usage: list_jobs SERIES [JOB...]; sets jobs (the report's list) and
# guest_jobs (what the guest is told: empty for every job).
list_jobs() {
	local series=$1
	shift
	guest_jobs="$*"
	# The AUFS kernel exists for aufs: its storage suite, the CLI scenario,
	# berth info and the bench on it.
	if [ -z "$guest_jobs" ] && [ "$series" = aufs ]; then
		guest_jobs="storage-aufs cli-aufs bench-aufs kernel-features"
	fi
	[ -z "${BERTH_KERNEL_JOBS:-}" ] || guest_jobs=$BERTH_KERNEL_JOBS
	[ "$guest_jobs" != all ] || guest_jobs=
	if [ -n "$guest_jobs" ]; then
		read -ra jobs <<< "$guest_jobs"
		jobs+=(leftovers)
		return
	fi
	mapfile -t jobs < <("$build/tests/test-storage" -l |
		sed -n 's|^/storage/\([^/]*\)/.*|storage-\1|p' | awk '!seen[$0]++')
	jobs+=(storage-devicemapper-direct cli-devicemapper kernel-features leftovers)
	[ "${BERTH_KERNEL_EXEC:-1}" = 0 ] || jobs+=(exec-overlay network oci-conformance oci-cli clients-docker clients-podman)
}

# usage: kernel_dir SERIES; prints the kernel's directory (fetched or built).
kernel_dir() {
	if [ "$1" = aufs ]; then
		"$here/build-aufs-kernel.sh"
	else
		"$here/fetch-kernel.sh" "$1"
	fi
}

# On any exit, interrupted ones included: stop a guest still running (qemu
# writes its pid) and remove the scratch disk and the results.
work=
cleanup() {
	[ -n "$work" ] || return 0
	[ ! -s "$work/qemu.pid" ] || kill "$(cat "$work/qemu.pid")" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

log() { echo "check-kernels: $*"; }

preflight() {
	if [ "$(id -u)" != 0 ]; then
		log "skipped: needs root (the guest tests mount and make devices)"
		echo "kernel matrix: skipped (not root)"
		exit 0
	fi
	local t
	for t in qemu-system-x86_64 mkfs.ext4 busybox modprobe depmod apt-get dpkg-deb timeout; do
		command -v "$t" >/dev/null || { log "missing $t (run .ci/install-deps)"; exit 1; }
	done
	for t in berth tests/test-storage; do
		[ -x "$build/$t" ] || { log "$build/$t not built (run make first)"; exit 1; }
	done
}

# The accelerator: KVM only when a probe boot of the kernel under test gets to
# the initramfs under it, TCG otherwise (about 10x slower, never broken). A
# /dev/kvm that opens is not enough: on some hosts qemu aborts setting an MSR
# or the guest hangs after the decompressor. The CPU model "max" under TCG
# gives the guest SSE4.2 and friends, so modules such as crc32c-intel load as
# on real hardware.
accel_args() {
	case $1 in
	kvm) echo "-accel kvm -cpu host" ;;
	*) echo "-accel tcg,thread=multi -cpu max" ;;
	esac
}

# usage: kvm_probe VMLINUZ INITRD; succeeds when the guest printed the marker
# of init.sh's berth.probe, else prints why not (one line) and fails.
kvm_probe() {
	local out=$work/probe.log rc=0 why
	if [ ! -e /dev/kvm ]; then
		echo "/dev/kvm is absent"
		return 1
	fi
	why=$( (exec 3<>/dev/kvm) 2>&1) || {
		echo "cannot open /dev/kvm: ${why##*: }"
		return 1
	}
	# shellcheck disable=SC2046
	timeout -k 5 "$probe_limit" qemu-system-x86_64 -nographic -display none -no-reboot \
		-m 512 -smp 2 $(accel_args kvm) -nic none -pidfile "$work/qemu.pid" \
		-kernel "$1" -initrd "$2" -append "console=ttyS0 panic=-1 quiet loglevel=3 berth.probe" \
		< /dev/null > "$out" 2>&1 || rc=$?
	rm -f "$work/qemu.pid"
	grep -q '^berth-probe: userspace reached' "$out" && return 0
	if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
		echo "KVM probe timed out after ${probe_limit}s"
		return 1
	fi
	# qemu's own error (e.g. "failed to set MSR ..."), else the last line.
	why=$(tr -d '\r' < "$out" | grep -m1 '^qemu[^ ]*: ' || tr -d '\r' < "$out" | sed '/^ *$/d' | tail -n1)
	echo "KVM probe: ${why:-no output} (qemu exit $rc)"
	return 1
}

# usage: choose_accel VMLINUZ INITRD; sets $accel (kvm or tcg) and says why.
choose_accel() {
	local t0 why
	if [ -n "$accel_forced" ]; then
		accel=$accel_forced
		log "accelerator: $accel (BERTH_KERNEL_ACCEL)"
		return
	fi
	t0=$(date +%s)
	if why=$(kvm_probe "$1" "$2"); then
		accel=kvm
		log "accelerator: kvm (probe boot took $(($(date +%s) - t0))s)"
	else
		accel=tcg
		log "accelerator: tcg ($why)"
	fi
}

# The initramfs depends on the kernel, the scripts that make it and busybox:
# cached under that key beside the kernel, older ones dropped.
initramfs_for() {
	local kdir=$1 key out
	key=$( (cat "$kdir/version" "$here/make-initramfs.sh" "$here/init.sh" "$(command -v busybox)"
		echo "${BERTH_KERNEL_MODULES:-}") | sha256sum | cut -c1-16)
	out=$kdir/initramfs-$key.cpio.gz
	if [ ! -f "$out" ]; then
		rm -f "$kdir"/initramfs-*.cpio.gz
		"$here/make-initramfs.sh" "$kdir" "$out" >&2
	fi
	echo "$out"
}

# job.env is sourced by the guest's /init: every value single-quoted.
# usage: write_job_env DIR LAYOUT
write_job_env() {
	local dir=$1 q="'\\''"
	{
		printf "BERTH_BUILD_DIR='%s'\n" "${build//\'/$q}"
		printf "BERTH_KERNEL_EXEC='%s'\n" "${BERTH_KERNEL_EXEC:-1}"
		printf "BERTH_KERNEL_JOBS='%s'\n" "$guest_jobs"
		printf "BERTH_KERNEL_JOB_TIMEOUT='%s'\n" "${BERTH_KERNEL_JOB_TIMEOUT:-600}"
		printf "BERTH_CGROUPS='%s'\n" "$2"
		# The guest runs with the host's locale, as make check does.
		printf "BERTH_LANG='%s'\n" "${LANG:-}"
		printf "BERTH_LC_ALL='%s'\n" "${LC_ALL:-}"
	} > "$dir/job.env"
	cp "$here/guest-job.sh" "$dir/guest-job.sh"
}

# usage: boot VER VMLINUZ INITRD RESULTS SCRATCH CONSOLE LAYOUT; returns qemu's status
# (124: timed out). The console streams here too, so a slow guest shows where
# it is (sed -u: unbuffered); \r and the serial console's terminal escapes
# are dropped.
boot() {
	local ver=$1 vmlinuz=$2 initrd=$3 results=$4 scratch=$5 console=$6 rc=0 v1=
	# cgroup2 only: no v1 controller may be taken by a v1 mount either.
	[ "$7" != v2 ] || v1=cgroup_no_v1=all
	# shellcheck disable=SC2046
	timeout -k 10 "$limit" qemu-system-x86_64 -nographic -display none -no-reboot \
		-m 2048 -smp 2 $(accel_args "$accel") -nic none -pidfile "$work/qemu.pid" \
		-kernel "$vmlinuz" -initrd "$initrd" \
		-append "console=ttyS0 panic=-1 quiet loglevel=3 $v1 ${BERTH_KERNEL_APPEND:-}" \
		-virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
		-virtfs "local,path=$results,mount_tag=results,security_model=none,multidevs=remap" \
		-drive "file=$scratch,format=raw,if=virtio,cache=unsafe,discard=unmap" \
		< /dev/null 2>&1 | sed -u 's/\r//g; s/\x1bc/\n/g; s/\x1b\[[0-9;?]*[a-zA-Z]//g; s/\x1b[c()][0-9A-B]\{0,1\}//g' |
		tee "$console" | sed -u "s/^/  [$ver] /" || rc=${PIPESTATUS[0]}
	return "$rc"
}

# Counts of one TAP file as "passed failed skipped", and a problem line on
# fd 3 for a missing plan or fewer results than planned (a crashed binary).
tap_counts() {
	awk '
	/^1\.\.[0-9]+/ { plan = substr($1, 4) + 0; have_plan = 1 }
	/^ok / { n++; if ($0 ~ /# [Ss][Kk][Ii][Pp]/) s++; else p++ }
	/^not ok / { n++; f++ }
	/^Bail out!/ { bail = $0 }
	END {
		if (!have_plan) problem = "no TAP plan (truncated output?)"
		else if (n != plan) problem = "planned " plan " tests, saw " n
		if (bail != "") problem = bail
		if (problem != "") { f++; print problem > "/dev/fd/3" }
		print p + 0, f + 0, s + 0
	}' "$1"
}

# Report one kernel's results dir; sets k_pass k_fail k_skip.
report() {
	local ver=$1 res=$2 job tap secs p f s problem
	k_pass=0 k_fail=0 k_skip=0
	echo
	echo "== kernel $ver"
	sed 's/^/  /' "$res/env.txt" 2>/dev/null || true
	for job in "${jobs[@]}"; do
		tap=$res/$job.tap
		secs=$(awk -v j="$job" '$1 == j { print $2 "s" }' "$res/times.txt" 2>/dev/null) || true
		if [ ! -f "$tap" ]; then
			printf '  %-30s MISSING (no TAP file)\n' "$job"
			k_fail=$((k_fail + 1))
			continue
		fi
		problem=$(tap_counts "$tap" 3>&1 >/dev/null)
		read -r p f s < <(tap_counts "$tap" 3>/dev/null)
		k_pass=$((k_pass + p)) k_fail=$((k_fail + f)) k_skip=$((k_skip + s))
		if [ $((p + f + s)) -eq 0 ]; then
			printf '  %-30s no tests (driver not built into tests/test-storage?) %s\n' "$job" "$secs"
			continue
		fi
		printf '  %-30s %3d passed, %d failed, %d skipped  %s\n' "$job" "$p" "$f" "$s" "$secs"
		[ -z "$problem" ] || echo "      problem: $problem"
		# Every skip reason, once each with its count.
		sed -n 's/^ok [0-9]* .*# [Ss][Kk][Ii][Pp] *//p' "$tap" | sort | uniq -c |
			sed 's/^ *\([0-9]*\) /      skip x\1: /'
		grep '^not ok' "$tap" | sed 's/^/      /' || true
		# Cases that took a minute or more (guest-job.sh times each one).
		awk '/^(not )?ok / { name = $0; sub(/^(not )?ok [0-9]+ (- )?/, "", name); sub(/ *# .*/, "", name) }
			/^# time: / { t = $3 + 0; if (t >= 60) print "      slow: " name " (" t "s)" }' "$tap"
		# What a failing job said on stderr, for the human reading CI.
		if [ "$f" -gt 0 ] && [ -s "$res/$job.err" ]; then
			echo "      stderr (last 15 lines):"
			tail -n 15 "$res/$job.err" | sed 's/^/        /'
		fi
	done
	if [ "$k_fail" -gt 0 ] && [ -s "$res/dmesg.txt" ]; then
		echo "  guest dmesg (last 15 lines):"
		tail -n 15 "$res/dmesg.txt" | sed 's/^/    /'
	fi
	echo "  berth info (loop-lvm options; a fresh store, then one using devicemapper):"
	sed 's/^/    /' "$res/info.txt" 2>/dev/null || echo "    (no info.txt)"
}

# One kernel series under one cgroup layout: fetch (or build), boot,
# report. Appends to $summary; sets $failed.
# usage: run_series SERIES LAYOUT [JOB...]
run_series() {
	local series=$1 layout=$2 kdir ver pkg initrd res scratch console t0 rc=0 st accel wall label
	shift 2
	list_jobs "$series" "$@"
	t0=$(date +%s)
	kdir=$(kernel_dir "$series") || { log "$series: cannot fetch or build a kernel"; failed=1
		summary+="${summary:+; }$series: no kernel"; return; }
	log "$series: kernel ready in $(($(date +%s) - t0))s"
	ver=$(cat "$kdir/version")
	# "linux-image-... 5.10.223-1 bullseye" (fetch-kernel.sh), for the report.
	pkg=$(cat "$kdir/package" 2>/dev/null || echo "(package version not recorded)")
	label="$ver $layout"
	log "$label: $pkg"
	initrd=$(initramfs_for "$kdir")
	work=$(mktemp -d "$workbase/berth-kernel-$ver-$layout.XXXXXX")
	res=$work/results scratch=$work/scratch.img console=$work/console.log
	mkdir "$res"
	write_job_env "$res" "$layout"
	# Sparse: only what the guest writes takes host disk space.
	truncate -s "${BERTH_KERNEL_SCRATCH_SIZE:-8G}" "$scratch"
	mkfs.ext4 -q -F -E lazy_itable_init=1,lazy_journal_init=1 "$scratch"
	choose_accel "$kdir/root/boot/vmlinuz-$ver" "$initrd"
	log "booting $label ($accel), limit ${limit}s"
	t0=$(date +%s)
	boot "$ver" "$kdir/root/boot/vmlinuz-$ver" "$initrd" "$res" "$scratch" "$console" "$layout" || rc=$?
	# The console's last line (the power-off) may lack its newline.
	[ -z "$(tail -c 1 "$console")" ] || echo
	wall=$(($(date +%s) - t0))
	log "$label: guest ran ${wall}s ($accel)"
	report "$label" "$res"
	st=$(cat "$res/exit-status" 2>/dev/null || echo none)
	if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ] || [ "$st" != 0 ]; then
		if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
			echo "  GUEST TIMED OUT after ${limit}s"
		elif [ "$st" = none ]; then
			echo "  GUEST DID NOT FINISH (qemu exit $rc)"
		else
			echo "  guest job exited $st"
		fi
		echo "  console (last 40 lines):"
		tail -n 40 "$console" | sed 's/^/    /'
		k_fail=$((k_fail + 1))
	fi
	echo "kernel $label ($pkg): $k_pass passed, $k_fail failed, $k_skip skipped ($accel, guest ${wall}s)"
	summary+="${summary:+; }$label ${pkg#* }: $k_pass passed, $k_fail failed, $k_skip skipped ($accel, ${wall}s)"
	[ "$k_fail" -eq 0 ] || failed=1
	if [ -n "${BERTH_KERNEL_KEEP:-}" ]; then
		mkdir -p "$BERTH_KERNEL_KEEP/$ver-$layout"
		cp "$res"/*.tap "$res"/*.err "$res"/*.txt "$console" "$BERTH_KERNEL_KEEP/$ver-$layout/" 2>/dev/null || true
	fi
	rm -rf "$work"
	work=
}

preflight
failed=0 summary=
start=$(date +%s)
log "plan: $plan"
for g in "${guests[@]}"; do
	# shellcheck disable=SC2086
	run_series $g
done
log "total $(($(date +%s) - start))s"
echo "kernel matrix: $summary"
exit "$failed"
