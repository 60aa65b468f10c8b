/**
 * What a provider does for cluster snapshots, node by node. The cluster flow (src/cluster/snapshot/)
 * owns the order that makes a snapshot consistent across nodes: pause every node back to back, capture
 * each while all are paused, resume all back to back; on restore, bring every node back paused (or, where
 * the hypervisor cannot, stopped in its saved state), then resume all together. A provider never
 * decides that order, never prints, takes a signal and reports events.
 *
 * What exists is read back from the hypervisor (volumes by their names in names.ts, VirtualBox snapshots
 * by name), never from a private list: the cluster's snapshot records only say when and of what shape.
 */
import type { Ctx } from '../events.js';
import type { ClusterPlan, NodePlan } from '../plan/plan.js';

/** How this host takes snapshots, and why that way: shown by `snapshot list`. */
export interface SnapshotMethod {
  /** A short name, e.g. "external+restore" or "virtualbox-live". */
  id: string;
  /** One sentence: what is captured and how it comes back, and why this method on this host. */
  description: string;
}

/** One node's part of a snapshot, as the hypervisor holds it. */
export interface NodeSnapshot {
  node: string;
  snapshot: string;
  /** Bytes on the host's disk that belong to this snapshot (memory image and frozen disk layer). */
  bytes: number;
}

/** Space for a save: what the hypervisor's storage has free, and where that is. */
export interface SnapshotSpace {
  availableBytes: number;
  /** The pool or folder, for the error message. */
  where: string;
}

export interface SnapshotDriver {
  method(ctx: Ctx): Promise<SnapshotMethod>;
  /** Free space where a save of these nodes would write. */
  space(plan: ClusterPlan, ctx: Ctx): Promise<SnapshotSpace>;
  /** Pause the nodes back to back (one connection, no work in between): the freeze instant. */
  pause(plan: ClusterPlan, nodes: readonly NodePlan[], ctx: Ctx): Promise<void>;
  /**
   * Start the nodes again back to back, from paused (after a save or a libvirt restore) or from a
   * restored saved state (VirtualBox, which cannot start paused).
   */
  resume(plan: ClusterPlan, nodes: readonly NodePlan[], ctx: Ctx): Promise<void>;
  /** Capture a paused node's memory and disks as snapshot `name`; the node stays paused. */
  capture(plan: ClusterPlan, node: NodePlan, name: string, ctx: Ctx): Promise<void>;
  /**
   * Bring the node back to snapshot `name`, whatever state it is in (running, paused, stopped), and
   * leave it paused (libvirt) or in its saved state ready to start (VirtualBox).
   */
  restore(plan: ClusterPlan, node: NodePlan, name: string, ctx: Ctx): Promise<void>;
  /** Remove the node's part of snapshot `name`; nothing when it has none. */
  remove(plan: ClusterPlan, node: NodePlan, name: string, ctx: Ctx): Promise<void>;
  /** Every snapshot part the hypervisor holds for the node, with its size. */
  list(plan: ClusterPlan, node: NodePlan, ctx: Ctx): Promise<NodeSnapshot[]>;
  /**
   * Step the guest's clock to the host's through the hypervisor (qemu-guest-agent); false when the
   * hypervisor cannot (no agent answering), and the caller does it over SSH.
   */
  setClock?(plan: ClusterPlan, node: NodePlan, ctx: Ctx): Promise<boolean>;
}
