/**
 * The libvirt provider: domains through @unraid/libvirt, networks and volumes through virsh.
 * Every resource is named by names.ts (dc-<cluster>-<node>-…); domains and the network also carry
 * devcluster metadata, which is how clusters are found — never a private list. The object holds only
 * an open connection (closed by `close`) and what saves repeated work: a fresh one per call works the same.
 */
import { mkdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { XMLParser } from 'fast-xml-parser';
import { DevclusterError, isDevclusterError } from '../../errors.js';
import type { Ctx } from '../../events.js';
import type { CachedImage } from '../../images/cache.js';
import type { SeedFiles } from '../../cloudinit/seed.js';
import type { ClusterPlan, NodePlan } from '../../plan/plan.js';
import {
  BRIDGE_NAME,
  bridgeNameFor,
  clusterNetworkName,
  clusterOfNetworkName,
  consoleLogName,
  domainLogName,
  libvirtBaseVolumeName,
  nodeResourcePrefix,
  nodeVolumeNames,
  isDiskLayerVolume,
  snapshotOfMemoryVolume,
} from '../names.js';
import type { NodeState, NodeStatus, Provider, SshEndpoint, StopResult } from '../provider.js';
import { outputLines } from '../shared/command-output.js';
import { makeSeedIso } from '../shared/seed-iso.js';
import { stopWithinBudget } from '../shared/stop.js';
import { detectHostVirt, type AcceleratorSetting, type HostVirt } from './accel.js';
import { domainSpecFor, domainXml, METADATA_NS } from './domain-xml.js';
import { networkXml } from './network-xml.js';
import { LibvirtSnapshots } from './snapshots.js';
import { virsh, virshOk, virshWithXml } from './virsh.js';
import { domainErrorLines, libvirtLogDir } from './qemu-log.js';
import { openHypervisor, type LibvirtDomain, type LibvirtHypervisor } from './binding.js';
import { isSessionUri, networkUriFor } from './uri.js';

type Hypervisor = LibvirtHypervisor;
type Domain = LibvirtDomain;

const parser = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '', removeNSPrefix: false });

export interface DomainTags {
  cluster: string;
  node: string;
  role: string;
  ip: string;
  nested: boolean;
}

/** The devcluster tags of a domain, or undefined when it is not one of ours. */
export function domainTags(xml: string): DomainTags | undefined {
  const doc = parser.parse(xml) as { domain?: { metadata?: Record<string, unknown> } };
  const metadata = doc.domain?.metadata ?? {};
  for (const value of Object.values(metadata)) {
    const tag = value as Record<string, string> | undefined;
    if (tag && typeof tag === 'object' && Object.entries(tag).some(([k, v]) => k.startsWith('xmlns') && v === METADATA_NS) && tag.cluster && tag.node) {
      return { cluster: tag.cluster, node: tag.node, role: tag.role ?? '', ip: tag.ip ?? '', nested: tag.nested === 'yes' };
    }
  }
  return undefined;
}

function networkCluster(xml: string): string | undefined {
  const doc = parser.parse(xml) as { network?: { metadata?: Record<string, Record<string, string>> } };
  for (const tag of Object.values(doc.network?.metadata ?? {})) {
    if (tag && Object.entries(tag).some(([k, v]) => k.startsWith('xmlns') && v === METADATA_NS)) return tag.cluster;
  }
  return undefined;
}

const STATE_NAMES: Record<number, NodeState> = { 1: 'running', 2: 'running', 3: 'paused', 4: 'running', 5: 'stopped', 6: 'crashed', 7: 'paused' };

export interface LibvirtOptions {
  uri: string;
  pool: string;
  /** Folder for serial console logs (default: libvirt's own log folder for the URI). */
  consoleDir?: string;
  /** Host root for /dev/kvm and /sys probes (tests). */
  hostRoot?: string;
  /** auto (default): KVM when the probe runs a guest under it, else TCG; or forced. */
  accelerator?: AcceleratorSetting;
}

export class LibvirtProvider implements Provider {
  readonly name = 'libvirt' as const;
  private hypervisor: Hypervisor | undefined;
  private readonly baseVolumes = new Map<string, Promise<string>>();
  private virt: HostVirt | undefined;

  readonly snapshots: LibvirtSnapshots;

  constructor(private readonly options: LibvirtOptions) {
    this.snapshots = new LibvirtSnapshots({ uri: options.uri, pool: options.pool, connection: () => this.connection() });
  }

  private get uri(): string {
    return this.options.uri;
  }

  /** qemu:///session (a user's own libvirt) has no networks: they live in qemu:///system. */
  get isSession(): boolean {
    return isSessionUri(this.uri);
  }

  private get networkUri(): string {
    return networkUriFor(this.uri);
  }

  /** Session domains reach the bridge through qemu-bridge-helper, which bridge.conf must allow. */
  private async checkBridgeHelper(bridge: string): Promise<void> {
    const conf = await readFile('/etc/qemu/bridge.conf', 'utf8').catch(() => '');
    const allowed = conf.split('\n').some((line) => /^\s*allow\s+(all|\S+)\s*$/.test(line) && [bridge, 'all'].includes(line.trim().split(/\s+/)[1] ?? ''));
    if (!allowed) {
      throw new DevclusterError('LIBVIRT_FAILED', `qemu:///session guests may not join bridge ${bridge}: /etc/qemu/bridge.conf does not allow it`, {
        hint: `as root: echo 'allow ${bridge}' >> /etc/qemu/bridge.conf (and, for a non-root user, chmod u+s /usr/lib/qemu/qemu-bridge-helper)`,
      });
    }
  }

  consoleDir(): string {
    return this.options.consoleDir ?? libvirtLogDir(this.uri);
  }

  private async connection(): Promise<Hypervisor> {
    this.hypervisor ??= await openHypervisor(this.uri);
    return this.hypervisor;
  }

  async close(): Promise<void> {
    await this.hypervisor?.connectClose().catch(() => undefined);
    this.hypervisor = undefined;
  }

  /** The accelerator for this host, decided once (the probe takes a second or two) and reported. */
  async hostVirt(ctx: Ctx): Promise<HostVirt> {
    if (!this.virt) {
      this.virt = await detectHostVirt({
        uri: this.uri,
        accelerator: this.options.accelerator ?? 'auto',
        signal: ctx.signal,
        logDir: libvirtLogDir(this.uri),
        ...(this.options.hostRoot ? { root: this.options.hostRoot } : {}),
      });
      ctx.report({ kind: 'phase', label: 'host', message: this.virt.reason });
      if (this.virt.warning) ctx.report({ kind: 'note', message: this.virt.warning });
    }
    return this.virt;
  }

  private async lookup(name: string): Promise<Domain | undefined> {
    const hv = await this.connection();
    return hv.domainLookupByName(name).catch(() => undefined);
  }

  async ensureNetwork(plan: ClusterPlan, ctx: Ctx): Promise<void> {
    const name = plan.network.resourceName;
    if (this.isSession) await this.checkBridgeHelper(bridgeNameFor(plan.name));
    const opts = { signal: ctx.signal };
    if (!(await virshOk(this.networkUri, ['net-info', name], opts))) {
      await virshWithXml(this.networkUri, (file) => ['net-define', file], networkXml(plan), opts);
      ctx.report({ kind: 'phase', label: plan.name, message: `network ${name} (${plan.network.cidr}) defined` });
    }
    const info = (await virsh(this.networkUri, ['net-info', name], opts)).stdout;
    if (!/^Active:\s+yes/m.test(info)) {
      await virsh(this.networkUri, ['net-start', name], opts).catch(async (error: unknown) => {
        throw new DevclusterError('LIBVIRT_FAILED', `network ${name} (${plan.network.cidr}) could not start`, {
          cause: error,
          details: isDevclusterError(error) ? error.details : [],
          hint: await this.addressesInUseHint(outputLines(error), ctx.signal),
        });
      });
    }
  }

  /**
   * What to do when a network cannot start. libvirt names the interface that holds the addresses
   * ("Network is already in use by interface %1$s", libvirt src/network/bridge_driver_linux.c
   * networkCheckRouteCollision, from /proc/net/route): say which network owns it, and for a devcluster
   * network which cluster, so the user can take that one down instead of guessing.
   */
  private async addressesInUseHint(output: readonly string[], signal: AbortSignal): Promise<string> {
    const generic = 'another network may use the same addresses: pick another network.cidr, or see `virsh net-list --all`';
    const iface = output.map((l) => /in use by interface (\S+)/.exec(l)?.[1]).find(Boolean);
    if (!iface) return generic;
    const nets = await virsh(this.networkUri, ['net-list', '--all', '--name'], { signal }).then((r) => r.stdout.split('\n').map((l) => l.trim()).filter(Boolean), () => [] as string[]);
    for (const net of nets) {
      const info = await virsh(this.networkUri, ['net-info', net], { signal }).then((r) => r.stdout, () => '');
      if (/^Bridge:\s*(\S+)/m.exec(info)?.[1] !== iface) continue;
      const cluster = clusterOfNetworkName(net);
      return cluster
        ? `the addresses are held by network ${net} (interface ${iface}) of devcluster cluster "${cluster}": run \`devcluster down\` in that cluster's folder (or \`virsh net-destroy ${net}\`), or pick another network.cidr`
        : `the addresses are held by libvirt network ${net} (interface ${iface}): stop it (\`virsh net-destroy ${net}\`) or pick another network.cidr`;
    }
    return BRIDGE_NAME.test(iface)
      ? `the addresses are held by ${iface}, a devcluster bridge no libvirt network owns any more: \`devcluster doctor --fix\` removes it; or pick another network.cidr`
      : `the addresses are held by host interface ${iface}: pick another network.cidr`;
  }

  private async volumeExists(name: string, signal: AbortSignal): Promise<boolean> {
    return virshOk(this.uri, ['vol-info', '--pool', this.options.pool, name], { signal });
  }

  /** The names of the pool's volumes, in one call. */
  private async volumeNames(signal: AbortSignal): Promise<Set<string>> {
    const out = (await virsh(this.uri, ['vol-list', '--pool', this.options.pool], { signal })).stdout;
    return new Set(out.split('\n').map((line) => line.trim().split(/\s+/)[0] ?? '').filter(Boolean));
  }

  /**
   * The cached image, imported once per pool under a name derived from its checksum. Nodes created
   * together share one import (and one check).
   */
  ensureBaseVolume(image: CachedImage, ctx: Ctx): Promise<string> {
    const name = libvirtBaseVolumeName(image);
    let pending = this.baseVolumes.get(name);
    if (!pending) {
      pending = this.importBaseVolume(name, image, ctx);
      this.baseVolumes.set(name, pending);
      pending.catch(() => this.baseVolumes.delete(name));
    }
    return pending;
  }

  private async importBaseVolume(name: string, image: CachedImage, ctx: Ctx): Promise<string> {
    if (await this.volumeExists(name, ctx.signal)) return name;
    const opts = { signal: ctx.signal, timeoutMs: 30 * 60_000 };
    ctx.report({ kind: 'phase', label: 'image', message: `importing ${image.name ?? image.url} into pool ${this.options.pool}` });
    await virsh(this.uri, ['vol-create-as', this.options.pool, name, String(image.size), '--format', 'raw'], opts);
    try {
      await virsh(this.uri, ['vol-upload', '--pool', this.options.pool, name, image.path], opts);
      await virsh(this.uri, ['pool-refresh', this.options.pool], opts);
    } catch (error) {
      await virsh(this.uri, ['vol-delete', '--pool', this.options.pool, name]).catch(() => undefined);
      throw error;
    }
    return name;
  }

  async createNode(plan: ClusterPlan, node: NodePlan, image: CachedImage, seed: SeedFiles, ctx: Ctx): Promise<'created' | 'exists'> {
    const virt = await this.hostVirt(ctx);
    const bridgeIsBridge = plan.network.bridgeInterface
      ? await stat(`/sys/class/net/${plan.network.bridgeInterface}/bridge`).then(() => true, () => false)
      : false;
    const spec = domainSpecFor(plan, node, {
      accel: virt.accel,
      nested: virt.nested,
      pool: this.options.pool,
      consoleLog: join(this.consoleDir(), consoleLogName(node.resourcePrefix)),
      bridgeIsBridge,
      ...(this.isSession ? { sessionBridge: bridgeNameFor(plan.name) } : {}),
    });
    if (await this.lookup(spec.name)) return 'exists';
    await mkdir(this.consoleDir(), { recursive: true }); // a user's session log folder may not exist yet
    const opts = { signal: ctx.signal };
    const base = await this.ensureBaseVolume(image, ctx);
    const volumes = await this.volumeNames(ctx.signal);
    if (!volumes.has(spec.diskVolume)) {
      await virsh(this.uri, ['vol-create-as', this.options.pool, spec.diskVolume, String(node.diskBytes), '--format', 'qcow2', '--backing-vol', base, '--backing-vol-format', image.format], opts);
    }
    // The seed is made afresh whenever the domain is (re)defined: a changed plan reaches the node.
    if (volumes.has(spec.seedVolume)) await virsh(this.uri, ['vol-delete', '--pool', this.options.pool, spec.seedVolume], opts);
    const iso = await makeSeedIso(seed, ctx.signal);
    try {
      await virsh(this.uri, ['vol-create-as', this.options.pool, spec.seedVolume, String(iso.size), '--format', 'raw'], opts);
      await virsh(this.uri, ['vol-upload', '--pool', this.options.pool, spec.seedVolume, iso.path], opts);
    } finally {
      await iso.dispose();
    }
    const hv = await this.connection();
    await hv.domainDefineXML(domainXml(spec)).catch((error: unknown) => {
      const message = (error as Error).message;
      // e.g. "could not find capabilities for domaintype=kvm" where libvirt sees no usable KVM.
      const kvm = virt.accel.type === 'kvm' && /kvm/i.test(message);
      throw new DevclusterError('LIBVIRT_FAILED', `libvirt refused the definition of ${spec.name}: ${message}`, {
        cause: error,
        ...(kvm ? { hint: `${virt.reason}; libvirt has no usable KVM: set libvirt.accelerator: auto or tcg` } : {}),
      });
    });
    return 'created';
  }

  async startNode(plan: ClusterPlan, node: NodePlan, _ctx: Ctx): Promise<void> {
    const domain = await this.lookup(node.resourcePrefix);
    if (!domain) throw new DevclusterError('NODE_NOT_FOUND', `node ${node.name} of cluster ${plan.name} does not exist`, { hint: 'run `devcluster up`' });
    const hv = await this.connection();
    const info = await hv.domainGetInfo(domain);
    if (STATE_NAMES[info.state] === 'running') return;
    await hv.domainCreate(domain).catch((error: unknown) => {
      throw new DevclusterError('LIBVIRT_FAILED', `node ${node.name} could not start: ${(error as Error).message}`, { cause: error, hint: 'run `devcluster doctor`' });
    });
  }

  async stopNode(_plan: ClusterPlan, node: NodePlan, budgetMs: number, ctx: Ctx): Promise<StopResult> {
    const domain = await this.lookup(node.resourcePrefix);
    if (!domain) return 'already-stopped';
    const hv = await this.connection();
    return stopWithinBudget(
      {
        isOn: async () => STATE_NAMES[(await hv.domainGetInfo(domain)).state] !== 'stopped',
        acpi: () => hv.domainShutdown(domain).catch(() => undefined),
        force: () => hv.domainDestroy(domain).catch(() => undefined),
      },
      budgetMs,
      ctx.signal,
    );
  }

  async listNodes(cluster: string | undefined, _ctx: Ctx): Promise<NodeStatus[]> {
    const hv = await this.connection();
    const out: NodeStatus[] = [];
    for (const domain of await hv.connectListAllDomains()) {
      const tags = domainTags(await hv.domainGetXMLDesc(domain));
      if (!tags || (cluster !== undefined && tags.cluster !== cluster)) continue;
      const info = await hv.domainGetInfo(domain);
      out.push({
        cluster: tags.cluster,
        node: tags.node,
        role: tags.role,
        state: STATE_NAMES[info.state] ?? 'other',
        ip: tags.ip,
        resource: await hv.domainGetName(domain),
      });
    }
    return out.sort((a, b) => `${a.cluster}/${a.node}`.localeCompare(`${b.cluster}/${b.node}`));
  }

  async deleteCluster(cluster: string, nodes: readonly string[], ctx: Ctx): Promise<string[]> {
    const removed: string[] = [];
    const errors: unknown[] = [];
    const hv = await this.connection();
    const names = new Set(nodes);
    // Collect every error while tearing down: one stuck piece must not leave the rest behind.
    for (const domain of await hv.connectListAllDomains()) {
      try {
        const tags = domainTags(await hv.domainGetXMLDesc(domain));
        if (tags?.cluster !== cluster) continue;
        names.add(tags.node);
        const name = await hv.domainGetName(domain);
        if (STATE_NAMES[(await hv.domainGetInfo(domain)).state] !== 'stopped') await hv.domainDestroy(domain);
        await hv.domainUndefine(domain);
        removed.push(`domain ${name}`);
      } catch (error) {
        errors.push(error);
      }
    }
    const poolVolumes = await this.volumeNames(ctx.signal).catch((error: unknown) => {
      errors.push(error);
      return new Set<string>();
    });
    for (const node of names) {
      const prefix = nodeResourcePrefix(cluster, node);
      // The disk and seed, then what snapshots made: disk layers and memory images (snapshots.ts).
      const snapshotVolumes = [...poolVolumes].filter((v) => isDiskLayerVolume(prefix, v) || snapshotOfMemoryVolume(prefix, v) !== undefined);
      for (const volume of [...nodeVolumeNames(prefix), ...snapshotVolumes]) {
        try {
          if (poolVolumes.has(volume)) {
            await virsh(this.uri, ['vol-delete', '--pool', this.options.pool, volume], { signal: ctx.signal });
            removed.push(`volume ${volume}`);
          }
        } catch (error) {
          errors.push(error);
        }
      }
      // Our console log, and the log libvirt itself keeps per domain name.
      for (const log of [join(this.consoleDir(), consoleLogName(prefix)), join(this.consoleDir(), domainLogName(prefix))]) {
        if (await stat(log).then(() => true, () => false)) {
          await rm(log, { force: true });
          removed.push(`log ${log}`);
        }
      }
    }
    const network = clusterNetworkName(cluster);
    try {
      if (await virshOk(this.networkUri, ['net-info', network], { signal: ctx.signal })) {
        const xml = (await virsh(this.networkUri, ['net-dumpxml', network], { signal: ctx.signal })).stdout;
        if (networkCluster(xml) === cluster) {
          await virsh(this.networkUri, ['net-destroy', network], { signal: ctx.signal }).catch(() => undefined);
          await virsh(this.networkUri, ['net-undefine', network], { signal: ctx.signal });
          removed.push(`network ${network}`);
        }
      }
    } catch (error) {
      errors.push(error);
    }
    if (errors.length > 0) {
      throw new DevclusterError('LIBVIRT_FAILED', `removing cluster ${cluster} left ${errors.length} piece(s) behind`, {
        details: errors.map((e) => (e as Error).message),
        hint: 'run `devcluster down` again; `devcluster status` shows what is left',
        cause: errors[0],
      });
    }
    return removed;
  }

  async nodeState(_plan: ClusterPlan, node: NodePlan, _ctx: Ctx): Promise<NodeState | undefined> {
    const domain = await this.lookup(node.resourcePrefix);
    if (!domain) return undefined;
    const hv = await this.connection();
    return STATE_NAMES[(await hv.domainGetInfo(domain)).state] ?? 'other';
  }

  /** libvirt's state and reason (`paused (unknown)`, `shut off (crashed)`) and qemu's error lines from the domain log. */
  async stopDetails(_plan: ClusterPlan, node: NodePlan, ctx: Ctx): Promise<string[]> {
    const name = node.resourcePrefix;
    const state = await virsh(this.uri, ['domstate', '--reason', name], { signal: ctx.signal, timeoutMs: 30_000 }).then(
      (r) => r.stdout.trim(),
      () => '',
    );
    const log = join(libvirtLogDir(this.uri), domainLogName(name));
    let errors = await domainErrorLines(libvirtLogDir(this.uri), name);
    // qemu's words reach the log through virtlogd: give them a moment if they are not there yet.
    if (errors.length === 0) errors = await sleep(500, undefined, { signal: ctx.signal }).then(() => domainErrorLines(libvirtLogDir(this.uri), name));
    return [
      ...(state ? [`libvirt: ${name} is ${state}`] : []),
      ...errors.map((line) => `${log}: ${line}`),
    ];
  }

  async consoleTail(_plan: ClusterPlan, node: NodePlan, bytes: number): Promise<string> {
    const text = await readFile(join(this.consoleDir(), consoleLogName(node.resourcePrefix)), 'utf8').catch(() => '');
    return text.slice(-bytes);
  }

  /** The address in the domain's own tags (what it was made with), port 22. */
  async sshEndpoint(plan: ClusterPlan, node: NodePlan, _ctx: Ctx): Promise<SshEndpoint> {
    const domain = await this.lookup(node.resourcePrefix);
    const tags = domain ? domainTags(await (await this.connection()).domainGetXMLDesc(domain)) : undefined;
    if (!tags?.ip || tags.cluster !== plan.name) {
      throw new DevclusterError('NODE_NOT_FOUND', `node ${node.name} of cluster ${plan.name} does not exist`, { hint: 'run `devcluster up`' });
    }
    return { host: tags.ip, port: 22 };
  }
}
