/**
 * `snapshot list` and `snapshot delete NAME`: what the hypervisor holds for each snapshot (its parts on
 * every node and their size on disk), joined with devcluster's record of it (when, what shape, stacked),
 * and the method this host uses and why.
 */
import { DevclusterError } from '../../errors.js';
import type { Ctx } from '../../events.js';
import type { LoadedConfig } from '../../config/load.js';
import type { SnapshotDriver, SnapshotMethod } from '../../providers/snapshot.js';
import { withCluster, type Operation } from '../operation.js';
import { driverOf } from './driver.js';
import { checkSnapshotName, readRecord, recordNames, removeRecord, shapeChange } from './records.js';

export interface SnapshotListing {
  name: string;
  /** When it was taken (from the record; undefined when devcluster has none). */
  savedAt?: string;
  stacked?: boolean;
  /** Bytes on disk, all nodes together. */
  bytes: number;
  /** Nodes that hold a part of it. */
  nodes: string[];
  /** Why it cannot be restored as the cluster is now (missing parts, changed shape); empty when it can. */
  problems: string[];
}

export interface ListResult {
  cluster: string;
  provider: string;
  method: SnapshotMethod;
  snapshots: SnapshotListing[];
}

/** Remove every node's part of a snapshot (each node tried), then its record. */
export async function removeParts(op: Operation, driver: SnapshotDriver, name: string, ctx: Ctx): Promise<void> {
  const errors: unknown[] = [];
  const existing = new Set((await op.provider.listNodes(op.plan.name, ctx)).map((s) => s.node));
  for (const node of op.plan.nodes.filter((n) => existing.has(n.name))) await driver.remove(op.plan, node, name, ctx).catch((error: unknown) => errors.push(error));
  if (errors.length > 0) throw errors[0];
  await removeRecord(op.stateDir, name);
}

export async function listIn(op: Operation, driver: SnapshotDriver, ctx: Ctx): Promise<ListResult> {
  const { plan } = op;
  const byName = new Map<string, SnapshotListing>();
  const entry = (name: string): SnapshotListing => {
    let e = byName.get(name);
    if (!e) byName.set(name, (e = { name, bytes: 0, nodes: [], problems: [] }));
    return e;
  };
  const existing = new Set((await op.provider.listNodes(plan.name, ctx)).map((s) => s.node));
  for (const node of plan.nodes.filter((n) => existing.has(n.name))) {
    for (const part of await driver.list(plan, node, ctx)) {
      const e = entry(part.snapshot);
      e.bytes += part.bytes;
      e.nodes.push(node.name);
    }
  }
  for (const name of await recordNames(op.stateDir)) {
    const record = await readRecord(op.stateDir, name);
    if (!record) continue;
    const e = entry(name);
    e.savedAt = record.savedAt;
    e.stacked = record.stacked;
    e.problems.push(...(shapeChange(record, plan.nodes) ?? []));
  }
  for (const e of byName.values()) {
    const missing = plan.nodes.filter((n) => !e.nodes.includes(n.name)).map((n) => n.name);
    if (missing.length > 0 && e.problems.length === 0) e.problems.push(`no part on ${missing.join(', ')}`);
    if (e.savedAt === undefined) e.problems.push('devcluster has no record of it (taken outside devcluster, or the state folder was lost)');
  }
  const snapshots = [...byName.values()].sort((a, b) => (a.savedAt ?? '').localeCompare(b.savedAt ?? '') || a.name.localeCompare(b.name));
  return { cluster: plan.name, provider: op.provider.name, method: await driver.method(ctx), snapshots };
}

export function listSnapshots(loaded: LoadedConfig, ctx: Ctx): Promise<ListResult> {
  return withCluster(loaded, { mode: 'look', lock: false }, ctx, async (op) => {
    const driver = driverOf(op.provider);
    return listIn(op, driver, ctx);
  });
}

/** Remove a snapshot from every node and from the state; SNAPSHOT_NOT_FOUND when there is none. */
export function deleteSnapshot(loaded: LoadedConfig, name: string, ctx: Ctx): Promise<{ freedBytes: number }> {
  return withCluster(loaded, { mode: 'look', lock: true }, ctx, async (op) => {
    checkSnapshotName(name);
    const driver = driverOf(op.provider);
    const listing = (await listIn(op, driver, ctx)).snapshots.find((s) => s.name === name);
    if (!listing) throw new DevclusterError('SNAPSHOT_NOT_FOUND', `cluster ${op.plan.name} has no snapshot ${name}`, { hint: '`devcluster snapshot list` shows what there is' });
    await removeParts(op, driver, name, ctx);
    return { freedBytes: listing.bytes };
  });
}
