/**
 * What every provider does for a cluster, whatever runs the VMs. The cluster flow (src/cluster/)
 * drives these steps from the plan; a provider never prints, takes a signal, and reports events.
 * What exists is read back from the hypervisor itself, by the tags devcluster put on its resources,
 * never from a private list that could drift: a provider object keeps no state a later call needs
 * (a fresh one per call works the same; the contract suite checks it), only what saves work, such as
 * an open connection, which `close` ends. Resource names come from names.ts.
 */
import type { Ctx } from '../events.js';
import type { CachedImage } from '../images/cache.js';
import type { SeedFiles } from '../cloudinit/seed.js';
import type { ClusterPlan, NodePlan } from '../plan/plan.js';
import type { StopResult } from './shared/stop.js';
import type { SnapshotDriver } from './snapshot.js';

export type { StopResult } from './shared/stop.js';

export type NodeState = 'running' | 'stopped' | 'paused' | 'crashed' | 'other';

export interface NodeStatus {
  cluster: string;
  node: string;
  role: string;
  state: NodeState;
  /** Address devcluster planned for it (from the resource's own tags). */
  ip?: string;
  /** The hypervisor's name for it. */
  resource: string;
}

export interface SshEndpoint {
  host: string;
  port: number;
}

export interface Provider {
  readonly name: 'libvirt' | 'virtualbox';
  /** The cluster network (NAT) or nothing (bridged uses the host's), idempotent. */
  ensureNetwork(plan: ClusterPlan, ctx: Ctx): Promise<void>;
  /** Make the node's disk (copy-on-write over the cached image), seed and VM; idempotent. */
  createNode(plan: ClusterPlan, node: NodePlan, image: CachedImage, seed: SeedFiles, ctx: Ctx): Promise<'created' | 'exists'>;
  startNode(plan: ClusterPlan, node: NodePlan, ctx: Ctx): Promise<void>;
  /** ACPI shutdown within budgetMs, then power off (shared/stop.ts). */
  stopNode(plan: ClusterPlan, node: NodePlan, budgetMs: number, ctx: Ctx): Promise<StopResult>;
  listNodes(cluster: string, ctx: Ctx): Promise<NodeStatus[]>;
  /**
   * Remove every resource of the cluster, and nothing else: VMs found by their tags, disks and seeds
   * by the exact names of `nodes` (those in the state and those the tags name). Returns what went.
   */
  deleteCluster(cluster: string, nodes: readonly string[], ctx: Ctx): Promise<string[]>;
  /**
   * The node's state now, read cheaply for the boot wait (undefined when the VM does not exist).
   * Providers without it are asked through listNodes.
   */
  nodeState?(plan: ClusterPlan, node: NodePlan, ctx: Ctx): Promise<NodeState | undefined>;
  /**
   * Why a node stopped, in the hypervisor's own words: its stop reason and the error lines of its log
   * (e.g. qemu's "KVM internal error. Suberror: 1" / "emulation failure"); [] when it says nothing.
   */
  stopDetails?(plan: ClusterPlan, node: NodePlan, ctx: Ctx): Promise<string[]>;
  /** The tail of the node's serial console log ('' when there is none yet). */
  consoleTail(plan: ClusterPlan, node: NodePlan, bytes: number): Promise<string>;
  /**
   * Where the node's SSH answers, read from the VM itself each time (its tags or port forward);
   * NODE_NOT_FOUND when the VM does not exist.
   */
  sshEndpoint(plan: ClusterPlan, node: NodePlan, ctx: Ctx): Promise<SshEndpoint>;
  /** Cluster snapshots (snapshot.ts); absent where the provider cannot take them. */
  readonly snapshots?: SnapshotDriver;
  /** Ends what the object holds open (a connection); it may be used again afterwards. */
  close(): Promise<void>;
}
