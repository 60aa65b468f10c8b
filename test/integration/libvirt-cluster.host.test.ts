/**
 * The libvirt provider for real, on qemu:///system (TCG) with the test image, through the CLI as a
 * user runs it: up of a controller and a compute, ssh, node-to-node TCP, status, down — and then
 * libvirt holds nothing of the cluster. A node that cannot boot fails inside its budget.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { libvirtLeftovers as leftovers } from '../support/leftovers.js';
import { requireTestImage } from '../support/test-image.js';

const BIN = fileURLToPath(new URL('../../bin/devcluster.js', import.meta.url));


async function clusterDir(name: string, image: string, cidr: string, nodes: number) {
  const dir = await mkdtemp(join(tmpdir(), `dc-${name}-`));
  const lines = [
    `name: ${name}`,
    `image: ${image}`,
    `network: { cidr: ${cidr} }`,
    'nodes:',
    '  - { name: controller, role: controller, cpus: 1, memory: 1GiB, disk: 8GiB }',
    ...(nodes > 1 ? ['  - { name: compute1, role: compute, cpus: 1, memory: 1GiB, disk: 8GiB }'] : []),
  ];
  await writeFile(join(dir, 'devcluster.yaml'), `${lines.join('\n')}\n`);
  const run = (...args: string[]) => execa('node', [BIN, ...args], { cwd: dir, reject: false, env: { HOME: dir, XDG_CACHE_HOME: join(dir, 'cache') } });
  return { dir, run };
}

describe('libvirt on qemu:///system', () => {
  it('up of a controller and a compute, ssh, node-to-node TCP, status; down leaves nothing', async () => {
    const { image, sums } = requireTestImage();
    const name = `it${randomBytes(2).toString('hex')}`;
    const { run } = await clusterDir(name, `{ url: "file://${image}", checksums_url: "file://${sums}" }`, '192.168.151.0/24', 2);
    try {
      const upResult = await run('up', '--no-provision', '--boot-timeout', '600');
      expect(upResult.exitCode, upResult.stderr).toBe(0);
      expect(upResult.stdout).toContain(`cluster ${name} is ready`);
      expect((await run('ssh', 'controller', '--', 'hostname')).stdout.trim()).toBe('controller');
      expect((await run('ssh', 'compute1', '--', 'hostname')).stdout.trim()).toBe('compute1');
      const reach = await run('ssh', 'compute1', '--', 'timeout 10 bash -c "echo > /dev/tcp/192.168.151.10/22" && echo reached');
      expect(reach.stdout.trim(), reach.stderr).toBe('reached');
      expect((await run('ssh', 'controller', '--', 'exit 7')).exitCode).toBe(7);
      const status = JSON.parse((await run('status', '--json')).stdout) as { nodes: Array<{ node: string; state: string; ip: string }> };
      expect(status.nodes.map((n) => `${n.node} ${n.state} ${n.ip}`)).toEqual(['compute1 running 192.168.151.11', 'controller running 192.168.151.10']);
      // A second cluster on the same addresses: its network cannot start, and the error names the
      // cluster that holds them (not just libvirt's interface name).
      const other = await clusterDir(`${name}b`, `{ url: "file://${image}", checksums_url: "file://${sums}" }`, '192.168.151.0/24', 1);
      const clash = await other.run('up', '--no-provision');
      expect(clash.exitCode).toBe(1);
      expect(clash.stderr).toContain('LIBVIRT_FAILED');
      expect(clash.stderr).toContain(`network dc-${name} (interface dcb-`);
      expect(clash.stderr).toContain(`devcluster cluster "${name}": run \`devcluster down\``);
      expect((await other.run('down')).exitCode).toBe(0);
      expect(leftovers(`${name}b`)).toEqual([]);
      const again = await run('up', '--no-provision');
      expect(again.stdout).toContain('(nothing to create)');
      // halt stops both; up on the stopped cluster starts them again and waits until ready.
      const halted = await run('halt', '--timeout', '120');
      expect(halted.exitCode, halted.stderr).toBe(0);
      expect(halted.stdout.trim().split('\n').sort()).toEqual([expect.stringMatching(/^compute1: (shutdown|forced)$/), expect.stringMatching(/^controller: (shutdown|forced)$/)]);
      const stopped = JSON.parse((await run('status', '--json')).stdout) as { nodes: Array<{ state: string }> };
      expect(stopped.nodes.map((n) => n.state)).toEqual(['stopped', 'stopped']);
      const restarted = await run('up', '--no-provision', '--boot-timeout', '600');
      expect(restarted.exitCode, restarted.stderr).toBe(0);
      expect((await run('ssh', 'compute1', '--', 'hostname')).stdout.trim()).toBe('compute1');
    } finally {
      const downResult = await run('down');
      expect(downResult.exitCode, downResult.stderr).toBe(0);
    }
    expect(leftovers(name)).toEqual([]);
  }, 900_000);

  it('a node that cannot boot fails inside its budget with what its console showed; down still cleans up', async () => {
    const name = `bad${randomBytes(2).toString('hex')}`;
    const work = await mkdtemp(join(tmpdir(), 'dc-broken-'));
    const broken = join(work, 'broken.qcow2');
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', broken, '1G']); // no bootloader, no OS
    const sha = execFileSync('sha256sum', [broken]).toString().split(' ')[0];
    const { run } = await clusterDir(name, `{ url: "${broken}", sha256: "${sha}" }`, '192.168.152.0/24', 1);
    try {
      const started = Date.now();
      const result = await run('up', '--no-provision', '--boot-timeout', '45');
      expect(result.exitCode).toBe(1);
      expect(result.stderr).toContain('error NODE_BOOT_FAILED: node controller did not answer SSH within its budget of 0:45');
      expect(result.stderr).toMatch(/console/);
      expect(Date.now() - started).toBeLessThan(180_000);
    } finally {
      expect((await run('down')).exitCode).toBe(0);
    }
    expect(leftovers(name)).toEqual([]);
  }, 300_000);
});
