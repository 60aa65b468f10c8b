/**
 * Journal entries read as journalctl prints them: entries written in export format, made into a
 * journal file by the real systemd-journal-remote and printed by the real `journalctl -o json`, as a
 * node's or a gate build's journal is read.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { WITHOUT_JOURNAL_REMOTE, journalJson, writeJournal } from '../../test/support/journal-export.js';
import { levelOf, parseJournalLine, requestIdsIn, shortUnit } from './journal.js';

const dir = mkdtempSync(join(tmpdir(), 'dc-journal-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const GLOBAL = 'req-11111111-2222-3333-4444-555555555555';
const LOCAL = 'req-aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee';

describe.skipIf(WITHOUT_JOURNAL_REMOTE)('journal entries from journalctl -o json', () => {
  const file = join(dir, 'n.journal');
  writeJournal(file, [
    {
      __REALTIME_TIMESTAMP: '1764568800123456',
      __MONOTONIC_TIMESTAMP: '5000000',
      _BOOT_ID: '0123456789abcdef0123456789abcdef',
      // DevStack's colour log format: ANSI escapes make journalctl print MESSAGE as bytes.
      MESSAGE: Buffer.from(`\u001b[00;36mINFO nova.api.openstack [\u001b[01;36m${GLOBAL} ${LOCAL} admin admin\u001b[00;36m] GET /v2.1/servers\u001b[00m`),
      REQUEST_ID: LOCAL,
      PRIORITY: '6',
      _SYSTEMD_UNIT: 'devstack@n-api.service',
      SYSLOG_IDENTIFIER: 'nova-api',
    },
    { __REALTIME_TIMESTAMP: '1764568801000000', __MONOTONIC_TIMESTAMP: '5900000', _BOOT_ID: '0123456789abcdef0123456789abcdef', MESSAGE: 'Started sshd', PRIORITY: '3', SYSLOG_IDENTIFIER: 'sshd' },
  ]);

  it('reads unit, time, level, the message without colour and the REQUEST_ID field', () => {
    const [api, ssh] = journalJson(file).map((l) => parseJournalLine(l, 'controller'));
    expect(api).toMatchObject({ node: 'controller', unit: 'n-api', realtimeUs: 1764568800123456n, priority: 6, requestId: LOCAL });
    expect(api?.message).toBe(`INFO nova.api.openstack [${GLOBAL} ${LOCAL} admin admin] GET /v2.1/servers`);
    expect(api?.cursor).toMatch(/^s=/);
    expect(requestIdsIn(api?.message ?? '')).toEqual([GLOBAL, LOCAL]);
    expect(ssh).toMatchObject({ unit: 'sshd', priority: 3 });
    expect(ssh?.requestId).toBeUndefined();
    expect(levelOf(ssh as { priority: number })).toBe('ERROR');
  });

  it('finds an entry by its REQUEST_ID field, and by the global id only inside its message (journalctl -g)', () => {
    expect(journalJson(file, `REQUEST_ID=${LOCAL}`)).toHaveLength(1);
    expect(journalJson(file, `REQUEST_ID=${GLOBAL}`)).toHaveLength(0);
    expect(journalJson(file, '-g', GLOBAL)).toHaveLength(1);
  });
});

describe('parseJournalLine', () => {
  it('takes the last of a repeated field and skips blank lines; refuses a line journalctl would not write', () => {
    const entry = parseJournalLine(JSON.stringify({ __CURSOR: 'c', __REALTIME_TIMESTAMP: '1', MESSAGE: ['one', 'two'], UNIT: 'devstack@q-svc.service' }), 'compute1');
    expect(entry).toMatchObject({ message: 'two', unit: 'q-svc', priority: 6 });
    expect(parseJournalLine('  ', 'x')).toBeUndefined();
    expect(() => parseJournalLine('{"MESSAGE":"x"}', 'x')).toThrow(TypeError);
    expect(() => parseJournalLine('not json', 'x')).toThrow();
  });

  it('names units as a user types them', () => {
    expect(shortUnit('devstack@n-cpu.service')).toBe('n-cpu');
    expect(shortUnit('ssh.service')).toBe('ssh');
  });
});
