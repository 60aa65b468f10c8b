/**
 * `trace`: one request followed through the journals of every node of the running cluster (live: the
 * provider says which nodes run; each running node's pooled session measures its clock against the
 * host's, then answers every round's journalctl queries, nodes in parallel), or of a collected logs
 * folder or a gate build's (`--from`: the clocks devcluster-clocks.json recorded at collection, or none).
 * A node that is stopped, unreachable or whose journal cannot be read is named with the reason and
 * left out; the others are still traced. Nothing is written, nothing locked.
 */
import type { LoadedConfig } from '../config/load.js';
import { DevclusterError } from '../errors.js';
import type { Ctx } from '../events.js';
import { openFolderJournals, sshJournalSource, type JournalSource } from '../logs/journal-source.js';
import { traceRequest, type TraceResult } from '../logs/trace.js';
import { measureClock } from './clock.js';
import { withCluster } from './operation.js';

export interface TraceRunOptions {
  /** journalctl's --since, as the user gave it. */
  since?: string;
  maxRounds?: number;
  maxIds?: number;
}

export interface NodeClock {
  node: string;
  /** Guest − host, seconds, subtracted from the node's times. */
  offsetSeconds: number;
  /** Where it came from: measured now over SSH (with the round trip, ms), recorded in the folder, or assumed. */
  source: 'measured' | 'recorded' | 'assumed';
  roundTripMs?: number;
}

export interface ClusterTrace extends TraceResult {
  /** The nodes traced, each with its clock. */
  clocks: NodeClock[];
  /** Nodes not traced at all (stopped, unreachable), with why. */
  skipped: Array<{ node: string; reason: string }>;
  /** What the reader should know about the clocks (a folder without recorded ones). */
  notes: string[];
}

/** Budget for reaching a node before it is left out as unreachable. */
const CONNECT_BUDGET_MS = 20_000;

function progress(ctx: Ctx) {
  return (round: number, ids: readonly string[]) =>
    ctx.report({ kind: 'phase', label: 'trace', message: `round ${round}: ${ids.length} request id${ids.length === 1 ? '' : 's'} on every node` });
}

/** Trace `id` through the running cluster's journals. */
export function traceCluster(loaded: LoadedConfig, id: string, options: TraceRunOptions, ctx: Ctx): Promise<ClusterTrace> {
  return withCluster(loaded, { mode: 'look', lock: false }, ctx, async (op) => {
    const { plan } = op;
    const states = new Map((await op.provider.listNodes(plan.name, { signal: ctx.signal, report: () => undefined })).map((s) => [s.node, s.state]));
    const skipped: ClusterTrace['skipped'] = [];
    const reached = await Promise.all(
      plan.nodes.map(async (node) => {
        const state = states.get(node.name);
        if (state !== 'running') {
          skipped.push({ node: node.name, reason: state === undefined ? 'it does not exist (run `devcluster up`)' : `it is ${state}, not running` });
          return undefined;
        }
        try {
          await op.session(node, { signal: ctx.signal, budgetMs: CONNECT_BUDGET_MS });
          const reading = await measureClock(op, node, ctx.signal);
          const clock: NodeClock = { node: node.name, offsetSeconds: reading.offsetSeconds, source: 'measured', roundTripMs: reading.roundTripMs };
          const source = sshJournalSource(node.name, (signal) => op.session(node, { signal, budgetMs: CONNECT_BUDGET_MS }));
          return { clock, source };
        } catch (error) {
          ctx.signal.throwIfAborted();
          skipped.push({ node: node.name, reason: `it could not be reached: ${(error as Error).message}` });
          return undefined;
        }
      }),
    );
    const live = reached.filter((r): r is { clock: NodeClock; source: JournalSource } => r !== undefined);
    if (live.length === 0) {
      throw new DevclusterError('SSH_UNREACHABLE', `no node of cluster ${plan.name} could be read`, {
        details: skipped.map((s) => `${s.node}: ${s.reason}`),
        hint: '`devcluster status` shows which nodes run; `devcluster up` starts them',
      });
    }
    const clocks = live.map((l) => l.clock);
    const result = await traceRequest(id, live.map((l) => l.source), new Map(clocks.map((c) => [c.node, c.offsetSeconds])), { signal: ctx.signal, ...options, onRound: progress(ctx) });
    return { ...result, clocks, skipped: skipped.sort((a, b) => a.node.localeCompare(b.node)), notes: [] };
  });
}

/** Trace `id` through a collected logs folder's (or a gate build's) journal exports. */
export async function traceFolder(dir: string, id: string, options: TraceRunOptions, ctx: Ctx): Promise<ClusterTrace> {
  ctx.report({ kind: 'phase', label: 'trace', message: `making journal files from ${dir}` });
  const journals = await openFolderJournals(dir, ctx.signal);
  try {
    const recorded = journals.clocks;
    const clocks: NodeClock[] = journals.sources.map((s) => {
      const offset = recorded?.offsets.get(s.node);
      return offset === undefined ? { node: s.node, offsetSeconds: 0, source: 'assumed' } : { node: s.node, offsetSeconds: offset, source: 'recorded' };
    });
    const notes: string[] = [];
    if (recorded === undefined) notes.push("no devcluster-clocks.json: every node's clock is taken as right (a gate build's nodes are NTP-synced)");
    else {
      notes.push(`clock offsets as recorded at ${recorded.measuredAt}`);
      const missing = clocks.filter((c) => c.source === 'assumed').map((c) => c.node);
      if (missing.length > 0) notes.push(`devcluster-clocks.json has no offset for ${missing.join(', ')}: taken as 0`);
    }
    const result = await traceRequest(id, journals.sources, new Map(clocks.map((c) => [c.node, c.offsetSeconds])), { signal: ctx.signal, ...options, onRound: progress(ctx) });
    return { ...result, clocks, skipped: [], notes };
  } finally {
    await journals.close();
  }
}
