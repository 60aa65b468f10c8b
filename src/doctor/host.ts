/**
 * The host checks that only read files: nested KVM, loaded kernel modules, network
 * interfaces, PID 1. Every path is under `root` so tests can point them at a fake tree.
 */
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { asRoot, type Finding } from './finding.js';

export type Provider = 'libvirt' | 'virtualbox';

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

async function readText(path: string): Promise<string | undefined> {
  return readFile(path, 'utf8').then(
    (text) => text,
    () => undefined,
  );
}

/** Names of the loaded kernel modules (first column of /proc/modules); undefined if it cannot be read. */
export async function loadedModules(root: string): Promise<Set<string> | undefined> {
  const text = await readText(join(root, 'proc/modules'));
  if (text === undefined) return undefined;
  return new Set(text.split('\n').map((line) => line.split(' ')[0] ?? '').filter(Boolean));
}

/** Whether PID 1 is systemd (so services are started with systemctl). */
export async function pid1IsSystemd(root: string): Promise<boolean> {
  return (await readText(join(root, 'proc/1/comm')))?.trim() === 'systemd';
}

export async function hasKvm(root: string): Promise<boolean> {
  return exists(join(root, 'dev/kvm'));
}

export const TCG_NOTE = "DevStack's guests then use LIBVIRT_TYPE=qemu (emulation inside emulation)";

function nestedOn(value: string): boolean {
  return ['y', '1'].includes(value.trim().toLowerCase());
}

/**
 * Nested KVM lets the DevStack computes run their own guests with KVM. Only asked when /dev/kvm is
 * there (without it the kvm finding already says everything is emulated).
 */
export async function checkNested(options: { root: string; uid: number | undefined }): Promise<Finding | undefined> {
  if (!(await hasKvm(options.root))) return undefined;
  for (const module of ['kvm_intel', 'kvm_amd'] as const) {
    const value = await readText(join(options.root, 'sys/module', module, 'parameters/nested'));
    if (value === undefined) continue;
    if (nestedOn(value)) return { id: 'nested', status: 'ok', message: `nested KVM is on (${module} nested=${value.trim()})` };
    return {
      id: 'nested',
      status: 'warn',
      message: `nested KVM is off (${module} nested=${value.trim()}): ${TCG_NOTE}, much slower`,
      fix: {
        description:
          `reload ${module} with nested=1 while no VM runs; to keep it after a reboot add ` +
          `"options ${module} nested=1" to /etc/modprobe.d/kvm-nested.conf`,
        commands: [asRoot(['modprobe', '-r', module], options.uid), asRoot(['modprobe', module, 'nested=1'], options.uid)],
      },
    };
  }
  return {
    id: 'nested',
    status: 'warn',
    message: `cannot tell whether nested KVM is on (no kvm_intel or kvm_amd parameters under /sys/module): if it is off, ${TCG_NOTE}`,
  };
}

/** Bridged mode: the interface must exist; a real bridge lets the host reach the guests, a NIC means macvtap. */
export async function checkBridge(options: { root: string; name: string }): Promise<Finding> {
  const dir = join(options.root, 'sys/class/net', options.name);
  if (!(await exists(dir))) {
    return {
      id: 'bridge',
      status: 'fail',
      message: `network.bridge_interface "${options.name}" does not exist on this host`,
      fix: {
        description: 'set network.bridge_interface to an existing bridge or NIC (see `ip link`), or create the bridge (e.g. br0 over your NIC)',
        commands: [],
      },
    };
  }
  if (await exists(join(dir, 'bridge'))) {
    return { id: 'bridge', status: 'ok', message: `${options.name} is a bridge: the nodes join it and the host reaches them over it` };
  }
  return {
    id: 'bridge',
    status: 'warn',
    message: `${options.name} is not a bridge: the nodes attach through macvtap, and the host cannot reach them over ${options.name}`,
    fix: { description: `make a bridge (e.g. br0) with ${options.name} as its port and use it as network.bridge_interface`, commands: [] },
  };
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
