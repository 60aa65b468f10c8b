/**
 * The one way devcluster calls VBoxManage. VBoxManage can print `VBoxManage: error: …` and still
 * exit 0, so stderr decides too. Known failures become errors with their fix: a broken install
 * (exit 126 from the VBoxManage wrapper script), the missing kernel driver (vboxdrv), and KVM
 * holding the CPU's virtualisation (VERR_VMX_IN_VMX_ROOT_MODE on Intel, VERR_SVM_IN_USE on AMD).
 */
import { execa } from 'execa';
import { DevclusterError, HostCommandError } from '../../errors.js';
import { INSTALL_HINT, isSupported, MIN_VERSION_TEXT, parseVBoxVersion, type VBoxVersion } from './version.js';

export interface VBoxOptions {
  /** The VBoxManage program (default: `VBoxManage` on PATH). */
  command?: string;
  /** Extra environment (tests point the stand-in at its state file). */
  env?: Record<string, string>;
}

export interface VBoxResult {
  stdout: string;
  stderr: string;
}

export const KVM_HINT =
  'KVM holds the CPU\'s virtualisation: stop every KVM guest and unload it (`sudo modprobe -r kvm_intel kvm_amd kvm`), ' +
  'or boot with kvm.enable_virt_at_load=0 so KVM takes VT-x/AMD-V only while its guests run';

/**
 * Turn a failed call into the error a user can act on: a HostCommandError (command, exit code, stdout
 * and stderr as fields) with the code of the known failure. Exported for tests.
 */
export function vboxFailure(args: readonly string[], exitCode: number | undefined, stdout: string, stderr: string, command = 'VBoxManage'): HostCommandError {
  const shown = `VBoxManage ${args.join(' ')}`;
  const failure = { command: [command, ...args], exitCode, stdout, stderr };
  const text = `${stderr}\n${stdout}`;
  const details = stderr.trim().split('\n').filter(Boolean).slice(-8);
  if (exitCode === 126) {
    return new HostCommandError(failure, `${shown} could not run: the VirtualBox installation is broken (exit 126)`, {
      code: 'VBOX_BROKEN',
      details,
      hint: 'reinstall VirtualBox from https://www.virtualbox.org/wiki/Linux_Downloads, then run `devcluster doctor`',
    });
  }
  if (/VERR_VMX_IN_VMX_ROOT_MODE|VERR_SVM_IN_USE/.test(text)) {
    return new HostCommandError(failure, `${shown} failed: ${/VERR_SVM_IN_USE/.test(text) ? 'AMD-V' : 'VT-x'} is being used by another hypervisor (KVM)`, { code: 'VBOX_KVM_CONFLICT', details, hint: KVM_HINT });
  }
  if (/Kernel driver not installed|vboxdrv kernel module is not loaded|VERR_VM_DRIVER_NOT_INSTALLED/.test(text)) {
    return new HostCommandError(failure, `${shown} failed: VirtualBox's kernel driver (vboxdrv) is not loaded`, {
      code: 'VBOX_DRIVER_MISSING',
      details,
      hint: 'load it: `sudo /sbin/vboxconfig` (needs the kernel headers; with Secure Boot, sign the modules first)',
    });
  }
  return new HostCommandError(failure, `${shown} failed${exitCode ? ` with exit code ${exitCode}` : ''}`, {
    code: 'VBOX_FAILED',
    details,
    hint: 'see the VirtualBox message above; `VBoxManage list vms` shows what VirtualBox holds',
  });
}

export class VBoxManage {
  constructor(private readonly options: VBoxOptions = {}) {}

  get command(): string {
    return this.options.command ?? 'VBoxManage';
  }

  async run(args: readonly string[], opts: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<VBoxResult> {
    const result = await execa(this.command, args, {
      reject: false,
      cancelSignal: opts.signal,
      timeout: opts.timeoutMs ?? 120_000,
      env: { LC_ALL: 'C', ...this.options.env },
      stripFinalNewline: false,
    });
    if (result.failed && (result.cause as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') {
      throw new DevclusterError('HOST_TOOL_MISSING', `${this.command} is not installed`, {
        hint: 'install VirtualBox from https://www.virtualbox.org/wiki/Linux_Downloads (Debian does not ship it)',
      });
    }
    if (result.isCanceled) throw new DevclusterError('CANCELLED', `VBoxManage ${args[0] ?? ''} was cancelled`);
    if (result.timedOut) throw new DevclusterError('VBOX_FAILED', `VBoxManage ${args.join(' ')} did not finish in time`, { hint: 'VirtualBox may be hung: check `VBoxManage list runningvms`' });
    const stdout = String(result.stdout);
    const stderr = String(result.stderr);
    if (result.exitCode !== 0 || /^VBoxManage: error:/m.test(stderr)) throw vboxFailure(args, result.exitCode, stdout, stderr, this.command);
    return { stdout, stderr };
  }

  /** VirtualBox's version, refused below 6.1 (version.ts: nested virtualisation and today's CLI need it). */
  async version(signal?: AbortSignal): Promise<VBoxVersion> {
    const { stdout } = await this.run(['--version'], signal ? { signal } : {});
    const version = parseVBoxVersion(stdout);
    if (!version) throw new DevclusterError('VBOX_FAILED', `VBoxManage --version printed "${stdout.trim().split('\n').pop() ?? ''}", not a version`, { hint: 'reinstall VirtualBox' });
    if (!isSupported(version)) {
      throw new DevclusterError('VBOX_TOO_OLD', `VirtualBox ${version.text} is too old: devcluster needs ${MIN_VERSION_TEXT} or later (nested virtualisation)`, { hint: INSTALL_HINT });
    }
    return version;
  }
}

/** `showvminfo --machinereadable` / `getextradata enumerate` output as a map. */
export function parseMachineReadable(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const match = /^("(?:[^"\\]|\\.)*"|[^=]+)=(.*)$/.exec(line.trim());
    if (!match) continue;
    const unquote = (v: string) => (v.startsWith('"') && v.endsWith('"') && v.length >= 2 ? v.slice(1, -1).replace(/\\(.)/g, '$1') : v);
    out.set(unquote(match[1] as string), unquote(match[2] as string));
  }
  return out;
}

export function parseExtraData(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const match = /^Key: (.*?), Value: (.*)$/.exec(line.trim());
    if (match) out.set(match[1] as string, match[2] as string);
  }
  return out;
}
