/** `status`: every node of the cluster as its hypervisor reports it; nothing is written, nothing locked. */
import type { Ctx } from '../events.js';
import type { LoadedConfig } from '../config/load.js';
import type { NodeStatus } from '../providers/provider.js';
import { withCluster } from './operation.js';

export interface ClusterStatus {
  cluster: string;
  provider: 'libvirt' | 'virtualbox';
  nodes: NodeStatus[];
}

export function status(loaded: LoadedConfig, ctx: Ctx): Promise<ClusterStatus> {
  return withCluster(loaded, { mode: 'look', lock: false }, ctx, async ({ provider }) => ({
    cluster: loaded.config.name,
    provider: provider.name,
    nodes: await provider.listNodes(loaded.config.name, { signal: ctx.signal, report: () => undefined }),
  }));
}
