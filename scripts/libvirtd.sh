#!/usr/bin/env bash
# libvirt's daemons on a host whose PID 1 is not systemd (containers, CI sandboxes), where nothing
# starts them: `start` runs virtlogd and libvirtd with pid files under /run/devcluster/ and waits
# until qemu:///system answers; it does nothing for a daemon that already runs. `stop` ends the ones
# it started (by pid, waiting until they are gone). `status` exits 0 only when both run.
# With systemd, use `systemctl enable --now libvirtd` instead. Needs root.
set -euo pipefail

RUN_DIR=${DEVCLUSTER_RUN_DIR:-/run/devcluster}
DAEMONS=(virtlogd libvirtd) # virtlogd first: libvirtd hands qemu's logs to it
URI=qemu:///system
WAIT_SECONDS=${DEVCLUSTER_LIBVIRTD_WAIT:-30}

log() { printf 'libvirtd.sh: %s\n' "$*" >&2; }
pidfile() { printf '%s/%s.pid' "$RUN_DIR" "$1"; }

# The pid is a live (not zombie) process named $1. PID 1 may not reap, so a killed daemon can
# linger as a zombie: that counts as gone.
is_daemon() {
  local name=$1 pid=$2 comm state
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  comm=$(cat "/proc/$pid/comm" 2>/dev/null) || return 1
  [[ $comm == "$name" ]] || return 1
  state=$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' "/proc/$pid/status" 2>/dev/null) || return 1
  [[ $state != Z && $state != X ]]
}

# The pid from our pid file when that daemon is alive, else nothing (exit 1).
our_pid() {
  local name=$1 file pid
  file=$(pidfile "$name")
  [[ -s $file ]] || return 1
  pid=$(<"$file")
  is_daemon "$name" "$pid" || return 1
  printf '%s' "$pid"
}

# A live process named $1 that we did not start (systemd's, or one started by hand elsewhere).
foreign_pid() {
  local name=$1 ours=${2:-} dir pid
  for dir in /proc/[0-9]*; do
    pid=${dir#/proc/}
    [[ $pid == "$ours" ]] && continue
    is_daemon "$name" "$pid" && { printf '%s' "$pid"; return 0; }
  done
  return 1
}

need_root() {
  if [[ $(id -u) -ne 0 ]]; then
    log "must run as root (try: sudo $0 $*)"
    exit 1
  fi
}

start() {
  need_root start
  local name pid
  mkdir -p "$RUN_DIR"
  for name in "${DAEMONS[@]}"; do
    if pid=$(our_pid "$name"); then
      log "$name already runs (pid $pid)"
      continue
    fi
    if pid=$(foreign_pid "$name"); then
      log "$name already runs (pid $pid, not started by this script): left alone"
      continue
    fi
    command -v "$name" >/dev/null || { log "$name is not installed (apt-get install libvirt-daemon-system)"; exit 1; }
    rm -f "$(pidfile "$name")"
    # -d: the daemon forks and the parent returns once it is up (non-zero if it could not start).
    # Its output goes to a log, so whoever ran us is not left holding open pipes.
    if ! "$name" -d -p "$(pidfile "$name")" </dev/null >>"$RUN_DIR/$name.log" 2>&1; then
      log "$name failed to start; its log, $RUN_DIR/$name.log, ends with:"
      tail -n 20 "$RUN_DIR/$name.log" >&2 || true
      exit 1
    fi
    pid=$(our_pid "$name") || { log "$name exited right after starting; see $RUN_DIR/$name.log"; exit 1; }
    log "started $name (pid $pid)"
  done
  local deadline=$((SECONDS + WAIT_SECONDS))
  until virsh -c "$URI" version >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then
      log "libvirtd runs but $URI did not answer within ${WAIT_SECONDS}s; see $RUN_DIR/libvirtd.log"
      exit 1
    fi
    sleep 0.2
  done
}

stop() {
  need_root stop
  local i name pid
  # Reverse order: libvirtd, then virtlogd.
  for ((i = ${#DAEMONS[@]} - 1; i >= 0; i--)); do
    name=${DAEMONS[i]}
    if ! pid=$(our_pid "$name"); then
      rm -f "$(pidfile "$name")"
      if pid=$(foreign_pid "$name"); then
        log "$name runs (pid $pid) but was not started by this script: left alone"
      else
        log "$name is not running"
      fi
      continue
    fi
    kill -TERM "$pid" 2>/dev/null || true
    local deadline=$((SECONDS + WAIT_SECONDS))
    while is_daemon "$name" "$pid"; do
      if ((SECONDS >= deadline)); then
        log "$name (pid $pid) ignored SIGTERM for ${WAIT_SECONDS}s: SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
        deadline=$((SECONDS + 5))
        while is_daemon "$name" "$pid" && ((SECONDS < deadline)); do sleep 0.1; done
        break
      fi
      sleep 0.1
    done
    if is_daemon "$name" "$pid"; then
      log "$name (pid $pid) did not exit"
      exit 1
    fi
    rm -f "$(pidfile "$name")"
    log "stopped $name (pid $pid)"
  done
}

status() {
  local name pid rc=0
  for name in "${DAEMONS[@]}"; do
    if pid=$(our_pid "$name"); then
      printf '%s: running (pid %s)\n' "$name" "$pid"
    elif pid=$(foreign_pid "$name"); then
      printf '%s: running (pid %s, not started by this script)\n' "$name" "$pid"
    else
      printf '%s: stopped\n' "$name"
      rc=3
    fi
  done
  return "$rc"
}

case ${1:-} in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *)
    echo "usage: $0 start|stop|status" >&2
    exit 2
    ;;
esac
