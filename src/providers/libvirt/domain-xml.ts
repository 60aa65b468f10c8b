/**
 * libvirt domain definitions as typed data, turned into XML (golden-file tested). The devcluster
 * metadata element is how clusters are found again: cluster, node, role and planned address.
 */
import type { ClusterPlan, NicPlan, NodePlan } from '../../plan/plan.js';
import { el, renderXml, type XmlElement } from './xml.js';
import { diskVolumeName, seedVolumeName } from '../names.js';

export const METADATA_NS = 'https://devcluster.dev/xmlns/libvirt/1';

export interface Accel {
  /** kvm with host-passthrough when the host has /dev/kvm, else qemu (TCG). */
  type: 'kvm' | 'qemu';
  /** TCG translation cache size in MiB (bounds host memory per guest). */
  tbCacheMiB: number;
}

export interface DomainSpec {
  name: string;
  cluster: string;
  node: string;
  role: string;
  ip: string;
  nested: boolean;
  memoryKiB: number;
  vcpus: number;
  accel: Accel;
  pool: string;
  diskVolume: string;
  seedVolume: string;
  nics: Array<{ mac: string; source: { network: string } | { bridge: string } | { direct: string }; promiscuous: boolean }>;
  consoleLog: string;
}

export function domainSpecFor(
  plan: ClusterPlan,
  node: NodePlan,
  options: { accel: Accel; nested: boolean; pool: string; consoleLog: string; bridgeIsBridge: boolean; sessionBridge?: string },
): DomainSpec {
  const source = (nic: NicPlan): DomainSpec['nics'][number]['source'] => {
    // A qemu:///session domain cannot use a libvirt network: it joins the network's bridge instead.
    if (nic.role !== 'bridged') return options.sessionBridge ? { bridge: options.sessionBridge } : { network: plan.network.resourceName };
    const dev = plan.network.bridgeInterface as string;
    return options.bridgeIsBridge ? { bridge: dev } : { direct: dev };
  };
  return {
    name: node.resourcePrefix,
    cluster: plan.name,
    node: node.name,
    role: node.role,
    ip: node.ip,
    nested: options.nested,
    memoryKiB: Math.round(node.memoryBytes / 1024),
    vcpus: node.cpus,
    accel: options.accel,
    pool: options.pool,
    diskVolume: diskVolumeName(node.resourcePrefix),
    seedVolume: seedVolumeName(node.resourcePrefix),
    nics: node.nics.map((nic) => ({ mac: nic.mac, source: source(nic), promiscuous: nic.promiscuous })),
    consoleLog: options.consoleLog,
  };
}

function nicXml(nic: DomainSpec['nics'][number]): XmlElement {
  const model = el('model', { type: 'virtio' });
  const mac = el('mac', { address: nic.mac });
  if ('network' in nic.source) return el('interface', { type: 'network' }, el('source', { network: nic.source.network }), mac, model);
  if ('bridge' in nic.source) return el('interface', { type: 'bridge' }, el('source', { bridge: nic.source.bridge }), mac, model);
  // macvtap: the guest is on the host's LAN; trusting its RX filters lets it go promiscuous.
  return el('interface', { type: 'direct', trustGuestRxFilters: nic.promiscuous ? 'yes' : undefined }, el('source', { dev: nic.source.direct, mode: 'bridge' }), mac, model);
}

export function domainXml(spec: DomainSpec): string {
  const tcg = spec.accel.type === 'qemu';
  const domain = el(
    'domain',
    { type: spec.accel.type },
    el('name', undefined, spec.name),
    el(
      'metadata',
      undefined,
      el('dc:node', { 'xmlns:dc': METADATA_NS, cluster: spec.cluster, node: spec.node, role: spec.role, ip: spec.ip, nested: spec.nested ? 'yes' : 'no' }),
    ),
    el('memory', { unit: 'KiB' }, String(spec.memoryKiB)),
    el('vcpu', undefined, String(spec.vcpus)),
    el('os', undefined, el('type', { arch: 'x86_64', machine: 'q35' }, 'hvm'), el('boot', { dev: 'hd' })),
    el('features', undefined, el('acpi'), el('apic'), tcg && el('tcg', undefined, el('tb-cache', { unit: 'MiB' }, String(spec.accel.tbCacheMiB)))),
    tcg ? el('cpu', { mode: 'maximum', check: 'none' }) : el('cpu', { mode: 'host-passthrough', check: 'none' }),
    el('clock', { offset: 'utc' }),
    el('on_poweroff', undefined, 'destroy'),
    el('on_reboot', undefined, 'restart'),
    el('on_crash', undefined, 'destroy'),
    el(
      'devices',
      undefined,
      el('disk', { type: 'volume', device: 'disk' }, el('driver', { name: 'qemu', type: 'qcow2', discard: 'unmap' }), el('source', { pool: spec.pool, volume: spec.diskVolume }), el('target', { dev: 'vda', bus: 'virtio' })),
      el('disk', { type: 'volume', device: 'disk' }, el('driver', { name: 'qemu', type: 'raw' }), el('source', { pool: spec.pool, volume: spec.seedVolume }), el('target', { dev: 'vdb', bus: 'virtio' }), el('readonly')),
      ...spec.nics.map(nicXml),
      // qemu-guest-agent's port: `virsh domtime --now` steps the clock after a snapshot restore.
      el('channel', { type: 'unix' }, el('target', { type: 'virtio', name: 'org.qemu.guest_agent.0' })),
      el('serial', { type: 'pty' }, el('log', { file: spec.consoleLog, append: 'off' }), el('target', { port: 0 })),
      el('console', { type: 'pty' }, el('target', { type: 'serial', port: 0 })),
      el('rng', { model: 'virtio' }, el('backend', { model: 'random' }, '/dev/urandom')),
      el('memballoon', { model: 'virtio' }),
    ),
  );
  return `${renderXml(domain)}\n`;
}
