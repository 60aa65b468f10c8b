/**
 * `snapshot restore NAME` and `reset` (restore `stacked`): every node brought back to the snapshot paused
 * (libvirt) or in its saved state (VirtualBox), all resumed together, each guest's clock stepped to the
 * host's, then the cluster must answer (SSH on every node; nova's services up where DevStack ran).
 *
 * Checked before anything changes: the record and every node's part exist, the cluster has the same nodes
 * as when it was taken. From the first node brought back on, the restore runs to its end whatever Ctrl-C
 * says (seconds): a cluster half on the snapshot and half not is never left; the interruption is
 * reported once every node runs from the snapshot, and only the clock step and checks are skipped.
 */
import { DevclusterError, InterruptedError } from '../../errors.js';
import type { Ctx } from '../../events.js';
import type { LoadedConfig } from '../../config/load.js';
import { withCluster, type Operation } from '../operation.js';
import { checkSnapshotName, readRecord, shapeChange, type SnapshotRecord } from './records.js';
import { driverOf } from './driver.js';
import { stepClock, waitForServices, type ClockResult } from './settle.js';

/** Budget for bringing every node back (reading memory images) before the restore is declared failed. */
const RESTORE_BUDGET_MS = 15 * 60_000;

export interface RestoreOptions {
  /** Skip the clock step and the readiness checks (a provider whose guests cannot be reached). */
  noWait?: boolean;
  /** Budget for nova's services to report up again. */
  servicesBudgetMs?: number;
}

export interface RestoreResult {
  record: SnapshotRecord;
  /** From the first node brought back to all resumed. */
  restoreMs: number;
  clocks: ClockResult[];
  /** What the readiness check found ("3 nova services up"), or why it was not run. */
  ready: string;
  tookMs: number;
}

export async function restoreIn(op: Operation, name: string, options: RestoreOptions, ctx: Ctx): Promise<RestoreResult> {
  const started = Date.now();
  const { plan, provider, stateDir } = op;
  checkSnapshotName(name);
  const driver = driverOf(provider);
  const record = await readRecord(stateDir, name);
  if (!record) {
    throw new DevclusterError('SNAPSHOT_NOT_FOUND', `cluster ${plan.name} has no snapshot ${name}`, {
      hint: name === 'stacked' ? 'it is taken after `devcluster up` stacks DevStack (snapshots.after_up); `devcluster snapshot save stacked` takes it now' : '`devcluster snapshot list` shows what there is',
    });
  }
  const change = shapeChange(record, plan.nodes);
  if (change) {
    throw new DevclusterError('SNAPSHOT_SHAPE_CHANGED', `snapshot ${name} was taken of a cluster with other nodes (${record.nodes.map((n) => n.name).join(', ')})`, {
      details: change,
      hint: `put the nodes back in devcluster.yaml as they were, or \`devcluster snapshot delete ${name}\``,
    });
  }
  const existing = new Map((await provider.listNodes(plan.name, ctx)).map((s) => [s.node, s.state]));
  const absent = plan.nodes.filter((n) => !existing.has(n.name)).map((n) => n.name);
  if (absent.length > 0) throw new DevclusterError('NODE_NOT_FOUND', `nodes ${absent.join(', ')} of cluster ${plan.name} do not exist`, { hint: 'a snapshot lives with its nodes: `devcluster down` removed them' });
  for (const node of plan.nodes) {
    if (!(await driver.list(plan, node, ctx)).some((p) => p.snapshot === name)) {
      throw new DevclusterError('SNAPSHOT_NOT_FOUND', `node ${node.name} has no part of snapshot ${name}`, { hint: `\`devcluster snapshot list\` shows what is missing; \`devcluster snapshot delete ${name}\` removes the rest` });
    }
  }
  const critical: Ctx = { signal: AbortSignal.timeout(RESTORE_BUDGET_MS), report: ctx.report };
  const t0 = Date.now();
  // Running nodes stop moving first, so none goes on talking to nodes already back in the past.
  const running = plan.nodes.filter((n) => existing.get(n.name) === 'running');
  if (running.length > 0) await driver.pause(plan, running, critical);
  const results = await Promise.allSettled(
    plan.nodes.map(async (node) => {
      const t = Date.now();
      ctx.report({ kind: 'phase', label: node.name, message: `bringing back ${name}` });
      await driver.restore(plan, node, name, critical);
      ctx.report({ kind: 'phase', label: node.name, message: `back to ${name} in ${((Date.now() - t) / 1000).toFixed(1)} s` });
    }),
  );
  const failedNodes = plan.nodes.filter((_, i) => results[i]?.status === 'rejected');
  if (failedNodes.length > 0) {
    const back = plan.nodes.filter((n) => !failedNodes.includes(n));
    await driver.resume(plan, back, critical).catch(() => undefined);
    const first = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    throw new DevclusterError('SNAPSHOT_FAILED', `snapshot ${name} could not be brought back on ${failedNodes.map((n) => n.name).join(', ')}`, {
      cause: first.reason,
      details: [
        ...results.flatMap((r, i) => (r.status === 'rejected' ? [`${plan.nodes[i]?.name}: ${(r.reason as Error).message}`] : [])),
        ...(back.length > 0 ? [`${back.map((n) => n.name).join(', ')}: back to ${name} and running`] : []),
      ],
      hint: `run \`devcluster snapshot restore ${name}\` again; \`devcluster status\` shows each node's state`,
    });
  }
  await driver.resume(plan, plan.nodes, critical);
  const restoreMs = Date.now() - t0;
  if (ctx.signal.aborted) {
    throw new InterruptedError(`interrupted: every node was already back to ${name} and runs; the clock step and readiness check were skipped`, {
      hint: `clocks may be behind: run \`devcluster snapshot restore ${name}\` again, or step them with \`devcluster ssh NODE -- sudo date -s @$(date +%s)\``,
    });
  }
  if (options.noWait) return { record, restoreMs, clocks: [], ready: 'not checked (--no-wait)', tookMs: Date.now() - started };
  try {
    ctx.report({ kind: 'phase', label: plan.name, message: 'stepping the clocks' });
    const t1 = Date.now();
    const clocks = await Promise.all(plan.nodes.map((node) => stepClock(op, node, driver, ctx)));
    let ready = `SSH answers on ${plan.nodes.length} nodes (clocks stepped in ${((Date.now() - t1) / 1000).toFixed(1)} s)`;
    if (record.stacked) {
      const t2 = Date.now();
      ready += `; ${await waitForServices(op, options.servicesBudgetMs ?? 180_000, ctx)} (after ${((Date.now() - t2) / 1000).toFixed(1)} s)`;
    }
    return { record, restoreMs, clocks, ready, tookMs: Date.now() - started };
  } catch (error) {
    if (!ctx.signal.aborted) throw error;
    throw new InterruptedError(`interrupted: every node is back to ${name} and runs; the clock step or readiness check was cut short`, {
      cause: error,
      hint: `clocks may be behind: run \`devcluster snapshot restore ${name}\` again, or step them with \`devcluster ssh NODE -- sudo date -s @$(date +%s)\``,
    });
  }
}

export function restoreSnapshot(loaded: LoadedConfig, name: string, options: RestoreOptions, ctx: Ctx): Promise<RestoreResult> {
  return withCluster(loaded, { mode: 'look', lock: true }, ctx, (op) => restoreIn(op, name, options, ctx));
}
