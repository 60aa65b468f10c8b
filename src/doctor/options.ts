/**
 * What doctor's checks are asked with (CheckOptions), resolved once per check (defaults, the
 * environment with LC_ALL=C), and the small rules every check follows: how a host command's failure
 * reads as one line, that cancellation is never a finding, that a missing program is its own case.
 * The generic checks (here in doctor/) and each provider's (providers/<name>/doctor…) share them.
 */
import { access } from 'node:fs/promises';
import { PACKAGE_ROOT } from '../config/template.js';
import { isDevclusterError } from '../errors.js';
import { outputLines } from '../providers/shared/command-output.js';
import type { Finding } from './finding.js';
import type { AcceleratorSetting } from '../providers/libvirt/accel.js';
import type { KvmProbeOptions, KvmProbeResult } from '../providers/libvirt/kvm-probe.js';

export type Provider = 'libvirt' | 'virtualbox';

/** Every check, in the order findings are reported. */
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
export type PackageNeed = string | readonly string[];

/** One check of a provider's (or doctor's own) list: the runner runs those wanted, all at once. */
export interface DoctorCheck {
  id: CheckId;
  /** undefined: nothing to report (e.g. no devcluster bridge on the host). */
  run: () => Promise<Finding | undefined>;
}

export interface Resolved {
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

export function resolveOptions(options: CheckOptions): Resolved {
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

export function runOpts(o: Resolved, timeoutMs = 20_000) {
  return { env: o.env, timeoutMs, ...(o.signal ? { signal: o.signal } : {}) };
}

/** A host command's failure as one line: its output (from the error's fields) without virsh's `error: ` prefixes. */
export function reason(error: unknown): string {
  if (isDevclusterError(error)) {
    const lines = outputLines(error).map((l) => l.replace(/^error:\s*/, '').trim()).filter(Boolean);
    const useful = lines.filter((l) => !/^failed to connect to the hypervisor$/i.test(l));
    return (useful.length > 0 ? useful : lines).join('; ') || error.message;
  }
  return error instanceof Error ? error.message : String(error);
}

/** Cancellation is not a finding: it ends the whole run. */
export function rethrowCancel(error: unknown): void {
  if (isDevclusterError(error) && error.code === 'CANCELLED') throw error;
  if (error instanceof Error && error.name === 'AbortError') throw error;
}

export function isMissingTool(error: unknown): boolean {
  return isDevclusterError(error) && error.code === 'HOST_TOOL_MISSING';
}

export async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}
