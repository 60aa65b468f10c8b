/**
 * doctor's `packages` check: are the Debian packages a provider needs installed? Each provider names
 * its own list (providers/libvirt/doctor/index.ts, providers/virtualbox/doctor.ts); this reads dpkg's
 * database once and says what is missing, with the apt-get commands that install it.
 */
import { join } from 'node:path';
import { run } from '../process/run.js';
import { asRoot, type Finding } from './finding.js';
import { exists, isMissingTool, resolveOptions, rethrowCancel, runOpts, type CheckOptions, type PackageNeed, type Resolved } from './options.js';

/** Names of the installed packages, from one dpkg-query over the whole database. */
async function installedPackages(o: Resolved): Promise<Set<string>> {
  const { stdout } = await run('dpkg-query', ['-W', '-f=${Package} ${Status}\n'], runOpts(o));
  const installed = new Set<string>();
  for (const line of stdout.split('\n')) {
    // "NAME install ok installed" (or "hold ok installed"); "deinstall ok config-files" is gone.
    const [name, , , state] = line.trim().split(/\s+/);
    if (name && state === 'installed') installed.add(name);
  }
  return installed;
}

function describeNeeds(needs: readonly PackageNeed[]): string {
  return needs.map((n) => (typeof n === 'string' ? n : n.join(' or '))).join(', ');
}

export async function checkPackages(needs: readonly PackageNeed[], options: CheckOptions): Promise<Finding> {
  const o = resolveOptions(options);
  const what = o.provider === 'libvirt' ? 'the libvirt provider and the build of @unraid/libvirt' : 'the VirtualBox provider';
  const notDebian: Finding = {
    id: 'packages',
    status: 'warn',
    message: `not a Debian/Ubuntu host: cannot check packages; ${what} need ${describeNeeds(needs)} (Debian names)`,
    fix: { description: `install the equivalents of ${describeNeeds(needs)} with your distribution's package manager`, commands: [] },
  };
  if (!(await exists(join(o.root, 'etc/debian_version')))) return notDebian;
  let installed: Set<string>;
  try {
    installed = await installedPackages(o);
  } catch (error) {
    rethrowCancel(error);
    if (isMissingTool(error)) return notDebian;
    throw error;
  }
  const missing = needs
    .map((need) => (typeof need === 'string' ? [need] : need))
    .filter((names) => !names.some((name) => installed.has(name)))
    .map((names) => names[0] ?? '');
  if (missing.length === 0) return { id: 'packages', status: 'ok', message: `the ${needs.length} Debian packages ${what} need are installed` };
  return {
    id: 'packages',
    status: 'fail',
    message: `missing Debian packages: ${missing.join(' ')} (needed by ${what})`,
    fix: {
      description: 'install the missing packages',
      commands: [asRoot(['apt-get', 'update'], o.uid), asRoot(['apt-get', 'install', '-y', '--no-install-recommends', ...missing], o.uid)],
    },
  };
}
