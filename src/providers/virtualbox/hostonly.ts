/**
 * The host-only interface a VirtualBox cluster's addresses sit on, and who owns it. Host-only
 * interfaces carry no extradata of their own, so devcluster records the interfaces it created in
 * VirtualBox's global extradata, one key per interface: `devcluster/hostonlyif/<name>` = the clusters
 * using it (comma-separated; cluster names are [a-z0-9-]). `down` removes an interface only when the
 * key says devcluster made it, no cluster is left on it and no registered VM has a NIC on it; an
 * interface without the key (the user's own, or one from before this record) is never removed.
 * VirtualBox itself keeps HostOnly/<name>/IPAddress there too (HostImpl.cpp
 * Host::createHostOnlyNetworkInterface); those keys are VirtualBox's and are left alone.
 */
import { DevclusterError } from '../../errors.js';
import { parseExtraData, parseMachineReadable, type VBoxManage } from './vboxmanage.js';

export const OWNER_PREFIX = 'devcluster/hostonlyif/';

export const NETWORKS_HINT =
  'VirtualBox allows host-only addresses only inside 192.168.56.0/21 unless /etc/vbox/networks.conf lists more ' +
  '(e.g. a line "* 192.168.0.0/16"; VirtualBox 6.1 and 7 alike); or set network.cidr inside 192.168.56.0/21';

export interface HostOnlyIf {
  name: string;
  ip: string | undefined;
}

/** `list hostonlyifs`: one block per interface, separated by blank lines. */
export function parseHostOnlyIfs(text: string): HostOnlyIf[] {
  const out: HostOnlyIf[] = [];
  for (const block of text.split(/\n\s*\n/)) {
    const name = /^Name:\s+(.+)$/m.exec(block)?.[1]?.trim();
    if (name) out.push({ name, ip: /^IPAddress:\s+(.+)$/m.exec(block)?.[1]?.trim() });
  }
  return out;
}

/** The host-only interface whose host address is `gateway` (read only), if there is one. */
export async function findHostOnly(vbox: VBoxManage, gateway: string, signal: AbortSignal): Promise<string | undefined> {
  return parseHostOnlyIfs((await vbox.run(['list', 'hostonlyifs'], { signal })).stdout).find((i) => i.ip === gateway)?.name;
}

/** Interface name → the clusters recorded as using it (only interfaces devcluster created). */
export async function owners(vbox: VBoxManage, signal?: AbortSignal): Promise<Map<string, string[]>> {
  const data = parseExtraData((await vbox.run(['getextradata', 'global', 'enumerate'], signal ? { signal } : {})).stdout);
  const out = new Map<string, string[]>();
  for (const [key, value] of data) {
    if (key.startsWith(OWNER_PREFIX)) out.set(key.slice(OWNER_PREFIX.length), value.split(',').filter(Boolean));
  }
  return out;
}

async function record(vbox: VBoxManage, name: string, clusters: readonly string[], signal?: AbortSignal): Promise<void> {
  // setextradata with no value deletes the key (VBoxManageMisc.cpp handleSetExtraData).
  const args = ['setextradata', 'global', `${OWNER_PREFIX}${name}`, ...(clusters.length ? [clusters.join(',')] : [])];
  await vbox.run(args, signal ? { signal } : {});
}

/**
 * The host-only interface whose host address is the plan's gateway: an existing one is reused (and,
 * when devcluster made it, the cluster joins its record); otherwise one is created, recorded as the
 * cluster's before its address is set, and removed again when VirtualBox refuses the address.
 */
export async function ensureHostOnly(vbox: VBoxManage, cluster: string, gateway: string, netmask: string, prefix: number, signal: AbortSignal): Promise<string> {
  const existing = parseHostOnlyIfs((await vbox.run(['list', 'hostonlyifs'], { signal })).stdout).find((i) => i.ip === gateway);
  if (existing) {
    const users = (await owners(vbox, signal)).get(existing.name);
    if (users && !users.includes(cluster)) await record(vbox, existing.name, [...users, cluster], signal);
    return existing.name;
  }
  const created = await vbox.run(['hostonlyif', 'create'], { signal });
  const name = /Interface '([^']+)' was successfully created/.exec(created.stdout + created.stderr)?.[1];
  if (!name) throw new DevclusterError('VBOX_FAILED', `VBoxManage hostonlyif create did not name the interface it made: ${created.stdout.trim()}`);
  try {
    await record(vbox, name, [cluster], signal);
    await vbox.run(['hostonlyif', 'ipconfig', name, '--ip', gateway, '--netmask', netmask], { signal }).catch((error: unknown) => {
      throw new DevclusterError('VBOX_FAILED', `host-only interface ${name} refused ${gateway}/${prefix}`, { cause: error, hint: NETWORKS_HINT });
    });
  } catch (error) {
    // Nothing of the failed attempt stays: neither the new vboxnetN nor its record.
    await vbox.run(['hostonlyif', 'remove', name]).catch(() => undefined);
    await record(vbox, name, []).catch(() => undefined);
    throw error;
  }
  return name;
}

/** Registered VMs with a NIC on the interface (`hostonlyadapterN` of showvminfo). */
async function usersOf(vbox: VBoxManage, name: string, signal: AbortSignal): Promise<string[]> {
  const { stdout } = await vbox.run(['list', 'vms'], { signal });
  const out: string[] = [];
  for (const vm of [...stdout.matchAll(/^"(.*)" \{[0-9a-f-]+\}$/gm)].map((m) => m[1] as string)) {
    const info = parseMachineReadable((await vbox.run(['showvminfo', vm, '--machinereadable'], { signal })).stdout);
    if ([...info].some(([key, value]) => /^hostonlyadapter\d+$/.test(key) && value === name)) out.push(vm);
  }
  return out;
}

/**
 * The cluster leaves every interface it is recorded on; an interface devcluster made that nobody is
 * left on is removed. Returns what went, and what stayed because a VM outside the record still uses it.
 */
export async function releaseHostOnly(vbox: VBoxManage, cluster: string, signal: AbortSignal): Promise<{ removed: string[]; kept: string[] }> {
  const removed: string[] = [];
  const kept: string[] = [];
  const present = new Set(parseHostOnlyIfs((await vbox.run(['list', 'hostonlyifs'], { signal })).stdout).map((i) => i.name));
  for (const [name, users] of await owners(vbox, signal)) {
    if (!users.includes(cluster)) continue;
    const left = users.filter((u) => u !== cluster);
    if (left.length > 0) {
      await record(vbox, name, left, signal);
      continue;
    }
    if (!present.has(name)) {
      await record(vbox, name, [], signal);
      continue;
    }
    const vms = await usersOf(vbox, name, signal);
    if (vms.length > 0) {
      kept.push(`${name} (still used by ${vms.join(', ')})`);
      continue; // the record stays: a later `down` can still remove it
    }
    await vbox.run(['hostonlyif', 'remove', name], { signal, timeoutMs: 120_000 });
    await record(vbox, name, [], signal);
    removed.push(name);
  }
  return { removed, kept };
}
