/** libvirt's file-reading checks (nested KVM, the bridge interface) against fake /dev and /sys trees. */
import { describe, expect, it } from 'vitest';
import { fakeRoot } from '../../../../test/support/fake-root.js';
import { checkBridge, checkNested } from './host.js';

describe('nested KVM', () => {
  it('nested KVM: Y or 1 is on, N is a warning whose fix reloads the module (with sudo for a user)', async () => {
    const intelOn = await checkNested({ root: await fakeRoot({ 'dev/kvm': '', 'sys/module/kvm_intel/parameters/nested': 'Y\n' }), uid: 0 });
    expect(intelOn).toMatchObject({ id: 'nested', status: 'ok', message: 'nested KVM is on (kvm_intel nested=Y)' });
    const amdOn = await checkNested({ root: await fakeRoot({ 'dev/kvm': '', 'sys/module/kvm_amd/parameters/nested': '1\n' }), uid: 0 });
    expect(amdOn).toMatchObject({ status: 'ok', message: 'nested KVM is on (kvm_amd nested=1)' });

    const off = await checkNested({ root: await fakeRoot({ 'dev/kvm': '', 'sys/module/kvm_intel/parameters/nested': 'N\n' }), uid: 0 });
    expect(off?.status).toBe('warn');
    expect(off?.message).toContain('kvm_intel nested=N');
    expect(off?.message).toContain('LIBVIRT_TYPE=qemu');
    expect(off?.fix?.commands).toEqual([
      ['modprobe', '-r', 'kvm_intel'],
      ['modprobe', 'kvm_intel', 'nested=1'],
    ]);
    expect(off?.fix?.description).toContain('options kvm_intel nested=1');
    expect(off?.fix?.description).toContain('/etc/modprobe.d/');

    const amdOffUser = await checkNested({ root: await fakeRoot({ 'dev/kvm': '', 'sys/module/kvm_amd/parameters/nested': '0\n' }), uid: 1000 });
    expect(amdOffUser?.fix?.commands).toEqual([
      ['sudo', 'modprobe', '-r', 'kvm_amd'],
      ['sudo', 'modprobe', 'kvm_amd', 'nested=1'],
    ]);
  });

  it('nested KVM is not asked without /dev/kvm, and is "cannot tell" without module parameters', async () => {
    expect(await checkNested({ root: await fakeRoot({ 'sys/module/kvm_intel/parameters/nested': 'N' }), uid: 0 })).toBeUndefined();
    const unknown = await checkNested({ root: await fakeRoot({ 'dev/kvm': '' }), uid: 0 });
    expect(unknown).toMatchObject({ id: 'nested', status: 'warn' });
    expect(unknown?.message).toMatch(/^cannot tell/);
    expect(unknown?.fix).toBeUndefined();
  });
});

describe('bridge interface', () => {
  it('a bridge is ok, a plain NIC warns about macvtap, a missing one fails', async () => {
    const root = await fakeRoot({ 'sys/class/net/br0/bridge/': '', 'sys/class/net/eth0/': '' });
    expect(await checkBridge({ root, name: 'br0' })).toMatchObject({ id: 'bridge', status: 'ok' });
    const nic = await checkBridge({ root, name: 'eth0' });
    expect(nic.status).toBe('warn');
    expect(nic.message).toContain('macvtap');
    expect(nic.message).toContain('host cannot reach them');
    const missing = await checkBridge({ root, name: 'br9' });
    expect(missing.status).toBe('fail');
    expect(missing.message).toContain('"br9" does not exist');
  });
});
