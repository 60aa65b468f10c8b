/**
 * One journal entry as `journalctl -o json` prints it (journalctl(1), "json" output; systemd's
 * JOURNAL_EXPORT_FORMATS.md), read into what `logs` and `trace` show: node, unit, time, level,
 * message, and oslo.log's REQUEST_ID field. Pure: reading entries from a node or a file is elsewhere.
 *
 * What the JSON form does that a reader must undo (journalctl(1) and JOURNAL_EXPORT_FORMATS.md, "JSON"):
 * - every value is a string, except a field that is not valid UTF-8 text or holds control characters
 *   (DevStack's log format carries ANSI colour escapes): an array of byte values;
 * - a field seen more than once in an entry is an array of those values;
 * - a field longer than 4096 bytes is null unless journalctl runs with --all (the readers pass --all).
 * Timestamps are decimal strings of microseconds: __REALTIME_TIMESTAMP (the node's clock, since the
 * epoch) and __MONOTONIC_TIMESTAMP (since the node's boot).
 */

/** journalctl's arguments for the output parseJournalLine reads: JSON, long fields whole, no hints or pager. */
export const JOURNAL_JSON_ARGS = ['-q', '--no-pager', '-o', 'json', '--all'] as const;

/** What oslo.log's journal handler and journald give an entry that `logs` and `trace` read. */
export interface JournalEntry {
  /** The cluster node (or the collected folder's node) the entry came from. */
  node: string;
  /** __CURSOR: the entry's identity within its node's journal. */
  cursor: string;
  /** __REALTIME_TIMESTAMP on the node's own clock, µs since the epoch. */
  realtimeUs: bigint;
  /** The devstack@ service (n-api for devstack@n-api.service), else the unit, else SYSLOG_IDENTIFIER. */
  unit: string;
  /** syslog priority 0–7 (PRIORITY), 6 (info) when absent. */
  priority: number;
  /** MESSAGE as text, ANSI colour escapes removed. */
  message: string;
  /** oslo.log's REQUEST_ID field (the local request id), when present. */
  requestId?: string;
  /** Every field as text (arrays of bytes decoded), for --json and for readers that need more. */
  fields: Record<string, string>;
}

/** syslog level names by PRIORITY (sd-daemon.h / syslog(3)). */
export const LEVELS = ['EMERG', 'ALERT', 'CRIT', 'ERROR', 'WARNING', 'NOTICE', 'INFO', 'DEBUG'] as const;

// CSI sequences (ESC [ … final byte) and the two-byte ones: what DevStack's colour format writes.
// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;?]*[ -/]*[@-~]|\u001b[@-Z\\-_]/g;

/** One JSON value of a field as text: a string, bytes (UTF-8 decoded), or the last of repeated values. */
function text(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) {
    if (value.every((b) => typeof b === 'number')) return Buffer.from(value as number[]).toString('utf8');
    // A repeated field: the values in order; the last is what the entry means by it.
    for (let i = value.length - 1; i >= 0; i -= 1) {
      const t = text(value[i]);
      if (t !== undefined) return t;
    }
  }
  return undefined;
}

/** The short unit name a user types: devstack@n-api.service → n-api; other units without .service. */
export function shortUnit(unit: string): string {
  const m = /^devstack@(.+)\.service$/.exec(unit);
  if (m) return m[1] as string;
  return unit.replace(/\.service$/, '');
}

/**
 * One line of `journalctl -o json` output from `node`, or undefined for a line that is not an entry
 * (blank). Throws TypeError for a line that is not JSON or lacks the cursor or timestamp, which
 * journalctl always writes: the reader then says which node and line.
 */
export function parseJournalLine(line: string, node: string): JournalEntry | undefined {
  if (line.trim() === '') return undefined;
  const raw = JSON.parse(line) as Record<string, unknown>;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new TypeError('not a JSON object');
  const fields: Record<string, string> = {};
  for (const [key, value] of Object.entries(raw)) {
    const t = text(value);
    if (t !== undefined) fields[key] = t;
  }
  const cursor = fields.__CURSOR;
  const realtime = fields.__REALTIME_TIMESTAMP;
  if (cursor === undefined || realtime === undefined || !/^\d+$/.test(realtime)) throw new TypeError('no __CURSOR or __REALTIME_TIMESTAMP');
  const unitField = fields._SYSTEMD_UNIT ?? fields.UNIT;
  const unit = unitField !== undefined && unitField !== '' ? shortUnit(unitField) : (fields.SYSLOG_IDENTIFIER ?? fields._COMM ?? '');
  const priority = Number(fields.PRIORITY ?? '6');
  const entry: JournalEntry = {
    node,
    cursor,
    realtimeUs: BigInt(realtime),
    unit,
    priority: Number.isInteger(priority) && priority >= 0 && priority <= 7 ? priority : 6,
    message: (fields.MESSAGE ?? '').replace(ANSI, ''),
    fields,
  };
  if (fields.REQUEST_ID !== undefined && fields.REQUEST_ID !== '') entry.requestId = fields.REQUEST_ID;
  return entry;
}

/** The level name of an entry (INFO, ERROR, …). */
export function levelOf(entry: Pick<JournalEntry, 'priority'>): string {
  return LEVELS[entry.priority] ?? 'INFO';
}

/** Request ids (oslo.context's `req-` + UUID) anywhere in a text, in order, each once. */
export function requestIdsIn(message: string): string[] {
  const found = message.match(/\breq-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/g) ?? [];
  return [...new Set(found)];
}
