/**
 * Bridged mode onto a plain NIC (macvtap, `type='direct'`): the "LAN" is a veth pair whose far end
 * sits in a network namespace made for this test, with dnsmasq there as DHCP server. The node takes
 * DHCP through macvtap and is reached over its management NIC (the host cannot reach a macvtap guest
 * through the same NIC, which is why devcluster keeps one).
 */
import { execFileSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { requireTestImage } from '../support/test-image.js';
import { clusterInDir, startDhcp, testImageSpec } from '../support/cli-cluster.js';

const id = randomBytes(2).toString('hex');
const NIC = `dcv${id}`;
const PEER = `dcp${id}`;
const NETNS = `dclan${id}`;
let dnsmasq: ChildProcess | undefined;

afterAll(() => {
  dnsmasq?.kill();
  execFileSync('ip', ['link', 'del', NIC], { stdio: 'ignore' });
  execFileSync('ip', ['netns', 'del', NETNS], { stdio: 'ignore' });
});

describe('libvirt bridged mode on a plain NIC (macvtap)', () => {
  it('the node takes DHCP through macvtap and is reached over its management address', async () => {
    const { image, sums } = requireTestImage();
    const work = await mkdtemp(join(tmpdir(), 'dc-macvtap-'));
    execFileSync('ip', ['netns', 'add', NETNS]);
    execFileSync('ip', ['link', 'add', NIC, 'type', 'veth', 'peer', 'name', PEER]);
    execFileSync('ip', ['link', 'set', PEER, 'netns', NETNS]);
    execFileSync('ip', ['link', 'set', NIC, 'up']);
    execFileSync('ip', ['-n', NETNS, 'addr', 'add', '10.232.0.1/24', 'dev', PEER]);
    execFileSync('ip', ['-n', NETNS, 'link', 'set', PEER, 'up']);
    dnsmasq = startDhcp({ iface: PEER, range: '10.232.0.100,10.232.0.150', work, netns: NETNS });

    const name = `mv${id}`;
    const run = await clusterInDir(work, [
      `name: ${name}`,
      `image: ${testImageSpec(image, sums)}`,
      `network: { mode: bridged, bridge_interface: ${NIC}, cidr: 192.168.154.0/24 }`,
      'nodes: [{ name: controller, role: controller, cpus: 1, memory: 1GiB, disk: 8GiB }]',
    ]);
    try {
      const up = await run('up', '--no-provision', '--boot-timeout', '600');
      expect(up.exitCode, up.stderr).toBe(0);
      const addresses = (await run('ssh', 'controller', '--', 'ip -4 -o addr show scope global')).stdout;
      expect(addresses).toMatch(/ inet 192\.168\.154\.10\/24 /);
      expect(addresses).toMatch(/ inet 10\.232\.0\.(1[0-4][0-9]|150)\/24 /);
      const domainXml = execFileSync('virsh', ['-c', 'qemu:///system', 'dumpxml', `dc-${name}-controller`]).toString();
      expect(domainXml).toMatch(new RegExp(`<interface type='direct' trustGuestRxFilters='yes'>[\\s\\S]*?<source dev='${NIC}' mode='bridge'/>`));
    } finally {
      expect((await run('down')).exitCode).toBe(0);
    }
  }, 900_000);
});
