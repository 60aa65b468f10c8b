/**
 * qemu:///session (the user's own libvirt): its domains and volumes live in the session, the cluster
 * network in qemu:///system, and the guests join that network's bridge through qemu-bridge-helper —
 * which /etc/qemu/bridge.conf must allow, as `up` says when it does not. Run as root here; for a
 * non-root user the helper also needs its setuid bit (the hint says so).
 */
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { requireTestImage } from '../support/test-image.js';

const BIN = fileURLToPath(new URL('../../bin/devcluster.js', import.meta.url));
const CONF = '/etc/qemu/bridge.conf';
const name = `ss${randomBytes(2).toString('hex')}`;
const bridge = `dcb-${createHash('sha256').update(name).digest('hex').slice(0, 8)}`;

afterAll(async () => {
  const text = await readFile(CONF, 'utf8').catch(() => '');
  await writeFile(CONF, text.split('\n').filter((l) => l.trim() !== `allow ${bridge}`).join('\n'));
});

describe('libvirt on qemu:///session', () => {
  it('refuses without bridge.conf, then up, ssh, status and down with nothing left in either libvirt', async () => {
    const { image, sums } = requireTestImage();
    const work = await mkdtemp(join(tmpdir(), 'dc-session-'));
    await writeFile(join(work, 'devcluster.yaml'), [
      `name: ${name}`,
      'libvirt: { uri: "qemu:///session" }',
      `image: { url: "file://${image}", checksums_url: "file://${sums}" }`,
      'network: { cidr: 192.168.155.0/24 }',
      'nodes: [{ name: controller, role: controller, cpus: 1, memory: 1GiB, disk: 8GiB }]',
    ].join('\n'));
    const run = (...args: string[]) => execa('node', [BIN, ...args], { cwd: work, reject: false });

    const refused = await run('up', '--no-provision');
    expect(refused.exitCode).toBe(1);
    expect(refused.stderr).toContain(`/etc/qemu/bridge.conf does not allow it`);
    expect(refused.stderr).toContain(`echo 'allow ${bridge}' >> /etc/qemu/bridge.conf`);

    await mkdir('/etc/qemu', { recursive: true });
    await writeFile(CONF, `${(await readFile(CONF, 'utf8').catch(() => '')).trimEnd()}\nallow ${bridge}\n`.replace(/^\n/, ''));
    try {
      const up = await run('up', '--no-provision', '--boot-timeout', '600');
      expect(up.exitCode, up.stderr).toBe(0);
      expect((await run('ssh', 'controller', '--', 'hostname')).stdout.trim()).toBe('controller');
      const status = JSON.parse((await run('status', '--json')).stdout) as { nodes: Array<{ node: string; state: string; ip: string }> };
      expect(status.nodes).toEqual([expect.objectContaining({ node: 'controller', state: 'running', ip: '192.168.155.10' })]);
      expect(execFileSync('virsh', ['-c', 'qemu:///session', 'dumpxml', `dc-${name}-controller`]).toString()).toContain(`<source bridge='${bridge}'/>`);
    } finally {
      expect((await run('down')).exitCode).toBe(0);
    }
    const mine = (list: string) => list.split('\n').map((l) => l.trim().split(/\s+/)[0] ?? '').filter((n) => n.startsWith(`dc-${name}`));
    expect(mine(execFileSync('virsh', ['-c', 'qemu:///session', 'list', '--all', '--name']).toString())).toEqual([]);
    expect(mine(execFileSync('virsh', ['-c', 'qemu:///session', 'vol-list', 'default']).toString())).toEqual([]);
    expect(mine(execFileSync('virsh', ['-c', 'qemu:///system', 'net-list', '--all', '--name']).toString())).toEqual([]);
  }, 900_000);
});
