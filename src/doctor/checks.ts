/**
 * `devcluster doctor`: is this host ready to run a cluster? Each check reports a finding and, where a
 * command can repair it, that command. Host commands go through run(); file reads (/dev, /sys, /proc)
 * are under `root` so tests can fake them.
 */
import { access, constants, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { findIsoTool } from '../cloudinit/seed-iso.js';
import { PACKAGE_ROOT } from '../config/template.js';
import { isDevclusterError } from '../errors.js';
import { run } from '../process/run.js';
import { asRoot, type Finding } from './finding.js';
import { checkBridge, checkNested, checkVirtualBoxModule, pid1IsSystemd, type Provider } from './host.js';
import { checkKvm } from './kvm.js';
import { checkStaleBridges } from './stale-bridges.js';
import type { AcceleratorSetting } from '../providers/libvirt/accel.js';
import type { KvmProbeOptions, KvmProbeResult } from '../providers/libvirt/kvm-probe.js';

export type { Finding, FindingStatus, Fix } from './finding.js';
export type { Provider } from './host.js';

export const CHECK_IDS = [
  'packages',
  'binding',
  'libvirt',
  'pool',
  'qemu',
  'qemu-img',
  'vboxmanage',
  'iso',
  'kvm',
  'nested',
  'bridge',
  'stale-bridges',
  'vboxdrv',
] as const;
export type CheckId = (typeof CHECK_IDS)[number];

export interface CheckOptions {
  provider: Provider;
  /** libvirt connection URI (default qemu:///system). */
  uri?: string;
  /** libvirt storage pool the volumes go to (default `default`). */
  pool?: string;
  /** Where a missing pool is defined (default /var/lib/libvirt/images, or the session's images folder). */
  poolTarget?: string;
  /** Bridged mode only: the host bridge or NIC the nodes join. */
  bridgeInterface?: string;
  signal?: AbortSignal;
  /** Root of the file system for /dev/kvm, /sys, /proc, /etc/debian_version (default /). */
  root?: string;
  /** Environment of the host commands; PATH decides which programs are found (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** User id the fix commands will run as: not 0 means they are prefixed with sudo where needed. */
  uid?: number;
  /** devcluster's package folder: where the Node binding is installed and scripts/libvirtd.sh lives. */
  packageRoot?: string;
  /** The libvirt Node binding (default @unraid/libvirt). */
  bindingModule?: string;
  /** Run only these checks (default: every check that applies to the provider). */
  only?: readonly CheckId[];
  /** The config's libvirt.accelerator (default auto): tcg skips the KVM probe, kvm makes its failure a failure. */
  accelerator?: AcceleratorSetting;
  /** The functional KVM probe (default: a tiny guest under KVM through libvirt; tests pass their own). */
  kvmProbe?: (options: KvmProbeOptions) => Promise<KvmProbeResult>;
}

export const DEFAULT_URI = 'qemu:///system';
export const BINDING_MODULE = '@unraid/libvirt';

/** A Debian package, or alternatives of which any one will do (the first is the one installed). */
type PackageNeed = string | readonly string[];

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
export const VIRTUALBOX_PACKAGES: readonly PackageNeed[] = ['qemu-utils', ['xorriso', 'genisoimage'], 'openssh-client'];

interface Resolved {
  provider: Provider;
  uri: string;
  pool: string;
  poolTarget: string | undefined;
  bridgeInterface: string | undefined;
  signal: AbortSignal | undefined;
  root: string;
  env: Record<string, string>;
  uid: number | undefined;
  packageRoot: string;
  bindingModule: string;
  accelerator: AcceleratorSetting;
}

function resolveOptions(options: CheckOptions): Resolved {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(options.env ?? process.env)) if (value !== undefined) env[key] = value;
  // English output from virsh and dpkg, whatever the user's locale: the checks parse it.
  env.LC_ALL = 'C';
  return {
    provider: options.provider,
    uri: options.uri ?? DEFAULT_URI,
    pool: options.pool ?? 'default',
    poolTarget: options.poolTarget,
    bridgeInterface: options.bridgeInterface,
    signal: options.signal,
    root: options.root ?? '/',
    env,
    uid: 'uid' in options ? options.uid : process.getuid?.(),
    packageRoot: options.packageRoot ?? PACKAGE_ROOT,
    bindingModule: options.bindingModule ?? BINDING_MODULE,
    accelerator: options.accelerator ?? 'auto',
  };
}

function runOpts(o: Resolved, timeoutMs = 20_000) {
  return { env: o.env, timeoutMs, ...(o.signal ? { signal: o.signal } : {}) };
}

/** A host command's failure as one line: its output without virsh's `error: ` prefixes. */
function reason(error: unknown): string {
  if (isDevclusterError(error)) {
    const lines = error.details.map((l) => l.replace(/^error:\s*/, '').trim()).filter(Boolean);
    const useful = lines.filter((l) => !/^failed to connect to the hypervisor$/i.test(l));
    return (useful.length > 0 ? useful : lines).join('; ') || error.message;
  }
  return error instanceof Error ? error.message : String(error);
}

/** Cancellation is not a finding: it ends the whole run. */
function rethrowCancel(error: unknown): void {
  if (isDevclusterError(error) && error.code === 'CANCELLED') throw error;
  if (error instanceof Error && error.name === 'AbortError') throw error;
}

function isMissingTool(error: unknown): boolean {
  return isDevclusterError(error) && error.code === 'HOST_TOOL_MISSING';
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

// ---- 1. Debian packages ----------------------------------------------------------------------

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

// ---- 2. The Node binding ---------------------------------------------------------------------

async function packageSpec(o: Resolved): Promise<string> {
  try {
    const pkg = JSON.parse(await readFile(join(o.packageRoot, 'package.json'), 'utf8')) as Record<string, Record<string, string> | undefined>;
    const range = pkg.optionalDependencies?.[o.bindingModule] ?? pkg.dependencies?.[o.bindingModule];
    return range ? `${o.bindingModule}@${range}` : o.bindingModule;
  } catch {
    return o.bindingModule;
  }
}

/**
 * Loads the binding in a child node, from the package folder, and opens libvirt's test driver with it:
 * @unraid/libvirt loads its compiled part only when a Hypervisor is made, so an import alone proves
 * nothing. A child, because a module that failed to load stays failed in this process's cache and a
 * re-check here would not see a rebuild.
 */
const BINDING_PROBE = (name: string) =>
  `const m = await import(${JSON.stringify(name)});\n` +
  `if (typeof m.Hypervisor === 'function') {\n` +
  `  const h = new m.Hypervisor({ uri: 'test:///default' });\n` +
  `  await h.connectOpen();\n` +
  `  await h.connectClose();\n` +
  `}\n`;

export async function checkBinding(options: CheckOptions): Promise<Finding> {
  const o = resolveOptions(options);
  const name = o.bindingModule;
  try {
    await run(process.execPath, ['--input-type=module', '-e', BINDING_PROBE(name)], { ...runOpts(o, 30_000), cwd: o.packageRoot });
    const version = await readFile(join(o.packageRoot, 'node_modules', name, 'package.json'), 'utf8').then(
      (text) => ` ${(JSON.parse(text) as { version?: string }).version ?? ''}`.trimEnd(),
      () => '',
    );
    return { id: 'binding', status: 'ok', message: `the Node binding ${name}${version} loads and opens libvirt's test driver` };
  } catch (error) {
    rethrowCancel(error);
    const lines = isDevclusterError(error) ? error.details : [String(error)];
    const text = lines.join('\n');
    // Run the fix as root only when the package folder is not ours (a global install).
    const writable = await access(o.packageRoot, constants.W_OK).then(() => true, () => false);
    const npm = (args: string[]) => (writable ? ['npm', ...args] : asRoot(['npm', ...args], o.uid));
    if (text.includes(`Cannot find package '${name}'`) || text.includes(`Cannot find module '${name}'`)) {
      return {
        id: 'binding',
        status: 'fail',
        message: `the Node binding ${name} is not installed (npm drops an optional dependency whose build failed, e.g. without libvirt-dev)`,
        fix: {
          description: `install ${name} into ${o.packageRoot} (it compiles against libvirt-dev)`,
          commands: [npm(['install', '--prefix', o.packageRoot, '--no-save', '--no-audit', '--no-fund', await packageSpec(o)])],
        },
      };
    }
    // Node shows the failing source line first; the error itself is the line that starts `Error: ` or `XError [CODE]: `.
    const line = lines.find((l) => /^\w*Error( \[\w+\])?: /.test(l)) ?? lines.find((l) => l.trim() !== '') ?? 'unknown error';
    return {
      id: 'binding',
      status: 'fail',
      message: `the Node binding ${name} does not load: ${line.trim()}`,
      fix: { description: `rebuild ${name} against this host's libvirt (needs libvirt-dev, g++, make, pkg-config, python3)`, commands: [npm(['rebuild', '--prefix', o.packageRoot, name])] },
    };
  }
}

// ---- 3. libvirt ------------------------------------------------------------------------------

export function libvirtdScript(packageRoot: string = PACKAGE_ROOT): string {
  return join(packageRoot, 'scripts', 'libvirtd.sh');
}

function isSystemUri(uri: string): boolean {
  return uri === 'qemu:///system' || uri === 'qemu+unix:///system';
}

function isSessionUri(uri: string): boolean {
  return /^qemu(\+unix)?:\/\/\/session(\?|$)/.test(uri);
}

export async function checkLibvirt(options: CheckOptions): Promise<Finding> {
  const o = resolveOptions(options);
  try {
    const { stdout } = await run('virsh', ['-c', o.uri, 'version'], { ...runOpts(o), debianPackage: 'libvirt-clients' });
    const library = /^Using library:\s*(.+)$/m.exec(stdout)?.[1]?.trim();
    const hypervisor = /^Running hypervisor:\s*(.+)$/m.exec(stdout)?.[1]?.trim();
    const versions = [library, hypervisor].filter(Boolean).join(', ');
    return { id: 'libvirt', status: 'ok', message: `reachable at ${o.uri}${versions ? ` (${versions})` : ''}` };
  } catch (error) {
    rethrowCancel(error);
    if (isMissingTool(error)) {
      return {
        id: 'libvirt',
        status: 'fail',
        message: 'virsh is not installed (Debian package libvirt-clients), so libvirt cannot be checked',
        fix: { description: 'install libvirt-clients and libvirt-daemon-system (see the packages finding)', commands: [] },
      };
    }
    const why = reason(error);
    const finding: Finding = { id: 'libvirt', status: 'fail', message: `not reachable at ${o.uri}: ${why}` };
    if (isSystemUri(o.uri)) {
      if (o.uid !== 0 && /permission denied/i.test(why)) {
        const user = o.env.USER ?? o.env.LOGNAME ?? '$USER';
        finding.fix = {
          description: `let ${user} use the system daemon: join the libvirt group, then log out and in again`,
          commands: [asRoot(['usermod', '-aG', 'libvirt', user], o.uid)],
        };
      } else if (await pid1IsSystemd(o.root)) {
        finding.fix = { description: "start libvirt's daemon and enable it at boot", commands: [asRoot(['systemctl', 'enable', '--now', 'libvirtd'], o.uid)] };
      } else {
        finding.fix = {
          description: 'PID 1 is not systemd, so nothing starts the daemons: start virtlogd and libvirtd by hand (pid files in /run/devcluster/; `libvirtd.sh stop` stops them)',
          commands: [asRoot(['bash', libvirtdScript(o.packageRoot), 'start'], o.uid)],
        };
      }
    } else if (isSessionUri(o.uri)) {
      finding.fix = {
        description: 'libvirt starts the session daemon by itself: check that libvirt-daemon is installed and that XDG_RUNTIME_DIR is set',
        commands: [],
      };
    } else {
      finding.fix = { description: 'check libvirt.uri, and that the libvirt daemon it names runs', commands: [] };
    }
    return finding;
  }
}

// ---- 4. The storage pool ---------------------------------------------------------------------

function defaultPoolTarget(o: Resolved): string {
  const base = isSessionUri(o.uri) ? join(o.env.HOME ?? '~', '.local/share/libvirt/images') : '/var/lib/libvirt/images';
  return o.pool === 'default' ? base : join(base, o.pool);
}

export async function checkPool(options: CheckOptions, libvirtReachable: boolean): Promise<Finding> {
  const o = resolveOptions(options);
  const label = `storage pool "${o.pool}"`;
  if (!libvirtReachable) return { id: 'pool', status: 'warn', message: `${label} not checked: libvirt is not reachable at ${o.uri}` };
  const virsh = (...args: string[]) => asRoot(['virsh', '-c', o.uri, ...args], isSystemUri(o.uri) ? o.uid : 0);
  try {
    const { stdout } = await run('virsh', ['-c', o.uri, 'pool-info', o.pool], runOpts(o));
    const field = (name: string) => new RegExp(`^${name}:\\s*(.+)$`, 'm').exec(stdout)?.[1]?.trim();
    const state = field('State') ?? 'unknown';
    if (state === 'running') {
      const available = field('Available');
      const autostart = field('Autostart') === 'yes' ? '' : ', not autostarted';
      return { id: 'pool', status: 'ok', message: `${label} is active${available ? ` (${available} available${autostart})` : autostart ? ` (${autostart.slice(2)})` : ''}` };
    }
    return {
      id: 'pool',
      status: 'fail',
      message: `${label} is ${state} at ${o.uri}`,
      fix: { description: 'start the pool and start it at boot from now on', commands: [virsh('pool-start', o.pool), virsh('pool-autostart', o.pool)] },
    };
  } catch (error) {
    rethrowCancel(error);
    const why = reason(error);
    if (!/pool not found|no storage pool with matching name/i.test(why)) {
      return { id: 'pool', status: 'fail', message: `${label}: ${why}` };
    }
    const target = o.poolTarget ?? defaultPoolTarget(o);
    return {
      id: 'pool',
      status: 'fail',
      message: `${label} is not defined at ${o.uri}`,
      fix: {
        description: `define ${label} as the folder ${target}, create it, start it and start it at boot`,
        commands: [
          virsh('pool-define-as', o.pool, 'dir', '--target', target),
          virsh('pool-build', o.pool),
          virsh('pool-start', o.pool),
          virsh('pool-autostart', o.pool),
        ],
      },
    };
  }
}

// ---- 5. Tools: qemu, qemu-img, VBoxManage; 7. the ISO tool -----------------------------------

async function checkTool(
  id: CheckId,
  command: string,
  args: string[],
  debianPackage: string | undefined,
  o: Resolved,
  version: (stdout: string) => string | undefined,
  install?: string,
): Promise<Finding> {
  try {
    const { stdout } = await run(command, args, runOpts(o));
    const v = version(stdout);
    return { id, status: 'ok', message: `${command}${v ? ` ${v}` : ''}` };
  } catch (error) {
    rethrowCancel(error);
    const from = debianPackage ? ` (Debian package ${debianPackage})` : '';
    const message = isMissingTool(error) ? `${command} is not installed${from}` : `${command} ${args.join(' ')} failed: ${reason(error)}`;
    const description = install ?? (debianPackage ? `install ${debianPackage} (see the packages finding)` : `install ${command}`);
    return { id, status: 'fail', message, fix: { description, commands: [] } };
  }
}

export async function checkIsoTool(options: CheckOptions): Promise<Finding> {
  const o = resolveOptions(options);
  try {
    const tool = await findIsoTool(o.env.PATH ?? '');
    return { id: 'iso', status: 'ok', message: `${tool.command} makes the cloud-init seed ISOs` };
  } catch (error) {
    rethrowCancel(error);
    return {
      id: 'iso',
      status: 'fail',
      message: 'no ISO tool (xorriso, genisoimage or mkisofs) to make the cloud-init seeds',
      fix: { description: 'install xorriso (see the packages finding)', commands: [] },
    };
  }
}

// ---- All of them -----------------------------------------------------------------------------

export async function runChecks(options: CheckOptions): Promise<Finding[]> {
  const o = resolveOptions(options);
  const libvirt = o.provider === 'libvirt';
  const wanted = (id: CheckId) => (options.only ? options.only.includes(id) : true);
  const firstLine = (s: string) => s.split('\n')[0] ?? '';
  const tasks: Array<Promise<Finding | undefined>> = [];
  const add = (id: CheckId, applies: boolean, task: () => Promise<Finding | undefined>) => {
    if (applies && wanted(id)) tasks.push(task());
  };

  add('packages', true, () => checkPackages(libvirt ? LIBVIRT_PACKAGES : VIRTUALBOX_PACKAGES, options));
  add('binding', libvirt, () => checkBinding(options));
  const reach = libvirt && (wanted('libvirt') || wanted('pool') || wanted('stale-bridges')) ? checkLibvirt(options) : undefined;
  // Keep a rejection from being unhandled before it is awaited below.
  reach?.catch(() => undefined);
  add('libvirt', libvirt, async () => reach);
  add('pool', libvirt, async () => checkPool(options, (await reach)?.status === 'ok'));
  add('qemu', libvirt, () =>
    checkTool('qemu', 'qemu-system-x86_64', ['--version'], 'qemu-system-x86', o, (s) => /version\s+(\S+)/.exec(firstLine(s))?.[1]),
  );
  add('qemu-img', true, () => checkTool('qemu-img', 'qemu-img', ['--version'], 'qemu-utils', o, (s) => /version\s+(\S+)/.exec(firstLine(s))?.[1]));
  add('vboxmanage', !libvirt, async () => {
    const found = await checkTool('vboxmanage', 'VBoxManage', ['--version'], undefined, o, (s) => s.trim().split('\n').pop()?.trim(), 'install VirtualBox from https://www.virtualbox.org/wiki/Linux_Downloads (Debian does not ship it)');
    const version = /^VBoxManage (\d+)\.(\d+)/.exec(found.message);
    if (found.status === 'ok' && version && (Number(version[1]) < 6 || (Number(version[1]) === 6 && Number(version[2]) < 1))) {
      return { id: 'vboxmanage', status: 'fail', message: `${found.message}: VirtualBox 6.1 or later is needed (nested virtualisation)`, fix: { description: 'install VirtualBox 7 from https://www.virtualbox.org/wiki/Linux_Downloads', commands: [] } };
    }
    return found;
  });
  add('iso', true, () => checkIsoTool(options));
  add('kvm', libvirt, () =>
    checkKvm({
      root: o.root,
      uri: o.uri,
      uid: o.uid,
      accelerator: o.accelerator,
      packageRoot: o.packageRoot,
      ...(o.signal ? { signal: o.signal } : {}),
      ...(options.kvmProbe ? { probe: options.kvmProbe } : {}),
    }),
  );
  add('nested', libvirt, () => checkNested({ root: o.root, uid: o.uid }));
  add('bridge', o.bridgeInterface !== undefined, () => checkBridge({ root: o.root, name: o.bridgeInterface ?? '' }));
  add('stale-bridges', libvirt && isSystemUri(o.uri), async () =>
    (await reach)?.status === 'ok' ? checkStaleBridges({ uri: o.uri, root: o.root, uid: o.uid, env: o.env, ...(o.signal ? { signal: o.signal } : {}) }) : undefined,
  );
  add('vboxdrv', true, () => checkVirtualBoxModule({ root: o.root, provider: o.provider, uid: o.uid }));

  const findings = await Promise.all(tasks);
  return findings.filter((f): f is Finding => f !== undefined);
}
