# shellcheck shell=bash
# lib.sh — sourced by every script devcluster runs on a node: strict mode, timestamped log lines,
# `die` with a call stack (built with `caller`), an ERR trap that dies with the failing command, and
# `retry`. Scripts get their inputs as arguments (never secrets: those arrive as files over SFTP).
set -Eeuo pipefail

log() {
  printf '%s %s\n' "$(date -u +%H:%M:%S)" "$*"
}

# die MESSAGE: print MESSAGE and the call stack to stderr, then exit 1. The ERR trap goes first: the
# `caller` that ends the stack walk fails, and with errtrace (-E) it would fire the trap a second time.
die() {
  trap - ERR
  local frame=0 line func file
  printf 'ERROR: %s\n' "$*" >&2
  while read -r line func file < <(caller "$frame"); do
    printf '  at %s (%s:%s)\n' "$func" "$file" "$line" >&2
    frame=$((frame + 1))
  done
  exit 1
}

trap 'die "command failed with exit code $?: $BASH_COMMAND"' ERR

# retry ATTEMPTS DELAY COMMAND...: run COMMAND until it succeeds, at most ATTEMPTS times.
retry() {
  local attempts=$1 delay=$2 n=1
  shift 2
  until "$@"; do
    if ((n >= attempts)); then
      log "failed $n times, giving up: $*"
      return 1
    fi
    log "attempt $n of $attempts failed: $*; trying again in ${delay} s"
    sleep "$delay"
    n=$((n + 1))
  done
}

# merge_list A B: the comma-separated lists A and B as one, A's entries first, each entry once,
# blanks dropped (no_proxy: cloud-init's cluster entries and the user's own).
merge_list() {
  local entry out='' seen=','
  local -a entries
  IFS=, read -ra entries <<<"$1,$2"
  for entry in "${entries[@]}"; do
    entry=${entry//[[:space:]]/}
    [[ -n $entry && $seen != *",$entry,"* ]] || continue
    seen+="$entry,"
    out+="${out:+,}$entry"
  done
  printf '%s\n' "$out"
}

# need_value OPTION VALUE: die unless an option got its value.
need_value() {
  [[ -n ${2-} ]] || die "option $1 needs a value"
}
