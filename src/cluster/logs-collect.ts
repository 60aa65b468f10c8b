/**
 * `logs collect`: every node's logs in the gate's layout (src/logs/collect-script.ts says what and
 * from where) in one folder, with a README at the top and the nodes' clock offsets for `trace --from`.
 *
 * All nodes at once, each over its pooled SSH session: the clock measured, then one command that
 * stages everything on the node and sends it back as one gzip'd tar stream, unpacked with the host's
 * tar. A node that is not running, cannot be reached, or whose script fails is one line in the result
 * and the README; so is each file the gate would have that could not be read; the others are kept.
 * The folder is the user's own (0700): local.conf and /etc hold the cluster's passwords.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { chmod, copyFile, mkdir, readFile, readdir, rm, rmdir, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import type { LoadedConfig } from '../config/load.js';
import { DevclusterError } from '../errors.js';
import type { Ctx } from '../events.js';
import { CLOCKS_FILE, clocksJson } from '../logs/journal-source.js';
import { collectReadme, journalReadme, problemLines, type CollectSummary, type NodeCollected } from '../logs/collect-readme.js';
import { collectScript, gateName, parseNotes, PROJECT_CONF_DIRS, type CollectSide } from '../logs/collect-script.js';
import type { ClusterPlan, NodePlan } from '../plan/plan.js';
import { shellQuote } from '../process/quote.js';
import { run } from '../process/run.js';
import { GRENADE_BASES, stackLayout } from '../provision/grenade.js';
import { stateLayout, stepLogFile } from '../state/layout.js';
// Task T's (branch i15-trace, commit 4d5e0a6, cherry-picked unchanged).
import { measureClock } from './clock.js';
import { withCluster, type Operation } from './operation.js';

/** Budget for reaching a node (the key exchange) and for its collect script (journal export included). */
const CONNECT_BUDGET_MS = 60_000;
const SCRIPT_BUDGET_MS = 10 * 60_000;
/** The step name of the collect script's own log in .devcluster/NAME/logs/NODE/. */
const LOG_STEP = 'logs-collect';

export interface CollectOptions {
  /** Where to write; default ./logs-CLUSTER-TIMESTAMP in cwd. Must not exist or be empty. */
  out?: string;
  cwd: string;
  now?: Date;
}

export interface CollectResult {
  dir: string;
  summary: CollectSummary;
  /** Compressed bytes received from the nodes, and bytes written to the folder. */
  bytesReceived: number;
  bytesOnDisk: number;
  tookMs: number;
  /** "could not read" lines (empty: everything was read), as in the README. */
  problems: string[];
}

/** ./logs-CLUSTER-20261201T061500Z */
export function defaultOutDir(cluster: string, now: Date): string {
  return `logs-${cluster}-${now.toISOString().replace(/\.\d+Z$/, 'Z').replace(/[-:]/g, '')}`;
}

/** Refuse a folder that holds anything; make it (0700) otherwise, unless `checkOnly`. */
export async function prepareOutDir(dir: string, checkOnly = false): Promise<void> {
  const info = await stat(dir).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw error;
  });
  if (info && (!info.isDirectory() || (await readdir(dir)).length > 0)) {
    throw new DevclusterError('LOGS_OUT_NOT_EMPTY', `${dir} ${info.isDirectory() ? 'is not empty' : 'exists and is not a folder'}: logs collect never writes over anything`, {
      hint: 'give another folder with --out, or remove that one',
    });
  }
  if (checkOnly) return;
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
}

/** Every DevStack tree on a node: the one, or grenade's old and new sides. */
function sidesOf(plan: ClusterPlan): CollectSide[] {
  const layout = stackLayout(plan);
  if (layout.dest !== GRENADE_BASES.old) return [{ prefix: '', devstackDir: layout.devstackDir, logFile: `${layout.dest}/logs/stack.sh.log` }];
  return [
    { prefix: 'old', devstackDir: layout.devstackDir, logFile: `${layout.dest}/logs/stack.sh.log` },
    { prefix: 'new', devstackDir: `${GRENADE_BASES.new}/devstack`, logFile: `${GRENADE_BASES.new}/logs/stack.sh.log` },
  ];
}

async function walk(dir: string): Promise<{ files: number; bytes: number }> {
  let files = 0;
  let bytes = 0;
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      const sub = await walk(path);
      files += sub.files;
      bytes += sub.bytes;
    } else if (entry.isFile()) {
      files += 1;
      bytes += (await stat(path)).size;
    }
  }
  return { files, bytes };
}

/** The host's step logs of the node (already masked) into NODE/logs/devcluster/, gate-named. */
async function copyStepLogs(stateDir: string, node: string, logsDir: string): Promise<void> {
  const from = join(stateLayout(stateDir).logs, node);
  const names = (await readdir(from).catch(() => [] as string[])).filter((n) => n.endsWith('.log') && n !== `${LOG_STEP}.log`);
  if (names.length === 0) return;
  const to = join(logsDir, 'devcluster');
  await mkdir(to, { recursive: true, mode: 0o700 });
  for (const name of names) await copyFile(join(from, name), join(to, gateName(name)));
}

/** One node: clock, the script's stream, unpacked into DIR/NODE. Never throws but for cancellation. */
async function collectNode(op: Operation, node: NodePlan, dir: string, script: string, ctx: Ctx): Promise<{ result: NodeCollected; received: number }> {
  const { signal } = ctx;
  const base = { node: node.name, role: node.role, missing: [] as NodeCollected['missing'] };
  const skipped = (why: string) => ({ result: { ...base, outcome: { kind: 'skipped' as const, why } }, received: 0 });
  let session;
  try {
    session = await op.session(node, { signal, budgetMs: CONNECT_BUDGET_MS });
  } catch (error) {
    if (signal.aborted) throw error;
    return skipped(`could not connect over SSH: ${(error as Error).message}`);
  }
  let offsetSeconds: number | undefined;
  try {
    offsetSeconds = (await measureClock(op, node, signal)).offsetSeconds;
  } catch (error) {
    if (signal.aborted) throw error;
    base.missing.push({ what: "the node's clock offset", why: (error as Error).message });
  }
  ctx.report({ kind: 'phase', label: node.name, message: 'collecting logs' });
  let bytes: Buffer;
  try {
    const r = await session.run(`sudo -n bash -c ${shellQuote(script)}`, {
      signal,
      what: 'collect logs',
      timeoutMs: SCRIPT_BUDGET_MS,
      binaryStdout: true,
      logFile: stepLogFile(op.stateDir, node.name, LOG_STEP),
    });
    bytes = r.stdoutBytes ?? Buffer.alloc(0);
    if (r.code !== 0 || bytes.length === 0) return skipped(`the collect script exited ${r.code}: ${r.tail.slice(-3).join(' ').trim() || 'no output'}`);
  } catch (error) {
    if (signal.aborted) throw error;
    return skipped((error as Error).message);
  }
  const nodeDir = join(dir, node.name);
  const logsDir = join(nodeDir, 'logs');
  await mkdir(nodeDir, { recursive: true, mode: 0o700 });
  try {
    // Unpacked from memory (tar reads it on stdin): no copy of the stream on disk first.
    await run('tar', ['-xzf', '-', '-C', nodeDir, '--no-same-owner'], { input: bytes, signal, timeoutMs: 5 * 60_000, debianPackage: 'tar' });
  } catch (error) {
    if (signal.aborted) throw error;
    return skipped(`what it sent could not be unpacked: ${(error as Error).message}`);
  }
  const notesFile = join(nodeDir, 'collect-notes.tsv');
  const notes = parseNotes(await readFile(notesFile, 'utf8').catch(() => ''));
  await rm(notesFile, { force: true });
  base.missing.push(...notes.missing);
  const journal = join(logsDir, 'devstack.journal');
  if (await stat(journal).then((s) => s.isFile(), () => false)) {
    await pipeline(createReadStream(journal), createGzip(), createWriteStream(`${journal}.gz`, { mode: 0o600 }), { signal });
    await rm(journal);
    await writeFile(join(logsDir, 'devstack.journal.README.txt'), journalReadme(node.name), { mode: 0o600 });
  }
  await copyStepLogs(op.stateDir, node.name, logsDir);
  const { files } = await walk(nodeDir);
  const result: NodeCollected = { ...base, outcome: { kind: 'collected', units: notes.units, bytes: bytes.length, files } };
  if (offsetSeconds !== undefined) result.offsetSeconds = offsetSeconds;
  return { result, received: bytes.length };
}

export async function collectLogs(loaded: LoadedConfig, options: CollectOptions, ctx: Ctx): Promise<CollectResult> {
  const started = Date.now();
  const now = options.now ?? new Date();
  const dir = resolve(options.cwd, options.out ?? defaultOutDir(loaded.config.name, now));
  await prepareOutDir(dir, true);
  return withCluster(loaded, { mode: 'look', lock: false }, ctx, async (op) => {
    const { plan } = op;
    const states = new Map((await op.provider.listNodes(plan.name, ctx)).map((s) => [s.node, s.state]));
    await prepareOutDir(dir);
    const etcDirs = [...new Set([...PROJECT_CONF_DIRS, ...Object.keys(plan.devstack.sources), ...plan.devstack.services.plugins.map((p) => p.name)])].filter((n) => /^[A-Za-z0-9._-]+$/.test(n));
    const script = collectScript({ sides: sidesOf(plan), etcDirs });
    const outcomes = await Promise.all(
      plan.nodes.map((node) => {
        const state = states.get(node.name);
        if (state !== 'running') {
          return { result: { node: node.name, role: node.role, missing: [], outcome: { kind: 'skipped' as const, why: `the node is ${state ?? 'not created'}` } }, received: 0 };
        }
        return collectNode(op, node, dir, script, ctx);
      }),
    );
    const summary: CollectSummary = { cluster: plan.name, collectedAt: now.toISOString(), nodes: outcomes.map((o) => o.result) };
    const offsets: Record<string, number> = {};
    for (const n of summary.nodes) if (n.offsetSeconds !== undefined) offsets[n.node] = n.offsetSeconds;
    await writeFile(join(dir, CLOCKS_FILE), clocksJson(now.toISOString(), offsets), { mode: 0o600 });
    await writeFile(join(dir, 'README.txt'), collectReadme(summary), { mode: 0o600 });
    // An empty NODE folder (nothing unpacked) says nothing the README does not.
    for (const n of summary.nodes) await rmdir(join(dir, n.node)).catch(() => undefined);
    return {
      dir,
      summary,
      bytesReceived: outcomes.reduce((sum, o) => sum + o.received, 0),
      bytesOnDisk: (await walk(dir)).bytes,
      tookMs: Date.now() - started,
      problems: problemLines(summary),
    };
  });
}
