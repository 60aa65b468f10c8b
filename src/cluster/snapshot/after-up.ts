/**
 * The snapshot `up` takes once DevStack has stacked on every node (`snapshots.after_up`, default on):
 * `stacked`, unless the cluster has one already, so `devcluster reset` is a matter of seconds. A save
 * that cannot be made (too little space, a provider without snapshots) does not fail the `up` that
 * built the cluster: it is reported, with what to do.
 */
import { isDevclusterError } from '../../errors.js';
import type { Ctx } from '../../events.js';
import type { Operation } from '../operation.js';
import { readRecord } from './records.js';
import { saveIn, type SaveResult } from './save.js';

export const AFTER_UP_SNAPSHOT = 'stacked';

export async function snapshotAfterUp(op: Operation, ctx: Ctx): Promise<SaveResult | undefined> {
  if (!op.loaded.config.snapshots.after_up || !op.provider.snapshots) return undefined;
  if (await readRecord(op.stateDir, AFTER_UP_SNAPSHOT)) return undefined;
  try {
    return await saveIn(op, AFTER_UP_SNAPSHOT, {}, ctx);
  } catch (error) {
    if (isDevclusterError(error) && error.code === 'CANCELLED') throw error;
    const hint = isDevclusterError(error) && error.hint ? ` (${error.hint})` : '';
    ctx.report({ kind: 'note', message: `the cluster is up, but snapshot ${AFTER_UP_SNAPSHOT} could not be saved: ${(error as Error).message}${hint}` });
    return undefined;
  }
}
