/**
 * A collected logs folder (or a gate build's) read as `trace --from` reads it: each
 * NODE/logs/devstack.journal.gz (export format, gzip) made into a journal file by the real
 * systemd-journal-remote in a temporary folder that close() removes, queried by the real journalctl;
 * the folder's devcluster-clocks.json; and what a user is told when the folder or the tool is missing.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { exportFormat, WITHOUT_JOURNAL_REMOTE } from '../../test/support/journal-export.js';
import { CLOCKS_FILE, NODE_JOURNAL, openFolderJournals, readFolderClocks } from './journal-source.js';
import { traceQueries } from './trace.js';

const root = mkdtempSync(join(tmpdir(), 'dc-journal-source-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const ID = 'req-3c3c3c3c-0000-4000-8000-000000000001';
const signal = new AbortController().signal;

function entry(at: number, message: string, requestId?: string) {
  return {
    __REALTIME_TIMESTAMP: String(1764568800_000_000 + at),
    __MONOTONIC_TIMESTAMP: String(1_000_000 + at),
    _BOOT_ID: 'fedcba9876543210fedcba9876543210',
    MESSAGE: message,
    _SYSTEMD_UNIT: 'devstack@n-cpu.service',
    ...(requestId === undefined ? {} : { REQUEST_ID: requestId }),
  };
}

function folder(name: string, nodes: Record<string, Buffer>, clocks?: string): string {
  const dir = join(root, name);
  for (const [node, bytes] of Object.entries(nodes)) {
    const file = join(dir, node, NODE_JOURNAL);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, bytes);
  }
  mkdirSync(dir, { recursive: true });
  if (clocks !== undefined) writeFileSync(join(dir, CLOCKS_FILE), clocks);
  return dir;
}

describe.skipIf(WITHOUT_JOURNAL_REMOTE)('a collected folder\'s journals', () => {
  it('every node with logs/devstack.journal.gz becomes a source journalctl answers; the temporary files go on close()', async () => {
    const dir = folder(
      'collected',
      {
        controller: gzipSync(exportFormat([entry(0, `INFO [- ${ID}] GET /`, ID), entry(10, 'unrelated')])),
        // Saved decompressed under the .gz name (a browser undoing the server's Content-Encoding).
        compute1: exportFormat([entry(5, `INFO [${ID} -] claim`)]),
      },
      JSON.stringify({ measuredAt: '2026-12-01T06:00:00.000Z', nodes: { controller: { offsetSeconds: 0.01 }, compute1: { offsetSeconds: -4.5 } } }),
    );
    mkdirSync(join(dir, 'zuul-info'));
    const journals = await openFolderJournals(dir, signal);
    try {
      expect(journals.sources.map((s) => s.node)).toEqual(['compute1', 'controller']);
      const [fieldQuery, grep] = traceQueries([ID]);
      const controller = journals.sources[1];
      expect((await controller?.read([fieldQuery as string[]], signal))?.map((e) => e.message)).toEqual([`INFO [- ${ID}] GET /`]);
      expect((await journals.sources[0]?.read([fieldQuery as string[], grep as string[]], signal))?.map((e) => [e.node, e.unit, e.message])).toEqual([['compute1', 'n-cpu', `INFO [${ID} -] claim`]]);
      expect(journals.clocks?.measuredAt).toBe('2026-12-01T06:00:00.000Z');
      expect([...(journals.clocks?.offsets ?? [])]).toEqual([['controller', 0.01], ['compute1', -4.5]]);
    } finally {
      await journals.close();
    }
    // The journal files were in the temporary folder close() removed.
    await expect(journals.sources[0]?.read([['-n', '1']], signal)).rejects.toMatchObject({ code: 'JOURNAL_QUERY_FAILED' });
  });

  it('a folder without clocks gives none; a damaged journal export is an error naming the file', async () => {
    const dir = folder('gate', { controller: gzipSync(exportFormat([entry(0, 'x')])) });
    const journals = await openFolderJournals(dir, signal);
    expect(journals.clocks).toBeUndefined();
    await journals.close();
    const broken = folder('broken', { controller: Buffer.concat([gzipSync(exportFormat([entry(0, 'x')])).subarray(0, 12)]) });
    await expect(openFolderJournals(broken, signal)).rejects.toMatchObject({ code: 'USAGE_INVALID', message: expect.stringContaining(join('controller', NODE_JOURNAL)) as unknown as string });
  });
});

describe('what --from refuses', () => {
  it('a folder with no NODE/logs/devstack.journal.gz, and a missing folder', async () => {
    const empty = folder('empty', {});
    mkdirSync(join(empty, 'controller', 'logs'), { recursive: true });
    await expect(openFolderJournals(empty, signal)).rejects.toMatchObject({ code: 'USAGE_INVALID', message: expect.stringContaining('no NODE/logs/devstack.journal.gz') as unknown as string });
    await expect(openFolderJournals(join(root, 'not-there'), signal)).rejects.toMatchObject({ code: 'USAGE_INVALID', message: expect.stringContaining('ENOENT') as unknown as string });
  });

  it('a host without systemd-journal-remote: HOST_TOOL_MISSING naming the apt package', async () => {
    const dir = folder('no-tool', { controller: gzipSync(exportFormat([entry(0, 'x')])) });
    const error = await openFolderJournals(dir, signal, [join(root, 'no', 'systemd-journal-remote')]).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'HOST_TOOL_MISSING', hint: 'install it: sudo apt-get install systemd-journal-remote' });
  });

  it('a devcluster-clocks.json that does not hold clocks', async () => {
    const dir = folder('bad-clocks', {}, JSON.stringify({ nodes: { controller: { offsetSeconds: 'soon' } } }));
    await expect(readFolderClocks(dir)).rejects.toMatchObject({ code: 'USAGE_INVALID', message: expect.stringContaining('controller') as unknown as string });
    writeFileSync(join(dir, CLOCKS_FILE), '{');
    await expect(readFolderClocks(dir)).rejects.toMatchObject({ message: expect.stringContaining('not JSON') as unknown as string });
    expect(existsSync(join(dir, CLOCKS_FILE))).toBe(true);
  });
});
