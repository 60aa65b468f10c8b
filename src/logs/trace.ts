/**
 * One request followed through every node's journal (the recipe in devcluster's notes on Zuul and
 * DevStack): entries whose REQUEST_ID field is the id (oslo.log's OSJournalHandler sends the local id
 * as REQUEST_ID, oslo_log/handlers.py) and entries whose MESSAGE holds it (DevStack's
 * logging_context_format_string puts "%(global_request_id)s %(request_id)s" in every message,
 * devstack functions setup_systemd_logging), deduplicated by cursor; then the other request ids in
 * those entries (global ↔ local) followed the same way, on every node, until no new one appears or the
 * budget is spent. Several ids go in one query: matches of one field are ORed by journalctl
 * (`REQUEST_ID=a REQUEST_ID=b`), and `-g` takes a PCRE (`a|b`). The entries are merged into one
 * timeline on the host's clock: each node's measured offset (guest − host) subtracted.
 */
import { DevclusterError, isDevclusterError } from '../errors.js';
import type { JournalSource } from './journal-source.js';
import { requestIdsIn, type JournalEntry } from './journal.js';
import { onHostClock, type TimelineEntry } from './merge.js';

export interface TraceOptions {
  signal: AbortSignal;
  /** journalctl's --since, passed through (each node's own clock and time zone). */
  since?: string;
  /** Rounds of following (the first query is round 1). */
  maxRounds?: number;
  /** Request ids followed in all, the first included. */
  maxIds?: number;
  /** Told before each round: which ids it asks every node for. */
  onRound?: (round: number, ids: readonly string[]) => void;
}

export const DEFAULT_MAX_ROUNDS = 8;
export const DEFAULT_MAX_IDS = 64;

/** An entry on the timeline (merge.ts: on the host's clock), with the request ids it names. */
export interface TracedEntry extends TimelineEntry {
  /** The request ids in the entry: its REQUEST_ID field and those in its message. */
  ids: string[];
}

export interface TraceResult {
  /** Every id asked for, in the order found (the first is the one given). */
  ids: string[];
  /** The related entries, in host-clock order. */
  entries: TracedEntry[];
  rounds: number;
  /** Why following stopped before no new id appeared (a budget), with the ids not followed. */
  cut?: string;
  /** Nodes whose journal could not be read (from the round it failed in on, they are left out). */
  failed: Array<{ node: string; reason: string }>;
}

/** `s` as a PCRE matching itself (journalctl -g). */
export function escapePcre(s: string): string {
  return s.replace(/[\\^$.|?*+()[\]{}-]/g, '\\$&');
}

/** The journalctl queries for `ids`: REQUEST_ID field matches (ORed), and the message grep. */
export function traceQueries(ids: readonly string[], since?: string): string[][] {
  const window = since === undefined ? [] : [`--since=${since}`];
  return [
    [...window, ...ids.map((id) => `REQUEST_ID=${id}`)],
    [...window, '-g', ids.map(escapePcre).join('|')],
  ];
}

/** The request ids an entry names: its REQUEST_ID field first, then those in its message. */
export function idsOf(entry: JournalEntry): string[] {
  return [...new Set([...(entry.requestId === undefined ? [] : [entry.requestId]), ...requestIdsIn(entry.message)])];
}

/** journald's sequence number from a cursor (`i=` hex), for entries of one node at the same microsecond. */
function seqnum(cursor: string): bigint {
  const m = /(?:^|;)i=([0-9a-f]+)(?:;|$)/.exec(cursor);
  return m ? BigInt(`0x${m[1] as string}`) : 0n;
}

/** Host-clock order; ties by node, then the node's own order. */
export function compareTraced(a: TracedEntry, b: TracedEntry): number {
  if (a.hostUs !== b.hostUs) return a.hostUs < b.hostUs ? -1 : 1;
  if (a.entry.node !== b.entry.node) return a.entry.node < b.entry.node ? -1 : 1;
  if (a.entry.realtimeUs !== b.entry.realtimeUs) return a.entry.realtimeUs < b.entry.realtimeUs ? -1 : 1;
  const sa = seqnum(a.entry.cursor);
  const sb = seqnum(b.entry.cursor);
  return sa === sb ? 0 : sa < sb ? -1 : 1;
}

/**
 * Follow `id` through `sources` (all nodes queried in parallel each round). `offsets`: guest − host
 * seconds by node (a node not in it: 0). A node that fails is reported in `failed` and left out of
 * later rounds; when every node fails, or the user's --since is bad, that error is thrown.
 */
export async function traceRequest(id: string, sources: readonly JournalSource[], offsets: ReadonlyMap<string, number>, options: TraceOptions): Promise<TraceResult> {
  if (id.trim() === '' || /\s/.test(id)) throw new DevclusterError('USAGE_INVALID', `REQ_ID "${id}" is not a request id`, { hint: 'give one id, e.g. req-6f1c…, as an API response (x-openstack-request-id) or a log line shows it' });
  const maxRounds = options.maxRounds ?? DEFAULT_MAX_ROUNDS;
  const maxIds = options.maxIds ?? DEFAULT_MAX_IDS;
  const known = [id];
  const seen = new Set<string>();
  const traced: TracedEntry[] = [];
  const failed: TraceResult['failed'] = [];
  let live = [...sources];
  let pending = [id];
  let rounds = 0;
  let cut: string | undefined;
  const dropped: string[] = [];
  while (pending.length > 0) {
    rounds += 1;
    options.onRound?.(rounds, pending);
    const queries = traceQueries(pending, options.since);
    const results = await Promise.allSettled(live.map((s) => s.read(queries, options.signal)));
    options.signal.throwIfAborted();
    const found: string[] = [];
    const stillLive: JournalSource[] = [];
    results.forEach((r, i) => {
      const source = live[i] as JournalSource;
      if (r.status === 'rejected') {
        if (isDevclusterError(r.reason) && r.reason.code === 'USAGE_INVALID') throw r.reason;
        failed.push({ node: source.node, reason: r.reason instanceof Error ? r.reason.message : String(r.reason) });
        if (failed.length === sources.length) throw r.reason;
        return;
      }
      stillLive.push(source);
      const offsetSeconds = offsets.get(source.node) ?? 0;
      for (const entry of r.value) {
        const key = `${entry.node}\u0000${entry.cursor}`;
        if (seen.has(key)) continue;
        seen.add(key);
        const ids = idsOf(entry);
        traced.push({ ...onHostClock(entry, offsetSeconds), ids });
        for (const other of ids) if (!known.includes(other) && !found.includes(other) && !dropped.includes(other)) found.push(other);
      }
    });
    live = stillLive;
    if (found.length === 0) break;
    if (rounds >= maxRounds) {
      cut = `stopped after ${rounds} rounds (the budget): ${found.length} request id${found.length === 1 ? '' : 's'} not followed (${found.join(', ')})`;
      break;
    }
    const room = Math.max(0, maxIds - known.length);
    pending = found.slice(0, room);
    known.push(...pending);
    dropped.push(...found.slice(room));
    if (dropped.length > 0) cut = `stopped at ${maxIds} request ids (the budget): ${dropped.length} not followed (${dropped.join(', ')})`;
  }
  traced.sort(compareTraced);
  return { ids: known, entries: traced, rounds, ...(cut === undefined ? {} : { cut }), failed };
}
