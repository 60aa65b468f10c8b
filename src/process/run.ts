/**
 * The one way devcluster runs a host command (virsh, xorriso, qemu-img, openssl…): execa with a
 * budget and an AbortSignal, no shell, so arguments never need quoting. A failure is a HostCommandError
 * that keeps the command, exit code, stdout and stderr as fields (the output's tail also as `details`,
 * for display); a missing program says which Debian package provides it.
 */
import { execa } from 'execa';
import { DevclusterError, HostCommandError } from '../errors.js';

export interface RunOptions {
  /** The command's stdin: text (secrets, which must never be arguments) or bytes (a stream already in memory). */
  input?: string | Uint8Array;
  signal?: AbortSignal;
  /** Budget in milliseconds (default 60 s). */
  timeoutMs?: number;
  cwd?: string;
  env?: Record<string, string>;
  /** Debian package to name when the program is missing. */
  debianPackage?: string;
  /** Arguments to show as <redacted> in error messages. */
  secretArgs?: readonly number[];
}

export interface RunResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

export function tail(text: string, lines = 20): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

export async function run(command: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  const argv = [command, ...args.map((a, i) => (options.secretArgs?.includes(i) ? '<redacted>' : a))];
  const shown = argv.join(' ');
  const result = await execa(command, args, {
    input: options.input ?? '',
    cancelSignal: options.signal,
    timeout: options.timeoutMs ?? 60_000,
    cwd: options.cwd,
    env: options.env,
    reject: false,
    stripFinalNewline: false,
  });
  if (result.failed && (result.cause as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') {
    throw new DevclusterError('HOST_TOOL_MISSING', `${command} is not installed`, {
      hint: options.debianPackage ? `install it: apt-get install ${options.debianPackage}` : `install ${command}`,
      cause: result.cause,
    });
  }
  if (result.isCanceled) {
    throw new DevclusterError('CANCELLED', `${shown} was cancelled`, { cause: result.cause });
  }
  const stdout = String(result.stdout ?? '');
  const stderr = String(result.stderr ?? '');
  if (result.timedOut) {
    throw new HostCommandError({ command: argv, exitCode: undefined, stdout, stderr, timedOut: true }, `${shown} did not finish within ${(options.timeoutMs ?? 60_000) / 1000} s`, {
      hint: 'the host may be overloaded; try again',
    });
  }
  if (result.exitCode !== 0) {
    const output = tail(`${stderr}${stdout}`);
    throw new HostCommandError({ command: argv, exitCode: result.exitCode, stdout, stderr }, `${shown} exited with ${result.exitCode ?? 'a signal'}`, {
      details: output ? output.split('\n') : [],
    });
  }
  return { stdout, stderr, exitCode: 0 };
}

/** SHA-512 crypt(3) hash of `password` by the system's openssl; the password goes through stdin. */
export async function hashPassword(password: string, signal?: AbortSignal): Promise<string> {
  const { stdout } = await run('openssl', ['passwd', '-6', '-stdin'], {
    input: `${password}\n`,
    debianPackage: 'openssl',
    ...(signal ? { signal } : {}),
  });
  return stdout.trim();
}
