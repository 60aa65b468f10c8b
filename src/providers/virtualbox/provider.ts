/**
 * The VirtualBox provider, through VBoxManage only. The cached cloud image is converted once to VDI
 * (qemu-img) and registered as a base VM with a snapshot; each node is a linked clone of it, its disk
 * grown to the node's size, its seed ISO in a DVD drive. NIC1 is NAT with SSH forwarded from
 * 127.0.0.1; the plan's addresses sit on a host-only NIC; bridged clusters add the host's LAN.
 * Every node VM is in the group /devcluster/<cluster> with devcluster's keys in its extradata —
 * which is how `status` and `down` find them; the host-only interface devcluster creates is recorded
 * in the global extradata (hostonly.ts), which is how `down` knows it may remove it. A VM that has
 * just powered off stays locked until its process has gone (session.ts): deleting and starting wait.
 */
import { readFile, rm, stat } from 'node:fs/promises';
import { freePort } from '../../net/free-port.js';
import { basename, dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { DevclusterError } from '../../errors.js';
import type { Ctx } from '../../events.js';
import type { CachedImage } from '../../images/cache.js';
import type { SeedFiles } from '../../cloudinit/seed.js';
import { writeSeedIso } from '../../cloudinit/seed-iso.js';
import type { ClusterPlan, NodePlan } from '../../plan/plan.js';
import { run } from '../../process/run.js';
import type { NodeState, NodeStatus, Provider, SshEndpoint } from '../provider.js';
import { BASE_SNAPSHOT, baseVmArgs, baseVmName, cloneArgs, groupOf, modifyNodeArgs, ostypeFor, seedArgs, TAG, tagArgs } from './args.js';
import { ensureHostOnly, releaseHostOnly } from './hostonly.js';
import { SESSION_BUDGET_MS, whenUnlocked } from './session.js';
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
  private hostOnly: string | undefined;
  private nestedSupported: boolean | undefined;
  /** SSH ports of the nodes seen (from their extradata), for sshEndpoint. */
  private readonly ports = new Map<string, number>();
  private readonly sessionBudgetMs: number;

  constructor(options: VirtualBoxProviderOptions = {}) {
    this.vbox = new VBoxManage(options);
    this.sessionBudgetMs = options.sessionBudgetMs ?? SESSION_BUDGET_MS;
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
    for (const name of (await this.vms(signal)).filter((n) => n.startsWith('dc-') && !n.startsWith('dc-base-'))) {
      const vm = await this.vmInfo(name, signal);
      const owner = vm.tags.get(`${TAG}/cluster`);
      if (!owner || !vm.tags.get(`${TAG}/node`)) continue;
      if (cluster !== undefined && (owner !== cluster || vm.info.get('groups') !== groupOf(cluster))) continue;
      out.push(vm);
    }
    return out;
  }

  /** The host-only interface whose host address is the plan's gateway; made (and recorded) when missing. */
  async ensureNetwork(plan: ClusterPlan, ctx: Ctx): Promise<void> {
    const version = await this.vbox.version(ctx.signal);
    this.nestedSupported = version.major > 6 || (version.major === 6 && version.minor >= 1);
    this.hostOnly = await ensureHostOnly(this.vbox, plan.name, plan.network.gateway, plan.network.netmask, plan.network.prefix, ctx.signal);
  }

  /** The base VM of an image: its VDI and a snapshot to clone from, made once. */
  private async ensureBase(plan: ClusterPlan, image: CachedImage, ctx: Ctx): Promise<string> {
    const name = baseVmName(image.hash);
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
    if ((await this.vms(ctx.signal)).includes(vm)) {
      const port = Number((await this.vmInfo(vm, ctx.signal)).tags.get(`${TAG}/ssh-port`));
      if (port > 0) this.ports.set(`${plan.name}/${node.name}`, port);
      return 'exists';
    }
    if (this.hostOnly === undefined) await this.ensureNetwork(plan, ctx);
    const base = await this.ensureBase(plan, image, ctx);
    await this.vbox.run(cloneArgs(base, node, plan.name), { signal: ctx.signal, timeoutMs: 600_000 });
    try {
      const info = parseMachineReadable((await this.vbox.run(['showvminfo', vm, '--machinereadable'], { signal: ctx.signal })).stdout);
      const folder = dirname(info.get('CfgFile') as string);
      const disk = info.get(`SATA-0-0`);
      if (!disk) throw new DevclusterError('VBOX_FAILED', `the clone ${vm} has no disk on SATA port 0`);
      await this.vbox.run(['modifymedium', 'disk', disk, '--resize', String(Math.round(node.diskBytes / 1048576))], { signal: ctx.signal });
      const iso = join(folder, 'seed.iso');
      await writeSeedIso(seed, iso, { signal: ctx.signal });
      await this.vbox.run(seedArgs(vm, iso), { signal: ctx.signal });
      const sshPort = await freePort();
      await this.vbox.run(modifyNodeArgs(plan, node, { sshPort, hostOnlyInterface: this.hostOnly as string, consoleLog: join(folder, 'console.log'), nested: this.nestedSupported ?? true }), { signal: ctx.signal });
      for (const args of tagArgs(plan, node, sshPort)) await this.vbox.run(args, { signal: ctx.signal });
      this.ports.set(`${plan.name}/${node.name}`, sshPort);
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

  async stopNode(plan: ClusterPlan, name: string, budgetMs: number, ctx: Ctx): Promise<'shutdown' | 'forced' | 'already-stopped'> {
    const vm = `dc-${plan.name}-${name}`;
    const state = async () => parseMachineReadable((await this.vbox.run(['showvminfo', vm, '--machinereadable'], { signal: ctx.signal })).stdout).get('VMState');
    if (!(await this.vms(ctx.signal)).includes(vm) || (await state()) !== 'running') return 'already-stopped';
    await this.vbox.run(['controlvm', vm, 'acpipowerbutton'], { signal: ctx.signal });
    const deadline = Date.now() + budgetMs;
    while (Date.now() < deadline) {
      if ((await state()) !== 'running') return 'shutdown';
      await sleep(Math.min(1000, Math.max(100, deadline - Date.now())), undefined, { signal: ctx.signal });
    }
    if ((await state()) !== 'running') return 'shutdown';
    await this.vbox.run(['controlvm', vm, 'poweroff'], { signal: ctx.signal });
    return 'forced';
  }

  async listNodes(cluster: string, ctx: Ctx): Promise<NodeStatus[]> {
    const out: NodeStatus[] = [];
    for (const vm of await this.clusterVms(cluster, ctx.signal)) {
      const node = vm.tags.get(`${TAG}/node`) as string;
      const port = Number(vm.tags.get(`${TAG}/ssh-port`));
      if (port > 0) this.ports.set(`${cluster}/${node}`, port);
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

  sshEndpoint(plan: ClusterPlan, node: NodePlan): SshEndpoint {
    const port = this.ports.get(`${plan.name}/${node.name}`);
    if (port === undefined) throw new DevclusterError('NODE_NOT_FOUND', `node ${node.name} has no SSH port forward yet`, { hint: 'run `devcluster up`' });
    return { host: '127.0.0.1', port };
  }
}
