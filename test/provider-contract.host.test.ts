/**
 * One contract, both providers: create a two-node cluster, list it, start it, stop it, delete it —
 * and then the hypervisor holds nothing of the cluster. libvirt runs for real on qemu:///system (its
 * test:/// driver keeps state per process, and volumes go through virsh, a second process);
 * VirtualBox runs against the VBoxManage stand-in (test/fixtures/vbox), which keeps its state in a
 * file and answers as the real one does. Every call goes to a provider object made for it and closed
 * after it: nothing a later call needs may live in the object (the SSH endpoint, the network, the
 * base image are read back from the hypervisor).
 */
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../src/config/load.js';
import { quietCtx } from '../src/events.js';
import type { CachedImage } from '../src/images/cache.js';
import { renderSeed } from '../src/cloudinit/seed.js';
import { buildPlan } from '../src/plan/plan.js';
import { completeSecrets } from '../src/state/secrets.js';
import type { Provider } from '../src/providers/provider.js';
import { LibvirtProvider } from '../src/providers/libvirt/provider.js';
import { VirtualBoxProvider } from '../src/providers/virtualbox/provider.js';

const STANDIN = resolve(import.meta.dirname, 'fixtures', 'vbox', 'VBoxManage');

function tinyImage(dir: string): CachedImage {
  const path = join(dir, 'tiny.qcow2');
  execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', path, '64M']);
  const hash = createHash('sha256').update(readFileSync(path)).update(dir).digest('hex');
  return { url: `file://${path}`, algorithm: 'sha256', hash, size: statSync(path).size, format: 'qcow2', fetchedAt: new Date().toISOString(), path };
}

interface Harness {
  /** A new provider object each time. */
  provider: () => Provider;
  cidr: string;
  /** Names of the hypervisor's resources that belong to the cluster. */
  leftovers: (cluster: string) => string[];
  cleanup: (image: CachedImage) => Promise<void>;
}

function libvirtHarness(): Harness {
  const virsh = (...args: string[]) => execFileSync('virsh', ['-q', '-c', 'qemu:///system', ...args]).toString();
  return {
    provider: () => new LibvirtProvider({ uri: 'qemu:///system', pool: 'default' }),
    cidr: '192.168.159.0/24',
    leftovers: (cluster) =>
      [...virsh('list', '--all', '--name').split('\n'), ...virsh('vol-list', 'default').split('\n').map((l) => l.trim().split(/\s+/)[0] ?? ''), ...virsh('net-list', '--all', '--name').split('\n')].filter(
        (n) => n === `dc-${cluster}` || n.startsWith(`dc-${cluster}-`),
      ),
    cleanup: async (image) => {
      execFileSync('virsh', ['-q', '-c', 'qemu:///system', 'vol-delete', '--pool', 'default', `dc-base-sha256-${image.hash.slice(0, 16)}.qcow2`], { stdio: 'ignore' });
    },
  };
}

function vboxHarness(work: string): Harness {
  const networks = join(work, 'networks.conf');
  writeFileSync(networks, '* 192.168.0.0/16\n');
  const env = { VBOX_STANDIN_HOME: work, VBOX_STANDIN_STATE: join(work, 'state.json'), VBOX_STANDIN_NETWORKS_CONF: networks, VBOX_STANDIN_ACPI_IGNORE: '1' };
  const vbox = (...args: string[]) => execFileSync(STANDIN, args, { env: { ...process.env, ...env } }).toString();
  return {
    provider: () => new VirtualBoxProvider({ command: STANDIN, env }),
    cidr: '192.168.160.0/24',
    // The cluster's VMs, any host-only interface (the sandbox starts with none: every one is the
    // cluster's) and devcluster's record of the interfaces it made.
    leftovers: (cluster) => [
      ...vbox('list', 'vms').split('\n').map((l) => /^"(.*)"/.exec(l)?.[1] ?? '').filter((n) => n.startsWith(`dc-${cluster}-`)),
      ...[...vbox('list', 'hostonlyifs').matchAll(/^Name:\s+(\S+)$/gm)].map((m) => `hostonlyif ${m[1] ?? ''}`),
      ...[...vbox('getextradata', 'global', 'enumerate').matchAll(/^Key: (devcluster\/\S+),/gm)].map((m) => `extradata ${m[1] ?? ''}`),
    ],
    cleanup: async () => undefined,
  };
}

describe.each([
  ['libvirt (qemu:///system)', () => libvirtHarness()],
  ['virtualbox (VBoxManage stand-in)', (work: string) => vboxHarness(work)],
])('provider contract: %s', (_label, make) => {
  it('create two nodes, list, start, stop, delete: nothing of the cluster is left', async () => {
    const work = mkdtempSync(join(tmpdir(), 'dc-contract-'));
    const h = make(work);
    const name = `ct${randomBytes(2).toString('hex')}`;
    const provider = h.provider().name;
    const loaded = await parseConfigText(
      `name: ${name}\nprovider: ${provider}\nnetwork: { cidr: ${h.cidr} }\nnodes:\n  - { name: controller, role: controller, cpus: 1, memory: 256MiB, disk: 1GiB }\n  - { name: compute1, role: compute, cpus: 1, memory: 256MiB, disk: 1GiB }\n`,
      { file: 'x', baseDir: work, home: work, agentSocket: undefined },
    );
    const plan = buildPlan(loaded.config, [], completeSecrets(name, ['controller', 'compute1']));
    const image = tinyImage(work);
    const ctx = quietCtx();
    // Each call on a provider object of its own, closed after it.
    const fresh = async <T>(call: (p: Provider) => Promise<T>): Promise<T> => {
      const p = h.provider();
      try {
        return await call(p);
      } finally {
        await p.close();
      }
    };
    const [controller, compute1] = plan.nodes as [(typeof plan.nodes)[0] & object, (typeof plan.nodes)[0] & object];
    try {
      await fresh((p) => p.ensureNetwork(plan, ctx));
      for (const node of plan.nodes) expect(await fresh((p) => p.createNode(plan, node, image, renderSeed(plan, node), ctx))).toBe('created');
      for (const node of plan.nodes) expect(await fresh((p) => p.createNode(plan, node, image, renderSeed(plan, node), ctx))).toBe('exists');
      const listed = await fresh((p) => p.listNodes(name, ctx));
      expect(listed.map((n) => `${n.node} ${n.role} ${n.state} ${n.ip}`)).toEqual([`compute1 compute stopped ${h.cidr.replace('0/24', '11')}`, `controller controller stopped ${h.cidr.replace('0/24', '10')}`]);
      expect(listed.map((n) => n.resource).sort()).toEqual([`dc-${name}-compute1`, `dc-${name}-controller`]);
      for (const node of plan.nodes) await fresh((p) => p.startNode(plan, node, ctx));
      expect((await fresh((p) => p.listNodes(name, ctx))).map((n) => n.state)).toEqual(['running', 'running']);
      // The endpoint is read from the VM (libvirt: its address tag; VirtualBox: its NAT rule), each its own.
      const endpoints = [await fresh((p) => p.sshEndpoint(plan, controller, ctx)), await fresh((p) => p.sshEndpoint(plan, compute1, ctx))];
      if (provider === 'libvirt') expect(endpoints).toEqual([{ host: controller.ip, port: 22 }, { host: compute1.ip, port: 22 }]);
      else {
        expect(endpoints.map((e) => e.host)).toEqual(['127.0.0.1', '127.0.0.1']);
        expect(endpoints[0]?.port).toBeGreaterThan(0);
        expect(endpoints[0]?.port).not.toBe(endpoints[1]?.port);
      }
      // Blank disks never answer ACPI: the budget runs out and the node is powered off.
      expect(await fresh((p) => p.stopNode(plan, controller, 1500, ctx))).toBe('forced');
      expect(await fresh((p) => p.stopNode(plan, controller, 1500, ctx))).toBe('already-stopped');
      expect((await fresh((p) => p.listNodes(name, ctx))).map((n) => `${n.node} ${n.state}`)).toEqual(['compute1 running', 'controller stopped']);
      const removed = await fresh((p) => p.deleteCluster(name, ['controller', 'compute1'], ctx));
      expect(removed.join(' ')).toContain(`dc-${name}-controller`);
      expect(removed.join(' ')).toContain(`dc-${name}-compute1`);
      expect(await fresh((p) => p.listNodes(name, ctx))).toEqual([]);
      await expect(fresh((p) => p.sshEndpoint(plan, controller, ctx))).rejects.toMatchObject({ code: 'NODE_NOT_FOUND' });
      expect(h.leftovers(name)).toEqual([]);
    } finally {
      await fresh((p) => p.deleteCluster(name, ['controller', 'compute1'], ctx)).catch(() => undefined);
      await h.cleanup(image).catch(() => undefined);
    }
  }, 180_000);
});
