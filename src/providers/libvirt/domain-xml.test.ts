/**
 * Domain and network XML as golden files (UPDATE_GOLDEN=1 rewrites them after a deliberate change),
 * and escaping checked by libvirt itself on its test driver.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../../config/load.js';
import { buildPlan, type ClusterPlan } from '../../plan/plan.js';
import type { Secrets } from '../../state/secrets.js';
import { openHypervisor } from './binding.js';
import { domainSpecFor, domainXml } from './domain-xml.js';
import { networkXml } from './network-xml.js';
import { domainTags } from './provider.js';

const golden = (name: string) => fileURLToPath(new URL(`../../../test/fixtures/golden/${name}`, import.meta.url));
const KEY = { private: 'PRIVATE', public: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMYMUf4Hs7shDioCcAvWm2wsLr+oMVKsaUuE5wslALJk x' };

async function plan(text: string): Promise<ClusterPlan> {
  const loaded = await parseConfigText(text, { file: 'x', baseDir: tmpdir(), home: tmpdir(), agentSocket: undefined });
  const secrets: Secrets = {
    version: 1,
    cluster_key: KEY,
    host_keys: Object.fromEntries(loaded.config.nodes.map((n) => [n.name, KEY])),
    passwords: { admin: 'a', service: 's', database: 'd', rabbit: 'r', swift_hash: 'h', swift_tempurl_key: 't', ldap: 'l' },
  };
  return buildPlan(loaded.config, [], secrets);
}

function matchGolden(name: string, actual: string): void {
  const file = golden(name);
  if (process.env.UPDATE_GOLDEN === '1' || !existsSync(file)) writeFileSync(file, actual);
  expect(actual).toBe(readFileSync(file, 'utf8'));
}

const tcg = { accel: { type: 'qemu' as const, tbCacheMiB: 256 }, nested: false, pool: 'default', consoleLog: '/var/log/libvirt/qemu/dc-dev-controller-console.log', bridgeIsBridge: false };

describe('libvirt XML', () => {
  it('NAT controller under TCG (golden)', async () => {
    const p = await plan('');
    matchGolden('domain-nat-tcg.xml', domainXml(domainSpecFor(p, p.nodes[0]!, tcg)));
  });

  it('bridged compute with KVM and nested virtualisation, on a plain NIC: macvtap (golden)', async () => {
    const p = await plan('network: { mode: bridged, bridge_interface: eth1 }');
    matchGolden('domain-bridged-kvm.xml', domainXml(domainSpecFor(p, p.nodes[1]!, { ...tcg, accel: { type: 'kvm', tbCacheMiB: 256 }, nested: true })));
  });

  it('the cluster network with a DHCP host per node (golden)', async () => {
    matchGolden('network-nat.xml', networkXml(await plan('')));
  });

  it('values with XML metacharacters are escaped and come back intact through libvirt', async () => {
    const p = await plan('');
    const spec = domainSpecFor(p, p.nodes[0]!, { ...tcg, consoleLog: `/tmp/it's a "log" & <more>.log` });
    const xml = domainXml(spec);
    expect(xml).toContain('file="/tmp/it&apos;s a &quot;log&quot; &amp; &lt;more&gt;.log"');
    const hv = await openHypervisor('test:///default');
    const domain = await hv.domainDefineXML(xml);
    const back = await hv.domainGetXMLDesc(domain);
    expect(back).toContain('&apos;s a &quot;log&quot; &amp; &lt;more&gt;.log');
    expect(domainTags(back)).toEqual({ cluster: 'dev', node: 'controller', role: 'controller', ip: '192.168.150.10', nested: false });
    await hv.domainUndefine(domain);
    await hv.connectClose();
  });
});
