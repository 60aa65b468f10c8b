/** IPv4 arithmetic for the cluster network: addresses as 32-bit unsigned integers. */
import { isIPv4 } from 'node:net';

export function parseIPv4(text: string): number | undefined {
  if (!isIPv4(text)) return undefined;
  return text.split('.').reduce((acc, part) => acc * 256 + Number(part), 0);
}

export function formatIPv4(value: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(value / 2 ** shift) % 256).join('.');
}

export interface Cidr {
  /** The network address as an integer. */
  network: number;
  prefix: number;
  broadcast: number;
  /** First host address: libvirt's (and devcluster's) gateway on a NAT network. */
  gateway: number;
  size: number;
}

export function parseCidr(text: string): Cidr | undefined {
  const match = /^([0-9.]+)\/(\d{1,2})$/.exec(text);
  if (!match) return undefined;
  const base = parseIPv4(match[1] as string);
  const prefix = Number(match[2]);
  if (base === undefined || prefix > 32) return undefined;
  const size = 2 ** (32 - prefix);
  const network = base - (base % size);
  if (network !== base) return undefined;
  return { network, prefix, broadcast: network + size - 1, gateway: network + 1, size };
}

export function cidrContains(cidr: Cidr, address: number): boolean {
  return address >= cidr.network && address <= cidr.broadcast;
}

export function netmask(prefix: number): string {
  return formatIPv4(2 ** 32 - 2 ** (32 - prefix));
}
