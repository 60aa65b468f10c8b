/** Snapshot names, records and the shape check (records.ts), in a private state folder. */
import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkSnapshotName, readRecord, recordNames, removeRecord, shapeChange, writeRecord, type SnapshotRecord } from './records.js';

const record: SnapshotRecord = {
  version: 1, name: 'stacked', provider: 'libvirt', method: 'external+restore', savedAt: '2026-12-01T02:00:00.000Z',
  nodes: [{ name: 'controller', role: 'controller' }, { name: 'compute1', role: 'compute' }], stacked: true, pausedMs: 1200,
};

describe('snapshot records', () => {
  it('accepts names that fit in volume and file names, and refuses others with USAGE_INVALID', () => {
    for (const ok of ['stacked', 'before-migration', 'v1.2_x']) expect(checkSnapshotName(ok)).toBe(ok);
    for (const bad of ['', '-x', 'a/b', 'a b', '../x', 'x'.repeat(41), "it's"]) {
      expect(() => checkSnapshotName(bad)).toThrow(expect.objectContaining({ code: 'USAGE_INVALID' }));
    }
  });

  it('are written 0600 in a 0700 folder, read back, listed and removed', async () => {
    const state = mkdtempSync(join(tmpdir(), 'dc-rec-'));
    expect(await readRecord(state, 'stacked')).toBeUndefined();
    await writeRecord(state, record);
    expect(statSync(join(state, 'snapshots', 'stacked.json')).mode & 0o777).toBe(0o600);
    expect(statSync(join(state, 'snapshots')).mode & 0o777).toBe(0o700);
    expect(await readRecord(state, 'stacked')).toEqual(record);
    expect(await recordNames(state)).toEqual(['stacked']);
    await removeRecord(state, 'stacked');
    expect(await recordNames(state)).toEqual([]);
  });

  it('says which nodes were added or removed since the snapshot', () => {
    expect(shapeChange(record, [{ name: 'controller' }, { name: 'compute1' }])).toBeUndefined();
    expect(shapeChange(record, [{ name: 'controller' }, { name: 'compute1' }, { name: 'compute2' }])).toEqual(['nodes added since it was taken: compute2']);
    expect(shapeChange(record, [{ name: 'controller' }])).toEqual(['nodes removed since it was taken: compute1']);
  });
});
