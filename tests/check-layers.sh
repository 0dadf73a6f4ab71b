#!/bin/bash
# core/ is layered: util <- registry (and the drivers) <- store <- runtime
# <- bench <- cli. A layer may call and include its own and lower layers,
# never a higher one. This lists the calls that cross layers (from the
# built objects' symbol tables, so a call hidden behind a macro counts)
# and the #includes, and fails on every back-edge. TAP out.
#
#   tests/check-layers.sh [BUILDDIR]    (default: $BERTH_BUILDDIR, else the
#                                        source tree; options such as make
#                                        check's --tap are ignored)
set -u
srcdir=$(cd "$(dirname "$0")/.." && pwd)
dir=${BERTH_BUILDDIR:-$srcdir}
for arg; do case $arg in -*) ;; *) dir=$arg ;; esac; done
builddir=$(cd "$dir" && pwd)

# Rank of a source or object path, or of a header under include/berth/.
rank_of_path () {
  case $1 in
    core/util/*) echo 0 ;;
    core/registry/* | drivers/*) echo 1 ;;
    core/store/*) echo 2 ;;
    core/runtime/* | core/distribution/*) echo 3 ;;
    bench/lib/*) echo 4 ;;
    cli/*) echo 5 ;;
    *) echo "" ;;
  esac
}
rank_of_header () {
  case $1 in
    error.h | fsutil.h | fdutil.h | archive.h | copy.h | json.h | loop.h | names.h | \
    passwd.h | capabilities.h | sanitize.h | template.h | digest.h) echo 0 ;;
    storage.h | exec.h | host.h | kernel.h | hooks.h | family.h | network.h) echo 1 ;;
    store.h) echo 2 ;;
    runtime.h | spec.h | oci.h | pty.h | distribution.h) echo 3 ;;
    bench.h | bench-report.h | bench-aio.h | bench-net.h) echo 4 ;;
    *) echo "" ;;
  esac
}
layer_name () {
  local names=(util registry store runtime bench cli)
  echo "${names[$1]}"
}

command -v nm >/dev/null || { echo "1..0 # SKIP nm not installed (binutils)"; exit 0; }
cd "$builddir" || exit 1
objects=$(ls core/*/*.o drivers/storage/*.o drivers/exec/*/*.o drivers/network/*.o bench/lib/*.o cli/*.o 2>/dev/null)
[ -n "$objects" ] || { echo "Bail out! no objects under $builddir: build first"; exit 1; }

echo "1..3"
# Where each berth_ function or table is defined.
declare -A def_of=() rank=()
for o in $objects; do
  rank[$o]=$(rank_of_path "$o")
  while read -r sym; do def_of[$sym]=$o; done < <(nm --defined-only "$o" |
    awk '$2 ~ /^[TDRB]$/ && $3 ~ /^berth_/ {print $3}')
done

back=0 crossing=0
declare -A edges=()
for o in $objects; do
  from=${rank[$o]}
  [ -n "$from" ] || continue
  while read -r sym; do
    to_obj=${def_of[$sym]:-}
    [ -n "$to_obj" ] || continue
    to=${rank[$to_obj]}
    [ -n "$to" ] && [ "$to" != "$from" ] || continue
    crossing=$((crossing + 1))
    key="$from $to"
    edges[$key]=$(( ${edges[$key]:-0} + 1 ))
    if [ "$to" -gt "$from" ]; then
      echo "# back-edge: ${o%.o}.c calls $sym (${to_obj%.o}.c, $(layer_name "$to"))"
      back=$((back + 1))
    fi
  done < <(nm -u "$o" | awk '$2 ~ /^berth_/ {print $2}')
done
for k in "${!edges[@]}"; do
  echo "# calls $(layer_name "${k% *}") -> $(layer_name "${k#* }"): ${edges[$k]}"
done | sort
if [ "$back" -eq 0 ]; then
  echo "ok 1 - no call goes up a layer ($crossing calls cross layers)"
else
  echo "not ok 1 - $back calls go up a layer"
fi

# Includes in the sources (a header from a higher layer is a back-edge even
# when nothing from it is called yet).
cd "$srcdir" || exit 1
inc_back=0
while IFS=: read -r file _ header; do
  from=$(rank_of_path "$file")
  to=$(rank_of_header "$header")
  [ -n "$from" ] && [ -n "$to" ] || continue
  if [ "$to" -gt "$from" ]; then
    echo "# back-edge: $file includes <berth/$header> ($(layer_name "$to"))"
    inc_back=$((inc_back + 1))
  fi
done < <(grep -n -o '#include <berth/[a-z-]*\.h>' core/*/*.[ch] drivers/storage/*.[ch] \
           drivers/exec/*/*.[ch] bench/lib/*.c cli/*.[ch] 2>/dev/null |
         sed 's/#include <berth\/\(.*\)>/\1/')
# runtime's files may include the store's internal header; nothing below may.
while IFS= read -r file; do
  echo "# back-edge: $file includes the runtime's internal header"
  inc_back=$((inc_back + 1))
done < <(grep -l 'runtime-internal.h' core/util/* core/registry/* core/store/* drivers/*/* \
           drivers/exec/*/* 2>/dev/null)
if [ "$inc_back" -eq 0 ]; then
  echo "ok 2 - no source includes a header of a higher layer"
else
  echo "not ok 2 - $inc_back includes go up a layer"
fi

hdr_back=0
for h in include/berth/*.h; do
  own=$(rank_of_header "$(basename "$h")")
  if [ -z "$own" ]; then
    echo "# $h has no layer: add it to rank_of_header in $0"
    hdr_back=$((hdr_back + 1))
    continue
  fi
  while read -r inc; do
    to=$(rank_of_header "$inc")
    if [ -n "$to" ] && [ "$to" -gt "$own" ]; then
      echo "# back-edge: $h ($(layer_name "$own")) includes <berth/$inc> ($(layer_name "$to"))"
      hdr_back=$((hdr_back + 1))
    fi
  done < <(sed -n 's/^#include <berth\/\(.*\)>/\1/p' "$h")
done
if [ "$hdr_back" -eq 0 ]; then
  echo "ok 3 - every header in include/berth/ has a layer and includes none above it"
else
  echo "not ok 3 - $hdr_back header problems"
fi
[ "$back" -eq 0 ] && [ "$inc_back" -eq 0 ] && [ "$hdr_back" -eq 0 ]
