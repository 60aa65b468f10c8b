/**
 * What `logs` asks journalctl for, run by the real journalctl on a journal file made with the real
 * systemd-journal-remote: which units the default and --unit pick, -n and --since, and that following
 * after the backlog's last cursor gives exactly the entries after it (none missed, none twice).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { WITHOUT_JOURNAL_REMOTE, journalJson, writeJournal, type ExportEntry } from '../../test/support/journal-export.js';
import { backlogArgs, backlogCommand, followArgs, followCommand, unitMatches } from './logs.js';

const dir = mkdtempSync(join(tmpdir(), 'dc-logs-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const BASE = 1764568800_000000n;
const BOOT = '00112233445566778899aabbccddeeff';

function at(i: number, fields: ExportEntry): ExportEntry {
  return { __REALTIME_TIMESTAMP: String(BASE + BigInt(i) * 1_000_000n), __MONOTONIC_TIMESTAMP: String((i + 1) * 1000), _BOOT_ID: BOOT, PRIORITY: '6', ...fields };
}

const DEVSTACK = { _SYSTEMD_SLICE: 'system-devstack.slice' };

describe.skipIf(WITHOUT_JOURNAL_REMOTE)("journalctl's arguments for logs (real journalctl)", () => {
  const file = join(dir, 'node.journal');
  writeJournal(file, [
    at(0, { ...DEVSTACK, _SYSTEMD_UNIT: 'devstack@n-api.service', MESSAGE: 'api 0' }),
    at(1, { _SYSTEMD_SLICE: 'system.slice', _SYSTEMD_UNIT: 'sshd.service', MESSAGE: 'sshd 1' }),
    at(2, { ...DEVSTACK, _SYSTEMD_UNIT: 'devstack@n-cpu.service', MESSAGE: 'cpu 2' }),
    // A unit started after journalctl began: the slice match takes it, a -u glob would not.
    at(3, { ...DEVSTACK, _SYSTEMD_UNIT: 'devstack@trace-x.service', MESSAGE: 'new 3' }),
    at(4, { ...DEVSTACK, _SYSTEMD_UNIT: 'devstack@n-api.service', MESSAGE: 'api 4' }),
    at(5, { _SYSTEMD_SLICE: 'system.slice', _SYSTEMD_UNIT: 'n-api.service', MESSAGE: 'not devstack 5' }),
  ]);
  const messages = (args: string[]) => journalJson(file, ...args.filter((a) => a !== '-o' && a !== 'json' && a !== '--all')).map((l) => (JSON.parse(l) as { MESSAGE: string }).MESSAGE);

  it("by default every devstack@ unit and nothing else, the last 20 per node", () => {
    expect(messages(backlogArgs({ nodes: [], units: [], follow: false }))).toEqual(['api 0', 'cpu 2', 'new 3', 'api 4']);
    expect(messages(backlogArgs({ nodes: [], units: [], follow: false, lines: 2 }))).toEqual(['new 3', 'api 4']);
  });

  it('--unit n-api is devstack@n-api.service (and n-api.service if a unit of that name ran); sshd is sshd.service', () => {
    expect(messages(backlogArgs({ nodes: [], units: ['n-api'], follow: false }))).toEqual(['api 0', 'api 4', 'not devstack 5']);
    expect(messages(backlogArgs({ nodes: [], units: ['sshd'], follow: false }))).toEqual(['sshd 1']);
    expect(messages(backlogArgs({ nodes: [], units: ['devstack@n-cpu.service', 'sshd'], follow: false }))).toEqual(['sshd 1', 'cpu 2']);
    expect(unitMatches(['a.b'])).toEqual(['-u', 'a.b']);
  });

  it('--since passes through to journalctl, with every entry since then unless -n', () => {
    const since = new Date(Number((BASE + 2_000_000n) / 1000n)).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
    expect(messages(backlogArgs({ nodes: [], units: [], follow: false, since }))).toEqual(['cpu 2', 'new 3', 'api 4']);
    expect(backlogCommand({ nodes: [], units: [], follow: false, since: "it's -1h" })).toContain(`'--since=it'\\''s -1h'`);
  });

  it('follows from right after the cursor it is given, nothing before it, nothing twice', async () => {
    const [, , second] = journalJson(file);
    const cursor = (JSON.parse(second as string) as { __CURSOR: string }).__CURSOR;
    const child = spawn('journalctl', [`--file=${file}`, ...followArgs({ nodes: [], units: [], follow: true }, cursor)]);
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const deadline = Date.now() + 10_000;
    while (out.split('\n').length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    child.kill('SIGTERM');
    const got = out.split('\n').filter((l) => l !== '').map((l) => (JSON.parse(l) as { MESSAGE: string }).MESSAGE);
    expect(got).toEqual(['new 3', 'api 4']);
    expect(followCommand({ nodes: [], units: [], follow: true }, undefined)).toBe('exec sudo -n journalctl -q --no-pager -o json --all --follow -n 0 _SYSTEMD_SLICE=system-devstack.slice');
  });
});
