/**
 * Cluster snapshots on VirtualBox, through VBoxManage only (the SnapshotDriver of ../snapshot.ts).
 * Sources read: VirtualBox 6.1.38, 7.0.18 and 7.1.12 (github.com/kaisenlinux/virtualbox imports, as named
 * in test/fixtures/vbox/VBoxManage), files under src/VBox/. What VirtualBox does, and so what this does:
 * - pause/resume: `controlvm VM pause|resume` back to back; a Saved or powered-off VM is started with
 *   `startvm --type headless`, since VBoxManage cannot start a VM paused.
 * - capture: `snapshot VM take NAME` WITHOUT `--live` on the paused VM: 7.x refuses `--live` unless the
 *   VM is Running (Main/src-server/SnapshotImpl.cpp SessionMachine::takeSnapshot, 7.0.18 line 1633,
 *   7.1.12 line 1648); a paused VM is online, so its memory is saved to a state file anyway, and the VM
 *   is put back in the state it had, Paused (TakeSnapshotTask drops the pause for a paused VM, 7.0.18
 *   line 1508; i_takeSnapshotHandler lines 2003-2036).
 * - restore: refused while the VM runs or is paused (restoreSnapshot, 7.0.18 line 2221: "Cannot delete
 *   the current state of the running machine"), so the VM is powered off first and its session left to
 *   go (session.ts); an online snapshot leaves the VM Saved (i_restoreSnapshotHandler lines 2498-2502).
 * - remove: `snapshot VM delete NAME`, allowed in every settled state (i_deleteSnapshot, 7.0.18 lines
 *   2708-2721) but not for a snapshot with two children, nor for the current one with a child (lines
 *   2730-2745): refused here first, with the reason.
 * - list: the snapshot's frozen disk layers (`showmediuminfo` "Size on disk") and its state file.
 *   VBoxManage prints neither for a snapshot (VBoxManageInfo.cpp prints VMStateFile only for the machine;
 *   `snapshot showvminfo` is not machine-readable), so they are read from the VM's settings file, which
 *   VirtualBox writes on every snapshot change (Main/xml/Settings.cpp buildSnapshotXML: <Snapshot
 *   uuid name stateFile> with its own <Hardware><StorageControllers> … <Image uuid>).
 * - down: `unregistervm --delete` already deletes every snapshot's media and state files
 *   (MachineImpl.cpp Machine::unregister, Snapshot::i_uninitAll, i_deleteConfigHandler), and the
 *   provider removes the VM's folder after it.
 */
import { readFile, stat, statfs } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { XMLParser } from 'fast-xml-parser';
import { DevclusterError } from '../../errors.js';
import type { Ctx } from '../../events.js';
import type { ClusterPlan, NodePlan } from '../../plan/plan.js';
import { snapshotOfVboxName, vboxSnapshotName } from '../names.js';
import type { NodeSnapshot, SnapshotDriver, SnapshotMethod, SnapshotSpace } from '../snapshot.js';
import { whenUnlocked } from './session.js';
import { parseMachineReadable, type VBoxManage } from './vboxmanage.js';

export const VBOX_SNAPSHOT_METHOD: SnapshotMethod = {
  id: 'virtualbox-live',
  description:
    'VirtualBox snapshots with memory (snapshot take on the paused nodes); restore is done node after node, back to back (poweroff, snapshot restore, startvm), not at one instant, because VBoxManage cannot start a VM paused',
};

/** One snapshot in the VM's tree (`SnapshotName-1-2=` keys of showvminfo / snapshot list). */
export interface VmSnapshot {
  name: string;
  uuid: string;
  /** The key's path, e.g. "-1-2"; its children are "-1-2-N". */
  node: string;
}

/** The snapshot tree as showvminfo --machinereadable (or `snapshot list --machinereadable`) prints it. */
export function snapshotTree(info: ReadonlyMap<string, string>): VmSnapshot[] {
  const out: VmSnapshot[] = [];
  for (const [key, name] of info) {
    const match = /^SnapshotName((?:-\d+)*)$/.exec(key);
    if (!match) continue;
    const node = match[1] as string;
    out.push({ name, uuid: info.get(`SnapshotUUID${node}`) ?? '', node });
  }
  return out;
}

function childrenOf(tree: readonly VmSnapshot[], snap: VmSnapshot): VmSnapshot[] {
  return tree.filter((s) => new RegExp(`^${snap.node}-\\d+$`).test(s.node));
}

interface SnapshotFiles {
  /** Image UUIDs of the snapshot's hard disks. */
  images: string[];
  stateFile?: string;
}

const xml = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '', isArray: (name) => ['Snapshot', 'StorageController', 'AttachedDevice'].includes(name) });

type XmlNode = Record<string, unknown>;

/** Each snapshot's hard disk images and state file, by snapshot UUID, from the VM's settings file. */
export function snapshotFiles(settingsXml: string, settingsFile: string): Map<string, SnapshotFiles> {
  const out = new Map<string, SnapshotFiles>();
  const machine = ((xml.parse(settingsXml) as XmlNode).VirtualBox as XmlNode | undefined)?.Machine as XmlNode | undefined;
  const images = (owner: XmlNode): string[] => {
    // Settings 1.17 and later: under <Hardware>; older ones: beside it (Settings.cpp lines 7969-7976).
    const holders = [owner.Hardware as XmlNode | undefined, owner].filter((h): h is XmlNode => !!h);
    const ids: string[] = [];
    for (const holder of holders) {
      for (const ctl of ((holder.StorageControllers as XmlNode | undefined)?.StorageController as XmlNode[] | undefined) ?? []) {
        for (const dev of (ctl.AttachedDevice as XmlNode[] | undefined) ?? []) {
          const id = (dev.Image as XmlNode | undefined)?.uuid;
          if (dev.type === 'HardDisk' && typeof id === 'string') ids.push(id.replace(/[{}]/g, ''));
        }
      }
    }
    return ids;
  };
  const walk = (snaps: XmlNode[] | undefined): void => {
    for (const snap of snaps ?? []) {
      const files: SnapshotFiles = { images: images(snap) };
      if (typeof snap.stateFile === 'string') files.stateFile = isAbsolute(snap.stateFile) ? snap.stateFile : resolve(dirname(settingsFile), snap.stateFile);
      out.set(String(snap.uuid).replace(/[{}]/g, ''), files);
      walk((snap.Snapshots as XmlNode | undefined)?.Snapshot as XmlNode[] | undefined);
    }
  };
  if (machine) walk(machine.Snapshot as XmlNode[] | undefined);
  return out;
}

/** "Size on disk:   N MBytes" of `showmediuminfo`, in bytes (VBoxManageDisk.cpp prints `Size >> 20`). */
export function sizeOnDisk(text: string): number {
  const mb = /^Size on disk:\s+(\d+) MBytes$/m.exec(text)?.[1];
  return mb === undefined ? 0 : Number(mb) * 1048576;
}

export class VirtualBoxSnapshots implements SnapshotDriver {
  constructor(
    private readonly vbox: VBoxManage,
    private readonly sessionBudgetMs: number,
  ) {}

  private async info(vm: string, signal: AbortSignal): Promise<Map<string, string> | undefined> {
    const { stdout } = await this.vbox.run(['list', 'vms'], { signal });
    if (!stdout.split('\n').some((line) => line.startsWith(`"${vm}" {`))) return undefined;
    return parseMachineReadable((await this.vbox.run(['showvminfo', vm, '--machinereadable'], { signal })).stdout);
  }

  private async existing(plan: ClusterPlan, node: NodePlan, signal: AbortSignal): Promise<Map<string, string>> {
    const info = await this.info(node.resourcePrefix, signal);
    if (!info) throw new DevclusterError('NODE_NOT_FOUND', `node ${node.name} of cluster ${plan.name} does not exist`, { hint: 'run `devcluster up`' });
    return info;
  }

  /** Runs a VBoxManage call that locks the VM: at once while its process runs, else once its session has gone. */
  private locked<T>(vm: string, info: ReadonlyMap<string, string>, signal: AbortSignal, call: () => Promise<T>): Promise<T> {
    const state = info.get('VMState');
    if (state === 'running' || state === 'paused' || !info.has('SessionName')) return call();
    return whenUnlocked(this.vbox, vm, this.sessionBudgetMs, signal, call);
  }

  async method(): Promise<SnapshotMethod> {
    return VBOX_SNAPSHOT_METHOD;
  }

  /** The node folder with the least room: snapshots (state files, disk layers) go in each VM's Snapshots folder. */
  async space(plan: ClusterPlan, ctx: Ctx): Promise<SnapshotSpace> {
    let least: SnapshotSpace | undefined;
    for (const node of plan.nodes) {
      const info = await this.existing(plan, node, ctx.signal);
      const where = dirname(info.get('CfgFile') ?? '');
      const fs = await statfs(where);
      const availableBytes = Number(fs.bavail) * Number(fs.bsize);
      if (!least || availableBytes < least.availableBytes) least = { availableBytes, where };
    }
    if (!least) throw new DevclusterError('NODE_NOT_FOUND', `cluster ${plan.name} has no nodes`, { hint: 'run `devcluster up`' });
    return least;
  }

  async pause(plan: ClusterPlan, nodes: readonly NodePlan[], ctx: Ctx): Promise<void> {
    const states = new Map<string, string>();
    for (const node of nodes) {
      const state = (await this.existing(plan, node, ctx.signal)).get('VMState') ?? '';
      if (state !== 'running' && state !== 'paused') {
        throw new DevclusterError('NODE_NOT_RUNNING', `node ${node.name} is not running (VirtualBox says ${state || 'nothing'})`, { hint: 'run `devcluster up` to start it, then save again' });
      }
      states.set(node.name, state);
    }
    // The freeze: nothing but the pauses, back to back.
    for (const node of nodes) {
      if (states.get(node.name) === 'running') await this.vbox.run(['controlvm', node.resourcePrefix, 'pause'], { signal: ctx.signal });
    }
  }

  async resume(plan: ClusterPlan, nodes: readonly NodePlan[], ctx: Ctx): Promise<void> {
    const infos = new Map<string, Map<string, string>>();
    for (const node of nodes) infos.set(node.name, await this.existing(plan, node, ctx.signal));
    for (const node of nodes) {
      const info = infos.get(node.name) as Map<string, string>;
      const vm = node.resourcePrefix;
      const state = info.get('VMState');
      if (state === 'paused') await this.vbox.run(['controlvm', vm, 'resume'], { signal: ctx.signal });
      else if (state !== 'running') {
        await this.locked(vm, info, ctx.signal, () => this.vbox.run(['startvm', vm, '--type', 'headless'], { signal: ctx.signal, timeoutMs: 300_000 }));
      }
    }
  }

  async capture(plan: ClusterPlan, node: NodePlan, name: string, ctx: Ctx): Promise<void> {
    const vm = node.resourcePrefix;
    const snapshot = vboxSnapshotName(name);
    const info = await this.existing(plan, node, ctx.signal);
    if (snapshotTree(info).some((s) => s.name === snapshot)) {
      // VirtualBox allows two snapshots of one name; restore and delete would then pick either.
      throw new DevclusterError('SNAPSHOT_EXISTS', `node ${node.name} already has a snapshot ${name} (${snapshot} in VirtualBox)`, { hint: `delete it first: \`devcluster snapshot delete ${name}\`` });
    }
    if (info.get('VMState') !== 'paused') {
      throw new DevclusterError('SNAPSHOT_FAILED', `node ${node.name} is ${info.get('VMState') ?? 'in an unknown state'}, not paused: its snapshot would not be of the cluster's instant`, { hint: 'run the save again' });
    }
    ctx.report({ kind: 'phase', label: node.name, message: `saving ${vm}'s memory and disks as ${snapshot}` });
    await this.vbox.run(['snapshot', vm, 'take', snapshot, '--description', `devcluster snapshot ${name} of node ${node.name}, cluster ${plan.name}`], {
      signal: ctx.signal,
      timeoutMs: 30 * 60_000,
    });
  }

  async restore(plan: ClusterPlan, node: NodePlan, name: string, ctx: Ctx): Promise<void> {
    const vm = node.resourcePrefix;
    const snapshot = vboxSnapshotName(name);
    let info = await this.existing(plan, node, ctx.signal);
    if (!snapshotTree(info).some((s) => s.name === snapshot)) {
      throw new DevclusterError('SNAPSHOT_NOT_FOUND', `node ${node.name} has no snapshot ${name} (${snapshot} in VirtualBox)`, { hint: 'see the snapshots with `devcluster snapshot list`' });
    }
    const state = info.get('VMState');
    if (state === 'running' || state === 'paused') {
      ctx.report({ kind: 'phase', label: node.name, message: `powering ${vm} off to restore ${snapshot}` });
      await this.vbox.run(['controlvm', vm, 'poweroff'], { signal: ctx.signal });
      info = await this.existing(plan, node, ctx.signal);
    }
    ctx.report({ kind: 'phase', label: node.name, message: `restoring ${vm} to ${snapshot}` });
    await this.locked(vm, info, ctx.signal, () => this.vbox.run(['snapshot', vm, 'restore', snapshot], { signal: ctx.signal, timeoutMs: 30 * 60_000 }));
  }

  async remove(plan: ClusterPlan, node: NodePlan, name: string, ctx: Ctx): Promise<void> {
    const vm = node.resourcePrefix;
    const snapshot = vboxSnapshotName(name);
    const info = await this.info(vm, ctx.signal);
    if (!info) return;
    const tree = snapshotTree(info);
    const snap = tree.find((s) => s.name === snapshot);
    if (!snap) return;
    const children = childrenOf(tree, snap).map((s) => snapshotOfVboxName(s.name) ?? s.name);
    const current = info.get('CurrentSnapshotUUID') === snap.uuid;
    if (children.length > 1 || (current && children.length === 1)) {
      const why = children.length > 1 ? `it has ${children.length} later snapshots taken from it (${children.join(', ')})` : `the cluster was restored to it and ${children[0] ?? ''} was taken from it before`;
      throw new DevclusterError('SNAPSHOT_FAILED', `VirtualBox cannot delete snapshot ${name} of node ${node.name}: ${why}`, {
        hint: current && children.length === 1 ? `delete ${children[0] ?? ''} first, or restore another snapshot and delete ${name} then` : `delete ${children.join(' or ')} first`,
      });
    }
    ctx.report({ kind: 'phase', label: node.name, message: `deleting ${vm}'s snapshot ${snapshot}` });
    await this.locked(vm, info, ctx.signal, () => this.vbox.run(['snapshot', vm, 'delete', snapshot], { signal: ctx.signal, timeoutMs: 30 * 60_000 }));
  }

  async list(_plan: ClusterPlan, node: NodePlan, ctx: Ctx): Promise<NodeSnapshot[]> {
    const info = await this.info(node.resourcePrefix, ctx.signal);
    if (!info) return [];
    const ours = snapshotTree(info).filter((s) => snapshotOfVboxName(s.name) !== undefined);
    if (ours.length === 0) return [];
    const settings = info.get('CfgFile') ?? '';
    const files = snapshotFiles(await readFile(settings, 'utf8'), settings);
    const out: NodeSnapshot[] = [];
    for (const snap of ours) {
      const own = files.get(snap.uuid) ?? { images: [] };
      let bytes = 0;
      for (const image of own.images) bytes += sizeOnDisk((await this.vbox.run(['showmediuminfo', 'disk', image], { signal: ctx.signal })).stdout);
      if (own.stateFile) bytes += (await stat(own.stateFile).catch(() => undefined))?.size ?? 0;
      out.push({ node: node.name, snapshot: snapshotOfVboxName(snap.name) as string, bytes });
    }
    return out;
  }
}
