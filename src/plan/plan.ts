/**
 * The plan: the resolved cluster every later stage works from — nodes with roles, addresses, MACs,
 * sizes, pinned host keys, the stack user, DevStack's services and the secrets. Pure: it reads
 * nothing; config, the user's keys and the stored secrets come in as arguments.
 */
import type { Config, NodeConfig } from '../config/schema.js';
import type { PublicKey } from '../config/ssh-keys.js';
import { fingerprintOf } from '../config/ssh-keys.js';
import { netmask, parseCidr, formatIPv4 } from '../config/ipv4.js';
import { parseSize } from '../config/units.js';
import { NODE_DEFAULTS, defaultHostname } from '../config/node-defaults.js';
import type { Secrets, PasswordName } from '../state/secrets.js';
import { assignAddresses, assignMacs } from './addresses.js';
import { planServices, type ServicePlan } from './services.js';
import { grenadeBranches } from '../config/grenade.js';
import { clusterNetworkName, nodeResourcePrefix } from '../providers/names.js';

export interface HostKeyPlan {
  type: string;
  /** The public key line, as it will appear in the node's /etc/ssh/ssh_host_ed25519_key.pub. */
  public: string;
  fingerprint: string;
  /** OpenSSH private key, placed on the node through the cloud-init seed. */
  private: string;
}

/** One network card of a node, as the provider attaches it and cloud-init configures it. */
export interface NicPlan {
  /**
   * cluster: the NAT cluster network; management: the NAT network beside a bridged NIC; bridged: the
   * host's LAN; nat: VirtualBox's NAT NIC (DHCP from VirtualBox, SSH forwarded from the host).
   */
  role: 'cluster' | 'management' | 'bridged' | 'nat';
  mac: string;
  /** Static address on the cluster network, absent for DHCP. */
  ipv4?: { address: string; prefix: number };
  gateway?: string;
  dns?: string[];
  dhcp: boolean;
  /** Whether this NIC carries the default route. */
  defaultRoute: boolean;
  /** Carries second-level guests' frames: the hypervisor must let foreign MACs through. */
  promiscuous: boolean;
}

export interface NodePlan {
  name: string;
  role: 'controller' | 'compute';
  hostname: string;
  /** The first label of the hostname. */
  shortHostname: string;
  ip: string;
  mac: string;
  cpus: number;
  memoryBytes: number;
  diskBytes: number;
  /** Prefix of every resource made for this node: dc-<cluster>-<node>. */
  resourcePrefix: string;
  hostKey: HostKeyPlan;
  /** NAT mode: the cluster NIC. Bridged mode: a management NIC, then the bridged NIC (node.mac). */
  nics: NicPlan[];
}

export interface ClusterPlan {
  name: string;
  provider: Config['provider'];
  libvirt: Config['libvirt'];
  image: Config['image'];
  network: {
    mode: 'nat' | 'bridged';
    cidr: string;
    prefix: number;
    netmask: string;
    gateway: string;
    dns: string[];
    bridgeInterface?: string;
    /** Name of the cluster's own network: dc-<cluster>. */
    resourceName: string;
  };
  nodes: NodePlan[];
  controller: string;
  stackUser: {
    name: string;
    passwordHash?: string;
    /** The user's keys and the cluster's own key, as authorized_keys lines. */
    authorizedKeys: string[];
  };
  clusterKey: { public: string; private: string; fingerprint: string };
  devstack: {
    repo: string;
    branch: string;
    mode: 'devstack' | 'grenade';
    layer: number;
    ipVersion: 4 | 6 | '4+6';
    journal: boolean;
    services: ServicePlan;
    sources: Record<string, string>;
    /** Extra local.conf text per role; `nodes` replaces its role's text for that node. */
    localConf: { controller: string; compute: string; nodes: Record<string, string> };
    passwords: Record<PasswordName, string>;
    /** Grenade mode: the branches (to defaults to branch), grenade's repo, extra localrc lines. */
    grenade?: { from: string; to: string; repo: string; localrc: Record<string, string> };
  };
  postStack: Config['post_stack'];
  proxy: Config['proxy'];
}

function publicKeyFingerprint(line: string): string {
  const blob = line.trim().split(/\s+/)[1] ?? '';
  return fingerprintOf(Buffer.from(blob, 'base64'));
}

function grenadePlan(config: Config): { grenade?: NonNullable<ClusterPlan['devstack']['grenade']> } {
  const branches = grenadeBranches(config);
  const g = config.devstack.grenade;
  return branches && g ? { grenade: { ...branches, repo: g.repo, localrc: { ...g.localrc } } } : {};
}

export function buildPlan(config: Config, userKeys: readonly PublicKey[], secrets: Secrets): ClusterPlan {
  const cidr = parseCidr(config.network.cidr);
  if (cidr === undefined) throw new TypeError(`buildPlan needs a validated config (cidr ${config.network.cidr})`);
  const ips = assignAddresses(cidr, config.nodes.map((n) => n.ip));
  // One call for both kinds of NIC, so a management MAC can never repeat another node's MAC.
  const vbox = config.provider === 'virtualbox';
  const allMacs = assignMacs(config.name, [
    ...config.nodes,
    ...config.nodes.map((n) => ({ name: `${n.name}/management` })),
    ...(vbox ? config.nodes.map((n) => ({ name: `${n.name}/nat` })) : []),
  ]);
  const n = config.nodes.length;
  const macs = allMacs.slice(0, n);
  const managementMacs = allMacs.slice(n, 2 * n);
  const natMacs = allMacs.slice(2 * n);
  const gateway = formatIPv4(cidr.gateway);
  const nicsFor = (ip: string, mac: string, managementMac: string, natMac: string | undefined): NicPlan[] => {
    const ipv4 = { address: ip, prefix: cidr.prefix };
    if (natMac !== undefined) {
      // VirtualBox: NIC1 NAT (outbound traffic, SSH forwarded from 127.0.0.1), then the plan's
      // addresses on a host-only NIC; in bridged mode the host's LAN as a third NIC.
      const nat: NicPlan = { role: 'nat', mac: natMac, dhcp: true, defaultRoute: config.network.mode === 'nat', promiscuous: false };
      if (config.network.mode === 'nat') return [nat, { role: 'cluster', mac, ipv4, dhcp: false, defaultRoute: false, promiscuous: false }];
      return [
        nat,
        { role: 'management', mac: managementMac, ipv4, dhcp: false, defaultRoute: false, promiscuous: false },
        { role: 'bridged', mac, dhcp: true, defaultRoute: true, promiscuous: true },
      ];
    }
    if (config.network.mode === 'nat') {
      return [{ role: 'cluster', mac, ipv4, gateway, dns: [gateway], dhcp: false, defaultRoute: true, promiscuous: false }];
    }
    return [
      { role: 'management', mac: managementMac, ipv4, dhcp: false, defaultRoute: false, promiscuous: false },
      { role: 'bridged', mac, dhcp: true, defaultRoute: true, promiscuous: true },
    ];
  };

  const nodes = config.nodes.map((node: NodeConfig, i): NodePlan => {
    const defaults = NODE_DEFAULTS[node.role];
    const hostname = (node.hostname ?? defaultHostname(config.name, node.name)).toLowerCase();
    const hostKey = secrets.host_keys[node.name];
    if (hostKey === undefined) throw new TypeError(`no host key for node ${node.name}: complete the secrets first`);
    return {
      name: node.name,
      role: node.role,
      hostname,
      shortHostname: hostname.split('.')[0] as string,
      ip: ips[i] as string,
      mac: macs[i] as string,
      cpus: node.cpus ?? defaults.cpus,
      memoryBytes: parseSize(node.memory ?? defaults.memory) as number,
      diskBytes: parseSize(node.disk ?? defaults.disk) as number,
      resourcePrefix: nodeResourcePrefix(config.name, node.name),
      hostKey: {
        type: hostKey.public.split(' ')[0] as string,
        public: hostKey.public,
        fingerprint: publicKeyFingerprint(hostKey.public),
        private: hostKey.private,
      },
      nics: nicsFor(ips[i] as string, macs[i] as string, managementMacs[i] as string, natMacs[i]),
    };
  });

  const controller = nodes.find((n) => n.role === 'controller');
  if (controller === undefined) throw new TypeError('buildPlan needs a validated config (no controller)');

  const authorizedKeys = [...new Set([...userKeys.map((k) => k.line), secrets.cluster_key.public])];
  const stackUser: ClusterPlan['stackUser'] = { name: config.stack_user.name, authorizedKeys };
  if (config.stack_user.password_hash !== undefined) stackUser.passwordHash = config.stack_user.password_hash;

  const network: ClusterPlan['network'] = {
    mode: config.network.mode,
    cidr: config.network.cidr,
    prefix: cidr.prefix,
    netmask: netmask(cidr.prefix),
    gateway: formatIPv4(cidr.gateway),
    dns: [formatIPv4(cidr.gateway)],
    resourceName: clusterNetworkName(config.name),
  };
  if (config.network.bridge_interface !== undefined) network.bridgeInterface = config.network.bridge_interface;

  const passwords = { ...secrets.passwords };
  for (const [name, value] of Object.entries(config.devstack.passwords)) {
    if (value !== undefined) passwords[name as PasswordName] = value;
  }

  return {
    name: config.name,
    provider: config.provider,
    libvirt: config.libvirt,
    image: config.image,
    network,
    nodes,
    controller: controller.name,
    stackUser,
    clusterKey: {
      public: secrets.cluster_key.public,
      private: secrets.cluster_key.private,
      fingerprint: publicKeyFingerprint(secrets.cluster_key.public),
    },
    devstack: {
      repo: config.devstack.repo,
      branch: config.devstack.branch,
      mode: config.devstack.mode,
      layer: config.devstack.layer,
      ipVersion: config.devstack.ip_version,
      journal: config.devstack.journal,
      services: planServices(config.devstack.layer, config.devstack.services, config.devstack.plugins),
      sources: { ...config.devstack.sources },
      localConf: { ...config.devstack.local_conf, nodes: { ...config.devstack.local_conf.nodes } },
      passwords,
      ...grenadePlan(config),
    },
    postStack: config.post_stack,
    proxy: config.proxy,
  };
}
