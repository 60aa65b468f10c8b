/** The "all or first error" helper: which error the caller sees, and what the other tasks see. */
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { DevclusterError } from '../errors.js';
import { quietCtx, type Ctx } from '../events.js';
import { allOrFirstError } from './all-or-first-error.js';

/** A task that runs until its signal aborts, then fails with CANCELLED (as a remote command does). */
function untilAborted(ctx: Ctx): Promise<void> {
  return new Promise((_resolve, reject) => {
    ctx.signal.addEventListener('abort', () => reject(new DevclusterError('CANCELLED', 'stopped')), { once: true });
  });
}

describe('allOrFirstError', () => {
  it('runs every task at once and resolves when all succeed', async () => {
    const running: number[] = [];
    let most = 0;
    await allOrFirstError([1, 2, 3], quietCtx(), async (n) => {
      running.push(n);
      most = Math.max(most, running.length);
      await sleep(20);
      running.splice(running.indexOf(n), 1);
    });
    expect(most).toBe(3);
  });

  it('throws the first error, not the CANCELLED the others fail with once aborted', async () => {
    const boom = new DevclusterError('SSH_COMMAND_FAILED', 'stack.sh exited with 1');
    const seen: unknown[] = [];
    const failure = allOrFirstError(['a', 'b', 'c'], quietCtx(), async (item, ctx) => {
      if (item === 'b') {
        await sleep(10);
        throw boom;
      }
      try {
        await untilAborted(ctx);
      } finally {
        seen.push(ctx.signal.reason);
      }
    });
    await expect(failure).rejects.toBe(boom);
    // Both others saw the abort, with the first error as its reason, and were awaited.
    expect(seen).toEqual([boom, boom]);
  });

  it('a later failure of another kind does not replace the first', async () => {
    const first = new Error('first');
    const failure = allOrFirstError([0, 1], quietCtx(), async (n, ctx) => {
      if (n === 0) throw first;
      await untilAborted(ctx).catch(() => undefined);
      throw new Error('later');
    });
    await expect(failure).rejects.toBe(first);
  });

  it('one after the other: stops at the first failure and starts none after it', async () => {
    const started: number[] = [];
    const failure = allOrFirstError(
      [1, 2, 3],
      quietCtx(),
      async (n) => {
        started.push(n);
        if (n === 2) throw new Error(`failed ${n}`);
      },
      { parallel: false },
    );
    await expect(failure).rejects.toThrow('failed 2');
    expect(started).toEqual([1, 2]);
  });

  it("the caller's own abort reaches every task", async () => {
    const outer = new AbortController();
    const reasons: unknown[] = [];
    const run = allOrFirstError([1, 2], { signal: outer.signal, report: () => undefined }, async (_n, ctx) => {
      await untilAborted(ctx).catch((error: unknown) => {
        reasons.push(ctx.signal.aborted);
        throw error;
      });
    });
    outer.abort();
    await expect(run).rejects.toMatchObject({ code: 'CANCELLED' });
    expect(reasons).toEqual([true, true]);
  });

  it('passes progress reports through', async () => {
    const events: string[] = [];
    await allOrFirstError(['x'], { signal: new AbortController().signal, report: (e) => events.push(e.kind) }, async (_x, ctx) => {
      ctx.report({ kind: 'note', message: 'hi' });
    });
    expect(events).toEqual(['note']);
  });
});
