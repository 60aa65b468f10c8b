/**
 * The script `logs collect` runs on each node (as root, through `sudo -n bash -c`): it stages the node's
 * logs in the gate's layout in a private temporary folder and writes them to stdout as one tar stream
 * (gzip -1: the guest's CPU is the slow part under TCG), then removes the folder. Nothing is read per
 * file over SSH. What the gate does, and where this follows it (devstack master 493835a):
 *   - roles/export-devstack-journal: `screen-<unit>.txt` = `journalctl -o short-precise --unit U` for
 *     every devstack unit (`systemctl list-unit-files | grep devstack`; here also loaded units, e.g.
 *     transient ones), `syslog.txt` = `journalctl -t kernel -t sudo --no-pager`, and
 *     `devstack.journal.gz` = `journalctl -o export | gzip` (staged uncompressed here: the host gzips it,
 *     so the guest compresses once). The gate limits both to `--since` its log-start-timestamp.txt;
 *     devcluster has none, so the whole journal is taken.
 *   - .zuul.yaml devstack-base zuul_copy_output: local.conf, localrc, .localrc.auto, .stackenv, the
 *     stack.sh log (LOGFILE → devstacklog.txt, LOGFILE.summary → devstacklog.txt.summary),
 *     worlddump-latest.txt, /etc/sudoers(.d), /etc/libvirt, /var/log/libvirt, /var/log/rabbitmq,
 *     /var/log/mysql, /var/log/openvswitch, /etc/resolv.conf; roles/devstack-project-conf: /etc/<project>
 *     and /etc/openstack into etc/; roles/capture-system-logs: dpkg-l.txt (or rpm-qa.txt), pip3-freeze.txt,
 *     df.txt, services.txt (`systemctl list-units --all` here: the gate's `status --all` costs seconds).
 *   - zuul-jobs stage-output with devstack's extensions_to_txt (conf, log, localrc, stackenv, auto): a
 *     file `NAME.EXT` becomes `NAME_EXT.txt` (local.conf → local_conf.txt, nova.conf → nova_conf.txt).
 * Besides `logs/`, the stream holds `collect-notes.tsv`: `unit<TAB>UNIT` per devstack unit found, and
 * `missing<TAB>WHAT<TAB>WHY` per thing the gate would have that could not be read here.
 */
import { shellQuote as q } from '../process/quote.js';

/** devstack .zuul.yaml devstack-base extensions_to_txt. */
export const EXTENSIONS_TO_TXT = ['conf', 'log', 'localrc', 'stackenv', 'auto'] as const;

/** zuul-jobs stage-output's rename: `NAME.EXT` → `NAME_EXT.txt` for the extensions above; else unchanged. */
export function gateName(name: string): string {
  const m = new RegExp(`\\.(${EXTENSIONS_TO_TXT.join('|')})$`).exec(name);
  return m ? `${name.slice(0, m.index)}_${m[1]}.txt` : name;
}

/** OpenStack projects whose /etc folder DevStack writes (roles/devstack-project-conf copies /etc/<short_name>). */
export const PROJECT_CONF_DIRS = [
  'nova', 'neutron', 'glance', 'cinder', 'keystone', 'placement', 'swift', 'heat', 'octavia', 'manila', 'ironic', 'barbican',
  'designate', 'aodh', 'ceilometer', 'gnocchi', 'magnum', 'trove', 'zun', 'kuryr', 'masakari', 'watcher', 'cyborg', 'blazar',
  'tacker', 'mistral', 'zaqar', 'vitrage', 'ovn', 'openstack',
] as const;

/**
 * System files and folders zuul_copy_output lists, in its order, copied when they exist (their absence is
 * not a failure) to logs/<basename> as stage-output's `cp -pR` does: /etc/libvirt after /var/log/libvirt
 * lands in logs/libvirt/libvirt, as on the gate.
 */
const OPTIONAL_PATHS = ['/var/log/rabbitmq', '/var/log/postgresql', '/var/log/mysql', '/var/log/libvirt', '/etc/libvirt', '/etc/lvm', '/etc/sudoers', '/etc/sudoers.d', '/var/log/openvswitch', '/etc/resolv.conf'];

/** One DevStack tree on the node: the only one, or grenade's old and new sides (logs/old/, logs/new/). */
export interface CollectSide {
  /** Folder under logs/ ('' for the node's only DevStack). */
  prefix: string;
  /** DevStack's checkout (local.conf, .localrc.auto, .stackenv). */
  devstackDir: string;
  /** The stack.sh log when local.conf sets no LOGFILE (devcluster writes DEST/logs/stack.sh.log). */
  logFile: string;
}

export interface CollectScriptOptions {
  sides: readonly CollectSide[];
  /** Project folders in /etc to copy when present (PROJECT_CONF_DIRS plus the cluster's sources). */
  etcDirs: readonly string[];
}

/** The bash script (run as `sudo -n bash -c SCRIPT`); every value in it is quoted. */
export function collectScript(options: CollectScriptOptions): string {
  const exts = EXTENSIONS_TO_TXT.map((e) => `-name ${q(`*.${e}`)}`).join(' -o ');
  const sides = options.sides.map((s) => `collect_side ${q(s.prefix)} ${q(s.devstackDir)} ${q(s.logFile)}`).join('\n');
  return `set -u
umask 077
export LC_ALL=C SYSTEMD_PAGER='' SYSTEMD_COLORS=0
T=$(mktemp -d /tmp/devcluster-logs.XXXXXX) || { echo "cannot make a temporary folder in /tmp" >&2; exit 70; }
trap 'rm -rf "$T"' EXIT
# Stopped (Ctrl-C on the host signals the command's process group; the stack user cannot signal root's
# processes, sudo relays it here): stop the background jobs too (the whole group, this shell ignoring
# it), wait for them, and leave nothing behind (the copies hold passwords).
trap 'trap "" TERM INT HUP; kill -TERM 0 2>/dev/null; wait; exit 143' TERM INT HUP
L=$T/logs
NOTES=$T/collect-notes.tsv
ERR=$T/.err
mkdir -p "$L"
: >"$NOTES"

# A thing the gate would have that could not be read: one line for the README and the output.
missing() { printf 'missing\\t%s\\t%s\\n' "$1" "$(printf '%s' "$2" | tr '\\t\\n' '  ' | cut -c1-300)" >>"$NOTES"; }
# why ERRFILE FALLBACK: what the command said on stderr, else the fallback.
why() { if [ -s "$1" ]; then head -c 300 "$1"; else printf '%s' "$2"; fi; }

# copy SRC DEST: a file that must be there (the stack's own files).
copy() {
  if [ ! -e "$1" ]; then missing "$1" "no such file"; return; fi
  cp -pL "$1" "$2" 2>"$ERR" || missing "$1" "$(why "$ERR" 'cp failed')"
}
# copy_if SRC DEST: a file or folder the gate copies when it exists.
copy_if() {
  [ -e "$1" ] || return 0
  cp -pRL "$1" "$2" 2>"$ERR" || missing "$1" "$(why "$ERR" 'cp failed')"
}
# run_to FILE WHAT CMD…: a command's output as a file; a failure is noted, what it printed is kept.
# Its own stderr file: run_to runs in background jobs too.
run_to() {
  local file=$1 what=$2 err=$1.err
  shift 2
  "$@" >"$file" 2>"$err" || missing "$what" "$(why "$err" "exit $?")"
  rm -f "$err"
}

collect_side() {
  local prefix=$1 ds=$2 logfile=$3 dir=$L
  if [ -n "$prefix" ]; then dir=$L/$prefix; mkdir -p "$dir"; fi
  copy "$ds/local.conf" "$dir/local.conf"
  copy_if "$ds/localrc" "$dir/localrc"
  copy_if "$ds/.localrc.auto" "$dir/.localrc.auto"
  copy_if "$ds/.stackenv" "$dir/.stackenv"
  # local.conf may set its own LOGFILE (a plain path): stack.sh writes there, not to the default.
  local set
  set=$(sed -n 's/^LOGFILE=\\(\\/[^$\`"'"'"' ]*\\)$/\\1/p' "$ds/.localrc.auto" 2>/dev/null | tail -n 1)
  [ -n "$set" ] && logfile=$set
  copy "$logfile" "$dir/devstacklog.txt"
  copy_if "$logfile.summary" "$dir/devstacklog.txt.summary"
  copy_if "\${logfile%/*}/worlddump-latest.txt" "$dir/worlddump-latest.txt"
}

${sides}

# Every devstack unit: the gate's list-unit-files, plus loaded units (transient ones have no file).
UNITS=$( { systemctl list-unit-files --no-legend --plain 'devstack@*' 2>/dev/null; systemctl list-units --all --no-legend --plain 'devstack@*' 2>/dev/null; } | awk '{print $1}' | grep -E '^devstack@.+\\.service$' | sort -u)

# The slow, independent parts run as background jobs beside the screen files (each writes its own files;
# notes are appended a line at a time).
run_to "$L/devstack.journal" "the journal export (journalctl -o export)" journalctl -o export &
{
  run_to "$L/syslog.txt" "syslog.txt (journalctl -t kernel -t sudo)" journalctl -t kernel -t sudo --no-pager
  if command -v dpkg >/dev/null; then run_to "$L/dpkg-l.txt" "dpkg-l.txt (dpkg -l)" dpkg -l
  elif command -v rpm >/dev/null; then run_to "$L/rpm-qa.txt" "rpm-qa.txt (rpm -qa)" rpm -qa
  else missing "dpkg-l.txt" "neither dpkg nor rpm on the node"; fi
  # As capture-system-logs: only where python3 has pip (DevStack installs it; a node it never ran on may
  # not). Looked for on disk: starting python3 to ask costs half a second of the guest's CPU.
  for d in /usr/lib/python3*/*-packages/pip /usr/local/lib/python3*/*-packages/pip; do
    if [ -d "$d" ]; then
      run_to "$L/pip3-freeze.txt" "pip3-freeze.txt (python3 -m pip freeze)" python3 -m pip freeze
      break
    fi
  done
  timeout -s 9 60 df -h >"$L/df.txt" 2>/dev/null || true
  # The gate's services.txt is \`systemctl status --all\`: seconds of a 1-vCPU guest's time, for unit
  # states (here) and their last log lines (in the screen files and the journal).
  systemctl list-units --all --no-pager >"$L/services.txt" 2>/dev/null || true
} &
for u in $UNITS; do
  printf 'unit\\t%s\\n' "$u" >>"$NOTES"
  name=\${u#devstack@}
  run_to "$L/screen-\${name%.service}.txt" "journal of $u" journalctl -o short-precise --no-pager --unit "$u"
done

mkdir -p "$L/etc"
for p in ${options.etcDirs.map(q).join(' ')}; do
  copy_if "/etc/$p" "$L/etc/$p"
done
rmdir "$L/etc" 2>/dev/null || true
for p in ${OPTIONAL_PATHS.map(q).join(' ')}; do
  copy_if "$p" "$L/\${p##*/}"
done

wait

# stage-output's rename, on everything copied (the gate's own names are kept).
find "$L" -type f \\( ${exts} \\) -print0 | while IFS= read -r -d '' f; do
  b=\${f##*/}
  mv -f "$f" "\${f%/*}/\${b%.*}_\${b##*.}.txt"
done
rm -f "$ERR"
tar -C "$T" -cf - logs collect-notes.tsv | gzip -1
`;
}

/** What the node's collect-notes.tsv says. */
export interface CollectNotes {
  /** The devstack units found (devstack@n-api.service …). */
  units: string[];
  /** What could not be read: what, and why. */
  missing: { what: string; why: string }[];
}

export function parseNotes(text: string): CollectNotes {
  const notes: CollectNotes = { units: [], missing: [] };
  for (const line of text.split('\n')) {
    const [kind, what, why] = line.split('\t');
    if (kind === 'unit' && what) notes.units.push(what);
    else if (kind === 'missing' && what) notes.missing.push({ what, why: why ?? '' });
  }
  return notes;
}

/** The screen file of a devstack unit, as the gate names it: devstack@n-api.service → screen-n-api.txt. */
export function screenName(unit: string): string {
  return `screen-${unit.replace(/^devstack@/, '').replace(/\.service$/, '')}.txt`;
}
