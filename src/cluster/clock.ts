/**
 * A node's clock against the host's: guest time minus host time, in seconds, from `date +%s.%N` round
 * trips over the node's pooled SSH session, the host's time taken as the middle of the round trip (so
 * the error is at most half the round trip, which is returned with it). Of READINGS round trips the
 * shortest is kept, as NTP keeps its lowest-delay sample: under load one round trip can take seconds. Snapshot restore uses it
 * to check the clocks it stepped; `trace` to put every node's journal on the host's clock.
 */
import { DevclusterError, type ErrorCode } from '../errors.js';
import type { NodePlan } from '../plan/plan.js';
import type { Operation } from './operation.js';

export interface ClockReading {
  /** Guest minus host, in seconds. */
  offsetSeconds: number;
  /** The round trip the reading took, in milliseconds: the offset is right to within half of it. */
  roundTripMs: number;
}

/** Budgets: reaching the node, and the `date` itself. */
const CONNECT_BUDGET_MS = 60_000;
const DATE_BUDGET_MS = 15_000;
/** Round trips per measurement; the one with the shortest round trip is kept. */
const READINGS = 3;

/**
 * Read `node`'s clock against the host's. A clock that cannot be read is a DevclusterError of `code`
 * (the caller's operation: SNAPSHOT_FAILED for a restore); an unreachable node, the session's own error.
 */
export async function measureClock(op: Operation, node: NodePlan, signal: AbortSignal, code: ErrorCode = 'SSH_COMMAND_FAILED'): Promise<ClockReading> {
  const session = await op.session(node, { signal, budgetMs: CONNECT_BUDGET_MS });
  let best: ClockReading | undefined;
  for (let i = 0; i < READINGS; i += 1) {
    const before = Date.now();
    const r = await session.run('date +%s.%N', { signal, timeoutMs: DATE_BUDGET_MS, what: 'date' });
    const after = Date.now();
    const guest = Number(r.stdout.trim());
    if (r.code !== 0 || !Number.isFinite(guest)) throw new DevclusterError(code, `node ${node.name}: could not read its clock (date printed "${r.stdout.trim()}")`, { hint: `\`devcluster ssh ${node.name} -- date\`` });
    if (best === undefined || after - before < best.roundTripMs) best = { offsetSeconds: guest - (before + after) / 2000, roundTripMs: after - before };
  }
  return best as ClockReading;
}
