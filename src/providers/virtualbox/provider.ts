/**
 * The VirtualBox provider, through VBoxManage only. The cached cloud image is converted once to VDI
 * (qemu-img) and registered as a base VM with a snapshot; each node is a linked clone of it, its disk
 * grown to the node's size, its seed ISO in a DVD drive. NIC1 is NAT with SSH forwarded from
 * 127.0.0.1; the plan's addresses sit on a host-only NIC; bridged clusters add the host's LAN.
 * Every node VM is in the group /devcluster/<cluster> with devcluster's keys in its extradata —
 * which is how `status` and `down` find them; the host-only interface devcluster creates is recorded
 * in the global extradata (hostonly.ts), which is how `down` knows it may remove it. A VM that has
 * just powered off stays locked until its process has gone (session.ts): deleting and starting wait.
 * The object keeps nothing between calls: the host-only interface is found by its address and the
 * SSH port read from the VM's own NAT rule, every time. Cluster snapshots are snapshots.ts; `down`'s
 * `unregistervm --delete` removes them with the VM (their disk layers and state files).
 */
import { readFile, rm, stat } from 'node:fs/promises';
import { freePort } from '../../net/free-port.js';
import { basename, dirname, join } from 'node:path';
import { DevclusterError } from '../../errors.js';
import type { Ctx } from '../../events.js';
import type { CachedImage } from '../../images/cache.js';
import type { SeedFiles } from '../../cloudinit/seed.js';
import type { ClusterPlan, NodePlan } from '../../plan/plan.js';
import { run } from '../../process/run.js';
import { isNodeResourceName, vboxBaseVmName, vboxGroupName } from '../names.js';
import type { NodeState, NodeStatus, Provider, SshEndpoint, StopResult } from '../provider.js';
import { makeSeedIso } from '../shared/seed-iso.js';
import { stopWithinBudget } from '../shared/stop.js';
import { BASE_SNAPSHOT, baseVmArgs, cloneArgs, modifyNodeArgs, ostypeFor, seedArgs, TAG, tagArgs } from './args.js';
import { ensureHostOnly, findHostOnly, releaseHostOnly } from './hostonly.js';
import { SESSION_BUDGET_MS, whenUnlocked } from './session.js';
import { VirtualBoxSnapshots } from './snapshots.js';
import { parseExtraData, parseMachineReadable, VBoxManage, type VBoxOptions } from './vboxmanage.js';

export interface VirtualBoxProviderOptions extends VBoxOptions {
  /** How long a powered-off VM may stay locked by its session before deleting or starting it fails. */
  sessionBudgetMs?: number;
}

const STATES: Record<string, NodeState> = { running: 'running', poweroff: 'stopped', saved: 'stopped', aborted: 'crashed', paused: 'paused' };

interface VmInfo {
  name: string;
  info: Map<string, string>;
  tags: Map<string, string>;
}

export class VirtualBoxProvider implements Provider {
  readonly name = 'virtualbox' as const;
  private readonly vbox: VBoxManage;
  private readonly sessionBudgetMs: number;
  /** Cluster snapshots (snapshots.ts): VirtualBox snapshots with memory, taken on paused nodes. */
  readonly snapshots: VirtualBoxSnapshots;

  constructor(options: VirtualBoxProviderOptions = {}) {
    this.vbox = new VBoxManage(options);
    this.sessionBudgetMs = options.sessionBudgetMs ?? SESSION_BUDGET_MS;
    this.snapshots = new VirtualBoxSnapshots(this.vbox, this.sessionBudgetMs);
  }

  private async vms(signal: AbortSignal): Promise<string[]> {
    const { stdout } = await this.vbox.run(['list', 'vms'], { signal });
    return [...stdout.matchAll(/^"(.*)" \{[0-9a-f-]+\}$/gm)].map((m) => m[1] as string);
  }

  private async vmInfo(name: string, signal: AbortSignal): Promise<VmInfo> {
    const info = parseMachineReadable((await this.vbox.run(['showvminfo', name, '--machinereadable'], { signal })).stdout);
    const tags = parseExtraData((await this.vbox.run(['getextradata', name, 'enumerate'], { signal })).stdout);
    return { name, info, tags };
  }

  private async clusterVms(cluster: string | undefined, signal: AbortSignal): Promise<VmInfo[]> {
    const out: VmInfo[] = [];
    for (const name of (await this.vms(signal)).filter(isNodeResourceName)) {
      const vm = await this.vmInfo(name, signal);
      const owner = vm.tags.get(`${TAG}/cluster`);
      if (!owner || !vm.tags.get(`${TAG}/node`)) continue;
      if (cluster !== undefined && (owner !== cluster || vm.info.get('groups') !== vboxGroupName(cluster))) continue;
      out.push(vm);
    }
    return out;
  }

  /** The host-only interface whose host address is the plan's gateway; made (and recorded) when missing. */
  async ensureNetwork(plan: ClusterPlan, ctx: Ctx): Promise<void> {
    await this.hostOnlyOf(plan, ctx, true);
  }

  /**
   * The cluster's host-only interface. `ensure` (or none found by its address yet) makes it, after
   * refusing a VirtualBox older than 6.1 (version.ts): the nodes' nested VT-x needs 6.1.
   */
  private async hostOnlyOf(plan: ClusterPlan, ctx: Ctx, ensure: boolean): Promise<string> {
    const found = ensure ? undefined : await findHostOnly(this.vbox, plan.network.gateway, ctx.signal);
    if (found) return found;
    await this.vbox.version(ctx.signal);
    return ensureHostOnly(this.vbox, plan.name, plan.network.gateway, plan.network.netmask, plan.network.prefix, ctx.signal);
  }

  /** The base VM of an image: its VDI and a snapshot to clone from, made once. */
  private async ensureBase(plan: ClusterPlan, image: CachedImage, ctx: Ctx): Promise<string> {
    const name = vboxBaseVmName(image.hash);
    if ((await this.vms(ctx.signal)).includes(name)) return name;
    ctx.report({ kind: 'phase', label: 'image', message: `converting ${image.name ?? image.url} to VDI for VirtualBox` });
    const [create, storagectl] = baseVmArgs(name, ostypeFor(plan.image)) as [string[], string[]];
    const created = await this.vbox.run(create, { signal: ctx.signal });
    try {
      const settings = /Settings file: '(.+)'/.exec(created.stdout)?.[1];
      if (!settings) throw new DevclusterError('VBOX_FAILED', `VBoxManage createvm did not say where ${name} lives`);
      const vdi = join(dirname(settings), `${name}.vdi`);
      await run('qemu-img', ['convert', '-O', 'vdi', image.path, vdi], { signal: ctx.signal, timeoutMs: 30 * 60_000, debianPackage: 'qemu-utils' });
      await this.vbox.run(storagectl, { signal: ctx.signal });
      await this.vbox.run(['storageattach', name, '--storagectl', 'SATA', '--port', '0', '--device', '0', '--type', 'hdd', '--medium', vdi], { signal: ctx.signal });
      await this.vbox.run(['snapshot', name, 'take', BASE_SNAPSHOT], { signal: ctx.signal, timeoutMs: 600_000 });
      await this.vbox.run(['setextradata', name, `${TAG}/base`, image.hash], { signal: ctx.signal });
    } catch (error) {
      await this.vbox.run(['unregistervm', name, '--delete']).catch(() => undefined);
      throw error;
    }
    return name;
  }

  async createNode(plan: ClusterPlan, node: NodePlan, image: CachedImage, seed: SeedFiles, ctx: Ctx): Promise<'created' | 'exists'> {
    const vm = node.resourcePrefix;
    if ((await this.vms(ctx.signal)).includes(vm)) return 'exists';
    const hostOnlyInterface = await this.hostOnlyOf(plan, ctx, false);
    const base = await this.ensureBase(plan, image, ctx);
    await this.vbox.run(cloneArgs(base, node, plan.name), { signal: ctx.signal, timeoutMs: 600_000 });
    try {
      const info = parseMachineReadable((await this.vbox.run(['showvminfo', vm, '--machinereadable'], { signal: ctx.signal })).stdout);
      const folder = dirname(info.get('CfgFile') as string);
      const disk = info.get(`SATA-0-0`);
      if (!disk) throw new DevclusterError('VBOX_FAILED', `the clone ${vm} has no disk on SATA port 0`);
      await this.vbox.run(['modifymedium', 'disk', disk, '--resize', String(Math.round(node.diskBytes / 1048576))], { signal: ctx.signal });
      const iso = await makeSeedIso(seed, ctx.signal, folder);
      await this.vbox.run(seedArgs(vm, iso.path), { signal: ctx.signal });
      const sshPort = await freePort();
      await this.vbox.run(modifyNodeArgs(plan, node, { sshPort, hostOnlyInterface, consoleLog: join(folder, 'console.log'), nested: true }), { signal: ctx.signal });
      for (const args of tagArgs(plan, node, sshPort)) await this.vbox.run(args, { signal: ctx.signal });
    } catch (error) {
      // Nothing half-made stays behind.
      await this.deleteVm(vm).catch(() => undefined);
      throw error;
    }
    return 'created';
  }

  async startNode(plan: ClusterPlan, node: NodePlan, ctx: Ctx): Promise<void> {
    const vm = await this.vmInfo(node.resourcePrefix, ctx.signal).catch(() => undefined);
    if (!vm) throw new DevclusterError('NODE_NOT_FOUND', `node ${node.name} of cluster ${plan.name} does not exist`, { hint: 'run `devcluster up`' });
    if (vm.info.get('VMState') === 'running') return;
    const start = () => this.vbox.run(['startvm', node.resourcePrefix, '--type', 'headless'], { signal: ctx.signal, timeoutMs: 300_000 });
    if (!vm.info.has('SessionName')) {
      await start();
      return;
    }
    // Powered off a moment ago (`halt`, a forced stop): the VM process still holds it.
    ctx.report({ kind: 'phase', label: node.name, message: `waiting for VirtualBox to release ${node.resourcePrefix} after its power-off` });
    await whenUnlocked(this.vbox, node.resourcePrefix, this.sessionBudgetMs, ctx.signal, start);
  }

  async stopNode(_plan: ClusterPlan, node: NodePlan, budgetMs: number, ctx: Ctx): Promise<StopResult> {
    const vm = node.resourcePrefix;
    const running = async () => parseMachineReadable((await this.vbox.run(['showvminfo', vm, '--machinereadable'], { signal: ctx.signal })).stdout).get('VMState') === 'running';
    if (!(await this.vms(ctx.signal)).includes(vm)) return 'already-stopped';
    return stopWithinBudget(
      {
        isOn: running,
        acpi: async () => void (await this.vbox.run(['controlvm', vm, 'acpipowerbutton'], { signal: ctx.signal })),
        force: async () => void (await this.vbox.run(['controlvm', vm, 'poweroff'], { signal: ctx.signal })),
      },
      budgetMs,
      ctx.signal,
    );
  }

  async listNodes(cluster: string, ctx: Ctx): Promise<NodeStatus[]> {
    const out: NodeStatus[] = [];
    for (const vm of await this.clusterVms(cluster, ctx.signal)) {
      const node = vm.tags.get(`${TAG}/node`) as string;
      const status: NodeStatus = { cluster, node, role: vm.tags.get(`${TAG}/role`) ?? '', state: STATES[vm.info.get('VMState') ?? ''] ?? 'other', resource: vm.name };
      const ip = vm.tags.get(`${TAG}/ip`);
      if (ip) status.ip = ip;
      out.push(status);
    }
    return out.sort((a, b) => a.node.localeCompare(b.node));
  }

  /** Power off (when on), wait for the VM's session to go, unregister and delete with its disks. */
  private async deleteVm(name: string, ctx?: Ctx): Promise<void> {
    const signal = ctx?.signal ?? new AbortController().signal;
    const info = parseMachineReadable((await this.vbox.run(['showvminfo', name, '--machinereadable'], { signal })).stdout);
    if (info.get('VMState') === 'running' || info.get('VMState') === 'paused') await this.vbox.run(['controlvm', name, 'poweroff'], { signal }).catch(() => undefined);
    if (info.has('SessionName')) ctx?.report({ kind: 'phase', label: 'down', message: `waiting for VirtualBox to release ${name} (its session ends when the VM process exits)` });
    await whenUnlocked(this.vbox, name, this.sessionBudgetMs, signal, () => this.vbox.run(['unregistervm', name, '--delete'], { signal, timeoutMs: 300_000 }));
    // The seed ISO and console log are not VirtualBox media: remove the VM's own folder too.
    const folder = dirname(info.get('CfgFile') ?? '');
    if (basename(folder) === name) await rm(folder, { recursive: true, force: true });
  }

  async deleteCluster(cluster: string, _nodes: readonly string[], ctx: Ctx): Promise<string[]> {
    const removed: string[] = [];
    for (const vm of await this.clusterVms(cluster, ctx.signal)) {
      await this.deleteVm(vm.name, ctx);
      removed.push(`vm ${vm.name}`);
    }
    const network = await releaseHostOnly(this.vbox, cluster, ctx.signal);
    for (const name of network.removed) removed.push(`host-only interface ${name}`);
    for (const what of network.kept) ctx.report({ kind: 'note', message: `host-only interface ${what} was kept` });
    return removed;
  }

  async consoleTail(_plan: ClusterPlan, node: NodePlan, bytes: number): Promise<string> {
    const info = await this.vmInfo(node.resourcePrefix, new AbortController().signal).catch(() => undefined);
    const mode = info?.info.get('uartmode1') ?? '';
    const file = mode.startsWith('file,') ? mode.slice('file,'.length) : '';
    if (!file || !(await stat(file).catch(() => undefined))) return '';
    const text = await readFile(file, 'utf8');
    return text.slice(-bytes);
  }

  /** The host side of the VM's own `ssh` NAT rule (`Forwarding(N)="ssh,tcp,127.0.0.1,PORT,,22"`), read each time. */
  async sshEndpoint(plan: ClusterPlan, node: NodePlan, ctx: Ctx): Promise<SshEndpoint> {
    const vm = (await this.vms(ctx.signal)).includes(node.resourcePrefix) ? await this.vmInfo(node.resourcePrefix, ctx.signal) : undefined;
    if (!vm || vm.tags.get(`${TAG}/cluster`) !== plan.name) {
      throw new DevclusterError('NODE_NOT_FOUND', `node ${node.name} of cluster ${plan.name} does not exist`, { hint: 'run `devcluster up`' });
    }
    const endpoint = sshForward(vm.info);
    if (!endpoint) throw new DevclusterError('NODE_NOT_FOUND', `node ${node.name} has no SSH port forward`, { hint: 'run `devcluster down`, then `devcluster up`' });
    return endpoint;
  }

  /** Nothing is held open between calls. */
  async close(): Promise<void> {}
}

/** The `ssh` rule of a VM's NAT port forwards (showvminfo --machinereadable), as host and port. */
export function sshForward(info: ReadonlyMap<string, string>): SshEndpoint | undefined {
  for (const [key, value] of info) {
    if (!/^Forwarding\(\d+\)$/.test(key)) continue;
    const [name, proto, hostIp, hostPort, , guestPort] = value.split(',');
    const port = Number(hostPort);
    if (name === 'ssh' && proto === 'tcp' && guestPort === '22' && Number.isInteger(port) && port > 0) return { host: hostIp || '127.0.0.1', port };
  }
  return undefined;
}
