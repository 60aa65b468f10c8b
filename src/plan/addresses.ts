/** Addresses and MACs for nodes that the config leaves unset: deterministic, never colliding. */
import { createHash } from 'node:crypto';
import { formatIPv4, parseIPv4, type Cidr } from '../config/ipv4.js';

/** First automatic host number: .10, leaving room below for the gateway and the user's own uses. */
export const FIRST_AUTO_HOST = 10;

export function assignAddresses(cidr: Cidr, wanted: ReadonlyArray<string | undefined>): string[] {
  const taken = new Set(wanted.flatMap((ip) => (ip === undefined ? [] : [parseIPv4(ip) as number])));
  let next = cidr.network + FIRST_AUTO_HOST;
  return wanted.map((ip) => {
    if (ip !== undefined) return ip;
    while (taken.has(next) || next === cidr.gateway) next++;
    if (next >= cidr.broadcast) throw new RangeError(`network ${formatIPv4(cidr.network)}/${cidr.prefix} has no free address left`);
    taken.add(next);
    return formatIPv4(next++);
  });
}

/** 52:54:00 (QEMU's prefix) + three bytes from a hash of cluster and node, so a node keeps its MAC. */
export function assignMacs(cluster: string, nodes: ReadonlyArray<{ name: string; mac?: string | undefined }>): string[] {
  const taken = new Set(nodes.flatMap((n) => (n.mac === undefined ? [] : [n.mac.toLowerCase()])));
  return nodes.map((node) => {
    if (node.mac !== undefined) return node.mac.toLowerCase();
    for (let attempt = 0; ; attempt++) {
      const digest = createHash('sha256').update(`${cluster}/${node.name}/${attempt}`).digest();
      const mac = `52:54:00:${[...digest.subarray(0, 3)].map((b) => b.toString(16).padStart(2, '0')).join(':')}`;
      if (!taken.has(mac)) {
        taken.add(mac);
        return mac;
      }
    }
  });
}
