/**
 * VirtualBox's doctor checks: the Debian packages its provider needs (VirtualBox itself is not one),
 * VBoxManage and its version (the 6.1 gate of version.ts), and vboxdrv — which also matters to the
 * libvirt provider, since vboxdrv and KVM fight over VT-x.
 */
import { asRoot, type Finding } from '../../doctor/finding.js';
import { hasKvm, loadedModules } from '../../doctor/host.js';
import { resolveOptions, type CheckOptions, type DoctorCheck, type PackageNeed, type Provider } from '../../doctor/options.js';
import { checkPackages } from '../../doctor/packages.js';
import { checkTool } from '../../doctor/tools.js';
import { checkBridge } from '../libvirt/doctor/host.js';
import { INSTALL_HINT, isSupported, MIN_VERSION_TEXT, parseVBoxVersion, type VBoxVersion } from './version.js';

/** What the VirtualBox provider needs from Debian (VirtualBox comes from virtualbox.org). */
export const VIRTUALBOX_PACKAGES: readonly PackageNeed[] = ['qemu-utils', ['xorriso', 'genisoimage'], 'openssh-client'];

export async function checkVBoxManage(options: CheckOptions): Promise<Finding> {
  let version: VBoxVersion | undefined;
  const found = await checkTool(
    'vboxmanage',
    'VBoxManage',
    ['--version'],
    undefined,
    resolveOptions(options),
    (s) => {
      version = parseVBoxVersion(s);
      return s.trim().split('\n').pop()?.trim();
    },
    'install VirtualBox from https://www.virtualbox.org/wiki/Linux_Downloads (Debian does not ship it)',
  );
  if (found.status === 'ok' && version && !isSupported(version)) {
    return { id: 'vboxmanage', status: 'fail', message: `${found.message}: VirtualBox ${MIN_VERSION_TEXT} or later is needed (nested virtualisation)`, fix: { description: INSTALL_HINT, commands: [] } };
  }
  return found;
}

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

/** The VirtualBox provider's checks (besides doctor's generic ones). */
export function virtualBoxChecks(options: CheckOptions, o = resolveOptions(options)): DoctorCheck[] {
  return [
    { id: 'packages', run: () => checkPackages(VIRTUALBOX_PACKAGES, options) },
    { id: 'vboxmanage', run: () => checkVBoxManage(options) },
    // The bridged mode's interface: the same host check as libvirt's (it must exist to bridge to).
    ...(o.bridgeInterface !== undefined ? [{ id: 'bridge' as const, run: () => checkBridge({ root: o.root, name: o.bridgeInterface ?? '' }) }] : []),
    { id: 'vboxdrv', run: () => checkVirtualBoxModule({ root: o.root, provider: o.provider, uid: o.uid }) },
  ];
}
