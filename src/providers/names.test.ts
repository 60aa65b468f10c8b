/** The resource names: what `down` looks for must be what `up` made, and bases never count as nodes. */
import { describe, expect, it } from 'vitest';
import {
  BRIDGE_NAME,
  bridgeNameFor,
  clusterNetworkName,
  clusterOfNetworkName,
  consoleLogName,
  diskVolumeName,
  domainLogName,
  isNodeResourceName,
  libvirtBaseVolumeName,
  nodeResourcePrefix,
  seedVolumeName,
  vboxBaseVmName,
  vboxGroupName,
} from './names.js';

describe('resource names', () => {
  it("a node's resources all start with dc-<cluster>-<node>", () => {
    const prefix = nodeResourcePrefix('alpha', 'compute1');
    expect(prefix).toBe('dc-alpha-compute1');
    expect([diskVolumeName(prefix), seedVolumeName(prefix), consoleLogName(prefix), domainLogName(prefix)]).toEqual([
      'dc-alpha-compute1-disk.qcow2',
      'dc-alpha-compute1-seed.iso',
      'dc-alpha-compute1-console.log',
      'dc-alpha-compute1.log',
    ]);
  });

  it('the network is dc-<cluster> and names its cluster back; bases are not clusters or nodes', () => {
    expect(clusterNetworkName('alpha-2')).toBe('dc-alpha-2');
    expect(clusterOfNetworkName('dc-alpha-2')).toBe('alpha-2');
    expect(clusterOfNetworkName('default')).toBeUndefined();
    expect(clusterOfNetworkName('dc-base-x')).toBeUndefined();
    expect(isNodeResourceName('dc-alpha-controller')).toBe(true);
    expect(isNodeResourceName(vboxBaseVmName('ab'.repeat(32)))).toBe(false);
    expect(isNodeResourceName('ubuntu')).toBe(false);
  });

  it('base images are named by their checksum, so two clusters share one', () => {
    expect(libvirtBaseVolumeName({ algorithm: 'sha256', hash: 'ab'.repeat(32), format: 'qcow2' })).toBe('dc-base-sha256-abababababababab.qcow2');
    expect(vboxBaseVmName('cd'.repeat(32))).toBe('dc-base-cdcdcdcdcdcdcdcd');
  });

  it("a cluster's bridge fits the kernel's 15 characters, is the same every time, and is what doctor looks for", () => {
    const name = bridgeNameFor('a-cluster-with-a-long-name');
    expect(name.length).toBeLessThanOrEqual(15);
    expect(bridgeNameFor('a-cluster-with-a-long-name')).toBe(name);
    expect(bridgeNameFor('other')).not.toBe(name);
    expect(BRIDGE_NAME.test(name)).toBe(true);
    expect(BRIDGE_NAME.test('virbr0')).toBe(false);
    expect(vboxGroupName('alpha')).toBe('/devcluster/alpha');
  });
});
