#!/bin/bash
# Man pages and bash completion for berth, generated from the one source
# the command line already has: each command's option table, through its
# --help (cli/*.c), and the command tables berth --help and
# berth COMMAND --help list. So a flag added to a command is in its man
# page and its completion at the next build, with the words of its help.
#
#   man/generate.sh BERTH OUTDIR
#
# writes OUTDIR/berth.1, OUTDIR/berth-COMMAND.1 (berth-image-ls.1 for a
# subcommand) and OUTDIR/berth.bash. make builds them; make install
# installs them; tests/check-help.sh checks them.
set -euo pipefail
berth=$1
out=$2
mkdir -p "$out"
export LC_ALL=C
# A sanitized build's berth (tests/sanitize/) would count what GOption
# holds when --help exits as leaks, and fail; only the text matters here.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"

version=$("$berth" version 2>/dev/null | sed -n '1s/^[^0-9]*//p' | cut -d' ' -f1)
date_text=$(date -u -d "@${SOURCE_DATE_EPOCH:-$(date +%s)}" +%Y-%m-%d)

# roff text: backslashes doubled, hyphens as \-, a leading . or ' kept
# from being a request.
roff () {
  sed -e 's/\\/\\e/g' -e 's/-/\\-/g' -e "s/^\([.']\)/\\\\\&\1/"
}

# "  name   summary" lines of a command table on stdin, as "name<TAB>summary".
table_rows () {
  sed -n '/^Commands:/,/^$/p' | sed -n 's/^  \([a-z][a-z0-9-]*\)  *\(.*\)$/\1\t\2/p'
}

# The options of a leaf command's --help on stdin, as "flags<TAB>text",
# wrapped text joined to its option.
option_rows () {
  awk '
    /^  -/ {
      if (flags != "") print flags "\t" text
      line = substr($0, 3)
      n = match(line, /  +/)
      if (n) { flags = substr(line, 1, n - 1); text = substr(line, n + RLENGTH) }
      else { flags = line; text = "" }
      next
    }
    /^      +[^ ]/ && flags != "" { sub(/^ +/, ""); text = text " " $0; next }
    /^$/ { if (flags != "") print flags "\t" text; flags = "" }
    END { if (flags != "") print flags "\t" text }
  ' | { grep -v -e '^-h, --help' -e '^--help-all' || true; }
}

# The flags of option_rows' lines, a word each ("-v --volume"), for
# completion.
option_words () {
  cut -f1 | sed 's/, /\n/g' | sed 's/=.*//' | tr '\n' ' '
}

# The operands of a leaf command's usage line ("berth cp [OPTION...] X").
usage_line () {
  sed -n '/^Usage:/{n;p;q}' | sed -e 's/^ *//' -e 's/\[OPTION[^]]*\]/[OPTION...]/'
}

# man page $1 (file stem) for command words $2 with summary $3 and the
# --help text on stdin.
leaf_page () {
  local stem=$1 words=$2 summary=$3 help synopsis
  help=$(cat)
  synopsis=$(usage_line <<<"$help")
  {
    echo ".TH ${stem^^} 1 \"$date_text\" \"berth $version\" \"berth manual\""
    echo ".SH NAME"
    echo "$stem \\- $(roff <<<"$summary")"
    echo ".SH SYNOPSIS"
    echo ".B $(roff <<<"$words")"
    roff <<<"${synopsis#"$words"}" | sed 's/^ *//'
    echo ".SH OPTIONS"
    local rows
    rows=$(option_rows <<<"$help")
    if [ -z "$rows" ]; then
      echo "None but \\fB\\-\\-help\\fR."
    fi
    while IFS=$'\t' read -r flags text; do
      [ -n "$flags" ] || continue
      echo ".TP"
      echo "\\fB$(roff <<<"$flags")\\fR"
      roff <<<"$text"
    done <<<"$rows"
    echo ".SH SEE ALSO"
    echo "\\fBberth\\fR(1); docs/docker-cli.md in berth's sources"
  } >"$out/$stem.1"
}

# A command with subcommands: its page lists them; each gets its own.
group_page () {
  local stem=$1 words=$2 summary=$3 help=$4 name text
  {
    echo ".TH ${stem^^} 1 \"$date_text\" \"berth $version\" \"berth manual\""
    echo ".SH NAME"
    echo "$stem \\- $(roff <<<"$summary")"
    echo ".SH SYNOPSIS"
    echo ".B $(roff <<<"$words")"
    echo "COMMAND [ARG...]"
    echo ".SH COMMANDS"
    while IFS=$'\t' read -r name text; do
      echo ".TP"
      echo "\\fB$name\\fR"
      roff <<<"$text"
      echo "See \\fB$stem\\-$name\\fR(1)."
    done < <(table_rows <<<"$help")
    echo ".SH SEE ALSO"
    echo "\\fBberth\\fR(1)"
  } >"$out/$stem.1"
}

top=$("$berth" --help)
sub_cases=""
cmd_cases=""
commands=""
while IFS=$'\t' read -r cmd summary; do
  commands+="$cmd "
  help=$("$berth" "$cmd" --help 2>&1) || { echo "berth $cmd --help failed" >&2; exit 1; }
  if grep -q '^Commands:' <<<"$help"; then
    group_page "berth-$cmd" "berth $cmd" "$summary" "$help"
    subs=""
    while IFS=$'\t' read -r sub subsummary; do
      subs+="$sub "
      subhelp=$("$berth" "$cmd" "$sub" --help 2>&1) ||
        { echo "berth $cmd $sub --help failed" >&2; exit 1; }
      leaf_page "berth-$cmd-$sub" "berth $cmd $sub" "$subsummary" <<<"$subhelp"
      opts=$(option_rows <<<"$subhelp" | option_words)
      operands=$(usage_line <<<"$subhelp")
      sub_cases+="    '$cmd $sub') opts='$opts' operands='$operands' ;;"$'\n'
    done < <(table_rows <<<"$help")
    cmd_cases+="      '$cmd') subs='$subs' ;;"$'\n'
  else
    leaf_page "berth-$cmd" "berth $cmd" "$summary" <<<"$help"
    opts=$(option_rows <<<"$help" | option_words)
    operands=$(usage_line <<<"$help")
    cmd_cases+="      '$cmd') opts='$opts' operands='$operands' ;;"$'\n'
  fi
done < <(table_rows <<<"$top")

# berth.1: the global options and the command list.
{
  echo ".TH BERTH 1 \"$date_text\" \"berth $version\" \"berth manual\""
  echo ".SH NAME"
  echo "berth \\- containers on interchangeable storage and exec backends"
  echo ".SH SYNOPSIS"
  echo ".B berth"
  echo "[\\-\\-root DIR] [\\-\\-storage\\-driver NAME] [\\-\\-storage\\-opt KEY=VALUE]... COMMAND [ARG...]"
  echo ".SH DESCRIPTION"
  echo "berth runs containers as Docker does, on the storage driver (overlay, btrfs, vfs,"
  echo "aufs, devicemapper) and exec driver (native, lxc) chosen for each host."
  echo "Its store is \\fB/var/lib/berth\\fR unless \\fB\\-\\-root\\fR or \\fBBERTH_ROOT\\fR says otherwise."
  echo ".SH COMMANDS"
  while IFS=$'\t' read -r cmd summary; do
    echo ".TP"
    echo "\\fB$cmd\\fR"
    roff <<<"$summary"
    echo "See \\fBberth\\-$cmd\\fR(1)."
  done < <(table_rows <<<"$top")
} >"$out/berth.1"

# berth.bash: commands, subcommands, each one's flags, and container or
# image names where its operands take them.
cat >"$out/berth.bash" <<EOF
# bash completion for berth, generated by man/generate.sh from berth's
# own help: do not edit.
_berth_names () {
  local what=\$1 root=()
  [ -n "\${_berth_root:-}" ] && root=(--root "\$_berth_root")
  case \$what in
    CONTAINER) berth "\${root[@]}" ps -a --format '{{.Names}}' 2>/dev/null ;;
    IMAGE) berth "\${root[@]}" images --format '{{.Repository}}:{{.Tag}}' 2>/dev/null ;;
    NETWORK) berth "\${root[@]}" network ls -q 2>/dev/null ;;
    VOLUME|NAME) berth "\${root[@]}" volume ls -q 2>/dev/null ;;
  esac
}

_berth () {
  local cur=\${COMP_WORDS[COMP_CWORD]} words=() i w
  local _berth_root="" opts="" subs="" operands=""
  for ((i = 1; i < COMP_CWORD; i++)); do
    w=\${COMP_WORDS[i]}
    case \$w in
      --root|--storage-driver|--storage-opt) [ \${#words[@]} -gt 0 ] || { [ "\$w" = --root ] && _berth_root=\${COMP_WORDS[i+1]}; i=\$((i + 1)); continue; } ;;
      -*) continue ;;
    esac
    words+=("\$w")
  done
  case "\${words[0]:-} \${words[1]:-}" in
$sub_cases  esac
  if [ -z "\$opts\$operands" ]; then
    case "\${words[0]:-}" in
$cmd_cases      '') subs='$commands--root --storage-driver --storage-opt --help' ;;
    esac
  fi
  if [ -n "\$subs" ]; then
    COMPREPLY=(\$(compgen -W "\$subs" -- "\$cur"))
  elif [[ \$cur == -* ]]; then
    COMPREPLY=(\$(compgen -W "\$opts --help" -- "\$cur"))
  else
    local kind
    for kind in CONTAINER IMAGE NETWORK VOLUME; do
      if [[ \$operands == *\$kind* ]]; then
        COMPREPLY=(\$(compgen -W "\$(_berth_names \$kind)" -- "\$cur"))
        return
      fi
    done
    COMPREPLY=(\$(compgen -f -- "\$cur"))
  fi
}
complete -F _berth berth
EOF
