/** The three NoCloud files for one node; meta-data's instance-id changes whenever the others do. */
import { createHash } from 'node:crypto';
import { stringify } from 'yaml';
import type { ClusterPlan, NicPlan, NodePlan } from '../plan/plan.js';
import { renderUserData } from './user-data.js';
import { renderNetworkConfig } from './network-config.js';

export interface SeedFiles {
  'user-data': string;
  'meta-data': string;
  'network-config': string;
}

export const SEED_FILE_NAMES = ['user-data', 'meta-data', 'network-config'] as const;

/** `nics` lets a provider add its own NIC (VirtualBox's NAT NIC) before the plan's. */
export function renderSeed(plan: ClusterPlan, node: NodePlan, nics: readonly NicPlan[] = node.nics): SeedFiles {
  const userData = renderUserData(plan, node);
  const networkConfig = renderNetworkConfig(node, nics);
  const digest = createHash('sha256').update(userData).update('\0').update(networkConfig).digest('hex').slice(0, 12);
  const metaData = stringify({ 'instance-id': `${node.resourcePrefix}-${digest}`, 'local-hostname': node.shortHostname }, { version: '1.1' });
  return { 'user-data': userData, 'meta-data': metaData, 'network-config': networkConfig };
}
