/** A plan as shown to people: sizes readable, private keys and passwords replaced unless asked for. */
import { formatSize } from '../config/units.js';
import type { ClusterPlan } from './plan.js';

/** The plan for reading: each node's memory and disk also as "8GiB". */
export function planView(plan: ClusterPlan): ClusterPlan & { nodes: Array<ClusterPlan['nodes'][number] & { memory: string; disk: string }> } {
  return { ...plan, nodes: plan.nodes.map((n) => ({ ...n, memory: formatSize(n.memoryBytes), disk: formatSize(n.diskBytes) })) };
}

export const REDACTED = '<redacted: --show-secrets>';

export function redactPlan(plan: ClusterPlan): ClusterPlan {
  return {
    ...plan,
    nodes: plan.nodes.map((n) => ({ ...n, hostKey: { ...n.hostKey, private: REDACTED } })),
    clusterKey: { ...plan.clusterKey, private: REDACTED },
    stackUser: plan.stackUser.passwordHash === undefined ? plan.stackUser : { ...plan.stackUser, passwordHash: REDACTED },
    devstack: {
      ...plan.devstack,
      passwords: Object.fromEntries(Object.keys(plan.devstack.passwords).map((k) => [k, REDACTED])) as ClusterPlan['devstack']['passwords'],
    },
    proxy: redactProxy(plan.proxy),
  };
}

/** Proxy URLs may carry user:password@; keep the rest visible. */
export function redactProxy<T extends Record<string, string>>(proxy: T): T {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(proxy)) out[k] = v.replace(/\/\/[^/@\s]*:[^/@\s]*@/, '//<redacted>@');
  return out as T;
}
