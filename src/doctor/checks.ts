/**
 * `devcluster doctor`: is this host ready to run a cluster? The runner: doctor's generic checks
 * (qemu-img, the ISO tool, the VT-x owner) and the provider's own (providers/libvirt/doctor/, providers/virtualbox/
 * doctor.ts), all at once, reported in CHECK_IDS order. Each check reports a finding and, where a
 * command can repair it, that command (fix.ts runs them).
 */
import { libvirtChecks } from '../providers/libvirt/doctor/index.js';
import { virtualBoxChecks } from '../providers/virtualbox/doctor.js';
import type { Finding } from './finding.js';
import { CHECK_IDS, resolveOptions, type CheckOptions, type DoctorCheck } from './options.js';
import { checkIsoTool, checkQemuImg } from './tools.js';
import { checkVirtualBoxModule } from './vtx.js';

export type { Finding, FindingStatus, Fix } from './finding.js';
export { BINDING_MODULE, CHECK_IDS, DEFAULT_URI, type CheckId, type CheckOptions, type DoctorCheck, type Provider } from './options.js';
export { checkPackages } from './packages.js';
export { checkIsoTool } from './tools.js';
// The libvirt and VirtualBox checks live with their providers; re-exported for doctor's callers.
export { checkBinding } from '../providers/libvirt/doctor/binding.js';
export { LIBVIRT_PACKAGES } from '../providers/libvirt/doctor/index.js';
export { checkLibvirt, checkPool, libvirtdScript } from '../providers/libvirt/doctor/libvirt.js';
export { VIRTUALBOX_PACKAGES } from '../providers/virtualbox/doctor.js';

/** The checks every provider needs. */
function genericChecks(options: CheckOptions, o = resolveOptions(options)): DoctorCheck[] {
  return [
    { id: 'qemu-img', run: () => checkQemuImg(options) },
    { id: 'iso', run: () => checkIsoTool(options) },
    { id: 'vboxdrv', run: () => checkVirtualBoxModule({ root: o.root, provider: o.provider, uid: o.uid }) },
  ];
}

export async function runChecks(options: CheckOptions): Promise<Finding[]> {
  const o = resolveOptions(options);
  const provider = o.provider === 'libvirt' ? libvirtChecks(options, o) : virtualBoxChecks(options, o);
  const order = (id: string) => CHECK_IDS.indexOf(id as (typeof CHECK_IDS)[number]);
  const wanted = [...provider, ...genericChecks(options, o)]
    .filter((c) => (options.only ? options.only.includes(c.id) : true))
    .sort((a, b) => order(a.id) - order(b.id));
  const findings = await Promise.all(wanted.map((c) => c.run()));
  return findings.filter((f): f is Finding => f !== undefined);
}
