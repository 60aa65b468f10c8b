/** Who owns VT-x: the vboxdrv check against fake /proc trees, for either provider. */
import { describe, expect, it } from 'vitest';
import { fakeRoot, MODULES } from '../../test/support/fake-root.js';
import { checkVirtualBoxModule } from './vtx.js';

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
});
