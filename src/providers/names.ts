/**
 * Every name devcluster gives a hypervisor resource, in one place. A node's resources all start with
 * its prefix `dc-<cluster>-<node>` (the plan's `resourcePrefix`); the cluster's network is
 * `dc-<cluster>` and its Linux bridge `dcb-<hash>`; base images shared by clusters are `dc-base-…`;
 * VirtualBox groups are `/devcluster/<cluster>`, and VirtualBox snapshots `devcluster-<name>`. `down` finds volumes and logs by these exact names,
 * and doctor finds stale bridges by theirs, so they are made here and nowhere else.
 */
import { createHash } from 'node:crypto';

/** What every devcluster resource name starts with. */
export const NAME_PREFIX = 'dc-';
/** What base images (shared by every cluster) start with. */
export const BASE_PREFIX = 'dc-base-';

/** The cluster's own network (libvirt): `dc-<cluster>`. */
export function clusterNetworkName(cluster: string): string {
  return `${NAME_PREFIX}${cluster}`;
}

/** The cluster a network name says it belongs to (only a `dc-` name; its tags decide for sure). */
export function clusterOfNetworkName(name: string): string | undefined {
  return name.startsWith(NAME_PREFIX) && !name.startsWith(BASE_PREFIX) ? name.slice(NAME_PREFIX.length) : undefined;
}

/**
 * The cluster network's Linux bridge, named for the cluster so it is known before the network exists
 * (session domains attach to it by name, and qemu-bridge-helper's bridge.conf must allow it): at
 * most 15 characters, the kernel's limit.
 */
export function bridgeNameFor(cluster: string): string {
  return `dcb-${createHash('sha256').update(cluster).digest('hex').slice(0, 8)}`;
}

/** What every bridge bridgeNameFor makes looks like. */
export const BRIDGE_NAME = /^dcb-[0-9a-f]{8}$/;

/** A node's prefix, also its VM/domain name: `dc-<cluster>-<node>`. */
export function nodeResourcePrefix(cluster: string, node: string): string {
  return `${NAME_PREFIX}${cluster}-${node}`;
}

/** The node's copy-on-write disk volume (libvirt). */
export function diskVolumeName(prefix: string): string {
  return `${prefix}-disk.qcow2`;
}

/** The node's cloud-init seed volume (libvirt). */
export function seedVolumeName(prefix: string): string {
  return `${prefix}-seed.iso`;
}

/** The node's serial console log file (libvirt; in the console folder). */
export function consoleLogName(prefix: string): string {
  return `${prefix}-console.log`;
}

/** The log libvirt itself keeps per domain (in its log folder). */
export function domainLogName(prefix: string): string {
  return `${prefix}.log`;
}

/** A snapshot's name: what `snapshot save NAME` accepts (it becomes part of volume and file names). */
export const SNAPSHOT_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$/;

/** The node's memory image of snapshot `snapshot` (libvirt; a save image in the pool). */
export function snapshotMemoryVolumeName(prefix: string, snapshot: string): string {
  return `${prefix}-snap-${snapshot}.mem`;
}

/** The snapshot a volume name says it holds the memory of, for this node (undefined: not one). */
export function snapshotOfMemoryVolume(prefix: string, volume: string): string | undefined {
  if (!volume.startsWith(`${prefix}-snap-`) || !volume.endsWith('.mem')) return undefined;
  const name = volume.slice(`${prefix}-snap-`.length, -'.mem'.length);
  return SNAPSHOT_NAME.test(name) ? name : undefined;
}

/**
 * A copy-on-write layer over the node's disk (libvirt), made when a snapshot is saved (the node goes on
 * writing into it, the layer below is frozen) or restored (a fresh one over the frozen layer).
 */
export function diskLayerVolumeName(prefix: string, id: string): string {
  return `${prefix}-disk-${id}.qcow2`;
}

/** Whether a volume is one of the node's disk layers (diskLayerVolumeName). */
export function isDiskLayerVolume(prefix: string, volume: string): boolean {
  return volume.startsWith(`${prefix}-disk-`) && /^[0-9a-f]{8}\.qcow2$/.test(volume.slice(`${prefix}-disk-`.length));
}

/** Every file-like resource of a node (libvirt): its volumes, then its logs. */
export function nodeVolumeNames(prefix: string): string[] {
  return [diskVolumeName(prefix), seedVolumeName(prefix)];
}

/** The imported cloud image in a libvirt pool, by its checksum: shared by every cluster. */
export function libvirtBaseVolumeName(image: { algorithm: string; hash: string; format: string }): string {
  return `${BASE_PREFIX}${image.algorithm}-${image.hash.slice(0, 16)}.${image.format}`;
}

/** The VirtualBox base VM of a cloud image, by its checksum: shared by every cluster. */
export function vboxBaseVmName(hash: string): string {
  return `${BASE_PREFIX}${hash.slice(0, 16)}`;
}

/** The VirtualBox group of a cluster's node VMs (base VMs are in `/devcluster`). */
export function vboxGroupName(cluster: string): string {
  return `/devcluster/${cluster}`;
}

/** A node VM name (not a base): what `status` and `down` look at before reading tags. */
export function isNodeResourceName(name: string): boolean {
  return name.startsWith(NAME_PREFIX) && !name.startsWith(BASE_PREFIX);
}

/**
 * What devcluster's VirtualBox snapshots start with. A prefix marks them as devcluster's among the
 * user's own (VirtualBox's GUI names them "Snapshot N"), and keeps a name from ever being read as a
 * UUID: Machine::findSnapshot looks a name that parses as a UUID up by ID instead (VirtualBox
 * Main/src-server/MachineImpl.cpp, 7.0.18 line 5645).
 */
export const VBOX_SNAPSHOT_PREFIX = 'devcluster-';

/** The VirtualBox snapshot of cluster snapshot `name` on each node VM: `devcluster-<name>`. */
export function vboxSnapshotName(name: string): string {
  return `${VBOX_SNAPSHOT_PREFIX}${name}`;
}

/** The cluster snapshot a VirtualBox snapshot name stands for; undefined for one devcluster did not make. */
export function snapshotOfVboxName(name: string): string | undefined {
  return name.startsWith(VBOX_SNAPSHOT_PREFIX) && name.length > VBOX_SNAPSHOT_PREFIX.length ? name.slice(VBOX_SNAPSHOT_PREFIX.length) : undefined;
}
