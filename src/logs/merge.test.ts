/**
 * The merge of several nodes' journals, on entries printed by the real journalctl: two nodes' journal
 * files made with the real systemd-journal-remote (test/support/journal-export.ts), one node's clock
 * 5 s ahead of the host's; read back with `journalctl -o json --all` as `logs` reads a node.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { WITHOUT_JOURNAL_REMOTE, journalJson, writeJournal, type ExportEntry } from '../../test/support/journal-export.js';
import { parseJournalLine } from './journal.js';
import { clockTime, formatLine, jsonLine, mergeTimelines, onHostClock, type TimelineEntry } from './merge.js';

const dir = mkdtempSync(join(tmpdir(), 'dc-merge-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const BASE = 1764568800_000000n; // µs, host clock
const BOOT = '0123456789abcdef0123456789abcdef';

/** An entry written at host time BASE + atMs on a node whose clock is `aheadS` seconds ahead. */
function entry(atMs: number, aheadS: number, unit: string, message: string, monoMs: number): ExportEntry {
  return {
    __REALTIME_TIMESTAMP: String(BASE + BigInt(atMs) * 1000n + BigInt(aheadS * 1e6)),
    __MONOTONIC_TIMESTAMP: String(monoMs * 1000),
    _BOOT_ID: BOOT,
    MESSAGE: message,
    PRIORITY: '6',
    _SYSTEMD_UNIT: `devstack@${unit}.service`,
  };
}

/** A node's journal as `logs` reads it: journalctl's JSON lines, parsed, on the host's clock. */
function read(file: string, node: string, offsetSeconds: number): TimelineEntry[] {
  return journalJson(file).map((l) => onHostClock(parseJournalLine(l, node) as NonNullable<ReturnType<typeof parseJournalLine>>, offsetSeconds));
}

describe.skipIf(WITHOUT_JOURNAL_REMOTE)('merging nodes by host time (real journalctl output)', () => {
  // The true order across nodes: 1 2 3 4 5 6, alternating; compute1's clock runs 5 s ahead.
  const controller = join(dir, 'controller.journal');
  const compute1 = join(dir, 'compute1.journal');
  writeJournal(controller, [entry(0, 0, 'n-api', 'step 1', 10), entry(200, 0, 'n-cond', 'step 3', 11), entry(410, 0, 'n-api', 'step 5', 12)]);
  writeJournal(compute1, [entry(100, 5, 'n-cpu', 'step 2', 20), entry(300, 5, 'n-cpu', 'step 4', 21), entry(500, 5, 'q-agt', 'step 6', 22)]);

  it('puts the entries of both nodes in their true order once the offset is subtracted', () => {
    const merged = mergeTimelines([read(controller, 'controller', 0), read(compute1, 'compute1', 5)]);
    expect(merged.map((t) => t.entry.message)).toEqual(['step 1', 'step 2', 'step 3', 'step 4', 'step 5', 'step 6']);
    expect(merged.map((t) => t.entry.node)).toEqual(['controller', 'compute1', 'controller', 'compute1', 'controller', 'compute1']);
    expect(merged[1]?.hostUs).toBe(BASE + 100_000n);
  });

  it("without the offset the ahead node's entries all come last (what the correction is for)", () => {
    const merged = mergeTimelines([read(controller, 'controller', 0), read(compute1, 'compute1', 0)]);
    expect(merged.map((t) => t.entry.message)).toEqual(['step 1', 'step 3', 'step 5', 'step 2', 'step 4', 'step 6']);
  });

  it("keeps each node's own order, and takes the earlier node on equal times", () => {
    const tie = join(dir, 'tie.journal');
    writeJournal(tie, [entry(0, 0, 'n-sch', 'tie b', 30)]);
    const merged = mergeTimelines([read(controller, 'controller', 0), read(tie, 'compute2', 0)]);
    expect(merged.slice(0, 2).map((t) => t.entry.message)).toEqual(['step 1', 'tie b']);
  });

  it('prints NODE UNIT HH:MM:SS.mmm LEVEL message on the host clock, and one JSON object per line', () => {
    const [first] = read(compute1, 'compute1', 5);
    const t = first as TimelineEntry;
    const d = new Date(Number((BASE + 100_000n) / 1000n));
    const hms = `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}:${String(d.getSeconds()).padStart(2, '0')}.100`;
    expect(clockTime(t.hostUs)).toBe(hms);
    expect(formatLine(t, { node: 10, unit: 6 })).toBe(`compute1   n-cpu  ${hms} INFO    step 2`);
    const json = JSON.parse(jsonLine(t)) as Record<string, unknown>;
    expect(json).toMatchObject({ node: 'compute1', unit: 'n-cpu', time: d.toISOString(), offsetSeconds: 5, level: 'INFO', message: 'step 2' });
    expect(json.nodeTimeUs).toBe(String(BASE + 5_100_000n));
    expect(String(json.cursor)).toMatch(/^s=/);
  });
});
