/**
 * network-config version 2 for one node: every NIC matched by its MAC (so names never matter), static
 * addresses from the plan, DHCP on a bridged NIC, which then carries the default route.
 */
import { stringify } from 'yaml';
import type { NodePlan, NicPlan } from '../plan/plan.js';

function ethernet(nic: NicPlan): Record<string, unknown> {
  const entry: Record<string, unknown> = { match: { macaddress: nic.mac }, dhcp4: nic.dhcp };
  if (nic.ipv4) entry.addresses = [`${nic.ipv4.address}/${nic.ipv4.prefix}`];
  if (nic.defaultRoute && nic.gateway) entry.routes = [{ to: '0.0.0.0/0', via: nic.gateway }];
  if (nic.dhcp && !nic.defaultRoute) entry['dhcp4-overrides'] = { 'use-routes': false };
  if (nic.dns && nic.dns.length > 0) entry.nameservers = { addresses: nic.dns };
  return entry;
}

export function networkConfigObject(nics: readonly NicPlan[]): Record<string, unknown> {
  return {
    version: 2,
    ethernets: Object.fromEntries(nics.map((nic, i) => [`${nic.role}${i}`, ethernet(nic)])),
  };
}

export function renderNetworkConfig(node: NodePlan, nics: readonly NicPlan[] = node.nics): string {
  return stringify(networkConfigObject(nics), { lineWidth: 0, version: '1.1' });
}
