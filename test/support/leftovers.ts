/** What of a cluster is still on the host after `down`: libvirt's domains, volumes, networks, qemu processes, state. */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const virsh = (...args: string[]) => execFileSync('virsh', ['-q', '-c', 'qemu:///system', ...args]).toString();

/** The default pool's folder on qemu:///system. */
const POOL_DIR = '/var/lib/libvirt/images';

/** Names of the cluster's domains, volumes and networks on qemu:///system, and its qemu processes. */
export function libvirtLeftovers(cluster: string): string[] {
  const prefix = `dc-${cluster}`;
  const mine = (name: string) => name === prefix || name.startsWith(`${prefix}-`);
  const qemu = execFileSync('ps', ['-eo', 'args']).toString().split('\n').filter((args) => /qemu-system/.test(args) && args.includes(`guest=${prefix}-`));
  return [
    ...virsh('list', '--all', '--name').split('\n').filter(mine).map((n) => `domain ${n}`),
    ...virsh('vol-list', 'default').split('\n').map((l) => l.trim().split(/\s+/)[0] ?? '').filter(mine).map((n) => `volume ${n}`),
    ...virsh('net-list', '--all', '--name').split('\n').filter(mine).map((n) => `network ${n}`),
    // Files in the default pool's folder that libvirt may not list as volumes (a memory image not refreshed in).
    ...readdirSync(POOL_DIR).filter(mine).map((n) => `file ${POOL_DIR}/${n}`),
    ...qemu.map((args) => `process ${args.slice(0, 80)}`),
  ];
}

/** The above plus the cluster's state folder under `work`. */
export function leftovers(cluster: string, work: string): string[] {
  const state = join(work, '.devcluster', cluster);
  return [...libvirtLeftovers(cluster), ...(existsSync(state) ? [`state ${state}`] : [])];
}
