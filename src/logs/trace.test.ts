/**
 * Following one request through three nodes' journals: entries as oslo.log's OSJournalHandler writes
 * them (MESSAGE in DevStack's colour context format with "[global local user project]", REQUEST_ID the
 * local id), written in export format, made into journal files by the real systemd-journal-remote and
 * queried by the real journalctl (fileJournalSource), as `trace --from` reads a collected folder.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { WITHOUT_JOURNAL_REMOTE, writeJournal, type ExportEntry } from '../../test/support/journal-export.js';
import { fileJournalSource } from './journal-source.js';
import { escapePcre, traceQueries, traceRequest, type TraceResult } from './trace.js';

const dir = mkdtempSync(join(tmpdir(), 'dc-trace-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const G = 'req-9a0b1c2d-0000-4000-8000-000000000001';
const L1 = 'req-9a0b1c2d-0000-4000-8000-0000000000a1';
const L3 = 'req-9a0b1c2d-0000-4000-8000-0000000000a3';
const L4 = 'req-9a0b1c2d-0000-4000-8000-0000000000a4';
const GX = 'req-77777777-0000-4000-8000-000000000001';
const LX = 'req-77777777-0000-4000-8000-0000000000a1';

/** compute1's clock is this far ahead of the host's. */
const SKEW_S = 5;
const T0 = 1764568800_000_000n;
const BOOT = '0123456789abcdef0123456789abcdef';

/** MESSAGE as DevStack's logging_context_format_string renders it, colours included. */
function oslo(level: string, logger: string, global: string, local: string, text: string): Buffer {
  return Buffer.from(`\u001b[00;36m${level} ${logger} [\u001b[01;36m${global} ${local} \u001b[00;36madmin admin\u001b[00;36m] \u001b[01;35m\u001b[00;36m${text}\u001b[00m`);
}

interface Spec {
  node: 'controller' | 'compute1' | 'compute2';
  /** Host-clock time, ms after T0. */
  at: number;
  unit: string;
  message: string | Buffer;
  requestId?: string;
  priority?: number;
}

/** The request's entries in their true order (tag = the words after "]"), and unrelated ones. */
const RELATED: Spec[] = [
  { node: 'controller', at: 0, unit: 'n-api', requestId: L1, message: oslo('INFO', 'nova.api.openstack.requestlog', G, L1, 'POST /compute/v2.1/servers') },
  { node: 'controller', at: 100, unit: 'placement-api', requestId: L3, message: oslo('INFO', 'placement.requestlog', G, L3, 'GET /placement/allocation_candidates') },
  { node: 'compute1', at: 200, unit: 'n-cpu', requestId: L1, message: oslo('INFO', 'nova.compute.claims', G, L1, 'Claim successful on node compute1') },
  { node: 'compute2', at: 300, unit: 'q-agt', requestId: L4, message: oslo('INFO', 'neutron.agent', G, L4, 'Port bound') },
  // Reached only through the local id L4 (no global id in its message).
  { node: 'compute2', at: 400, unit: 'q-agt', requestId: L4, message: oslo('INFO', 'neutron.agent', 'None', L4, 'Device up') },
  { node: 'compute1', at: 500, unit: 'n-cpu', requestId: L1, priority: 3, message: oslo('ERROR', 'nova.compute.manager', G, L1, 'Instance failed to spawn') },
  // Reached only through the REQUEST_ID field (no id in its message).
  { node: 'controller', at: 600, unit: 'n-api', requestId: L1, message: 'INFO nova.api.openstack.requestlog [-] POST /compute/v2.1/servers status: 202' },
];
const UNRELATED: Spec[] = [
  { node: 'controller', at: 50, unit: 'n-api', requestId: LX, message: oslo('INFO', 'nova.api.openstack.requestlog', GX, LX, 'GET /compute/v2.1/servers/detail') },
  { node: 'compute1', at: 250, unit: 'n-cpu', requestId: LX, message: oslo('INFO', 'nova.compute.manager', GX, LX, 'Other request') },
  { node: 'compute2', at: 350, unit: 'q-agt', message: 'INFO neutron.agent [-] periodic sync' },
  { node: 'compute2', at: 450, unit: 'sshd', message: 'Accepted publickey for stack' },
];

function tag(message: string): string {
  return message.slice(message.lastIndexOf(']') + 2);
}
// eslint-disable-next-line no-control-regex -- DevStack's colour escapes
const TAGS = RELATED.map((s) => tag(s.message.toString().replace(/\u001b\[[0-9;]*m/g, '')));

function exportEntry(s: Spec): ExportEntry {
  const skew = s.node === 'compute1' ? BigInt(SKEW_S * 1e6) : 0n;
  return {
    __REALTIME_TIMESTAMP: String(T0 + BigInt(s.at * 1000) + skew),
    __MONOTONIC_TIMESTAMP: String(1_000_000 + s.at * 1000),
    _BOOT_ID: BOOT,
    MESSAGE: s.message,
    PRIORITY: String(s.priority ?? 6),
    _SYSTEMD_UNIT: s.unit === 'sshd' ? 'ssh.service' : `devstack@${s.unit}.service`,
    SYSLOG_IDENTIFIER: s.unit,
    ...(s.requestId === undefined ? {} : { REQUEST_ID: s.requestId, CODE_FILE: '/opt/stack/nova/nova/x.py', CODE_LINE: '1', LOGGER_NAME: 'nova' }),
  };
}

const NODES = ['controller', 'compute1', 'compute2'] as const;
const OFFSETS = new Map([['compute1', SKEW_S]]);

function sources(missing: string[] = []) {
  return NODES.map((node) => fileJournalSource(node, missing.includes(node) ? join(dir, 'nowhere.journal') : join(dir, `${node}.journal`)));
}

function tags(result: TraceResult): string[] {
  return result.entries.map((e) => tag(e.entry.message));
}

const signal = new AbortController().signal;

describe.skipIf(WITHOUT_JOURNAL_REMOTE)('traceRequest on real journal files', () => {
  for (const node of NODES) writeJournal(join(dir, `${node}.journal`), [...RELATED, ...UNRELATED].filter((s) => s.node === node).sort((a, b) => a.at - b.at).map(exportEntry));

  it('from the global id: every related entry on the three nodes, none other, in true order once the skewed clock is corrected', async () => {
    const result = await traceRequest(G, sources(), OFFSETS, { signal });
    expect(tags(result)).toEqual(TAGS);
    expect(result.ids).toEqual([G, L1, L3, L4]);
    expect(result.rounds).toBe(2);
    expect(result.cut).toBeUndefined();
    expect(result.failed).toEqual([]);
    const claim = result.entries[2];
    expect(claim?.entry).toMatchObject({ node: 'compute1', unit: 'n-cpu', requestId: L1 });
    expect(claim?.offsetSeconds).toBe(SKEW_S);
    expect(claim?.hostUs).toBe(T0 + 200_000n);
    expect(claim?.ids).toEqual([L1, G]);
    expect(result.entries[5]?.entry.priority).toBe(3);
  });

  it('without the offsets the skewed node sorts late: the correction is what puts it in place', async () => {
    const result = await traceRequest(G, sources(), new Map(), { signal });
    expect(tags(result)).toEqual([...TAGS.filter((_, i) => RELATED[i]?.node !== 'compute1'), ...TAGS.filter((_, i) => RELATED[i]?.node === 'compute1')]);
  });

  it('from a local id on one node: through the global id to the other nodes and their local ids', async () => {
    const result = await traceRequest(L4, sources(), OFFSETS, { signal });
    expect(tags(result)).toEqual(TAGS);
    expect(result.ids.slice(0, 2)).toEqual([L4, G]);
    expect(result.ids.sort()).toEqual([G, L1, L3, L4].sort());
  });

  it('stops at the budget and says which ids it did not follow', async () => {
    const oneRound = await traceRequest(G, sources(), OFFSETS, { signal, maxRounds: 1 });
    expect(tags(oneRound)).toEqual(TAGS.filter((t) => t !== 'Device up' && !t.endsWith('status: 202')));
    expect(oneRound.cut).toMatch(/after 1 rounds.*3 request ids not followed/);
    for (const id of [L1, L3, L4]) expect(oneRound.cut).toContain(id);

    const twoIds = await traceRequest(G, sources(), OFFSETS, { signal, maxIds: 2 });
    expect(twoIds.ids).toEqual([G, L1]);
    expect(twoIds.cut).toContain(`2 not followed (${L3}, ${L4})`);
    expect(tags(twoIds)).toContain('POST /compute/v2.1/servers status: 202');
    expect(tags(twoIds)).not.toContain('Device up');
  });

  it('a node whose journal cannot be read is named with journalctl\'s words; the others are traced', async () => {
    const result = await traceRequest(G, sources(['compute2']), OFFSETS, { signal });
    expect(result.failed).toEqual([{ node: 'compute2', reason: expect.stringMatching(/journalctl on compute2 failed \(exit 1\): .*No such file/) as unknown as string }]);
    expect(tags(result)).toEqual(TAGS.filter((_, i) => RELATED[i]?.node !== 'compute2'));
    await expect(traceRequest(G, sources([...NODES]), OFFSETS, { signal })).rejects.toMatchObject({ code: 'JOURNAL_QUERY_FAILED' });
  });

  it('--since goes to journalctl as given: a window after the entries holds none; a bad one is the user\'s error', async () => {
    const after = `@${Number(T0 / 1_000_000n) + 60}`;
    const before = `@${Number(T0 / 1_000_000n) - 60}`;
    expect((await traceRequest(G, sources(), OFFSETS, { signal, since: after })).entries).toEqual([]);
    expect(tags(await traceRequest(G, sources(), OFFSETS, { signal, since: before }))).toEqual(TAGS);
    await expect(traceRequest(G, sources(), OFFSETS, { signal, since: 'not a time' })).rejects.toMatchObject({ code: 'USAGE_INVALID', message: expect.stringContaining('--since') as unknown as string });
  });
});

describe('trace queries', () => {
  it('asks for several ids in one REQUEST_ID match list and one PCRE, the user\'s text escaped', () => {
    expect(traceQueries([L1, L3], '10 min ago')).toEqual([
      ['--since=10 min ago', `REQUEST_ID=${L1}`, `REQUEST_ID=${L3}`],
      ['--since=10 min ago', '-g', `${escapePcre(L1)}|${escapePcre(L3)}`],
    ]);
    expect(escapePcre('a.b(c)|d')).toBe('a\\.b\\(c\\)\\|d');
    expect(new RegExp(`^${escapePcre('req-1.2+[x]')}$`).test('req-1.2+[x]')).toBe(true);
  });

  it('refuses an id with spaces before asking any node', async () => {
    await expect(traceRequest('req-1 req-2', [], new Map(), { signal })).rejects.toMatchObject({ code: 'USAGE_INVALID' });
  });
});
