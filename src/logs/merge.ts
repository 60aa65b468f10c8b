/**
 * One timeline out of several nodes' journals: each entry's time put on the host's clock (the node's
 * measured offset, guest − host, subtracted from __REALTIME_TIMESTAMP), then a k-way merge that keeps
 * each node's own order and takes, at every step, the earliest head. Also how a timeline entry looks:
 * `NODE UNIT HH:MM:SS.mmm LEVEL message` (host clock, local time) or one JSON object per line.
 * Pure: reading the journals is src/cluster/logs.ts, following them live is ./follow.ts.
 */
import { levelOf, type JournalEntry } from './journal.js';

/** An entry with its time on the host's clock. */
export interface TimelineEntry {
  entry: JournalEntry;
  /** The node's clock minus the host's, in seconds, when it was measured. */
  offsetSeconds: number;
  /** __REALTIME_TIMESTAMP minus the offset: µs since the epoch on the host's clock. */
  hostUs: bigint;
}

/** `entry` placed on the host's clock, given its node's offset (guest − host, seconds). */
export function onHostClock(entry: JournalEntry, offsetSeconds: number): TimelineEntry {
  return { entry, offsetSeconds, hostUs: entry.realtimeUs - BigInt(Math.round(offsetSeconds * 1e6)) };
}

/**
 * Index of the stream whose head comes first (earliest host time; on a tie the earlier stream), or -1
 * when every stream is spent. `heads[i]` is the position of stream i's next entry.
 */
export function earliestHead(streams: readonly (readonly TimelineEntry[])[], heads: readonly number[]): number {
  let best = -1;
  let bestUs = 0n;
  for (let i = 0; i < streams.length; i += 1) {
    const head = streams[i]?.[heads[i] ?? 0];
    if (head === undefined) continue;
    if (best === -1 || head.hostUs < bestUs) {
      best = i;
      bestUs = head.hostUs;
    }
  }
  return best;
}

/** The k-way merge of whole streams (each in its node's order) into one, ordered by host time. */
export function mergeTimelines(streams: readonly (readonly TimelineEntry[])[]): TimelineEntry[] {
  const heads = streams.map(() => 0);
  const out: TimelineEntry[] = [];
  for (let i = earliestHead(streams, heads); i !== -1; i = earliestHead(streams, heads)) {
    out.push((streams[i] as readonly TimelineEntry[])[heads[i] as number] as TimelineEntry);
    heads[i] = (heads[i] as number) + 1;
  }
  return out;
}

function pad2(n: number, width = 2): string {
  return String(n).padStart(width, '0');
}

/** HH:MM:SS.mmm of a host time, in the host's local time zone. */
export function clockTime(hostUs: bigint): string {
  const d = new Date(Number(hostUs / 1000n));
  return `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}.${pad2(d.getMilliseconds(), 3)}`;
}

/** Column widths so that the lines of one output line up. */
export interface LineWidths {
  node: number;
  unit: number;
}

/** `NODE UNIT HH:MM:SS.mmm LEVEL message`, the message's own lines joined by " ⏎ " to stay one line. */
export function formatLine(t: TimelineEntry, widths: LineWidths = { node: 0, unit: 0 }): string {
  const message = t.entry.message.replace(/\r?\n$/, '').replace(/\r?\n/g, ' ⏎ ');
  return `${t.entry.node.padEnd(widths.node)} ${(t.entry.unit || '-').padEnd(widths.unit)} ${clockTime(t.hostUs)} ${levelOf(t.entry).padEnd(7)} ${message}`;
}

/** One JSON object (one line) for --json: where, when on the host's clock, the offset applied, level, text. */
export function jsonLine(t: TimelineEntry): string {
  return JSON.stringify({
    node: t.entry.node,
    unit: t.entry.unit,
    time: new Date(Number(t.hostUs / 1000n)).toISOString(),
    timeUs: t.hostUs.toString(),
    nodeTimeUs: t.entry.realtimeUs.toString(),
    offsetSeconds: t.offsetSeconds,
    level: levelOf(t.entry),
    priority: t.entry.priority,
    message: t.entry.message,
    ...(t.entry.requestId === undefined ? {} : { requestId: t.entry.requestId }),
    cursor: t.entry.cursor,
  });
}
