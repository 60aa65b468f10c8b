/** The cluster's NAT network: the plan's CIDR, the host as gateway, a static DHCP entry per node. */
import { createHash } from 'node:crypto';
import type { ClusterPlan } from '../../plan/plan.js';
import { METADATA_NS } from './domain-xml.js';
import { el, renderXml } from './xml.js';

/**
 * The network's Linux bridge, named for the cluster so it is known before the network exists (session
 * domains attach to it by name, and qemu-bridge-helper's bridge.conf must allow it): at most 15 chars.
 */
export function bridgeNameFor(cluster: string): string {
  return `dcb-${createHash('sha256').update(cluster).digest('hex').slice(0, 8)}`;
}

export function networkXml(plan: ClusterPlan): string {
  const nodes = plan.nodes.map((n) => ({ mac: n.nics[0]!.mac, name: n.shortHostname, ip: n.ip }));
  const network = el(
    'network',
    undefined,
    el('name', undefined, plan.network.resourceName),
    el('metadata', undefined, el('dc:network', { 'xmlns:dc': METADATA_NS, cluster: plan.name })),
    el('forward', { mode: 'nat' }),
    el('bridge', { name: bridgeNameFor(plan.name), stp: 'on', delay: 0 }),
    el(
      'dns',
      undefined,
      ...plan.nodes.map((n) => el('host', { ip: n.ip }, el('hostname', undefined, n.hostname), el('hostname', undefined, n.shortHostname))),
    ),
    el(
      'ip',
      { address: plan.network.gateway, netmask: plan.network.netmask },
      el('dhcp', undefined, ...nodes.map((n) => el('host', { mac: n.mac, name: n.name, ip: n.ip }))),
    ),
  );
  return `${renderXml(network)}\n`;
}
