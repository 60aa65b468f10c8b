import { describe, expect, it } from 'vitest';
import { parseCidr } from '../config/ipv4.js';
import { assignAddresses, assignMacs } from './addresses.js';

describe('addresses', () => {
  const cidr = parseCidr('192.168.150.0/24')!;
  it('gives unset nodes the next free address from .10, around the ones set', () => {
    expect(assignAddresses(cidr, [undefined, '192.168.150.11', undefined])).toEqual(['192.168.150.10', '192.168.150.11', '192.168.150.12']);
  });
  it('fails when the network is full', () => {
    const small = parseCidr('10.0.0.0/28')!;
    expect(() => assignAddresses(small, Array(6).fill(undefined))).toThrow(/no free address/);
  });
  it('derives stable, distinct, unicast MACs per cluster and node', () => {
    const a = assignMacs('dev', [{ name: 'controller' }, { name: 'compute1' }]);
    expect(assignMacs('dev', [{ name: 'controller' }, { name: 'compute1' }])).toEqual(a);
    expect(new Set(a).size).toBe(2);
    expect(assignMacs('other', [{ name: 'controller' }])[0]).not.toBe(a[0]);
    for (const mac of a) expect(mac).toMatch(/^52:54:00(:[0-9a-f]{2}){3}$/);
    expect(assignMacs('dev', [{ name: 'x', mac: '52:54:00:AA:BB:CC' }])).toEqual(['52:54:00:aa:bb:cc']);
  });
});
