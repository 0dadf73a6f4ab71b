#!/bin/bash
# Every command's --help, its man page and its bash completion, as
# man/generate.sh makes them from berth itself (TAP). For each command (and
# each subcommand of image, network, volume, system): --help exits 0 and
# names the command; its page renders with no groff warning and has every
# long option its --help lists. Then completion of commands, subcommands,
# flags and container names. make check runs it (BERTH_BIN).
set -u
srcdir=$(cd "$(dirname "$0")/.." && pwd)
berth=${BERTH_BIN:-$srcdir/berth}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
n=0
ok () { n=$((n + 1)); echo "ok $n - $1"; }
not_ok () { n=$((n + 1)); echo "not ok $n - $1"; shift; printf '# %s\n' "$@"; }

if ! command -v groff >/dev/null; then
  echo "1..0 # SKIP groff is not installed (groff-base)"
  exit 0
fi
if ! bash "$srcdir/man/generate.sh" "$berth" "$out" 2>"$out/gen.err"; then
  echo "1..1"
  not_ok "man/generate.sh" "$(cat "$out/gen.err")"
  exit 0
fi

# $1: command words; checks its --help and page.
check_command () {
  local words=$1 stem page help problems=() long
  stem=berth-${words// /-}
  page=$out/$stem.1
  # shellcheck disable=SC2086
  help=$(LC_ALL=C "$berth" $words --help 2>&1) || problems+=("berth $words --help failed: ${help:0:200}")
  grep -q "berth $words" <<<"$help" || problems+=("its --help does not name 'berth $words'")
  [ -s "$page" ] || problems+=("no man page $stem.1")
  local warnings
  warnings=$(groff -man -Tutf8 -ww -z "$page" 2>&1)
  [ -z "$warnings" ] || problems+=("groff: ${warnings:0:300}")
  for long in $(grep -o -- '--[a-z][a-z0-9-]*' <<<"$help" | sort -u); do
    [ "$long" = --help ] && continue
    grep -q -- "${long//-/\\\\-}" "$page" || problems+=("$stem.1 lacks $long")
  done
  if [ ${#problems[@]} = 0 ]; then ok "berth $words: --help and man page"
  else not_ok "berth $words: --help and man page" "${problems[@]}"; fi
}

commands=$(LC_ALL=C "$berth" --help | sed -n '/^Commands:/,/^$/s/^  \([a-z][a-z0-9-]*\) .*/\1/p')
total=$(($(wc -w <<<"$commands") + 1))
for c in $commands; do
  subs=$(LC_ALL=C "$berth" "$c" --help 2>/dev/null | sed -n '/^Commands:/,/^$/s/^  \([a-z][a-z0-9-]*\) .*/\1/p')
  total=$((total + $(wc -w <<<"$subs")))
done
echo "1..$((total + 1))"
groff -man -Tutf8 -ww -z "$out/berth.1" >"$out/top.err" 2>&1
if [ -s "$out/top.err" ] || ! grep -q 'berth\\-run' "$out/berth.1"; then
  not_ok "berth.1" "$(cat "$out/top.err")"
else ok "berth.1 lists the commands"; fi
for c in $commands; do
  check_command "$c"
  for s in $(LC_ALL=C "$berth" "$c" --help 2>/dev/null | sed -n '/^Commands:/,/^$/s/^  \([a-z][a-z0-9-]*\) .*/\1/p'); do
    check_command "$c $s"
  done
done

# Completion, against a store holding one container.
store=$out/store
"$berth" --root "$store" image bootstrap busybox >/dev/null 2>&1 &&
  "$berth" --root "$store" create --name completed busybox true >/dev/null 2>&1
got=$(PATH=$(dirname "$berth"):$PATH bash -c '
  . "$1"
  t () { COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); COMPREPLY=(); _berth; echo "${COMPREPLY[*]}"; }
  t berth ru; t berth image l; t berth cp --arc; t berth run --volumes-f
  t berth --root "$2" rm comp; t berth system ""' _ "$out/berth.bash" "$store" 2>&1)
want=$'run\nload ls\n--archive\n--volumes-from\ncompleted\ndf prune'
"$berth" --root "$store" rm -f completed >/dev/null 2>&1
if [ "$got" = "$want" ]; then ok "bash completion: commands, subcommands, flags, container names"
else not_ok "bash completion: commands, subcommands, flags, container names" "got: ${got//$'\n'/ | }" "want: ${want//$'\n'/ | }"; fi
