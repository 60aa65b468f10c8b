/**
 * The hold-back merge of live streams, fed entries printed by the real journalctl (journal files made
 * with systemd-journal-remote) and driven by an explicit clock: what is printed at once, what waits
 * for the other node, and what a silent or ended node does to the others.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { WITHOUT_JOURNAL_REMOTE, journalJson, writeJournal } from '../../test/support/journal-export.js';
import { HOLD_BACK_MS, HoldBackMerger, LiveMerge } from './follow.js';
import { parseJournalLine } from './journal.js';
import { onHostClock, type TimelineEntry } from './merge.js';

const dir = mkdtempSync(join(tmpdir(), 'dc-follow-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const BASE = 1764568800_000000n;
const BOOT = 'fedcba9876543210fedcba9876543210';

function journal(node: string, lines: [number, string][]): Map<string, TimelineEntry> {
  const file = join(dir, `${node}.journal`);
  writeJournal(
    file,
    lines.map(([atMs, message], i) => ({ __REALTIME_TIMESTAMP: String(BASE + BigInt(atMs) * 1000n), __MONOTONIC_TIMESTAMP: String((i + 1) * 1000), _BOOT_ID: BOOT, MESSAGE: message, _SYSTEMD_UNIT: 'devstack@n-api.service' })),
  );
  const out = new Map<string, TimelineEntry>();
  for (const l of journalJson(file)) {
    const e = parseJournalLine(l, node);
    if (e) out.set(e.message, onHostClock(e, 0));
  }
  return out;
}

describe.skipIf(WITHOUT_JOURNAL_REMOTE)('hold-back merge of live streams (real journalctl entries)', () => {
  const a = journal('controller', [[0, 'a1'], [200, 'a3'], [400, 'a5']]);
  const b = journal('compute1', [[100, 'b2'], [300, 'b4']]);
  const get = (m: Map<string, TimelineEntry>, k: string) => m.get(k) as TimelineEntry;

  function merger(hold = 500) {
    const out: string[] = [];
    const m = new HoldBackMerger(['controller', 'compute1'], hold, (t) => out.push(t.entry.message));
    return { m, out };
  }

  it('holds a lone entry for the window, then prints it', () => {
    const { m, out } = merger();
    m.push('controller', get(a, 'a1'), 1000);
    expect(m.drain(1000)).toBe(1500);
    expect(out).toEqual([]);
    expect(m.drain(1499)).toBe(1500);
    expect(m.drain(1500)).toBeUndefined();
    expect(out).toEqual(['a1']);
  });

  it('an earlier entry of the other node arriving within the window still comes first', () => {
    const { m, out } = merger();
    m.push('controller', get(a, 'a3'), 1000);
    m.drain(1000);
    // compute1's line was written before a3 but reached us 300 ms later.
    m.push('compute1', get(b, 'b2'), 1300);
    m.drain(1300);
    expect(out).toEqual(['b2']);
    m.push('compute1', get(b, 'b4'), 1350);
    m.drain(1350);
    expect(out).toEqual(['b2', 'a3']);
    m.drain(1850);
    expect(out).toEqual(['b2', 'a3', 'b4']);
  });

  it('prints at once, in order, while every node has something waiting', () => {
    const { m, out } = merger();
    m.push('controller', get(a, 'a1'), 0);
    m.push('controller', get(a, 'a3'), 0);
    m.push('compute1', get(b, 'b2'), 0);
    expect(m.drain(0)).toBe(500);
    // a1 < b2 < a3: a1 and b2 go; a3 waits, compute1 has nothing after b2 yet.
    expect(out).toEqual(['a1', 'b2']);
    expect(m.waiting).toBe(1);
  });

  it('an ended node no longer holds the others back; what it sent is still merged', () => {
    const { m, out } = merger();
    m.push('compute1', get(b, 'b2'), 0);
    m.end('compute1');
    m.push('controller', get(a, 'a1'), 0);
    m.push('controller', get(a, 'a3'), 0);
    m.drain(0);
    expect(out).toEqual(['a1', 'b2', 'a3']);
  });

  it('a line later than the window is printed when it comes, not held forever', () => {
    const { m, out } = merger();
    m.push('controller', get(a, 'a3'), 0);
    m.drain(500);
    m.push('compute1', get(b, 'b2'), 900);
    m.drain(1400);
    expect(out).toEqual(['a3', 'b2']);
  });

  it('LiveMerge on real time: the lone entry appears after HOLD_BACK_MS, close() flushes the rest', async () => {
    const out: string[] = [];
    const live = new LiveMerge(['controller', 'compute1'], (t) => out.push(t.entry.message));
    const started = Date.now();
    live.push('controller', get(a, 'a1'));
    while (out.length === 0 && Date.now() - started < HOLD_BACK_MS + 2000) await new Promise((r) => setTimeout(r, 20));
    const waited = Date.now() - started;
    expect(out).toEqual(['a1']);
    expect(waited).toBeGreaterThanOrEqual(HOLD_BACK_MS - 5);
    live.push('controller', get(a, 'a5'));
    live.push('compute1', get(b, 'b4'));
    live.close();
    expect(out).toEqual(['a1', 'b4', 'a5']);
  });
});
