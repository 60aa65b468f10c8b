/**
 * Cluster snapshots on libvirt: an external snapshot with memory per node, brought back with
 * `virsh restore` on a fresh copy-on-write layer. The same path on every libvirt version, because
 * reverting external snapshots only came in libvirt 9.9 (NEWS 9.9.0) and Debian 12 ships 9.0
 * (qemuSnapshotRevert: "revert to external snapshot not supported yet").
 *
 * Save (the node is paused by the cluster flow): a new qcow2 layer is made over the node's current disk,
 * then `snapshot-create-as --no-metadata --atomic --reuse-external --memspec … --diskspec vda…` writes
 * the memory to `<prefix>-snap-NAME.mem` in the pool (qemuSnapshotCreateActiveExternal writes it with
 * qemuSaveImageCreate, the writer `virsh save` uses) and moves the node onto the new layer: the layer
 * below is frozen and is the snapshot's disk. No snapshot metadata is kept in libvirt (`down` can
 * undefine the domain as before); the memory image itself names its frozen disk (its domain XML).
 *
 * Restore: destroy the node, make a fresh layer over the frozen one, point vda at it in the XML read
 * from the memory image (`save-image-dumpxml`), `virsh restore MEM --xml X --paused` (virsh(1): --xml
 * "can be used to account for file naming differences in underlying storage due to disk snapshots taken
 * after the guest was saved"; oVirt vdsm reverts memory snapshots the same way, lib/vdsm/virt/vm.py
 * _correctDiskVolumes), and define the persistent XML with the same disk. A memory image can be restored
 * any number of times: each restore gets its own layer. Layers nothing uses any more (the discarded
 * present, a deleted snapshot's disk on top of no other) are removed.
 *
 * What exists is read from the pool and the images: memory volumes by name (names.ts), frozen layers from
 * the images' XML, backing chains from qemu-img. The seed disk (vdb, raw, read-only) is left out of
 * every snapshot (`--diskspec vdb,snapshot=no`): it never changes.
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { DevclusterError, isDevclusterError } from '../../errors.js';
import type { Ctx } from '../../events.js';
import type { ClusterPlan, NodePlan } from '../../plan/plan.js';
import { diskLayerVolumeName, diskVolumeName, isDiskLayerVolume, snapshotMemoryVolumeName, snapshotOfMemoryVolume } from '../names.js';
import type { NodeSnapshot, SnapshotDriver, SnapshotMethod, SnapshotSpace } from '../snapshot.js';
import type { LibvirtDomain, LibvirtHypervisor } from './binding.js';
import { diskSource, withDiskVolume, type DiskSource } from './disk-source.js';
import { virsh, virshWithXml } from './virsh.js';

/** libvirt's domain states (virDomainState): paused, shut off. */
const PAUSED = 3;
const SHUTOFF = 5;

export interface LibvirtSnapshotsOptions {
  uri: string;
  pool: string;
  connection: () => Promise<LibvirtHypervisor>;
}

/** A comma inside a virsh --memspec/--diskspec value is written twice (virsh(1), snapshot-create-as). */
function spec(value: string): string {
  return value.replace(/,/g, ',,');
}

function failed(node: NodePlan, what: string, error: unknown, hint: string): DevclusterError {
  return new DevclusterError('SNAPSHOT_FAILED', `node ${node.name}: ${what}: ${(error as Error).message}`, {
    cause: error,
    details: isDevclusterError(error) ? error.details : [],
    hint,
  });
}

export class LibvirtSnapshots implements SnapshotDriver {
  private poolDir: Promise<string> | undefined;

  constructor(private readonly options: LibvirtSnapshotsOptions) {}

  private get uri(): string {
    return this.options.uri;
  }

  private get pool(): string {
    return this.options.pool;
  }

  /** The pool's folder (a `dir` pool's target path), where memory images are written. */
  private dir(signal: AbortSignal): Promise<string> {
    this.poolDir ??= virsh(this.uri, ['pool-dumpxml', this.pool], { signal }).then((r) => {
      const path = /<target>\s*<path>([^<]+)<\/path>/.exec(r.stdout)?.[1];
      if (!path) throw new DevclusterError('SNAPSHOT_FAILED', `pool ${this.pool} has no folder: snapshots need a directory pool`, { hint: 'set libvirt.pool to a pool of type dir (e.g. default)' });
      return path;
    });
    this.poolDir.catch(() => (this.poolDir = undefined));
    return this.poolDir;
  }

  private async domain(node: NodePlan): Promise<LibvirtDomain> {
    const hv = await this.options.connection();
    const domain = await hv.domainLookupByName(node.resourcePrefix).catch(() => undefined);
    if (!domain) throw new DevclusterError('NODE_NOT_FOUND', `node ${node.name} does not exist`, { hint: 'run `devcluster up`' });
    return domain;
  }

  async method(ctx: Ctx): Promise<SnapshotMethod> {
    const caps = (await virsh(this.uri, ['capabilities'], { signal: ctx.signal })).stdout;
    const version = (await virsh(this.uri, ['version'], { signal: ctx.signal })).stdout;
    const lib = /Using library: libvirt ([\d.]+)/.exec(version)?.[1] ?? '?';
    const revert = caps.includes('<externalSnapshot/>');
    return {
      id: 'external+restore',
      description:
        'memory and disk of every node captured as an external snapshot (memory image + frozen disk layer), brought back with `virsh restore` on a fresh layer; ' +
        (revert
          ? `libvirt ${lib} could revert external snapshots itself, but the restore path is kept the same on every version (one tested path, no libvirt metadata to clean up)`
          : `libvirt ${lib} cannot revert external snapshots (that came in 9.9), and internal ones would stop every node while its memory is written into its disk`),
    };
  }

  async space(_plan: ClusterPlan, ctx: Ctx): Promise<SnapshotSpace> {
    const info = (await virsh(this.uri, ['pool-info', '--bytes', this.pool], { signal: ctx.signal })).stdout;
    const available = Number(/^Available:\s+(\d+)/m.exec(info)?.[1]);
    if (!Number.isFinite(available)) throw new DevclusterError('SNAPSHOT_FAILED', `libvirt did not say how much space pool ${this.pool} has`, { details: info.split('\n'), hint: `see \`virsh pool-info ${this.pool}\`` });
    return { availableBytes: available, where: `libvirt pool ${this.pool} (${await this.dir(ctx.signal)})` };
  }

  async pause(_plan: ClusterPlan, nodes: readonly NodePlan[], _ctx: Ctx): Promise<void> {
    const hv = await this.options.connection();
    // Looked up first, so the suspends follow each other on one connection with nothing in between.
    const domains = await Promise.all(nodes.map(async (n) => ({ node: n, domain: await this.domain(n) })));
    for (const { node, domain } of domains) {
      if ((await hv.domainGetInfo(domain)).state === PAUSED) continue;
      await hv.domainSuspend(domain).catch((error: unknown) => {
        throw failed(node, 'could not be paused', error, 'see `devcluster status`; the node must be running');
      });
    }
  }

  async resume(_plan: ClusterPlan, nodes: readonly NodePlan[], _ctx: Ctx): Promise<void> {
    const hv = await this.options.connection();
    const domains = await Promise.all(nodes.map(async (n) => ({ node: n, domain: await this.domain(n) })));
    const errors: DevclusterError[] = [];
    for (const { node, domain } of domains) {
      // Every node is tried: one that cannot resume must not keep the others paused.
      if ((await hv.domainGetInfo(domain)).state !== PAUSED) continue;
      await hv.domainResume(domain).catch((error: unknown) => errors.push(failed(node, 'could not be resumed', error, `run \`virsh -c ${this.uri} resume ${node.resourcePrefix}\``)));
    }
    if (errors.length > 0) throw errors[0] as DevclusterError;
  }

  /** The pool's volume names. */
  private async volumes(signal: AbortSignal): Promise<string[]> {
    const out = (await virsh(this.uri, ['vol-list', '--pool', this.pool], { signal })).stdout;
    return out.split('\n').map((l) => l.trim().split(/\s+/)[0] ?? '').filter(Boolean);
  }

  private async refresh(signal: AbortSignal): Promise<void> {
    await virsh(this.uri, ['pool-refresh', this.pool], { signal });
  }

  /** A path for a disk source (volumes are looked up in the pool). */
  private async pathOf(source: DiskSource, signal: AbortSignal): Promise<string> {
    if ('file' in source) return source.file;
    return (await virsh(this.uri, ['vol-path', '--pool', source.pool, source.volume], { signal })).stdout.trim();
  }

  /** A new empty layer over `backing` (a path), sized as the node's disk; its volume name. */
  private async newLayer(node: NodePlan, backing: string, signal: AbortSignal): Promise<string> {
    const name = diskLayerVolumeName(node.resourcePrefix, randomBytes(4).toString('hex'));
    await virsh(this.uri, ['vol-create-as', this.pool, name, String(node.diskBytes), '--format', 'qcow2', '--backing-vol', backing, '--backing-vol-format', 'qcow2'], { signal });
    return name;
  }

  private async deleteVolume(name: string, signal?: AbortSignal): Promise<void> {
    await virsh(this.uri, ['vol-delete', '--pool', this.pool, name], signal ? { signal } : {});
  }

  async capture(_plan: ClusterPlan, node: NodePlan, name: string, ctx: Ctx): Promise<void> {
    const { signal } = ctx;
    const hv = await this.options.connection();
    const domain = await this.domain(node);
    const dir = await this.dir(signal);
    const memory = snapshotMemoryVolumeName(node.resourcePrefix, name);
    if ((await this.volumes(signal)).includes(memory)) {
      throw new DevclusterError('SNAPSHOT_EXISTS', `node ${node.name} already has snapshot ${name} (volume ${memory})`, { hint: `\`devcluster snapshot delete ${name}\` first, or pick another name` });
    }
    const current = diskSource(await hv.domainGetXMLDesc(domain), 'vda');
    if (!current) throw new DevclusterError('SNAPSHOT_FAILED', `node ${node.name} has no disk vda`, { hint: 'was the domain made by devcluster? `devcluster status`' });
    const top = await this.newLayer(node, await this.pathOf(current, signal), signal);
    try {
      await virsh(
        this.uri,
        [
          'snapshot-create-as', node.resourcePrefix, name, '--no-metadata', '--atomic', '--reuse-external',
          '--memspec', `file=${spec(`${dir}/${memory}`)},snapshot=external`,
          '--diskspec', `vda,snapshot=external,file=${spec(`${dir}/${top}`)}`,
          '--diskspec', 'vdb,snapshot=no',
        ],
        { signal, timeoutMs: 10 * 60_000 },
      );
    } catch (error) {
      // --atomic: libvirt left the node as it was; the unused layer and any partial image go.
      await this.deleteVolume(top).catch(() => undefined);
      await this.refresh(signal).catch(() => undefined);
      if ((await this.volumes(signal).catch(() => [] as string[])).includes(memory)) await this.deleteVolume(memory).catch(() => undefined);
      throw failed(node, `snapshot ${name} could not be taken`, error, 'see the details; `devcluster doctor` checks libvirt');
    }
    await this.refresh(signal);
  }

  async restore(_plan: ClusterPlan, node: NodePlan, name: string, ctx: Ctx): Promise<void> {
    const { signal } = ctx;
    const hv = await this.options.connection();
    const domain = await this.domain(node);
    const dir = await this.dir(signal);
    const memory = snapshotMemoryVolumeName(node.resourcePrefix, name);
    if (!(await this.volumes(signal)).includes(memory)) {
      throw new DevclusterError('SNAPSHOT_NOT_FOUND', `node ${node.name} has no snapshot ${name} (no volume ${memory} in pool ${this.pool})`, { hint: '`devcluster snapshot list` shows what there is' });
    }
    const saved = (await virsh(this.uri, ['save-image-dumpxml', '--security-info', `${dir}/${memory}`], { signal })).stdout;
    const frozen = diskSource(saved, 'vda');
    if (!frozen) throw new DevclusterError('SNAPSHOT_FAILED', `the memory image of ${name} on ${node.name} names no disk vda`, { hint: `delete it: \`devcluster snapshot delete ${name}\`` });
    const layer = await this.newLayer(node, await this.pathOf(frozen, signal), signal);
    try {
      if ((await hv.domainGetInfo(domain)).state !== SHUTOFF) await hv.domainDestroy(domain);
      await virshWithXml(this.uri, (file) => ['restore', `${dir}/${memory}`, '--xml', file, '--paused'], withDiskVolume(saved, 'vda', this.pool, layer), { signal, timeoutMs: 10 * 60_000 });
    } catch (error) {
      await this.deleteVolume(layer).catch(() => undefined);
      throw failed(node, `could not be restored to ${name}`, error, 'run `devcluster snapshot restore` again, or `devcluster up` to start the node as it was');
    }
    // The persistent definition (what the next `up` boots) gets the same disk.
    const inactive = (await virsh(this.uri, ['dumpxml', '--inactive', node.resourcePrefix], { signal })).stdout;
    await hv.domainDefineXML(withDiskVolume(inactive, 'vda', this.pool, layer));
    await this.collect(node, signal);
  }

  async remove(_plan: ClusterPlan, node: NodePlan, name: string, ctx: Ctx): Promise<void> {
    const memory = snapshotMemoryVolumeName(node.resourcePrefix, name);
    if (!(await this.volumes(ctx.signal)).includes(memory)) return;
    await this.deleteVolume(memory, ctx.signal);
    await this.collect(node, ctx.signal);
  }

  async list(_plan: ClusterPlan, node: NodePlan, ctx: Ctx): Promise<NodeSnapshot[]> {
    const { signal } = ctx;
    const dir = await this.dir(signal);
    const out: NodeSnapshot[] = [];
    for (const volume of await this.volumes(signal)) {
      const snapshot = snapshotOfMemoryVolume(node.resourcePrefix, volume);
      if (!snapshot) continue;
      let bytes = await this.allocation(volume, signal);
      const frozen = diskSource((await virsh(this.uri, ['save-image-dumpxml', `${dir}/${volume}`], { signal })).stdout, 'vda');
      const frozenName = frozen && ('volume' in frozen ? frozen.volume : frozen.file.slice(dir.length + 1));
      // The frozen layer is this snapshot's own disk unless it is the node's first disk (shared by all).
      if (frozenName && frozenName !== diskVolumeName(node.resourcePrefix)) bytes += await this.allocation(frozenName, signal).catch(() => 0);
      out.push({ node: node.name, snapshot, bytes });
    }
    return out;
  }

  private async allocation(volume: string, signal: AbortSignal): Promise<number> {
    const info = (await virsh(this.uri, ['vol-info', '--bytes', '--pool', this.pool, volume], { signal })).stdout;
    return Number(/^Allocation:\s+(\d+)/m.exec(info)?.[1] ?? 0);
  }

  /**
   * Remove the node's disk layers nothing uses: not in the backing chain of its current disk (live or
   * persistent) nor of any snapshot's frozen disk.
   */
  private async collect(node: NodePlan, signal: AbortSignal): Promise<void> {
    const hv = await this.options.connection();
    const dir = await this.dir(signal);
    const volumes = await this.volumes(signal);
    const roots: string[] = [];
    const domain = await this.domain(node);
    const live = diskSource(await hv.domainGetXMLDesc(domain), 'vda');
    if (live) roots.push(await this.pathOf(live, signal));
    const inactive = diskSource((await virsh(this.uri, ['dumpxml', '--inactive', node.resourcePrefix], { signal })).stdout, 'vda');
    if (inactive) roots.push(await this.pathOf(inactive, signal));
    for (const volume of volumes) {
      if (!snapshotOfMemoryVolume(node.resourcePrefix, volume)) continue;
      const frozen = diskSource((await virsh(this.uri, ['save-image-dumpxml', `${dir}/${volume}`], { signal })).stdout, 'vda');
      if (frozen) roots.push(await this.pathOf(frozen, signal));
    }
    // Each layer's backing file, as libvirt reads it from the image (vol-dumpxml: no root needed).
    const layers = volumes.filter((v) => isDiskLayerVolume(node.resourcePrefix, v));
    const backing = new Map<string, string | undefined>();
    for (const layer of layers) {
      const xml = (await virsh(this.uri, ['vol-dumpxml', '--pool', this.pool, layer], { signal })).stdout;
      backing.set(`${dir}/${layer}`, /<backingStore>\s*<path>([^<]+)<\/path>/.exec(xml)?.[1]);
    }
    const used = new Set<string>();
    for (const root of roots) {
      let path: string | undefined = root;
      while (path && !used.has(path)) {
        used.add(path);
        path = backing.get(path);
      }
    }
    for (const layer of layers) if (!used.has(`${dir}/${layer}`)) await this.deleteVolume(layer, signal);
  }

  async setClock(_plan: ClusterPlan, node: NodePlan, ctx: Ctx): Promise<boolean> {
    // virsh domtime --now: virDomainSetTime through qemu-guest-agent (guest-set-time), when one answers.
    for (let attempt = 0; attempt < 3; attempt += 1) {
      const ok = await virsh(this.uri, ['domtime', node.resourcePrefix, '--now'], { signal: ctx.signal, timeoutMs: 10_000 }).then(() => true, () => false);
      if (ok) return true;
      await sleep(300, undefined, { signal: ctx.signal });
    }
    return false;
  }
}
