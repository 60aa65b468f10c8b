/** `trace REQ_ID`: one request's journal entries on every node (or in a collected folder), on the host's clock. */
import type { Command } from 'commander';
import type { CliIO } from '../io.js';
import { loadFor } from '../context.js';
import { progressReporter } from '../progress.js';
import { formatTable } from '../table.js';
import { traceCluster, traceFolder, type ClusterTrace } from '../../cluster/trace.js';
import { levelOf } from '../../logs/journal.js';
import type { TracedEntry } from '../../logs/trace.js';

/** An entry's host-clock time, ms (µs truncated), as ISO 8601 UTC. */
function isoOf(us: bigint): string {
  return new Date(Number(us / 1000n)).toISOString();
}

/** One --json line: what the entry says, where and when (host clock, and the node's own). */
export function entryJson(t: TracedEntry): string {
  const e = t.entry;
  return JSON.stringify({
    node: e.node,
    unit: e.unit,
    time: isoOf(t.hostUs),
    nodeTime: isoOf(e.realtimeUs),
    offsetSeconds: t.offsetSeconds,
    level: levelOf(e),
    requestId: e.requestId ?? null,
    ids: t.ids,
    message: e.message,
    cursor: e.cursor,
  });
}

function signed(seconds: number): string {
  return `${seconds >= 0 ? '+' : ''}${seconds.toFixed(3)} s`;
}

/** The lines for stderr: clocks, what was left out or cut, what was followed. */
export function traceNotes(id: string, result: ClusterTrace): string[] {
  const clocks = result.clocks.map((c) => `${c.node} ${signed(c.offsetSeconds)}${c.source === 'measured' ? ` (±${Math.ceil((c.roundTripMs ?? 0) / 2)} ms)` : c.source === 'assumed' ? ' (assumed)' : ''}`);
  const nodes = new Set(result.entries.map((e) => e.entry.node)).size;
  return [
    ...result.notes,
    `clocks against the host, subtracted: ${clocks.join(', ')}`,
    ...result.skipped.map((s) => `${s.node}: not traced: ${s.reason}`),
    ...result.failed.map((f) => `${f.node}: not traced from then on: ${f.reason}`),
    ...(result.cut === undefined ? [] : [`trace cut short: ${result.cut}`]),
    result.entries.length === 0
      ? `no journal entry on ${result.clocks.length} node${result.clocks.length === 1 ? '' : 's'} names ${id}`
      : `${result.entries.length} entries on ${nodes} node${nodes === 1 ? '' : 's'}; request ids followed in ${result.rounds} round${result.rounds === 1 ? '' : 's'}: ${result.ids.join(', ')}`,
  ];
}

/** The text timeline: node, unit, time, level, message in aligned columns; a message's further lines indented under it. */
export function formatTrace(entries: readonly TracedEntry[]): string {
  const table = formatTable(entries.map((t) => [t.entry.node, t.entry.unit, isoOf(t.hostUs), levelOf(t.entry), t.entry.message.split('\n')[0] ?? '']));
  const rows = table.split('\n');
  return entries.map((t, i) => [rows[i] ?? '', ...t.entry.message.split('\n').slice(1).map((l) => `    ${l}`)].join('\n')).join('\n');
}

export function registerTrace(program: Command, io: CliIO): void {
  program
    .command('trace')
    .description("one request's journal entries on every node: its REQUEST_ID and every message naming it, then the request ids those name (global ↔ local), merged in time order on the host's clock")
    .argument('<req-id>', 'a request id (req-…), local or global')
    .option('--json', 'one JSON object per line per entry')
    .option('--since <time>', "only entries since then (journalctl's --since syntax, on each node's clock)")
    .option('--from <dir>', "a collected logs folder or a gate build's logs (NODE/logs/devstack.journal.gz) instead of the running cluster")
    .action(async (id: string, opts: { json?: boolean; since?: string; from?: string }, command: Command) => {
      const ctx = { signal: io.signal, report: progressReporter(io) };
      const options = opts.since === undefined ? {} : { since: opts.since };
      const result = opts.from !== undefined ? await traceFolder(opts.from, id, options, ctx) : await traceCluster(await loadFor(command, io), id, options, ctx);
      for (const line of traceNotes(id, result)) io.err(line);
      if (opts.json) {
        for (const t of result.entries) io.out(entryJson(t));
        return;
      }
      if (result.entries.length > 0) io.out(formatTrace(result.entries));
    });
}
