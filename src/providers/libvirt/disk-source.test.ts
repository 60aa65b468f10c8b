/**
 * disk-source.ts on a domain XML as libvirt 9.0 wrote it (test/fixtures/libvirt: `virsh dumpxml` of a
 * running domain restored from a memory image onto a layer, its backing chain expanded by libvirt).
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { XMLParser } from 'fast-xml-parser';
import { describe, expect, it } from 'vitest';
import { diskSource, withDiskVolume } from './disk-source.js';

const LIVE = readFileSync(resolve(import.meta.dirname, '../../../test/fixtures/libvirt/domain-live-after-restore.xml'), 'utf8');
const parse = (xml: string) => new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '' }).parse(xml) as { domain: { devices: Record<string, unknown> } };

describe('where a domain disk points', () => {
  it('reads a volume source, and a file source', () => {
    expect(diskSource(LIVE, 'vda')).toEqual({ pool: 'default', volume: 'snapx-r1.qcow2' });
    const asFile = LIVE.replace("<disk type='volume' device='disk'>", "<disk type='file' device='disk'>").replace("<source pool='default' volume='snapx-r1.qcow2' index='1'/>", "<source file='/var/lib/libvirt/images/dc-a-b-disk-0badc0de.qcow2' index='3'/>");
    expect(diskSource(asFile, 'vda')).toEqual({ file: '/var/lib/libvirt/images/dc-a-b-disk-0badc0de.qcow2' });
    expect(diskSource(LIVE, 'vdz')).toBeUndefined();
  });

  it('points the disk at another volume, drops its backing chain, and changes nothing else', () => {
    const asFile = LIVE.replace("<disk type='volume' device='disk'>", "<disk type='file' device='disk'>").replace("<source pool='default' volume='snapx-r1.qcow2' index='1'/>", "<source file='/x/top.qcow2' index='3'/>");
    const out = withDiskVolume(asFile, 'vda', 'mypool', 'dc-c-n-disk-12345678.qcow2');
    expect(diskSource(out, 'vda')).toEqual({ pool: 'mypool', volume: 'dc-c-n-disk-12345678.qcow2' });
    const before = parse(LIVE);
    const after = parse(out);
    const disk = after.domain.devices.disk as Record<string, unknown>;
    expect(disk.type).toBe('volume');
    expect(disk.backingStore).toBeUndefined();
    expect(disk.target).toEqual({ dev: 'vda', bus: 'virtio' });
    expect(disk.driver).toEqual({ name: 'qemu', type: 'qcow2', discard: 'unmap' });
    // Every other device and element as libvirt wrote it.
    const { disk: _a, ...otherBefore } = before.domain.devices;
    const { disk: _b, ...otherAfter } = after.domain.devices;
    expect(otherAfter).toEqual(otherBefore);
    expect({ ...after.domain, devices: undefined }).toEqual({ ...before.domain, devices: undefined });
  });

  it('refuses a domain without that disk', () => {
    expect(() => withDiskVolume(LIVE, 'vdq', 'p', 'v')).toThrow(/no disk vdq/);
  });
});
