/**
 * A node that stops running while `up` waits for it fails `up` within seconds, naming the node, what
 * libvirt says it is, and the hypervisor's own error line — not after the whole boot budget. On any
 * host: the node's VM destroyed mid-boot (`virsh destroy`). On a host whose KVM cannot run a guest:
 * `libvirt.accelerator: kvm` forced, so qemu stops the node with "KVM internal error" and libvirt
 * shows it paused (skipped where KVM works: the pause cannot happen there). One node each, through
 * the CLI as a user runs it; `down` leaves nothing.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { probeKvm } from '../../src/providers/libvirt/kvm-probe.js';
import { clusterInDir, testImageSpec } from '../support/cli-cluster.js';
import { libvirtLeftovers } from '../support/leftovers.js';
import { requireTestImage } from '../support/test-image.js';

const virsh = async (...args: string[]) => (await execa('virsh', ['-q', '-c', 'qemu:///system', ...args], { reject: false })).stdout.trim();

async function oneNode(name: string, cidr: string, extra: string[] = []) {
  const { image, sums } = requireTestImage();
  const work = await mkdtemp(join(tmpdir(), `dc-${name}-`));
  return clusterInDir(work, [
    `name: ${name}`,
    `image: ${testImageSpec(image, sums)}`,
    `network: { cidr: ${cidr} }`,
    ...extra,
    'nodes:',
    '  - { name: controller, role: controller, cpus: 1, memory: 1GiB, disk: 8GiB }',
  ]);
}

/** "stopped running M:SS after it started" → seconds. */
function stoppedAfter(stderr: string): number {
  const m = /stopped running (\d+):(\d\d) after it started/.exec(stderr);
  return m ? Number(m[1]) * 60 + Number(m[2]) : Number.POSITIVE_INFINITY;
}

describe('a node that stops while up waits', () => {
  it('destroyed mid-boot: up fails within seconds, naming the node and libvirt\'s reason', async () => {
    const name = `st${randomBytes(2).toString('hex')}`;
    const run = await oneNode(name, '192.168.171.0/24');
    const domain = `dc-${name}-controller`;
    try {
      const up = run('up', '--no-provision', '--boot-timeout', '600');
      // Wait until the node runs, give its boot a few seconds, then pull the plug.
      const deadline = Date.now() + 300_000;
      while (Date.now() < deadline && (await virsh('domstate', domain)) !== 'running') await sleep(500);
      expect(await virsh('domstate', domain)).toBe('running');
      await sleep(5000);
      const destroyed = Date.now();
      await execa('virsh', ['-c', 'qemu:///system', 'destroy', domain]);
      const result = await up;
      const noticedAfter = (Date.now() - destroyed) / 1000;
      expect(result.exitCode, result.stderr).toBe(1);
      expect(result.stderr).toMatch(/error NODE_BOOT_FAILED: node controller stopped running \d+:\d\d after it started: it is stopped/);
      expect(result.stderr).toContain(`libvirt: ${domain} is shut off (destroyed)`);
      expect(result.stderr).toContain('run `devcluster up` again');
      // Not the 600 s budget: the state is polled every 2 s.
      expect(noticedAfter).toBeLessThan(20);
    } finally {
      const down = await run('down');
      expect(down.exitCode, down.stderr).toBe(0);
    }
    expect(libvirtLeftovers(name)).toEqual([]);
  }, 900_000);

  it('libvirt.accelerator: kvm on a host whose KVM cannot run a guest: up fails at once with qemu\'s error and the fix', async (ctx) => {
    if (!existsSync('/dev/kvm')) return ctx.skip(); // no KVM to force: `up` would be refused by libvirt, not paused
    const probe = await probeKvm({ uri: 'qemu:///system' });
    if (probe.usable) return ctx.skip(); // a working KVM runs the node: nothing stops it
    const name = `kv${randomBytes(2).toString('hex')}`;
    const run = await oneNode(name, '192.168.172.0/24', ['libvirt: { accelerator: kvm }']);
    try {
      const result = await run('up', '--no-provision', '--boot-timeout', '300');
      expect(result.exitCode, result.stderr).toBe(1);
      // The user is told up front that KVM was forced against the probe's verdict.
      expect(`${result.stdout}\n${result.stderr}`).toContain('libvirt.accelerator is kvm, but');
      expect(result.stderr).toMatch(/error NODE_BOOT_FAILED: node controller stopped running \d+:\d\d after it started: it is (paused|stopped|crashed)/);
      expect(stoppedAfter(result.stderr)).toBeLessThan(30);
      if (probe.outcome === 'stopped') {
        // The same failure the probe saw, in the node's own log, with where that log is.
        expect(result.stderr).toMatch(new RegExp(`/var/log/libvirt/qemu/dc-${name}-controller\\.log: KVM internal error\\. Suberror: 1`));
      }
      expect(result.stderr).toContain('hint: KVM cannot run this guest on this host: set `libvirt.accelerator: tcg`');
    } finally {
      const down = await run('down');
      expect(down.exitCode, down.stderr).toBe(0);
    }
    expect(libvirtLeftovers(name)).toEqual([]);
  }, 600_000);
});
