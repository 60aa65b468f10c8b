/**
 * libvirt's host checks that only read files: nested KVM (read through accel.ts, the one reader of
 * the kvm module's parameter) and the bridged mode's interface. Every path is under `root` so tests
 * can point them at a fake tree.
 */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { asRoot, type Finding } from '../../../doctor/finding.js';
import { hasKvm } from '../../../doctor/host.js';
import { readNestedParameter } from '../accel.js';

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

export const TCG_NOTE = "DevStack's guests then use LIBVIRT_TYPE=qemu (emulation inside emulation)";

/**
 * Nested KVM lets the DevStack computes run their own guests with KVM. Only asked when /dev/kvm is
 * there (without it the kvm finding already says everything is emulated).
 */
export async function checkNested(options: { root: string; uid: number | undefined }): Promise<Finding | undefined> {
  if (!(await hasKvm(options.root))) return undefined;
  const nested = await readNestedParameter(options.root);
  if (nested) {
    const { module, value } = nested;
    if (nested.on) return { id: 'nested', status: 'ok', message: `nested KVM is on (${module} nested=${value})` };
    return {
      id: 'nested',
      status: 'warn',
      message: `nested KVM is off (${module} nested=${value}): ${TCG_NOTE}, much slower`,
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
