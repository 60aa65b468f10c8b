/**
 * The devcluster.yaml that reproduces a Zuul build: an ordinary config (it passes `devcluster config
 * validate`) headed by a comment naming the build, the job, the change(s) under test and what was
 * rewritten. From the parsed build (src/reproduce/build.ts) and each node's local.conf as the gate
 * renders it from the job's variables (src/reproduce/local-conf.ts):
 * - nodes: the gate's own names; the controller is the host named `controller`, else the one host
 *   outside the `subnode` group; every other host is a compute. Addresses are pinned (.10 up, in the
 *   inventory's order) so the gate's addresses can be rewritten to them.
 * - sizes: a gate node has 8 vCPU and 8 GB (docs.openstack.org/infra/manual/testing.html); scaled to
 *   this host with a warning when it cannot hold them, an error when what is left is too small for
 *   DevStack.
 * - devstack.local_conf per role: the gate's local.conf less what devcluster writes itself (node
 *   addresses, passwords, the libvirt type, the MTU tied to the gate's VXLAN overlay), the gate's
 *   addresses (and `{{ hostvars[…]['nodepool']['private_ipv4'] }}` templates) replaced by devcluster's.
 *   Its localrc lines come after devcluster's own in the node's local.conf, so the gate's services,
 *   settings and plugins win (src/provision/local-conf.ts mergeLocalConf).
 * - layer 1 and no post-stack images: the gate's services and images come from its local.conf.
 * Pure: the host's size and every input are arguments.
 */
import { Document } from 'yaml';
import { DevclusterError } from '../errors.js';
import { formatSize, GiB, MiB } from '../config/units.js';
import { parseCidr, formatIPv4 } from '../config/ipv4.js';
import { SCHEMA_FILE } from '../config/template.js';
import { parseMetaSections } from '../provision/local-conf.js';
import { SUPPORTED_DISTROS } from '../devstack/tables.js';
import { distroSupported } from '../devstack/upstream.js';
import { CATALOG } from '../images/catalog.js';
import { layOver } from './overlay.js';

/** What generate needs of a parsed build: a subset of src/reproduce/build.ts GateBuild (parseInventory). */
export interface GateNode {
  name: string;
  label: string;
  privateIpv4: string | undefined;
  groups: readonly string[];
}

export interface GateItem {
  project: { name: string; shortName?: string };
  branch: string | undefined;
  change: string | undefined;
  patchset: string | undefined;
  changeUrl: string | undefined;
}

export interface GateProject {
  name: string;
  shortName: string;
  checkout: string;
}

export interface GateBuild {
  nodes: readonly GateNode[];
  zuul: {
    job: string;
    build: string;
    buildset: string | undefined;
    pipeline: string | undefined;
    branch: string | undefined;
    projects: Readonly<Record<string, GateProject>>;
    items: readonly GateItem[];
  };
}

export interface HostSize {
  memoryBytes: number;
  cpus: number;
}

export interface GenerateInput {
  build: GateBuild;
  /** Where the build was read from (its log URL, build page or folder), for the header. */
  source: string;
  /** The image every node runs (devcluster has one per cluster): from the label, or --image. */
  image: string;
  /** How `image` was chosen, for the header (e.g. "from nodepool label ubuntu-noble"). */
  imageReason: string;
  /** Each node's local.conf as the gate renders it from the job's variables. */
  gateLocalConfs: ReadonlyMap<string, string>;
  host: HostSize;
  /** Project sources resolved for the build (src/reproduce/sources.ts): short name → local tree. */
  sources?: Readonly<Record<string, string>>;
  /** The devstack tree the build used (a local checkout), when resolved with the sources. */
  devstackRepo?: string;
  /** Projects resolved but not nameable in devstack.sources: stack.sh must clone them, so ERROR_ON_CLONE goes. */
  sourcesLeftOut?: readonly string[];
  /** One line per rebuilt project (exact or reconstructed), for the header. */
  sourceLines?: readonly string[];
  /** A grenade job: the branches it upgrades between and its grenade_localrc (templates rendered). */
  grenade?: { fromBranch: string; toBranch: string; localrc: Readonly<Record<string, string>> };
  /** The cluster network's cidr when not devcluster's default (--with sets it): node addresses come from it. */
  cidr?: string;
  /** --with FILE: the user's settings laid over the result (overlay.ts). */
  overlay?: { file: string; value: Record<string, unknown> };
}

export interface Generated {
  /** The devcluster.yaml text, header included. */
  text: string;
  /** The same config as an object (what the YAML holds). */
  config: Record<string, unknown>;
  /** What the user should know (sizes scaled down, local.conf lines that could not be carried). */
  warnings: string[];
  /** What differs from the gate on purpose, one line each (also in the header). */
  rewrites: string[];
  /** The paths --with set (also in the header). */
  laid: string[];
}

/** A gate node: 8 vCPU, 8 GB RAM, 80 GB disk (OpenDev's infra manual, "testing" and "contribute a cloud"). */
export const GATE_NODE = { cpus: 8, memoryBytes: 8 * GiB, disk: '80GiB' } as const;
/** Memory the host keeps for itself when sizing nodes. */
export const HOST_RESERVE_BYTES = 2 * GiB;
/** Below these DevStack does not come up: the controller runs the database, rabbit and every API. */
export const MIN_MEMORY_BYTES = { controller: 4 * GiB, compute: 2 * GiB } as const;
/** The default cluster network; nodes are pinned from .10 up. */
const CIDR = '192.168.150.0/24';
const FIRST_HOST = 10;

const MTU_WHY = "PUBLIC_BRIDGE_MTU and global_physnet_mtu: sized for the gate's VXLAN overlay between nodes; devcluster's nodes share one network of MTU 1500, so DevStack's and Neutron's defaults apply";

/** Localrc keys devcluster writes itself, with the reason the gate's value cannot be kept. */
const OWNED: ReadonlyArray<{ match: RegExp; why: string }> = [
  { match: /^(HOST_IP|SERVICE_HOST|DATABASE_HOST|RABBIT_HOST|MYSQL_HOST|GLANCE_HOSTPORT|Q_HOST)$/, why: "HOST_IP, SERVICE_HOST, DATABASE_HOST, RABBIT_HOST, GLANCE_HOSTPORT, Q_HOST: devcluster writes its nodes' addresses" },
  { match: /^[A-Z0-9_]*_PASSWORD$/, why: "*_PASSWORD: devcluster writes its own (generated once, kept 0600 in its state folder)" },
  { match: /^PUBLIC_BRIDGE_MTU$/, why: MTU_WHY },
  { match: /^LIBVIRT_TYPE$/, why: 'LIBVIRT_TYPE: devcluster writes kvm where the node has nested KVM, else qemu as the gate' },
];
/** In grenade mode devcluster lays out both sides (src/provision/grenade.ts): DEST and the log under it are its own. */
const OWNED_GRENADE: ReadonlyArray<{ match: RegExp; why: string }> = [
  { match: /^(DEST|LOGFILE)$/, why: 'DEST, LOGFILE: devcluster stacks the old and new sides in /opt/stack/old and /opt/stack/new itself' },
];
/** An ini line of a post-config section setting an MTU to a number. */
const INI_MTU = /^\s*[A-Za-z0-9_]*mtu\s*=\s*\d+\s*$/i;

const ASSIGNMENT = /^\s*([A-Za-z_][A-Za-z0-9_]*)=(.*)$/;
const NODE_ADDRESS_TEMPLATE = /\{\{\s*hostvars\[\s*(?:'([^']+)'|"([^"]+)"|(inventory_hostname))\s*\]\s*\[\s*['"]nodepool['"]\s*\]\s*\[\s*['"]private_ipv4['"]\s*\]\s*\}\}/g;
const TEMPLATE = /\{\{.*?\}\}/;

/** The cluster name from the job's: a resource name of at most 20 characters, cut at a '-' when it must be cut. */
export function clusterName(job: string): string {
  let name = job
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^[^a-z]+/, '')
    .replace(/-+$/, '');
  if (name.length > 20) {
    const cut = name.slice(0, 21).lastIndexOf('-');
    name = (cut > 0 ? name.slice(0, cut) : name.slice(0, 20)).replace(/-+$/, '');
  }
  return name === '' ? 'gate' : name;
}

/** Which host is the controller, and the computes, as devstack's multinode jobs use them. */
export function nodeRoles(nodes: readonly GateNode[]): { controller: GateNode; computes: GateNode[] } {
  if (nodes.length === 0) throw new DevclusterError('REPRODUCE_SOURCE_INVALID', 'the inventory lists no hosts', { hint: 'check that SOURCE is the logs of a Zuul build' });
  const named = nodes.find((n) => n.name === 'controller');
  const outside = nodes.filter((n) => !n.groups.includes('subnode'));
  const controller = named ?? (outside.length === 1 ? outside[0] : nodes.length === 1 ? nodes[0] : undefined);
  if (controller === undefined) {
    throw new DevclusterError('REPRODUCE_NOT_DEVSTACK', `no host of ${nodes.map((n) => n.name).join(', ')} is the controller: none is named "controller" and ${outside.length} are outside the "subnode" group`, {
      hint: "reproduce takes DevStack jobs, whose nodeset names a controller (or puts every other node in group subnode)",
    });
  }
  for (const node of nodes) {
    if (!/^[a-z]([a-z0-9-]{0,13}[a-z0-9])?$/.test(node.name)) {
      throw new DevclusterError('REPRODUCE_SOURCE_INVALID', `host "${node.name}" of the build cannot be a devcluster node name (lower-case letters, digits and '-', at most 15)`, {
        hint: 'write the config by hand from the inventory, with other node names',
      });
    }
  }
  return { controller, computes: nodes.filter((n) => n !== controller) };
}

/**
 * devcluster's address for each node of the build (controller first, from .10 up), pinned in the
 * config: on devcluster's default network, or `network` (a cidr --with sets).
 */
export function clusterAddresses(nodes: readonly GateNode[], network: string = CIDR): Map<string, string> {
  const { controller, computes } = nodeRoles(nodes);
  const cidr = parseCidr(network);
  if (cidr === undefined || cidr.prefix > 28) {
    throw new DevclusterError('USAGE_INVALID', `network.cidr ${network} is not an IPv4 network of /28 or larger`, { hint: 'e.g. network: { cidr: 192.168.166.0/24 }' });
  }
  return new Map([controller, ...computes].map((node, i) => [node.name, formatIPv4(cidr.network + FIRST_HOST + i)]));
}

/** Each node's vCPUs and memory: the gate's, or scaled to what this host can hold. */
export function nodeSizes(host: HostSize, roles: ReadonlyArray<'controller' | 'compute'>): { cpus: number; memoryBytes: number; warnings: string[] } {
  const warnings: string[] = [];
  const cpus = Math.max(1, Math.min(GATE_NODE.cpus, host.cpus));
  if (cpus < GATE_NODE.cpus) warnings.push(`each node gets ${cpus} vCPU instead of the gate's ${GATE_NODE.cpus}: this host has ${host.cpus} CPU(s)`);
  const usable = host.memoryBytes - HOST_RESERVE_BYTES;
  let memoryBytes: number = GATE_NODE.memoryBytes;
  if (roles.length * GATE_NODE.memoryBytes > usable) {
    memoryBytes = Math.floor(Math.max(0, usable) / roles.length / (256 * MiB)) * 256 * MiB;
    const shown = formatSize(memoryBytes);
    const floor = roles.includes('controller') ? MIN_MEMORY_BYTES.controller : MIN_MEMORY_BYTES.compute;
    if (memoryBytes < floor) {
      throw new DevclusterError('REPRODUCE_HOST_TOO_SMALL', `this host (${formatSize(Math.floor(host.memoryBytes / MiB) * MiB)} RAM) cannot hold the build's ${roles.length} nodes: each would get ${shown}, and DevStack needs ${formatSize(MIN_MEMORY_BYTES.controller)} on the controller, ${formatSize(MIN_MEMORY_BYTES.compute)} on a compute`, {
        hint: `the gate gives each node ${formatSize(GATE_NODE.memoryBytes)}: reproduce on a host with about ${formatSize(roles.length * GATE_NODE.memoryBytes + HOST_RESERVE_BYTES)} of RAM`,
      });
    }
    warnings.push(`each node gets ${shown} of memory instead of the gate's ${formatSize(GATE_NODE.memoryBytes)}: this host has ${formatSize(Math.floor(host.memoryBytes / MiB) * MiB)} and keeps ${formatSize(HOST_RESERVE_BYTES)} for itself`);
  }
  return { cpus, memoryBytes, warnings };
}

interface Rewriter {
  /** Gate address → devcluster address. */
  addresses: Map<string, string>;
  /** Node name → devcluster address. */
  byName: Map<string, string>;
}

function rewriteAddresses(text: string, node: string, rw: Rewriter): string {
  let out = text.replace(NODE_ADDRESS_TEMPLATE, (whole, quoted1: string | undefined, quoted2: string | undefined, self: string | undefined) => {
    const name = self !== undefined ? node : (quoted1 ?? quoted2 ?? '');
    return rw.byName.get(name) ?? whole;
  });
  for (const [gate, ours] of rw.addresses) out = out.replace(new RegExp(`(?<![0-9.])${gate.replace(/\./g, '\\.')}(?![0-9])`, 'g'), ours);
  return out;
}

/**
 * The part of a node's gate local.conf that goes into devstack.local_conf: localrc lines devcluster
 * owns dropped (each reason once in `dropped`), gate addresses rewritten, lines still holding an
 * Ansible template dropped (`unrendered`); other meta-sections carried whole.
 */
export function carriedLocalConf(
  gateConf: string,
  node: string,
  rw: Rewriter,
  options: { keepErrorOnClone: boolean; grenade?: boolean; leftOut?: readonly string[] },
): { text: string; dropped: Set<string>; unrendered: string[] } {
  const dropped = new Set<string>();
  const unrendered: string[] = [];
  const parts: string[] = [];
  const owners = options.grenade ? [...OWNED, ...OWNED_GRENADE] : OWNED;
  for (const section of parseMetaSections(gateConf)) {
    const localrc = section.header === '[[local|localrc]]';
    let lines: string[] = [];
    for (const line of section.lines) {
      if (!localrc && INI_MTU.test(line)) {
        dropped.add(MTU_WHY);
        continue;
      }
      if (!localrc && /\{\{\s*external_bridge_mtu\s*\}\}/.test(line)) {
        dropped.add(MTU_WHY);
        continue;
      }
      const assignment = localrc ? ASSIGNMENT.exec(line) : null;
      if (assignment) {
        const key = assignment[1] as string;
        const owned = owners.find((o) => o.match.test(key));
        if (owned) {
          dropped.add(owned.why);
          continue;
        }
        if (key === 'ERROR_ON_CLONE' && !options.keepErrorOnClone) {
          dropped.add(options.leftOut !== undefined && options.leftOut.length > 0
            ? `ERROR_ON_CLONE: devcluster.yaml cannot name ${options.leftOut.join(', ')} as sources, so stack.sh clones them`
            : 'ERROR_ON_CLONE: the sources were not resolved (--sources), so stack.sh clones what devcluster does not push');
          continue;
        }
      }
      const rewritten = rewriteAddresses(line, node, rw);
      if (TEMPLATE.test(rewritten)) {
        unrendered.push(line.trim());
        continue;
      }
      lines.push(rewritten);
    }
    // An ini section left without a setting says nothing: drop its header.
    if (!localrc) lines = lines.filter((line, i) => !/^\s*\[[^\]]+\]\s*$/.test(line) || lines.slice(i + 1).find((l) => l.trim() !== '')?.trim().startsWith('[') === false);
    while (lines.length > 0 && (lines.at(-1) as string).trim() === '') lines.pop();
    if (lines.length > 0) parts.push([section.header, ...lines].join('\n'));
  }
  return { text: parts.length === 0 ? '' : `${parts.join('\n\n')}\n`, dropped, unrendered };
}

/** The changes under test, one line each (Zuul's items: the change itself and those ahead of it). */
export function describeChanges(build: GateBuild): string[] {
  return build.zuul.items
    .filter((item) => item.change !== undefined)
    .map((item) => `${item.project.name} change ${item.change},${item.patchset ?? '?'}${item.branch ? ` on ${item.branch}` : ''}${item.changeUrl ? ` (${item.changeUrl})` : ''}`);
}

/** The branch DevStack is stacked from: the devstack project's checkout, else the change's branch. */
function devstackBranch(build: GateBuild): string {
  const projects = Object.values(build.zuul.projects);
  const devstack = projects.find((p) => p.shortName === 'devstack' || p.name === 'openstack/devstack');
  return devstack?.checkout ?? build.zuul.branch ?? 'master';
}

/** IP_VERSION as the gate had it: its localrc's, else DevStack's default 4+6 (lib/neutron_plugins/services/l3). */
function ipVersion(gateConf: string | undefined): 4 | 6 | '4+6' {
  const localrc = parseMetaSections(gateConf ?? '').find((s) => s.header === '[[local|localrc]]')?.lines ?? [];
  let value = '4+6';
  for (const line of localrc) {
    const m = /^\s*IP_VERSION=["']?([0-9+]+)["']?\s*$/.exec(line);
    if (m) value = m[1] as string;
  }
  return value === '4' ? 4 : value === '6' ? 6 : '4+6';
}

/** Whether stack.sh of `branch` dies on `image`'s distro (SUPPORTED_DISTROS); undefined when devcluster cannot tell. */
function stackRefuses(image: string, branch: string): boolean | undefined {
  const supported = SUPPORTED_DISTROS[branch];
  const entry = (CATALOG as Record<string, { distro: string } | undefined>)[image];
  if (supported === undefined || entry === undefined) return undefined;
  return !distroSupported(supported.pattern, entry.distro);
}

export function generateConfig(input: GenerateInput): Generated {
  const { build } = input;
  const { controller, computes } = nodeRoles(build.nodes);
  const ordered = [controller, ...computes];
  const roleOf = (n: GateNode): 'controller' | 'compute' => (n === controller ? 'controller' : 'compute');
  const sizes = nodeSizes(input.host, ordered.map(roleOf));
  const warnings = [...sizes.warnings];
  const rewrites: string[] = [];

  const rw: Rewriter = { addresses: new Map(), byName: clusterAddresses(build.nodes, input.cidr) };
  for (const node of ordered) {
    const ip = rw.byName.get(node.name) as string;
    if (node.privateIpv4 !== undefined && node.privateIpv4 !== '') rw.addresses.set(node.privateIpv4, ip);
  }
  if (rw.addresses.size > 0) rewrites.push(`addresses, gate → devcluster: ${[...rw.addresses].map(([gate, ours]) => `${gate} → ${ours}`).join(', ')}`);

  const labels = [...new Set(build.nodes.map((n) => n.label))];
  if (labels.length > 1) warnings.push(`the build's nodes ran different images (${labels.join(', ')}); devcluster runs every node from one: ${input.image}`);

  const leftOut = input.sourcesLeftOut ?? [];
  const keepErrorOnClone = input.sources !== undefined && leftOut.length === 0;
  const dropped = new Set<string>();
  const carried = new Map<string, string>();
  for (const node of ordered) {
    const gateConf = input.gateLocalConfs.get(node.name);
    if (gateConf === undefined) {
      warnings.push(`no local.conf for ${node.name}: its devstack.local_conf is empty`);
      continue;
    }
    const result = carriedLocalConf(gateConf, node.name, rw, { keepErrorOnClone, grenade: input.grenade !== undefined, leftOut });
    for (const why of result.dropped) dropped.add(why);
    for (const line of result.unrendered) warnings.push(`${node.name}: left out "${line}": it holds an Ansible template only the gate could fill`);
    carried.set(node.name, result.text);
  }
  for (const why of dropped) rewrites.push(`local.conf, left out: ${why}`);

  // The config holds one local.conf per role, the first compute's; a compute whose own differs
  // gets it as devstack.local_conf.nodes.NAME (which replaces its role's text on that node).
  const computeConf = computes.length > 0 ? (carried.get((computes[0] as GateNode).name) ?? '') : '';
  const perNode = new Map<string, string>();
  for (const other of computes.slice(1)) {
    const text = carried.get(other.name);
    if (text !== undefined && text !== computeConf) perNode.set(other.name, text);
  }
  for (const name of perNode.keys()) rewrites.push(`local.conf: ${name}'s differs from ${(computes[0] as GateNode).name}'s in the job, so it is ${name}'s own (devstack.local_conf.nodes.${name})`);
  let controllerConf = carried.get(controller.name) ?? '';
  let computeText = computeConf;
  // Grenade runs stack.sh only on the old side (from_branch); devcluster's config check reads the
  // branch upgraded to. When only that one refuses the image, FORCE=yes lets the check through and
  // changes nothing on the nodes: the from_branch stack.sh it reaches accepts the distro anyway.
  if (input.grenade && stackRefuses(input.image, input.grenade.toBranch) === true && stackRefuses(input.image, input.grenade.fromBranch) === false) {
    controllerConf = mergeIntoLocalrc(controllerConf, 'FORCE=yes\n');
    computeText = mergeIntoLocalrc(computeText, 'FORCE=yes\n');
    for (const [name, text] of perNode) perNode.set(name, mergeIntoLocalrc(text, 'FORCE=yes\n'));
    rewrites.push(
      `local.conf, added: FORCE=yes on every node: grenade runs stack.sh only on ${input.grenade.fromBranch}, which supports ${input.image}; devcluster's config check reads ${input.grenade.toBranch}, whose stack.sh would not`,
    );
  }
  // devcluster uploads images after stack.sh and so turns stack.sh's download off; the gate's
  // tempest needs the images stack.sh downloads (stackrc DOWNLOAD_DEFAULT_IMAGES, default True).
  const controllerExtra = /^\s*DOWNLOAD_DEFAULT_IMAGES=/m.test(controllerConf) ? '' : 'DOWNLOAD_DEFAULT_IMAGES=True\n';
  if (controllerExtra !== '') rewrites.push('controller: DOWNLOAD_DEFAULT_IMAGES=True, so stack.sh downloads its default images as in the gate (devcluster turns it off)');

  let grenade: Record<string, unknown> | undefined;
  if (input.grenade !== undefined) {
    const localrc: Record<string, string> = {};
    for (const [key, value] of Object.entries(input.grenade.localrc)) {
      const rewritten = rewriteAddresses(value, controller.name, rw);
      if (TEMPLATE.test(rewritten)) warnings.push(`grenade localrc: left out ${key}="${value}": it holds an Ansible template only the gate could fill`);
      else localrc[key] = rewritten;
    }
    grenade = { from_branch: input.grenade.fromBranch, to_branch: input.grenade.toBranch, ...(Object.keys(localrc).length > 0 ? { localrc } : {}) };
  }
  const devstack: Record<string, unknown> = {
    ...(input.devstackRepo === undefined ? {} : { repo: input.devstackRepo }),
    branch: input.grenade?.toBranch ?? devstackBranch(build),
    ...(grenade === undefined ? {} : { mode: 'grenade', grenade }),
    // Layer 1 is what every DevStack node needs; the gate's own services come from its local.conf.
    layer: 1,
    ip_version: ipVersion(input.gateLocalConfs.get(controller.name)),
    ...(input.sources === undefined ? {} : { sources: { ...input.sources } }),
    local_conf: {
      controller: controllerExtra === '' ? controllerConf : mergeIntoLocalrc(controllerConf, controllerExtra),
      compute: computeText,
      ...(perNode.size === 0 ? {} : { nodes: Object.fromEntries(perNode) }),
    },
  };
  const config: Record<string, unknown> = {
    name: clusterName(build.zuul.job),
    image: input.image,
    nodes: ordered.map((node) => ({
      name: node.name,
      role: roleOf(node),
      ip: rw.byName.get(node.name),
      cpus: sizes.cpus,
      memory: formatSize(sizes.memoryBytes),
      disk: GATE_NODE.disk,
    })),
    devstack,
    // No image uploads of devcluster's own: the gate has only what stack.sh put there.
    post_stack: { images: [] },
  };

  const laid = input.overlay === undefined ? [] : layOver(config, input.overlay.value, input.overlay.file);
  const header = [
    `yaml-language-server: $schema=${SCHEMA_FILE}`,
    '',
    ` devcluster.yaml reproducing Zuul build ${build.zuul.build} of job ${build.zuul.job}`,
    `   logs: ${input.source}`,
    ...(build.zuul.pipeline ? [`   pipeline: ${build.zuul.pipeline}${build.zuul.buildset ? `, buildset ${build.zuul.buildset}` : ''}`] : []),
    ...describeChanges(build).map((c) => `   change: ${c}`),
    `   nodes: ${ordered.map((n) => `${n.name} (${roleOf(n)}, ${n.label})`).join(', ')}; image ${input.image} ${input.imageReason}`,
    `   sizes: ${sizes.cpus} vCPU, ${formatSize(sizes.memoryBytes)}, ${GATE_NODE.disk} disk per node (gate: ${GATE_NODE.cpus} vCPU, ${formatSize(GATE_NODE.memoryBytes)})`,
    ...(input.sourceLines !== undefined && input.sourceLines.length > 0 ? ['', ' Sources, rebuilt on this host:', ...input.sourceLines.map((l) => `   - ${l}`)] : []),
    '',
    ' Rewritten from the gate:',
    ...rewrites.map((r) => `   - ${r}`),
    ...(warnings.length > 0 ? ['', ' Warnings:', ...warnings.map((w) => `   - ${w}`)] : []),
    ...(input.overlay === undefined ? [] : ['', ` Yours, from ${input.overlay.file} (--with), laid over what the lines above describe:`, `   ${laid.join(', ')}`]),
    '',
    ' Generated by `devcluster reproduce`; every key is explained in config.example.yaml.',
  ];
  const doc = new Document(config);
  doc.commentBefore = header.join('\n');
  return { text: doc.toString({ lineWidth: 0 }), config, warnings, rewrites, laid };
}

/** `extra` added at the end of the localrc meta-section of `conf` (made when there is none). */
function mergeIntoLocalrc(conf: string, extra: string): string {
  const sections = parseMetaSections(conf);
  const localrc = sections.find((s) => s.header === '[[local|localrc]]');
  if (localrc) localrc.lines.push(...extra.trimEnd().split('\n'));
  else sections.unshift({ header: '[[local|localrc]]', lines: extra.trimEnd().split('\n') });
  return `${sections.map((s) => [s.header, ...s.lines].join('\n')).join('\n\n')}\n`;
}
