/**
 * Bridged mode on a real Linux bridge made for this test, with dnsmasq as the LAN's DHCP server:
 * the node takes DHCP (and its default route) on the bridged NIC and keeps its static management
 * address, over which devcluster reaches it.
 */
import { execFileSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { requireTestImage } from '../support/test-image.js';
import { clusterInDir, startDhcp, testImageSpec } from '../support/cli-cluster.js';

const BRIDGE = `dcbr${randomBytes(2).toString('hex')}`;
let dnsmasq: ChildProcess | undefined;

afterAll(() => {
  dnsmasq?.kill();
  execFileSync('ip', ['link', 'del', BRIDGE], { stdio: 'ignore' });
});

describe('libvirt bridged mode', () => {
  it('DHCP and the default route on the bridged NIC, the static management address kept', async () => {
    const { image, sums } = requireTestImage();
    const work = await mkdtemp(join(tmpdir(), 'dc-bridged-'));
    execFileSync('ip', ['link', 'add', BRIDGE, 'type', 'bridge']);
    execFileSync('ip', ['addr', 'add', '10.231.0.1/24', 'dev', BRIDGE]);
    execFileSync('ip', ['link', 'set', BRIDGE, 'up']);
    dnsmasq = startDhcp({ iface: BRIDGE, range: '10.231.0.100,10.231.0.150', work });

    const name = `br${randomBytes(2).toString('hex')}`;
    const run = await clusterInDir(work, [
      `name: ${name}`,
      `image: ${testImageSpec(image, sums)}`,
      `network: { mode: bridged, bridge_interface: ${BRIDGE}, cidr: 192.168.153.0/24 }`,
      'nodes: [{ name: controller, role: controller, cpus: 1, memory: 1GiB, disk: 8GiB }]',
    ]);
    try {
      const up = await run('up', '--no-provision', '--boot-timeout', '600');
      expect(up.exitCode, up.stderr).toBe(0);
      const addresses = (await run('ssh', 'controller', '--', 'ip -4 -o addr show scope global')).stdout;
      expect(addresses).toMatch(/ inet 192\.168\.153\.10\/24 /);
      expect(addresses).toMatch(/ inet 10\.231\.0\.(1[0-4][0-9]|150)\/24 /);
      expect((await run('ssh', 'controller', '--', 'ip route show default')).stdout).toMatch(/^default via 10\.231\.0\.1 /);
      const domainXml = execFileSync('virsh', ['-c', 'qemu:///system', 'dumpxml', `dc-${name}-controller`]).toString();
      expect(domainXml).toContain(`<source bridge='${BRIDGE}'/>`);
    } finally {
      expect((await run('down')).exitCode).toBe(0);
    }
  }, 900_000);
});
