/**
 * What devcluster remembers of a cluster snapshot: `.devcluster/<cluster>/snapshots/NAME.json`, written
 * when the save has captured every node. It holds what the hypervisor cannot say: when it was taken, the
 * cluster's shape then (its nodes, so a changed cluster is refused), whether DevStack had stacked, and
 * the method. The snapshot's data itself (memory, disks, sizes) is read from the hypervisor.
 */
import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { DevclusterError } from '../../errors.js';
import { atomicWrite } from '../../fs/atomic-write.js';
import { SNAPSHOT_NAME } from '../../providers/names.js';
import { stateLayout } from '../../state/layout.js';

const recordSchema = z.object({
  version: z.literal(1),
  name: z.string(),
  provider: z.string(),
  method: z.string(),
  savedAt: z.string(),
  nodes: z.array(z.object({ name: z.string(), role: z.string() })),
  /** DevStack had run on every node when it was taken: a restore waits for its services. */
  stacked: z.boolean(),
  /** How long the nodes were paused while it was taken. */
  pausedMs: z.number(),
});
export type SnapshotRecord = z.infer<typeof recordSchema>;

/** The name `snapshot save NAME` was given, checked; bad usage names the rule. */
export function checkSnapshotName(name: string): string {
  if (!SNAPSHOT_NAME.test(name)) {
    throw new DevclusterError('USAGE_INVALID', `"${name}" is not a snapshot name`, {
      hint: 'use 1 to 40 letters, digits, ".", "_" or "-", starting with a letter or digit (e.g. stacked, before-migration)',
    });
  }
  return name;
}

function fileOf(stateDir: string, name: string): string {
  return join(stateLayout(stateDir).snapshots, `${name}.json`);
}

export async function readRecord(stateDir: string, name: string): Promise<SnapshotRecord | undefined> {
  let text: string;
  try {
    text = await readFile(fileOf(stateDir, name), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  const parsed = recordSchema.safeParse(JSON.parse(text));
  if (!parsed.success) {
    throw new DevclusterError('STATE_INVALID', `${fileOf(stateDir, name)} is not a snapshot record devcluster can read`, {
      hint: `remove it with \`devcluster snapshot delete ${name}\``,
    });
  }
  return parsed.data;
}

export async function writeRecord(stateDir: string, record: SnapshotRecord): Promise<void> {
  await mkdir(stateLayout(stateDir).snapshots, { recursive: true, mode: 0o700 });
  await atomicWrite(fileOf(stateDir, record.name), `${JSON.stringify(record, null, 2)}\n`);
}

export async function removeRecord(stateDir: string, name: string): Promise<void> {
  await rm(fileOf(stateDir, name), { force: true });
}

/** The names of every recorded snapshot. */
export async function recordNames(stateDir: string): Promise<string[]> {
  const files = await readdir(stateLayout(stateDir).snapshots).catch(() => [] as string[]);
  return files.filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -'.json'.length)).sort();
}

/** Why a snapshot cannot come back on the cluster as configured now; undefined when it can. */
export function shapeChange(record: SnapshotRecord, nodes: readonly { name: string }[]): string[] | undefined {
  const then = new Set(record.nodes.map((n) => n.name));
  const now = new Set(nodes.map((n) => n.name));
  const added = [...now].filter((n) => !then.has(n));
  const removed = [...then].filter((n) => !now.has(n));
  if (added.length === 0 && removed.length === 0) return undefined;
  return [
    ...(added.length > 0 ? [`nodes added since it was taken: ${added.join(', ')}`] : []),
    ...(removed.length > 0 ? [`nodes removed since it was taken: ${removed.join(', ')}`] : []),
  ];
}
