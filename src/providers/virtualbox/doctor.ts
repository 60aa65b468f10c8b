/**
 * VirtualBox's doctor checks: the Debian packages its provider needs (VirtualBox itself is not one),
 * VBoxManage and its version (the 6.1 gate of version.ts). Whether vboxdrv and KVM fight over VT-x is
 * doctor's generic vt-x check (doctor/vtx.ts), since it matters to both providers.
 */
import type { Finding } from '../../doctor/finding.js';
import { resolveOptions, type CheckOptions, type DoctorCheck, type PackageNeed } from '../../doctor/options.js';
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

/** The VirtualBox provider's checks (besides doctor's generic ones). */
export function virtualBoxChecks(options: CheckOptions, o = resolveOptions(options)): DoctorCheck[] {
  return [
    { id: 'packages', run: () => checkPackages(VIRTUALBOX_PACKAGES, options) },
    { id: 'vboxmanage', run: () => checkVBoxManage(options) },
    // The bridged mode's interface: the same host check as libvirt's (it must exist to bridge to).
    ...(o.bridgeInterface !== undefined ? [{ id: 'bridge' as const, run: () => checkBridge({ root: o.root, name: o.bridgeInterface ?? '' }) }] : []),
  ];
}
