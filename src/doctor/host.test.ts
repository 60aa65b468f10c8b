/** The file-reading checks against fake /dev, /sys and /proc trees. */
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkBridge, checkNested, checkVirtualBoxModule, loadedModules, pid1IsSystemd } from './host.js';

/** A fake root: `files` maps paths (relative to the root) to contents; a trailing / makes a folder. */
async function fakeRoot(files: Record<string, string> = {}): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'dc-doctor-root-'));
  for (const [path, content] of Object.entries(files)) {
    if (path.endsWith('/')) {
      await mkdir(join(root, path), { recursive: true });
    } else {
      await mkdir(dirname(join(root, path)), { recursive: true });
      await writeFile(join(root, path), content);
    }
  }
  return root;
}

const MODULES = (...names: string[]) => names.map((n) => `${n} 1234567 0 - Live 0x0000000000000000`).join('\n') + '\n';

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

describe('VirtualBox beside KVM', () => {
  it('libvirt provider: vboxdrv beside kvm warns and unloads only the vbox modules that are loaded', async () => {
    const root = await fakeRoot({ 'proc/modules': MODULES('vboxnetflt', 'vboxdrv', 'kvm_intel', 'kvm', 'ext4') });
    const both = await checkVirtualBoxModule({ root, provider: 'libvirt', uid: 0 });
    expect(both.status).toBe('warn');
    expect(both.message).toContain('fight over VT-x');
    expect(both.fix?.commands).toEqual([['modprobe', '-r', 'vboxnetflt', 'vboxdrv']]);
    expect(both.fix?.description).toContain('kvm.enable_virt_at_load=0');
  });

  it('libvirt provider: KVM built in (/dev/kvm, no kvm module) still counts as KVM', async () => {
    const root = await fakeRoot({ 'dev/kvm': '', 'proc/modules': MODULES('vboxdrv') });
    expect((await checkVirtualBoxModule({ root, provider: 'libvirt', uid: 1000 })).fix?.commands).toEqual([['sudo', 'modprobe', '-r', 'vboxdrv']]);
  });

  it('libvirt provider: no conflict without vboxdrv, without KVM, or without /proc/modules', async () => {
    const cases: Array<Record<string, string>> = [{ 'proc/modules': MODULES('kvm_amd', 'kvm') }, { 'proc/modules': MODULES('vboxdrv') }, {}];
    for (const files of cases) {
      expect((await checkVirtualBoxModule({ root: await fakeRoot(files), provider: 'libvirt', uid: 0 })).status).toBe('ok');
    }
  });

  it('virtualbox provider: vboxdrv missing fails; beside kvm_amd warns and unloads KVM', async () => {
    const missing = await checkVirtualBoxModule({ root: await fakeRoot({ 'proc/modules': MODULES('kvm_amd', 'kvm') }), provider: 'virtualbox', uid: 0 });
    expect(missing.status).toBe('fail');
    const both = await checkVirtualBoxModule({ root: await fakeRoot({ 'proc/modules': MODULES('vboxdrv', 'kvm_amd', 'kvm') }), provider: 'virtualbox', uid: 0 });
    expect(both.status).toBe('warn');
    expect(both.fix?.commands).toEqual([['modprobe', '-r', 'kvm_amd']]);
    const alone = await checkVirtualBoxModule({ root: await fakeRoot({ 'proc/modules': MODULES('vboxdrv') }), provider: 'virtualbox', uid: 0 });
    expect(alone.status).toBe('ok');
  });

  it('reads module names from /proc/modules', async () => {
    expect(await loadedModules(await fakeRoot({ 'proc/modules': MODULES('a', 'b_c') }))).toEqual(new Set(['a', 'b_c']));
    expect(await loadedModules(await fakeRoot())).toBeUndefined();
  });
});

describe('PID 1', () => {
  it('is systemd only when /proc/1/comm says so', async () => {
    expect(await pid1IsSystemd(await fakeRoot({ 'proc/1/comm': 'systemd\n' }))).toBe(true);
    expect(await pid1IsSystemd(await fakeRoot({ 'proc/1/comm': 'tini\n' }))).toBe(false);
    expect(await pid1IsSystemd(await fakeRoot())).toBe(false);
  });
});
