/**
 * VT-x (or AMD-V) has one owner at a time: VirtualBox's vboxdrv and KVM both want it, and the one that
 * did not take it cannot start guests. A generic check, since it matters to either provider: it says
 * which module to unload for the provider this config uses.
 */
import { asRoot, type Finding } from './finding.js';
import { hasKvm, loadedModules } from './host.js';
import type { Provider } from './options.js';

/** VirtualBox's vboxdrv and KVM both want VT-x; the one that did not take it cannot start guests. */
export async function checkVirtualBoxModule(options: { root: string; provider: Provider; uid: number | undefined }): Promise<Finding> {
  const modules = await loadedModules(options.root);
  const vbox = modules?.has('vboxdrv') === true;
  const kvmModules = ['kvm_intel', 'kvm_amd'].filter((m) => modules?.has(m));
  const kvm = kvmModules.length > 0 || modules?.has('kvm') === true || (await hasKvm(options.root));
  const atLoad = 'or, with VirtualBox ≥ 7.0 beside KVM, boot with kvm.enable_virt_at_load=0 so KVM takes VT-x only while a KVM guest runs';
  if (options.provider === 'virtualbox') {
    if (!vbox) {
      return {
        id: 'vboxdrv',
        status: 'fail',
        message: "VirtualBox's kernel module vboxdrv is not loaded: VirtualBox cannot start VMs",
        fix: { description: 'run /sbin/vboxconfig as root (it builds and loads vboxdrv), or reinstall VirtualBox', commands: [] },
      };
    }
    if (!kvm) return { id: 'vboxdrv', status: 'ok', message: 'vboxdrv is loaded, KVM is not' };
    // modprobe -r also drops kvm once nothing uses it.
    const unload = kvmModules.length > 0 ? kvmModules : modules?.has('kvm') ? ['kvm'] : [];
    return {
      id: 'vboxdrv',
      status: 'warn',
      message: 'vboxdrv and KVM are both loaded: they fight over VT-x, and VirtualBox may fail to start VMs',
      fix: {
        description: `unload KVM while you use VirtualBox (stop libvirt/qemu guests first), ${atLoad}`,
        commands: unload.length > 0 ? [asRoot(['modprobe', '-r', ...unload], options.uid)] : [],
      },
    };
  }
  if (vbox && kvm) {
    return {
      id: 'vboxdrv',
      status: 'warn',
      message: "VirtualBox's vboxdrv is loaded beside KVM: they fight over VT-x, and libvirt guests may fail to start",
      fix: {
        description: `unload VirtualBox's modules while you use libvirt (stop VirtualBox VMs first), ${atLoad}`,
        // Its dependents first; modprobe -r refuses a module that is not loaded.
        commands: [asRoot(['modprobe', '-r', ...['vboxnetadp', 'vboxnetflt', 'vboxpci', 'vboxdrv'].filter((m) => modules?.has(m))], options.uid)],
      },
    };
  }
  return { id: 'vboxdrv', status: 'ok', message: vbox ? 'vboxdrv is loaded, but KVM is not' : "VirtualBox's vboxdrv is not loaded: no fight with KVM over VT-x" };
}
