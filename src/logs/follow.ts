/**
 * Following several nodes' journals live and printing them in one time order. Each node's stream is in
 * its own order, but streams arrive with different delays: journald tells a following journalctl of new
 * entries in batches (its journal files' post-change notification timer), then the line crosses SSH.
 * So an entry is held back until either every node still streaming has something waiting (then the
 * earliest head is safe to print: nothing earlier can come from a node whose next entry is later), or
 * it has waited HOLD_BACK_MS since it arrived (a node that stayed silent that long had nothing
 * earlier, unless its delay exceeds the others' by more than the window; such a late line is printed
 * as it comes, out of order, rather than held forever).
 *
 * HOLD_BACK_MS from a measurement on the shared test cluster (TCG guests;
 * test/integration/logs-follow.host.test.ts prints it): journal time (host clock) to the CLI's printed
 * line was 0.78–1.26 s with a 0.6 s window, so 0.2–0.66 s of transport (journald's notification,
 * journalctl, SSH, and the error of the offset measurement), a spread of up to ~0.5 s between lines.
 * The window covers about twice that spread.
 */
import type { TimelineEntry } from './merge.js';

/** How long an entry waits for the other nodes before it is printed anyway (see the header). */
export const HOLD_BACK_MS = 1000;

interface Waiting {
  t: TimelineEntry;
  arrivedMs: number;
}

/**
 * The hold-back merge, driven by the caller's clock: `push` and `end` as streams deliver, then
 * `drain(now)` emits what is due and says when the next entry falls due. Pure (no timers).
 */
export class HoldBackMerger {
  private readonly queues: Waiting[][];
  private readonly live: boolean[];
  private readonly index = new Map<string, number>();

  constructor(
    nodes: readonly string[],
    private readonly holdMs: number,
    private readonly emit: (t: TimelineEntry) => void,
  ) {
    this.queues = nodes.map(() => []);
    this.live = nodes.map(() => true);
    nodes.forEach((n, i) => this.index.set(n, i));
  }

  private slot(node: string): number {
    const i = this.index.get(node);
    if (i === undefined) throw new RangeError(`no stream for node ${node}`);
    return i;
  }

  push(node: string, t: TimelineEntry, arrivedMs: number): void {
    this.queues[this.slot(node)]?.push({ t, arrivedMs });
  }

  /** The node's stream ended: it no longer holds the others back; what it delivered is still merged. */
  end(node: string): void {
    this.live[this.slot(node)] = false;
  }

  /** Entries waiting, all nodes together. */
  get waiting(): number {
    return this.queues.reduce((sum, q) => sum + q.length, 0);
  }

  /** Emit every entry that is due at `nowMs`, in order; the time the next one falls due, else undefined. */
  drain(nowMs: number): number | undefined {
    for (;;) {
      // The earliest head (on a tie the earlier node), as merge.ts earliestHead, without copying queues.
      let i = -1;
      for (let k = 0; k < this.queues.length; k += 1) {
        const h = this.queues[k]?.[0];
        if (h !== undefined && (i === -1 || h.t.hostUs < (this.queues[i]?.[0] as Waiting).t.hostUs)) i = k;
      }
      if (i === -1) return undefined;
      const head = this.queues[i]?.[0] as Waiting;
      const everyLiveHasOne = this.queues.every((q, k) => q.length > 0 || !this.live[k]);
      if (!everyLiveHasOne && head.arrivedMs + this.holdMs > nowMs) return head.arrivedMs + this.holdMs;
      this.queues[i]?.shift();
      this.emit(head.t);
    }
  }

  /** Emit everything still waiting, in order (all streams ended, or the follow stops). */
  flush(): void {
    this.live.fill(false);
    this.drain(Number.POSITIVE_INFINITY);
  }
}

/**
 * The merger on real time: drains on every delivery and on a timer for the next due entry. `close()`
 * stops the timer and prints what is left.
 */
export class LiveMerge {
  private readonly merger: HoldBackMerger;
  private timer: NodeJS.Timeout | undefined;

  constructor(nodes: readonly string[], emit: (t: TimelineEntry) => void, holdMs = HOLD_BACK_MS) {
    this.merger = new HoldBackMerger(nodes, holdMs, emit);
  }

  push(node: string, t: TimelineEntry): void {
    this.merger.push(node, t, Date.now());
    this.pump();
  }

  end(node: string): void {
    this.merger.end(node);
    this.pump();
  }

  close(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.merger.flush();
  }

  private pump(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const due = this.merger.drain(Date.now());
    if (due !== undefined) this.timer = setTimeout(() => this.pump(), Math.max(0, due - Date.now()));
  }
}
