/**
 * What the KVM tests share: Debian's accounts as libvirt-daemon-system and qemu create them, and the
 * functional probe's results as the real probe (src/providers/libvirt/kvm-probe.ts) returns them on a
 * host where KVM runs a guest, on this kind of host (nested KVM that stops at the probe's IRET), and
 * without /dev/kvm. The real probe's runs: test/integration/kvm-probe.host.test.ts.
 */
import { PACKAGE_ROOT } from '../../src/package-root.js';
import type { KvmCheckOptions } from '../../src/providers/libvirt/doctor/kvm.js';
import type { KvmProbeResult } from '../../src/providers/libvirt/kvm-probe.js';
import { PROBE_SUCCESS } from '../../src/providers/libvirt/probe-image.js';
import { fakeRoot } from './fake-root.js';

/** /etc/passwd and /etc/group with libvirt-qemu (primary group kvm), as Debian's packages make them. */
export const PASSWD = 'root:x:0:0:root:/root:/bin/bash\nlibvirt-qemu:x:64055:107:Libvirt Qemu,,,:/var/lib/libvirt:/usr/sbin/nologin\n';
export const GROUP = 'root:x:0:\nkvm:x:107:\nlibvirt-qemu:x:64055:libvirt-qemu\n';

export const PROBE_RAN: KvmProbeResult = { usable: true, outcome: 'ok', reason: 'a test guest ran under KVM', serial: PROBE_SUCCESS, errors: [], ms: 700 };
export const PROBE_STOPPED: KvmProbeResult = {
  usable: false,
  outcome: 'stopped',
  reason: 'a test guest stopped under KVM at an IRET in protected mode (paused (unknown)): KVM internal error. Suberror: 1 / emulation failure',
  serial: 'RDP',
  errors: ['KVM internal error. Suberror: 1', 'emulation failure'],
  ms: 1200,
};
export const PROBE_ABSENT: KvmProbeResult = { usable: false, outcome: 'absent', reason: 'no /dev/kvm: this host offers no KVM', serial: '', errors: [], ms: 0 };

/** A probe for the cases where the check must decide without running it. */
export const mustNotProbe = async (): Promise<KvmProbeResult> => {
  throw new Error('the probe must not run here');
};

/** A fake root whose files are 0600, as /dev/kvm is before any udev rule. */
export const kvmRoot = (files: Record<string, string> = {}) => fakeRoot(files, { mode: 0o600 });

/** doctor's KVM check options on a fake root, as root on qemu:///system, the probe not to be run unless given. */
export const kvmCheckOptions = (root: string, extra: Partial<KvmCheckOptions> = {}): KvmCheckOptions => ({
  root,
  uri: 'qemu:///system',
  uid: 0,
  accelerator: 'auto',
  packageRoot: PACKAGE_ROOT,
  probe: mustNotProbe,
  ...extra,
});
