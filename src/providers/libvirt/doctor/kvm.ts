/**
 * doctor's KVM check. /dev/kvm present proves nothing: the check asks (1) whether libvirt's qemu user
 * can open it (else qemu fails with "Could not access KVM kernel module: Permission denied"; the fix
 * does what the missing udev rule does, now and for the next boot), then (2) whether a tiny guest
 * actually runs under KVM (providers/libvirt/kvm-probe.ts), the same test `up` makes when
 * libvirt.accelerator is auto. A KVM that cannot run a guest is a warning (guests use TCG), unless the
 * config forces kvm.
 */
import { join } from 'node:path';
import { access, constants, stat } from 'node:fs/promises';
import type { AcceleratorSetting } from '../accel.js';
import { kvmAccess, KVM_GROUP, KVM_UDEV_RULE_PATH } from '../kvm-access.js';
import { isLocalSessionUri, isLocalSystemUri, isLocalUri } from '../uri.js';
import { probeKvm, type KvmProbeOptions, type KvmProbeResult } from '../kvm-probe.js';
import { asRoot, type Finding } from '../../../doctor/finding.js';
import { TCG_NOTE } from './host.js';


export interface KvmCheckOptions {
  root: string;
  uri: string;
  uid: number | undefined;
  accelerator: AcceleratorSetting;
  /** devcluster's package folder (the udev rule file ships in scripts/). */
  packageRoot: string;
  signal?: AbortSignal;
  /** The functional probe (default probeKvm; tests pass their own). */
  probe?: (options: KvmProbeOptions) => Promise<KvmProbeResult>;
}

export function udevRuleSource(packageRoot: string): string {
  return join(packageRoot, 'scripts', 'udev', '65-devcluster-kvm.rules');
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

export async function checkKvm(o: KvmCheckOptions): Promise<Finding> {
  const kvm = join(o.root, 'dev/kvm');
  const local = isLocalUri(o.uri);
  if (local && !(await exists(kvm))) {
    return {
      id: 'kvm',
      status: o.accelerator === 'kvm' ? 'fail' : 'warn',
      message: `no /dev/kvm: guests run under TCG emulation, 10–20× slower; ${TCG_NOTE}`,
      fix: {
        description:
          (o.accelerator === 'kvm' ? 'set libvirt.accelerator: auto or tcg (kvm is forced, and there is none); or ' : '') +
          'turn on VT-x (Intel) or AMD-V/SVM in the firmware (BIOS/UEFI) and load kvm_intel or kvm_amd; ' +
          'if this host is itself a VM, turn on nested virtualization in the outer hypervisor',
        commands: [],
      },
    };
  }
  // qemu:///session runs qemu as the calling user; qemu:///system as libvirt's qemu user.
  if (isLocalSessionUri(o.uri) && !(await access(kvm, constants.R_OK | constants.W_OK).then(() => true, () => false))) {
    return {
      id: 'kvm',
      status: 'warn',
      message: '/dev/kvm is present but this user cannot open it: session guests run under TCG emulation, 10–20× slower',
      fix: { description: 'add yourself to the kvm group (usermod -aG kvm $USER), then log in again', commands: [] },
    };
  }
  if (isLocalSystemUri(o.uri)) {
    const perm = await kvmAccess(o.root);
    if (perm && !perm.ok) {
      const id = perm.identity;
      const commands: string[][] = [];
      if (!perm.kvmGroupExists) commands.push(asRoot(['groupadd', '--system', KVM_GROUP], o.uid));
      if (!perm.inKvmGroup) commands.push(asRoot(['usermod', '-aG', KVM_GROUP, id.user], o.uid));
      commands.push(
        asRoot(['chgrp', KVM_GROUP, kvm], o.uid),
        asRoot(['chmod', '0660', kvm], o.uid),
        asRoot(['install', '-D', '-m', '0644', udevRuleSource(o.packageRoot), join(o.root, KVM_UDEV_RULE_PATH)], o.uid),
      );
      return {
        id: 'kvm',
        status: 'fail',
        message:
          `${perm.device}: libvirt runs qemu as ${id.user} (groups ${id.groupNames.join(', ') || 'unknown'}), which cannot open it, so KVM guests fail with ` +
          `"Could not access KVM kernel module: Permission denied" (no udev rule gave it to the kvm group)` +
          (o.accelerator === 'kvm' ? '' : '; until fixed, guests use TCG emulation'),
        fix: {
          description: `do what the udev rule does: group ${KVM_GROUP}, mode 0660, now and, through ${KVM_UDEV_RULE_PATH} (KERNEL=="kvm", GROUP="kvm", MODE="0660"), at every boot`,
          commands,
        },
      };
    }
  }
  if (o.accelerator === 'tcg') {
    return { id: 'kvm', status: 'ok', message: 'libvirt.accelerator is tcg: guests run under TCG emulation (KVM not tried)' };
  }
  const probe = await (o.probe ?? probeKvm)({ uri: o.uri, root: o.root, ...(o.signal ? { signal: o.signal } : {}) });
  if (probe.usable) {
    return { id: 'kvm', status: 'ok', message: `KVM runs guests here (a test guest ran under KVM as libvirt's qemu user in ${(probe.ms / 1000).toFixed(1)} s): guests run at native speed` };
  }
  const fix = 'if this host is itself a VM, its hypervisor must offer working nested virtualization (or use a host with hardware KVM)';
  if (o.accelerator === 'kvm') {
    return {
      id: 'kvm',
      status: 'fail',
      message: `libvirt.accelerator is kvm, but KVM cannot run a guest here: ${probe.reason}; the nodes would stop at once`,
      fix: { description: `set libvirt.accelerator: auto (KVM when it works, else TCG) or tcg; ${fix}`, commands: [] },
    };
  }
  return {
    id: 'kvm',
    status: 'warn',
    message: `KVM cannot run a guest here: ${probe.reason}. Guests will use TCG emulation (libvirt.accelerator: auto), 10–20× slower; ${TCG_NOTE}`,
    fix: { description: fix, commands: [] },
  };
}
