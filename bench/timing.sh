# Sourced by bench/docker-start.sh and bench/serve-start.sh: whole-command
# timings kept in $SCRATCH/times.LABEL (microseconds, one a line), and
# their median.

# Time "$@" (its output dropped; a failure ends the benchmark), appended
# to $SCRATCH/times.$LABEL.  usage: timed LABEL COMMAND...
timed () {
  local label=$1 t0 t1
  shift
  t0=$(date +%s%N)
  "$@" >/dev/null 2>&1 || { echo "failed: $*" >&2; exit 1; }
  t1=$(date +%s%N)
  echo $(( (t1 - t0) / 1000 )) >>"$SCRATCH/times.$label"
}

# The median of LABEL's timings, in milliseconds.
median_ms () {
  sort -n "$SCRATCH/times.$1" | awk '{ v[NR] = $1 } END {
    m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%.1f", m / 1000 }'
}
