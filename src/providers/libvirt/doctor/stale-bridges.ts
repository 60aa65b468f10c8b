/**
 * Bridges devcluster made (`dcb-<hash>`, see providers/names.ts) that no libvirt network
 * owns any more: left when libvirtd stopped with the network up and lost its runtime state. Such a
 * bridge keeps its gateway address, so the next network on the same addresses fails to start with
 * "Network is already in use by interface dcb-…". Only local URIs: a remote host's bridges are not here.
 */
import { readdir } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { run } from '../../../process/run.js';
import { BRIDGE_NAME } from '../../names.js';
import { asRoot, type Finding } from '../../../doctor/finding.js';

export interface StaleBridgeOptions {
  uri: string;
  /** Root of the file system for /sys/class/net (tests pass their own). */
  root: string;
  uid: number | undefined;
  env: Record<string, string>;
  signal?: AbortSignal;
}

const DEVCLUSTER_BRIDGE = BRIDGE_NAME;

/** The bridges named by libvirt's networks at `uri`, from `virsh net-info` ("Bridge: NAME"). */
async function ownedBridges(o: StaleBridgeOptions): Promise<Set<string>> {
  const opts = { env: o.env, timeoutMs: 20_000, ...(o.signal ? { signal: o.signal } : {}) };
  const { stdout } = await run('virsh', ['-c', o.uri, 'net-list', '--all', '--name'], opts);
  const owned = new Set<string>();
  for (const net of stdout.split('\n').map((l) => l.trim()).filter(Boolean)) {
    const info = await run('virsh', ['-c', o.uri, 'net-info', net], opts);
    const bridge = /^Bridge:\s*(\S+)/m.exec(info.stdout)?.[1];
    if (bridge) owned.add(bridge);
  }
  return owned;
}

/** devcluster bridges on this host that no network at `uri` owns; undefined when none is there. */
export async function checkStaleBridges(o: StaleBridgeOptions): Promise<Finding | undefined> {
  const net = join(o.root, 'sys/class/net');
  const names = await readdir(net).catch(() => [] as string[]);
  const ours = names.filter((n) => DEVCLUSTER_BRIDGE.test(n) && existsSync(join(net, n, 'bridge'))).sort();
  if (ours.length === 0) return undefined;
  const owned = await ownedBridges(o);
  const stale = ours.filter((n) => !owned.has(n));
  if (stale.length === 0) return { id: 'stale-bridges', status: 'ok', message: `every devcluster bridge (${ours.join(', ')}) belongs to a libvirt network` };
  return {
    id: 'stale-bridges',
    // fail, so that `doctor --fix` removes them: no network owns them, nothing else uses them.
    status: 'fail',
    message: `${stale.join(', ')}: devcluster bridge${stale.length > 1 ? 's' : ''} that no libvirt network at ${o.uri} owns (left by a libvirtd that stopped with the network up); a network on the same addresses cannot start while ${stale.length > 1 ? 'they hold them' : 'it holds them'}`,
    fix: { description: `remove ${stale.length > 1 ? 'them' : 'it'}`, commands: stale.map((n) => asRoot(['ip', 'link', 'del', n], o.uid)) },
  };
}
