/**
 * `devcluster logs`: the DevStack units' journals of several nodes as one stream in time order. Per node,
 * over its pooled SSH session: the clock's offset (guest − host, one `date` round trip), then the last
 * entries (`journalctl -o json --all`, -n lines per node, or everything since --since), then with
 * --follow `journalctl --follow` from right after those (--after-cursor, so nothing is missed or shown
 * twice between the two). Each entry's time is put on the host's clock before merging: the backlog by a
 * k-way merge of whole lists, the live part through the hold-back merge of src/logs/follow.ts.
 *
 * Reading another unit's journal needs root or the systemd-journal group; the stack user has neither,
 * so journalctl runs under `sudo -n` (devcluster gives the stack user sudo without a password). A node
 * that is stopped, cannot be reached, or whose journalctl ends or fails gets one line saying so; the
 * others go on. Stopping (the signal) ends every remote journalctl before this returns: session.ts
 * sends TERM to the command's process group, sudo passes it on to journalctl.
 */
import { measureClock } from './clock.js';
import type { LoadedConfig } from '../config/load.js';
import { DevclusterError, InterruptedError } from '../errors.js';
import type { Ctx } from '../events.js';
import { LiveMerge } from '../logs/follow.js';
import { JOURNAL_JSON_ARGS, parseJournalLine } from '../logs/journal.js';
import { mergeTimelines, onHostClock, type TimelineEntry } from '../logs/merge.js';
import type { NodePlan } from '../plan/plan.js';
import { shellQuote } from '../process/quote.js';
import type { NodeSession } from '../ssh/session.js';
import { withCluster, type Operation } from './operation.js';

/** Lines per node when neither -n nor --since is given. */
export const DEFAULT_LINES = 20;
const CURSOR_MARK = '@@devcluster-cursor ';
/** Reaching a node and reading its clock and backlog: each within this. */
const CONNECT_BUDGET_MS = 30_000;
const BACKLOG_BUDGET_MS = 120_000;

export interface LogsOptions {
  /** Node names; empty: every running node. */
  nodes: readonly string[];
  /** Units as the user typed them (n-api, devstack@n-api.service, sshd); empty: every devstack@ unit. */
  units: readonly string[];
  follow: boolean;
  /** journalctl's --since, passed through. */
  since?: string;
  /** Lines per node (journalctl -n); default DEFAULT_LINES unless --since is given. */
  lines?: number;
}

export type LogsEvent =
  /** One entry, in time order on the host's clock. */
  | { kind: 'entry'; t: TimelineEntry }
  /** One line about a node: its clock's offset, or that it is stopped, unreachable, its stream ended or failed. */
  | { kind: 'node'; node: string; message: string };

export interface LogsResult {
  /** The nodes read, with their clock offsets (guest − host, s). */
  nodes: { node: string; offsetSeconds: number }[];
  /** Nodes that were not read, or whose stream failed. */
  failed: string[];
  entries: number;
}

/**
 * journalctl's match arguments for the units asked for. Every devstack@ unit: the slice systemd puts
 * template instances in (system-devstack.slice), a plain field match that also takes units started
 * after journalctl (a `-u 'devstack@*'` glob is expanded once, against the units already in the
 * journal). A bare name: devstack@NAME.service or NAME.service, whichever exists (-u of both; a unit
 * that never ran matches nothing). A name with "@" or "." is a unit name as is.
 */
export function unitMatches(units: readonly string[]): string[] {
  if (units.length === 0) return ['_SYSTEMD_SLICE=system-devstack.slice'];
  return units.flatMap((u) => (/[@.]/.test(u) ? ['-u', u] : ['-u', `devstack@${u}.service`, '-u', u]));
}

/** journalctl's arguments for the backlog: -n lines per node (or all since --since), JSON, matches. */
export function backlogArgs(options: LogsOptions): string[] {
  const lines = options.lines ?? (options.since === undefined ? DEFAULT_LINES : undefined);
  return [...JOURNAL_JSON_ARGS, ...(lines === undefined ? [] : ['-n', String(lines)]), ...(options.since === undefined ? [] : [`--since=${options.since}`]), ...unitMatches(options.units)];
}

/**
 * journalctl's arguments to follow from right after `cursor`; without one (the journal was empty when
 * the backlog was read), from --since, else only what comes from now on.
 */
export function followArgs(options: LogsOptions, cursor: string | undefined): string[] {
  // -n all: with a cursor, -n would cap what follows it (journalctl shows the first N after the cursor).
  const from = cursor !== undefined ? [`--after-cursor=${cursor}`, '-n', 'all'] : options.since !== undefined ? [`--since=${options.since}`, '-n', 'all'] : ['-n', '0'];
  return [...JOURNAL_JSON_ARGS, '--follow', ...from, ...unitMatches(options.units)];
}

/** The remote command that prints the node's current cursor (CURSOR_MARK line), then the backlog. */
export function backlogCommand(options: LogsOptions): string {
  // The cursor is read before the backlog: following after it (when the backlog is empty) misses nothing.
  return `sudo -n journalctl -q --no-pager -n 0 --show-cursor 2>/dev/null | sed -n 's/^-- cursor: /${CURSOR_MARK}/p'; exec sudo -n journalctl ${backlogArgs(options).map(shellQuote).join(' ')}`;
}

/** The remote command that follows the journal. */
export function followCommand(options: LogsOptions, cursor: string | undefined): string {
  return `exec sudo -n journalctl ${followArgs(options, cursor).map(shellQuote).join(' ')}`;
}

interface Started {
  node: NodePlan;
  session: NodeSession;
  offsetSeconds: number;
  backlog: TimelineEntry[];
  /** The last backlog entry's cursor, else the journal's cursor before the backlog was read. */
  cursor: string | undefined;
}

/** Reads one line of a node's journalctl output into `into`; a line that is not an entry is a note. */
function reader(node: string, offsetSeconds: number, into: (t: TimelineEntry) => void, note: (text: string) => void, cursor?: (c: string) => void): (line: string) => void {
  return (line) => {
    if (line.startsWith(CURSOR_MARK)) {
      cursor?.(line.slice(CURSOR_MARK.length).trim());
      return;
    }
    if (!line.startsWith('{')) {
      if (line.trim() !== '') note(line.trim());
      return;
    }
    try {
      const entry = parseJournalLine(line, node);
      if (entry) into(onHostClock(entry, offsetSeconds));
    } catch (error) {
      note(`a journal line could not be read (${(error as Error).message}), skipped`);
    }
  };
}

async function start(op: Operation, node: NodePlan, options: LogsOptions, ctx: Ctx, note: (node: string, message: string) => void): Promise<Started> {
  const { signal } = ctx;
  const session = await op.session(node, { signal, budgetMs: CONNECT_BUDGET_MS });
  const clock = await measureClock(op, node, signal);
  const { offsetSeconds } = clock;
  note(node.name, `clock ${offsetSeconds >= 0 ? '+' : ''}${offsetSeconds.toFixed(3)} s against the host's (±${Math.ceil(clock.roundTripMs / 2)} ms), subtracted from its times`);
  const backlog: TimelineEntry[] = [];
  let cursor: string | undefined;
  const notes: string[] = [];
  const read = reader(node.name, offsetSeconds, (t) => backlog.push(t), (text) => notes.push(text), (c) => (cursor = c));
  const r = await session.run(backlogCommand(options), { signal, timeoutMs: BACKLOG_BUDGET_MS, what: 'journalctl', lines: { step: 'logs', report: (e) => e.kind === 'line' && read(e.line) } });
  if (r.code !== 0) {
    throw new DevclusterError('SSH_COMMAND_FAILED', `journalctl failed (exit ${r.code})${notes.length > 0 ? `: ${notes.slice(-3).join(' ')}` : ''}`);
  }
  for (const text of notes) note(node.name, text);
  return { node, session, offsetSeconds, backlog, cursor: backlog.at(-1)?.entry.cursor ?? cursor };
}

/** Follow one started node until its journalctl ends, fails, or the signal stops it. */
async function follow(s: Started, options: LogsOptions, ctx: Ctx, live: LiveMerge, note: (node: string, message: string) => void): Promise<boolean> {
  const name = s.node.name;
  const read = reader(name, s.offsetSeconds, (t) => live.push(name, t), (text) => note(name, text));
  try {
    const r = await s.session.run(followCommand(options, s.cursor), { signal: ctx.signal, what: 'journalctl --follow', tailLines: 5, lines: { step: 'logs', report: (e) => e.kind === 'line' && read(e.line) } });
    note(name, `journalctl --follow ended (exit ${r.code}); the other nodes go on`);
    return r.code === 0;
  } catch (error) {
    if (!ctx.signal.aborted) note(name, `stream failed: ${(error as Error).message}; the other nodes go on`);
    return false;
  } finally {
    live.end(name);
  }
}

/** Read (and with `follow`, follow) the nodes' logs; every entry and node line goes to `onEvent` as it is due. */
export function readLogs(loaded: LoadedConfig, options: LogsOptions, ctx: Ctx, onEvent: (event: LogsEvent) => void): Promise<LogsResult> {
  const note = (node: string, message: string) => onEvent({ kind: 'node', node, message });
  let entries = 0;
  const emit = (t: TimelineEntry) => {
    entries += 1;
    onEvent({ kind: 'entry', t });
  };
  return withCluster(loaded, { mode: 'look', lock: false }, ctx, async (op) => {
    const { plan } = op;
    const unknown = options.nodes.filter((n) => !plan.nodes.some((p) => p.name === n));
    if (unknown.length > 0) {
      throw new DevclusterError('NODE_NOT_FOUND', `cluster ${plan.name} has no node ${unknown.map((n) => `"${n}"`).join(', ')}`, { hint: `nodes: ${plan.nodes.map((n) => n.name).join(', ')}` });
    }
    const picked = options.nodes.length === 0 ? plan.nodes : plan.nodes.filter((n) => options.nodes.includes(n.name));
    const failed: string[] = [];
    try {
      const states = await op.provider.listNodes(plan.name, ctx);
      const running = picked.filter((n) => states.find((s) => s.node === n.name)?.state === 'running');
      for (const n of picked.filter((p) => !running.includes(p))) {
        failed.push(n.name);
        note(n.name, `is ${states.find((s) => s.node === n.name)?.state ?? 'not created'}: no logs from it`);
      }
      if (running.length === 0) {
        throw new DevclusterError('NODE_NOT_RUNNING', `no node of cluster ${plan.name} runs${options.nodes.length > 0 ? ` among ${options.nodes.join(', ')}` : ''}`, { hint: 'run `devcluster up` first' });
      }
      const settled = await Promise.allSettled(running.map((n) => start(op, n, options, ctx, note)));
      ctx.signal.throwIfAborted();
      const started: Started[] = [];
      settled.forEach((s, i) => {
        const name = (running[i] as NodePlan).name;
        if (s.status === 'fulfilled') started.push(s.value);
        else {
          failed.push(name);
          note(name, `could not read its journal: ${(s.reason as Error).message}`);
        }
      });
      if (started.length === 0) {
        throw new DevclusterError('SSH_COMMAND_FAILED', `no node's journal could be read (${running.map((n) => n.name).join(', ')})`, {
          hint: `see the lines above; \`devcluster ssh ${(running[0] as NodePlan).name} -- sudo journalctl -n 5\` shows what journalctl says`,
        });
      }
      for (const t of mergeTimelines(started.map((s) => s.backlog))) emit(t);
      if (options.follow) {
        const live = new LiveMerge(
          started.map((s) => s.node.name),
          emit,
        );
        const ok = await Promise.all(started.map((s) => follow(s, options, ctx, live, note)));
        live.close();
        started.forEach((s, i) => ok[i] || ctx.signal.aborted || failed.push(s.node.name));
        ctx.signal.throwIfAborted();
      }
      return { nodes: started.map((s) => ({ node: s.node.name, offsetSeconds: s.offsetSeconds })), failed, entries };
    } catch (error) {
      if (ctx.signal.aborted) {
        throw new InterruptedError(`logs stopped after ${entries} entr${entries === 1 ? 'y' : 'ies'}; journalctl was ended on every node`, { cause: error });
      }
      throw error;
    }
  });
}
