/**
 * Can libvirt's qemu user open /dev/kvm? libvirt (qemu:///system) runs qemu as the `user` and `group`
 * of /etc/libvirt/qemu.conf — Debian builds libvirt with libvirt-qemu:libvirt-qemu — plus the
 * supplementary groups of that user (libvirt's virGetGroupList, i.e. initgroups: on Debian `kvm`).
 * Without a udev rule (containers, CI runners, hosts without udev) /dev/kvm stays root:root 0600 and
 * qemu fails with "Could not access KVM kernel module: Permission denied". The udev rule that normally
 * fixes it is KERNEL=="kvm", GROUP="kvm", MODE="0660". Everything is read under `root` so tests can
 * point it at a fake tree.
 */
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';

export const KVM_GROUP = 'kvm';
/** Where `doctor --fix` puts the rule, and what it says (the rule systemd's 50-udev-default.rules has, at 0660). */
export const KVM_UDEV_RULE_PATH = '/etc/udev/rules.d/65-devcluster-kvm.rules';
export const KVM_UDEV_RULE = 'KERNEL=="kvm", GROUP="kvm", MODE="0660"\n';

export interface QemuIdentity {
  user: string;
  uid: number | undefined;
  /** The process's group (qemu.conf `group`). */
  group: string;
  gid: number | undefined;
  /** Every group id the qemu process has: its group and the user's groups. */
  gids: number[];
  /** The names of those groups (for messages). */
  groupNames: string[];
}

export interface KvmAccess {
  /** The qemu user can open /dev/kvm read-write. */
  ok: boolean;
  /** e.g. "/dev/kvm is root:root 0600". */
  device: string;
  identity: QemuIdentity;
  /** Whether the qemu user is in the kvm group (the fix needs it) and whether that group exists. */
  inKvmGroup: boolean;
  kvmGroupExists: boolean;
}

interface Entry {
  name: string;
  id: number;
  gid?: number;
  members?: string[];
}

async function table(root: string, file: 'passwd' | 'group'): Promise<Entry[]> {
  const text = await readFile(join(root, 'etc', file), 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter((l) => l && !l.startsWith('#'))
    .map((line) => {
      const f = line.split(':');
      return file === 'passwd'
        ? { name: f[0] ?? '', id: Number(f[2]), gid: Number(f[3]) }
        : { name: f[0] ?? '', id: Number(f[2]), members: (f[3] ?? '').split(',').filter(Boolean) };
    });
}

/** A qemu.conf setting (`user = "libvirt-qemu"`), uncommented, or undefined. */
function confValue(text: string, key: string): string | undefined {
  const match = new RegExp(`^\\s*${key}\\s*=\\s*"([^"]*)"`, 'm').exec(text);
  return match?.[1];
}

/** Who qemu runs as under qemu:///system: qemu.conf, else Debian's build defaults. */
export async function qemuIdentity(root = '/'): Promise<QemuIdentity> {
  const conf = await readFile(join(root, 'etc/libvirt/qemu.conf'), 'utf8').catch(() => '');
  const user = confValue(conf, 'user') ?? 'libvirt-qemu';
  const group = confValue(conf, 'group') ?? 'libvirt-qemu';
  const passwd = await table(root, 'passwd');
  const groups = await table(root, 'group');
  // "+N" means a numeric id (qemu.conf's own syntax).
  const u = user.startsWith('+') ? passwd.find((e) => e.id === Number(user.slice(1))) : passwd.find((e) => e.name === user);
  const g = group.startsWith('+') ? groups.find((e) => e.id === Number(group.slice(1))) : groups.find((e) => e.name === group);
  const uid = user.startsWith('+') ? Number(user.slice(1)) : u?.id;
  const gid = group.startsWith('+') ? Number(group.slice(1)) : g?.id;
  const gids = new Set<number>();
  if (gid !== undefined) gids.add(gid);
  if (u?.gid !== undefined) gids.add(u.gid);
  for (const e of groups) if (u && e.members?.includes(u.name)) gids.add(e.id);
  const names = [...gids].map((id) => groups.find((e) => e.id === id)?.name ?? String(id));
  return { user: u?.name ?? user, uid, group: g?.name ?? group, gid, gids: [...gids], groupNames: names };
}

function owner(entries: Entry[], id: number): string {
  return entries.find((e) => e.id === id)?.name ?? String(id);
}

/** Whether the qemu user can open root/dev/kvm read-write, by its owner, group and mode (as access(2) decides). */
export async function kvmAccess(root = '/'): Promise<KvmAccess | undefined> {
  const path = join(root, 'dev/kvm');
  const st = await stat(path).catch(() => undefined);
  if (!st) return undefined;
  const identity = await qemuIdentity(root);
  const mode = st.mode & 0o777;
  const bits = identity.uid === 0 ? 0o6 : identity.uid === st.uid ? (mode >> 6) & 7 : identity.gids.includes(st.gid) ? (mode >> 3) & 7 : mode & 7;
  const groups = await table(root, 'group');
  const kvm = groups.find((g) => g.name === KVM_GROUP);
  const device = `/dev/kvm is ${owner(await table(root, 'passwd'), st.uid)}:${owner(groups, st.gid)} ${mode.toString(8).padStart(4, '0')}`;
  return {
    ok: (bits & 0o6) === 0o6,
    device,
    identity,
    inKvmGroup: kvm !== undefined && identity.gids.includes(kvm.id),
    kvmGroupExists: kvm !== undefined,
  };
}

/** The URI rules live in uri.ts; re-exported for the callers of this module. */
export { isLocalSystemUri, isLocalUri } from './uri.js';
