/**
 * "All or first error": run one task per item, all at once (or one after the other), and stop at the
 * first failure. The others are told through an AbortSignal (their ctx.signal) and awaited, so nothing
 * runs on after the call returns; then that first error is thrown as it was — not an AggregateError,
 * and not the cancellation a later task fails with once it sees the abort.
 */
import type { Ctx } from '../events.js';

export interface AllOrFirstErrorOptions {
  /** false: one item after the other, none started after a failure. Default true: all at once. */
  parallel?: boolean;
}

export async function allOrFirstError<T>(items: readonly T[], ctx: Ctx, work: (item: T, ctx: Ctx) => Promise<void>, options: AllOrFirstErrorOptions = {}): Promise<void> {
  const controller = new AbortController();
  const taskCtx: Ctx = { signal: AbortSignal.any([ctx.signal, controller.signal]), report: ctx.report };
  let failed = false;
  let first: unknown;
  const one = async (item: T): Promise<void> => {
    try {
      await work(item, taskCtx);
    } catch (error) {
      if (failed) return;
      failed = true;
      first = error;
      controller.abort(error);
    }
  };
  if (options.parallel === false) {
    for (const item of items) {
      await one(item);
      if (failed) break;
    }
  } else await Promise.all(items.map(one));
  if (failed) throw first;
}
