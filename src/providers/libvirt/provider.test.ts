/** The provider on libvirt's test driver: clusters found by their metadata, and only theirs removed. */
import { tmpdir } from 'node:os';
import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../../config/load.js';
import { quietCtx } from '../../events.js';
import { buildPlan } from '../../plan/plan.js';
import { completeSecrets } from '../../state/secrets.js';
import { openHypervisor } from './binding.js';
import { domainSpecFor, domainXml } from './domain-xml.js';
import { LibvirtProvider } from './provider.js';

async function defineCluster(provider: LibvirtProvider, name: string, nodes: string[]) {
  const text = `name: ${name}\nnodes:\n${nodes.map((n, i) => `  - { name: ${n}, role: ${i === 0 ? 'controller' : 'compute'} }`).join('\n')}\n`;
  const loaded = await parseConfigText(text, { file: 'x', baseDir: tmpdir(), home: tmpdir(), agentSocket: undefined });
  const plan = buildPlan(loaded.config, [], completeSecrets(name, nodes));
  const hv = await openHypervisor('test:///default');
  for (const node of plan.nodes) {
    await hv.domainDefineXML(domainXml(domainSpecFor(plan, node, { accel: { type: 'qemu', tbCacheMiB: 256 }, nested: false, pool: 'default', consoleLog: `/nonexistent/${node.name}.log`, bridgeIsBridge: false })));
  }
  return plan;
}

describe('libvirt provider on test:///default', () => {
  it('two clusters side by side: each lists only its own nodes, and down of one leaves the other', async () => {
    // test:///default keeps its state per process: domains defined here are seen by the provider.
    const provider = new LibvirtProvider({ uri: 'test:///default', pool: 'default-pool', consoleDir: '/nonexistent' });
    const ctx = quietCtx();
    await defineCluster(provider, 'alpha', ['controller', 'compute1', 'compute2']);
    await defineCluster(provider, 'alpha-2', ['controller']);
    expect((await provider.listNodes('alpha', ctx)).map((n) => `${n.node}:${n.role}:${n.state}:${n.ip}`)).toEqual([
      'compute1:compute:stopped:192.168.150.11',
      'compute2:compute:stopped:192.168.150.12',
      'controller:controller:stopped:192.168.150.10',
    ]);
    expect((await provider.listNodes('alpha-2', ctx)).map((n) => n.resource)).toEqual(['dc-alpha-2-controller']);

    const removed = await provider.deleteCluster('alpha', ['controller', 'compute1', 'compute2'], ctx);
    expect(removed.sort()).toEqual(['domain dc-alpha-compute1', 'domain dc-alpha-compute2', 'domain dc-alpha-controller']);
    expect(await provider.listNodes('alpha', ctx)).toEqual([]);
    expect((await provider.listNodes('alpha-2', ctx)).map((n) => n.resource)).toEqual(['dc-alpha-2-controller']);

    // libvirt's own sample domain "test" is not ours and is never touched.
    const hv = await openHypervisor('test:///default');
    const names = await Promise.all((await hv.connectListAllDomains()).map((d) => hv.domainGetName(d)));
    expect(names.sort()).toEqual(['dc-alpha-2-controller', 'test']);
    await provider.deleteCluster('alpha-2', ['controller'], ctx);
    await provider.close();
  });
});
