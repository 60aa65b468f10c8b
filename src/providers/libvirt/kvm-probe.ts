/**
 * Can KVM run a guest here? /dev/kvm existing, or even opening, proves nothing: libvirt runs qemu as
 * its own user (libvirt-qemu), who may not be allowed to open it, and a nested KVM may stop a guest at
 * its first mode switch. So the probe asks libvirt to run a transient `<domain type='kvm'>` that boots
 * the tiny image of probe-image.ts from a raw disk and reports each stage on its serial console,
 * exactly as a node would run (same URI, same qemu user, host-passthrough CPU). KVM is usable only when
 * the guest gets to the end. A few seconds at most; cancelled by the signal; the domain, its files and
 * its libvirt log are removed afterwards.
 */
import { access, chmod, mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { DevclusterError } from '../../errors.js';
import { probeBootSector, PROBE_STAGES, PROBE_SUCCESS } from './probe-image.js';
import { kvmAccess } from './kvm-access.js';
import { isLocalSystemUri, isLocalUri } from './uri.js';
import { outputLines } from '../shared/command-output.js';
import { domainErrorLines, libvirtLogDir } from './qemu-log.js';
import { el, renderXml } from './xml.js';
import { virsh } from './virsh.js';

export interface KvmProbeResult {
  /** A guest ran to the end under KVM. */
  usable: boolean;
  /** 'absent': no /dev/kvm; 'refused': libvirt could not start it; 'stopped': it stopped on an error; 'hung': no end within the budget. */
  outcome: 'ok' | 'absent' | 'refused' | 'stopped' | 'hung';
  /** One line for people: why KVM is or is not usable. */
  reason: string;
  /** The serial output the guest wrote (stage letters). */
  serial: string;
  /** The hypervisor's own error lines (libvirt's domain log, or virsh's error). */
  errors: string[];
  ms: number;
}

export interface KvmProbeOptions {
  uri: string;
  /** Host root for /dev/kvm, /etc/passwd, /etc/group and /etc/libvirt/qemu.conf (tests). */
  root?: string;
  signal?: AbortSignal;
  /** How long the guest may take once started (default 10 s; a working KVM needs well under 1 s). */
  budgetMs?: number;
  /** libvirt's domain log folder for the URI (default libvirtLogDir(uri)). */
  logDir?: string;
  /**
   * 'qemu' runs the same guest under TCG instead (tests: proves the probe's own plumbing — libvirt,
   * the disk, the serial log — reaches "usable" where the guest runs). Default 'kvm'.
   */
  domainType?: 'kvm' | 'qemu';
}

export const PROBE_BUDGET_MS = 10_000;

let counter = 0;

function probeXml(name: string, disk: string, serialLog: string, type: 'kvm' | 'qemu'): string {
  return `${renderXml(
    el(
      'domain',
      { type },
      el('name', undefined, name),
      el('memory', { unit: 'MiB' }, '32'),
      el('vcpu', undefined, '1'),
      el('os', undefined, el('type', { arch: 'x86_64', machine: 'q35' }, 'hvm'), el('boot', { dev: 'hd' })),
      // The CPU model the nodes get (domain-xml.ts).
      el('cpu', { mode: type === 'kvm' ? 'host-passthrough' : 'maximum', check: 'none' }),
      el('on_poweroff', undefined, 'destroy'),
      el('on_reboot', undefined, 'destroy'),
      // A crash must stay visible as a state, not vanish.
      el('on_crash', undefined, 'preserve'),
      el(
        'devices',
        undefined,
        el('disk', { type: 'file', device: 'disk' }, el('driver', { name: 'qemu', type: 'raw' }), el('source', { file: disk }), el('target', { dev: 'sda', bus: 'sata' })),
        el('serial', { type: 'pty' }, el('log', { file: serialLog, append: 'off' }), el('target', { port: 0 })),
        el('memballoon', { model: 'none' }),
      ),
    ),
  )}\n`;
}

/** virsh's error lines without the `error: ` prefixes and the generic first line. */
function virshErrors(error: unknown): string[] {
  const lines = outputLines(error);
  const useful = lines.map((l) => l.replace(/^error:\s*/, '').trim()).filter((l) => l !== '' && !/^Failed to create domain from/.test(l));
  return useful.length > 0 ? useful : [(error as Error).message];
}

function stageText(serial: string): string {
  const reached = serial.replace(/[^RDPIL]/g, '').slice(-1);
  return PROBE_STAGES[reached] ?? 'in its boot code';
}

/** Run the probe (uncached; see accel.ts for the cached decision). */
export async function probeKvm(options: KvmProbeOptions): Promise<KvmProbeResult> {
  const started = Date.now();
  const done = (r: Omit<KvmProbeResult, 'ms'>): KvmProbeResult => ({ ...r, ms: Date.now() - started });
  const type = options.domainType ?? 'kvm';
  const under = type === 'kvm' ? 'KVM' : 'TCG';
  // A remote libvirt's /dev/kvm is not ours to look at: only its guest can tell.
  if (type === 'kvm' && isLocalUri(options.uri)) {
    const device = join(options.root ?? '/', 'dev/kvm');
    if (!(await access(device).then(() => true, () => false))) {
      return done({ usable: false, outcome: 'absent', reason: `no ${device}: this host offers no KVM`, serial: '', errors: [] });
    }
    // Known without starting anything (and libvirt is slow to refuse: it re-probes qemu on every call then).
    const perm = isLocalSystemUri(options.uri) ? await kvmAccess(options.root) : undefined;
    if (perm && !perm.ok) {
      const who = `${perm.identity.user} (groups ${perm.identity.groupNames.join(', ') || 'unknown'})`;
      return done({ usable: false, outcome: 'refused', reason: `${perm.device}: libvirt's qemu user ${who} cannot open it`, serial: '', errors: [] });
    }
  }
  const signal = options.signal ?? new AbortController().signal;
  const budgetMs = options.budgetMs ?? PROBE_BUDGET_MS;
  const logDir = options.logDir ?? libvirtLogDir(options.uri);
  // A name no cluster resource can have (cluster and node names have no '_').
  const name = `dc_kvm_probe_${process.pid}_${++counter}`;
  // libvirt's qemu user must reach the image: a folder of its own, readable by all (nothing secret).
  const dir = await mkdtemp(join(tmpdir(), 'dc-kvm-probe-'));
  await chmod(dir, 0o755);
  const disk = join(dir, 'boot.img');
  const serialLog = join(dir, 'serial.log');
  const xml = join(dir, 'domain.xml');
  try {
    await writeFile(disk, probeBootSector(), { mode: 0o644 });
    // SeaBIOS's AHCI driver (q35) will not boot a disk smaller than a few sectors: make it 1 MiB (sparse).
    await truncate(disk, 1 << 20);
    await writeFile(xml, probeXml(name, disk, serialLog, type), { mode: 0o644 });
    try {
      await virsh(options.uri, ['create', xml], { signal, timeoutMs: 60_000 });
    } catch (error) {
      if (signal.aborted) throw error;
      const errors = virshErrors(error);
      return done({ usable: false, outcome: 'refused', reason: `libvirt could not start a ${under} guest: ${errors[0]}`, serial: '', errors });
    }
    const deadline = Date.now() + budgetMs;
    for (;;) {
      const serial = await readFile(serialLog, 'utf8').catch(() => '');
      if (serial.includes(PROBE_SUCCESS)) {
        return done({ usable: true, outcome: 'ok', reason: `a test guest ran under ${under} (real mode, BIOS disk read, protected mode, long mode)`, serial, errors: [] });
      }
      // A failed question (a busy libvirtd) is no answer: ask again until the budget is spent.
      const state = (await virsh(options.uri, ['domstate', '--reason', name], { signal, timeoutMs: 30_000 }).catch(() => undefined))?.stdout.trim();
      if (state !== undefined && !/^running\b/.test(state)) {
        // qemu's words reach the log through virtlogd: give them a moment if they are not there yet.
        let errors = await domainErrorLines(logDir, name);
        if (errors.length === 0) errors = await sleep(500, undefined, { signal }).then(() => domainErrorLines(logDir, name));
        const why = errors.length > 0 ? errors.join(' / ') : `libvirt says ${state}`;
        return done({ usable: false, outcome: 'stopped', reason: `a test guest stopped under ${under} ${stageText(serial)} (${state}): ${why}`, serial, errors: errors.length > 0 ? errors : [state] });
      }
      if (Date.now() >= deadline) {
        const errors = await domainErrorLines(logDir, name);
        return done({ usable: false, outcome: 'hung', reason: `a test guest under ${under} did not finish within ${budgetMs / 1000} s; it got stuck ${stageText(serial)}`, serial, errors });
      }
      await sleep(100, undefined, { signal });
    }
  } catch (error) {
    if (signal.aborted) throw new DevclusterError('CANCELLED', 'the KVM probe was cancelled', { cause: error });
    throw error;
  } finally {
    // Also after a refusal: a `create` that timed out may still have started the domain.
    await virsh(options.uri, ['destroy', name], { timeoutMs: 30_000 }).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
    await rm(join(logDir, `${name}.log`), { force: true });
  }
}
