/**
 * The libvirt provider's doctor checks, as one list for doctor's runner: its Debian packages, the
 * Node binding, libvirt and its pool, qemu, KVM (access and a real guest), nested KVM, the bridged
 * mode's interface, stale bridges (VT-x's owner is doctor's generic vtx check).
 */
import { isHostDaemonUri } from '../uri.js';
import type { Finding } from '../../../doctor/finding.js';
import { resolveOptions, type CheckOptions, type DoctorCheck, type PackageNeed } from '../../../doctor/options.js';
import { checkPackages } from '../../../doctor/packages.js';
import { checkTool, qemuVersion } from '../../../doctor/tools.js';
import { checkBinding } from './binding.js';
import { checkBridge, checkNested } from './host.js';
import { checkKvm } from './kvm.js';
import { checkLibvirt, checkPool } from './libvirt.js';
import { checkStaleBridges } from './stale-bridges.js';

/** What the libvirt provider needs: the daemon and tools, and what the binding needs to compile. */
export const LIBVIRT_PACKAGES: readonly PackageNeed[] = [
  'libvirt-daemon-system',
  'libvirt-clients',
  'qemu-system-x86',
  'qemu-utils',
  'dnsmasq-base',
  ['xorriso', 'genisoimage'],
  'openssh-client',
  'libvirt-dev',
  'g++',
  'make',
  'pkg-config',
  'python3',
];

/** The libvirt provider's checks (besides doctor's generic ones). */
export function libvirtChecks(options: CheckOptions, o = resolveOptions(options)): DoctorCheck[] {
  // libvirt, pool and stale-bridges share one reachability check, made when the first asks.
  let reach: Promise<Finding> | undefined;
  const reachable = () => (reach ??= checkLibvirt(options));
  const checks: DoctorCheck[] = [
    { id: 'packages', run: () => checkPackages(LIBVIRT_PACKAGES, options) },
    { id: 'binding', run: () => checkBinding(options) },
    { id: 'libvirt', run: reachable },
    { id: 'pool', run: async () => checkPool(options, (await reachable()).status === 'ok') },
    { id: 'qemu', run: () => checkTool('qemu', 'qemu-system-x86_64', ['--version'], 'qemu-system-x86', o, qemuVersion) },
    {
      id: 'kvm',
      run: () =>
        checkKvm({
          root: o.root,
          uri: o.uri,
          uid: o.uid,
          accelerator: o.accelerator,
          packageRoot: o.packageRoot,
          ...(o.signal ? { signal: o.signal } : {}),
          ...(options.kvmProbe ? { probe: options.kvmProbe } : {}),
        }),
    },
    { id: 'nested', run: () => checkNested({ root: o.root, uid: o.uid }) },
  ];
  if (o.bridgeInterface !== undefined) checks.push({ id: 'bridge', run: () => checkBridge({ root: o.root, name: o.bridgeInterface ?? '' }) });
  if (isHostDaemonUri(o.uri)) {
    checks.push({
      id: 'stale-bridges',
      run: async () => ((await reachable()).status === 'ok' ? checkStaleBridges({ uri: o.uri, root: o.root, uid: o.uid, env: o.env, ...(o.signal ? { signal: o.signal } : {}) }) : undefined),
    });
  }
  return checks;
}
