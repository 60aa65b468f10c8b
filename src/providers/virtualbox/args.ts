/**
 * VBoxManage argument lists, built from the plan (pure; golden-file tested). Values go to VBoxManage
 * as separate argv entries through execa, never through a shell.
 */
import type { ClusterPlan, NodePlan } from '../../plan/plan.js';
import { vboxGroupName } from '../names.js';

export const CONTROLLER = 'SATA';
export const BASE_SNAPSHOT = 'base';
export const TAG = 'devcluster';

/** VBoxManage writes MACs as 12 hex digits without separators. */
export function vboxMac(mac: string): string {
  return mac.replace(/:/g, '').toUpperCase();
}

export function ostypeFor(image: ClusterPlan['image']): string {
  const name = typeof image === 'string' ? image : '';
  if (name.startsWith('fedora')) return 'Fedora_64';
  if (name.startsWith('debian')) return 'Debian_64';
  return 'Ubuntu_64';
}

export function baseVmArgs(name: string, ostype: string): string[][] {
  return [
    ['createvm', '--name', name, '--groups', '/devcluster', '--ostype', ostype, '--register'],
    ['storagectl', name, '--name', CONTROLLER, '--add', 'sata', '--controller', 'IntelAhci', '--portcount', '2'],
  ];
}

export function cloneArgs(base: string, node: NodePlan, cluster: string): string[] {
  return ['clonevm', base, '--snapshot', BASE_SNAPSHOT, '--options', 'link', '--name', node.resourcePrefix, '--groups', vboxGroupName(cluster), '--register'];
}

export interface NodeVmOptions {
  sshPort: number;
  /** The host-only interface of the cluster's (or management) network. */
  hostOnlyInterface: string;
  consoleLog: string;
  nested: boolean;
}

/** memory, CPUs, NICs in the plan's order (NIC1 NAT with SSH forwarded), nesting, serial console. */
export function modifyNodeArgs(plan: ClusterPlan, node: NodePlan, o: NodeVmOptions): string[] {
  const args = [
    'modifyvm', node.resourcePrefix,
    '--memory', String(Math.round(node.memoryBytes / 1048576)),
    '--cpus', String(node.cpus),
    '--ioapic', 'on',
    '--boot1', 'disk', '--boot2', 'dvd', '--boot3', 'none', '--boot4', 'none',
    '--nested-hw-virt', o.nested ? 'on' : 'off',
    '--uart1', '0x3F8', '4', '--uartmode1', 'file', o.consoleLog,
  ];
  node.nics.forEach((nic, i) => {
    const n = i + 1;
    args.push(`--macaddress${n}`, vboxMac(nic.mac));
    if (nic.role === 'nat') args.push(`--nic${n}`, 'nat', `--natpf${n}`, `ssh,tcp,127.0.0.1,${o.sshPort},,22`);
    else if (nic.role === 'bridged') args.push(`--nic${n}`, 'bridged', `--bridgeadapter${n}`, plan.network.bridgeInterface as string, `--nicpromisc${n}`, 'allow-all');
    else args.push(`--nic${n}`, 'hostonly', `--hostonlyadapter${n}`, o.hostOnlyInterface);
  });
  return args;
}

/** devcluster's keys in the VM's extradata: how `status` and `down` find it. */
export function tagArgs(plan: ClusterPlan, node: NodePlan, sshPort: number): string[][] {
  const tags: Record<string, string> = { cluster: plan.name, node: node.name, role: node.role, ip: node.ip, 'ssh-port': String(sshPort) };
  return Object.entries(tags).map(([k, v]) => ['setextradata', node.resourcePrefix, `${TAG}/${k}`, v]);
}

export function seedArgs(vm: string, iso: string): string[] {
  return ['storageattach', vm, '--storagectl', CONTROLLER, '--port', '1', '--device', '0', '--type', 'dvddrive', '--medium', iso];
}
