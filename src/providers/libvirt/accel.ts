/**
 * How guests run on this host: KVM with host-passthrough when KVM can actually run a guest here (the
 * probe of kvm-probe.ts, once per process), else TCG with a bounded translation cache; the config's
 * `libvirt.accelerator` can force either. And whether the host's KVM allows nested guests (DevStack's
 * LIBVIRT_TYPE=kvm on the nodes), which only counts when the nodes run under KVM.
 */
import { access, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Accel } from './domain-xml.js';
import { probeKvm, type KvmProbeOptions, type KvmProbeResult } from './kvm-probe.js';

export const TCG_TB_CACHE_MIB = 256;

export type AcceleratorSetting = 'auto' | 'kvm' | 'tcg';

export interface HostVirt {
  accel: Accel;
  nested: boolean;
  /** Why this accelerator: for the user, e.g. "KVM cannot run a guest here (…): guests use TCG". */
  reason: string;
  /** Set when the user forced kvm on a host where the probe failed: `up` goes on, but says so. */
  warning?: string;
  /** The probe's result (undefined when tcg was forced and no probe ran). */
  probe?: KvmProbeResult;
}

/** The choice itself, from the setting and the probe (pure: unit-tested as a table). */
export function chooseAccel(setting: AcceleratorSetting, probe: KvmProbeResult | undefined, nestedParam: boolean): HostVirt {
  const tcg: Accel = { type: 'qemu', tbCacheMiB: TCG_TB_CACHE_MIB };
  const kvm: Accel = { type: 'kvm', tbCacheMiB: TCG_TB_CACHE_MIB };
  const withProbe = probe ? { probe } : {};
  if (setting === 'tcg') return { accel: tcg, nested: false, reason: 'libvirt.accelerator is tcg: guests run under TCG emulation', ...withProbe };
  if (setting === 'kvm') {
    const base = { accel: kvm, nested: nestedParam, reason: 'libvirt.accelerator is kvm: guests run under KVM', ...withProbe };
    if (probe && !probe.usable) {
      return { ...base, warning: `libvirt.accelerator is kvm, but ${probe.reason}; the nodes start under KVM anyway and may stop at once (set libvirt.accelerator: auto or tcg)` };
    }
    return base;
  }
  if (probe?.usable) return { accel: kvm, nested: nestedParam, reason: `KVM: ${probe.reason}`, probe };
  const why = probe ? probe.reason : 'KVM was not probed';
  return { accel: tcg, nested: false, reason: `KVM cannot run a guest here (${why}): guests use TCG emulation, 10–20× slower`, ...withProbe };
}

export interface NestedParameter {
  module: 'kvm_intel' | 'kvm_amd';
  /** As the kernel prints it (Y/N, 1/0), trimmed. */
  value: string;
  on: boolean;
}

/**
 * The host kvm module's `nested` parameter (/sys/module/kvm_{intel,amd}/parameters/nested): the one
 * place that reads it, for `up` (nodesNestKvm, hostNestsKvm) and doctor's nested check. undefined when
 * neither module says (not loaded, or KVM built in without the parameter).
 */
export async function readNestedParameter(root: string): Promise<NestedParameter | undefined> {
  for (const module of ['kvm_intel', 'kvm_amd'] as const) {
    const text = await readFile(join(root, 'sys/module', module, 'parameters/nested'), 'utf8').catch(() => undefined);
    if (text === undefined) continue;
    const value = text.trim();
    return { module, value, on: ['y', '1'].includes(value.toLowerCase()) };
  }
  return undefined;
}

async function nestedParameter(root: string): Promise<boolean> {
  return (await readNestedParameter(root))?.on === true;
}

export interface DetectOptions extends Omit<KvmProbeOptions, 'root'> {
  root?: string;
  accelerator?: AcceleratorSetting;
  /** The probe (tests); default probeKvm. */
  probe?: (options: KvmProbeOptions) => Promise<KvmProbeResult>;
}

// One probe per URI and host root per process: `up`, `render` and provisioning ask again and again.
const probes = new Map<string, Promise<KvmProbeResult>>();

/** The probe's result, run once per process for a URI and host root (a failed or cancelled run is not kept). */
export function cachedProbe(options: KvmProbeOptions, probe: (o: KvmProbeOptions) => Promise<KvmProbeResult> = probeKvm): Promise<KvmProbeResult> {
  const key = `${options.uri}\0${options.root ?? '/'}`;
  let pending = probes.get(key);
  if (!pending) {
    pending = probe(options);
    probes.set(key, pending);
    pending.catch(() => probes.delete(key));
  }
  return pending;
}

/** Forget the cached probes (tests). */
export function forgetProbes(): void {
  probes.clear();
}

export async function detectHostVirt(options: DetectOptions): Promise<HostVirt> {
  const setting = options.accelerator ?? 'auto';
  const root = options.root ?? '/';
  const { accelerator: _a, probe: _p, ...probeOptions } = options;
  const probe = setting === 'tcg' ? undefined : await cachedProbe({ ...probeOptions, root }, options.probe);
  return chooseAccel(setting, probe, await nestedParameter(root));
}

/**
 * Whether the nodes can run KVM guests of their own (nested KVM): only when the host's kvm module
 * nests and the nodes run under KVM. Without the nesting parameter no probe is needed (and none runs).
 */
export async function nodesNestKvm(options: DetectOptions): Promise<boolean> {
  if (options.accelerator === 'tcg' || !(await nestedParameter(options.root ?? '/'))) return false;
  return (await detectHostVirt(options)).nested;
}

/** The host's kvm module nests and /dev/kvm exists (what other hypervisors' nodes can use; no probe). */
export async function hostNestsKvm(root = '/'): Promise<boolean> {
  return (await access(join(root, 'dev/kvm')).then(() => true, () => false)) && (await nestedParameter(root));
}
