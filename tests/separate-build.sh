# Sourced by tests/fuzz/run-fuzzers.sh and tests/sanitize/run-sanitized.sh:
# each makes a build of its own, every object instrumented, from a copy of
# the checkout, and prints TAP with one closing line "$suite: ...".
#
# The caller sets: suite (the closing line's first word: fuzzing,
# sanitizers) and srcdir (the checkout).

skip_all () {
  echo "1..0 # SKIP $1"
  echo "$suite: skipped ($1)"
  exit 0
}

bail () {
  echo "Bail out! $1"
  echo "$suite: did not run ($1)"
  exit 1
}

# The checkout's files, as git would commit them (tracked, and untracked
# ones git does not ignore), into $1. Copies keep their times, so a second
# build there rebuilds only what changed.
copy_sources () {
  local dest=$1
  mkdir -p "$dest" || return 1
  (cd "$srcdir" && git ls-files -z -c -o --exclude-standard) |
    (cd "$srcdir" && while IFS= read -r -d '' f; do
       [ -e "$f" ] && printf '%s\0' "$f"
     done) |
    (cd "$srcdir" && xargs -0 -r cp -p --parents -t "$dest")
}

# separate_build DIR WHAT CONFIGURE-ARGS -- MAKE-ARGS...: copy the checkout
# into DIR/src, configure it there once (CONFIGURE-ARGS, one word list),
# then make MAKE-ARGS; the log is DIR/build.log, its tail printed and the
# run bailed out on a failure. WHAT names the build in those lines.
separate_build () {
  local dir=$1 what=$2 configure_args=$3 src=$1/src log=$1/build.log
  shift 4
  git -C "$srcdir" rev-parse --git-dir >/dev/null 2>&1 ||
    bail "$srcdir is not a git checkout: build with $configure_args yourself (see the script's header)"
  mkdir -p "$dir"
  copy_sources "$src" || bail "cannot copy the sources into $src"
  echo "# building $what in $src (log: $log)"
  # shellcheck disable=SC2086
  if ! ( cd "$src" &&
         { [ -x configure ] || ./autogen.sh; } &&
         { [ -f config.status ] || ./configure $configure_args; } &&
         make -j"$(nproc)" "$@" ) >"$log" 2>&1; then
    sed 's/^/# /' "$log" | tail -n 40
    bail "building $what failed"
  fi
}
