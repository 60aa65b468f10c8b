/**
 * `snapshot save NAME`: every node paused back to back (the freeze instant), each node's memory and disks
 * captured while all are paused, then all resumed back to back. The capture is not interrupted half-way:
 * Ctrl-C during it lets it finish (it takes seconds), then undoes it, so the cluster is left running and
 * without the snapshot, and the error says so.
 */
import { DevclusterError, InterruptedError } from '../../errors.js';
import type { Ctx } from '../../events.js';
import type { LoadedConfig } from '../../config/load.js';
import type { ClusterPlan } from '../../plan/plan.js';
import type { Provider } from '../../providers/provider.js';
import type { NodeSnapshot, SnapshotDriver } from '../../providers/snapshot.js';
import { ProvisionState } from '../../provision/state.js';
import { formatBytes } from '../../config/units.js';
import { withCluster, type Operation } from '../operation.js';
import { checkSnapshotName, readRecord, writeRecord, type SnapshotRecord } from './records.js';
import { removeParts } from './manage.js';
import { driverOf } from './driver.js';

/** What a save needs beyond the nodes' memory: disk layers and the images' headers. */
export const SAVE_OVERHEAD_BYTES = 512 * 1024 ** 2;
/** Budget for capturing every node (memory written to disk), past which the save fails and is undone. */
const CAPTURE_BUDGET_MS = 15 * 60_000;

export interface SaveOptions {
  /** Replace a snapshot of the same name. */
  replace?: boolean;
}

export interface SaveResult {
  record: SnapshotRecord;
  parts: NodeSnapshot[];
  tookMs: number;
}

/** Every node of the plan must exist and run (or be paused); else NODE_NOT_RUNNING naming them. */
export async function requireRunning(provider: Provider, plan: ClusterPlan, what: string, ctx: Ctx): Promise<void> {
  const states = new Map((await provider.listNodes(plan.name, ctx)).map((s) => [s.node, s.state]));
  const bad = plan.nodes.filter((n) => !['running', 'paused'].includes(states.get(n.name) ?? '')).map((n) => `${n.name} (${states.get(n.name) ?? 'does not exist'})`);
  if (bad.length > 0) {
    throw new DevclusterError('NODE_NOT_RUNNING', `${what} needs every node running: ${bad.join(', ')}`, { hint: 'run `devcluster up` first' });
  }
}

/** Whether DevStack has run on every node (its `stack` step is recorded as done). */
async function isStacked(op: Operation): Promise<boolean> {
  const state = await ProvisionState.load(op.stateDir);
  return op.plan.nodes.every((n) => state.done.has(`${n.name}/stack`));
}

/** The save, inside an operation that holds the cluster's lock (`snapshot save`, or `up` after stacking). */
export async function saveIn(op: Operation, name: string, options: SaveOptions, ctx: Ctx): Promise<SaveResult> {
  const started = Date.now();
  const { plan, provider, stateDir } = op;
  checkSnapshotName(name);
  const driver = driverOf(provider);
  await requireRunning(provider, plan, `snapshot ${name}`, ctx);
  const existing = (await readRecord(stateDir, name)) ?? (await hasParts(driver, plan, name, ctx) ? 'parts' : undefined);
  if (existing && !options.replace) {
    throw new DevclusterError('SNAPSHOT_EXISTS', `cluster ${plan.name} already has a snapshot ${name}`, { hint: `\`devcluster snapshot save ${name} --replace\` replaces it; or pick another name` });
  }
  const space = await driver.space(plan, ctx);
  const needed = plan.nodes.reduce((sum, n) => sum + n.memoryBytes, 0) + SAVE_OVERHEAD_BYTES;
  if (space.availableBytes < needed) {
    throw new DevclusterError('SNAPSHOT_NO_SPACE', `snapshot ${name} needs about ${formatBytes(needed)} (the memory of ${plan.nodes.length} nodes plus ${formatBytes(SAVE_OVERHEAD_BYTES)}), and ${space.where} has ${formatBytes(space.availableBytes)} free`, {
      hint: '`devcluster snapshot delete NAME` frees what an older snapshot holds; or free space there',
    });
  }
  const method = await driver.method(ctx);
  if (existing) await removeParts(op, driver, name, ctx);
  const stacked = await isStacked(op);
  // From the first pause on, the work runs to its end (within its budget) whatever Ctrl-C says.
  const critical: Ctx = { signal: AbortSignal.timeout(CAPTURE_BUDGET_MS), report: ctx.report };
  ctx.report({ kind: 'phase', label: plan.name, message: `pausing ${plan.nodes.length} nodes` });
  const pausedAt = Date.now();
  let captureError: unknown;
  try {
    await driver.pause(plan, plan.nodes, critical);
    await Promise.all(
      plan.nodes.map(async (node) => {
        const t = Date.now();
        ctx.report({ kind: 'phase', label: node.name, message: `saving memory and disks as ${name}` });
        await driver.capture(plan, node, name, critical);
        ctx.report({ kind: 'phase', label: node.name, message: `saved in ${((Date.now() - t) / 1000).toFixed(1)} s` });
      }),
    );
  } catch (error) {
    captureError = error;
  }
  if (captureError !== undefined || ctx.signal.aborted) {
    // Undo: nothing half-taken stays, and every node runs on.
    await removeParts(op, driver, name, critical).catch(() => undefined);
  }
  const pausedMs = Date.now() - pausedAt;
  await driver.resume(plan, plan.nodes, { signal: AbortSignal.timeout(120_000), report: ctx.report });
  if (captureError !== undefined) throw captureError;
  if (ctx.signal.aborted) {
    throw new InterruptedError(`interrupted: snapshot ${name} was not kept; every node runs on as before`, { hint: `run \`devcluster snapshot save ${name}\` again` });
  }
  const record: SnapshotRecord = { version: 1, name, provider: provider.name, method: method.id, savedAt: new Date(pausedAt).toISOString(), nodes: plan.nodes.map((n) => ({ name: n.name, role: n.role })), stacked, pausedMs };
  await writeRecord(stateDir, record);
  const parts = (await Promise.all(plan.nodes.map((n) => driver.list(plan, n, ctx)))).flat().filter((p) => p.snapshot === name);
  return { record, parts, tookMs: Date.now() - started };
}

async function hasParts(driver: SnapshotDriver, plan: ClusterPlan, name: string, ctx: Ctx): Promise<boolean> {
  for (const node of plan.nodes) if ((await driver.list(plan, node, ctx)).some((p) => p.snapshot === name)) return true;
  return false;
}

export function saveSnapshot(loaded: LoadedConfig, name: string, options: SaveOptions, ctx: Ctx): Promise<SaveResult> {
  return withCluster(loaded, { mode: 'look', lock: true }, ctx, (op) => saveIn(op, name, options, ctx));
}
