/** The cluster's NAT network: the plan's CIDR, the host as gateway, a static DHCP entry per node. */
import { bridgeNameFor } from '../names.js';
import type { ClusterPlan } from '../../plan/plan.js';
import { METADATA_NS } from './domain-xml.js';
import { el, renderXml } from './xml.js';

/** The bridge's name is names.ts's; re-exported for this module's callers. */
export { bridgeNameFor } from '../names.js';

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
