/**
 * Stale devcluster bridges, against libvirt's built-in test driver (test:///default: one network,
 * `default`, on bridge virbr0) and a /sys/class/net laid out in a temporary folder.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkStaleBridges } from './stale-bridges.js';

const HAS_VIRSH = (process.env.PATH ?? '').split(':').some((dir) => dir && existsSync(join(dir, 'virsh')));

async function sysWith(links: Record<string, 'bridge' | 'nic'>): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'dc-stale-'));
  for (const [name, kind] of Object.entries(links)) await mkdir(join(root, 'sys/class/net', name, ...(kind === 'bridge' ? ['bridge'] : [])), { recursive: true });
  return root;
}

const env = { PATH: process.env.PATH ?? '', LC_ALL: 'C' };

describe.skipIf(!HAS_VIRSH)('stale devcluster bridges', () => {
  it('a dcb- bridge no network owns is reported with the command that removes it; others are left alone', async () => {
    const root = await sysWith({ virbr0: 'bridge', 'dcb-94f8dc02': 'bridge', 'dcb-0000000a': 'nic', eth0: 'nic', 'dcb-notours': 'bridge' });
    const finding = await checkStaleBridges({ uri: 'test:///default', root, uid: 1000, env });
    expect(finding?.status).toBe('fail');
    expect(finding?.message).toMatch(/^dcb-94f8dc02: devcluster bridge that no libvirt network/);
    expect(finding?.fix?.commands).toEqual([['sudo', 'ip', 'link', 'del', 'dcb-94f8dc02']]);
  });

  it('no devcluster bridge: no finding', async () => {
    expect(await checkStaleBridges({ uri: 'test:///default', root: await sysWith({ eth0: 'nic', virbr0: 'bridge' }), uid: 0, env })).toBeUndefined();
  });
});
