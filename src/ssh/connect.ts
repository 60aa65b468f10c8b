/**
 * An SSH connection to a node with its host key pinned: the key the plan generated and cloud-init
 * installed is the only one accepted. A different key fails at once with SSH_HOST_KEY_MISMATCH and
 * is never retried; so is a refused login. Only "not up yet" failures (refused, reset, timed out)
 * are retried, within a budget, while the node boots.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import ssh2 from 'ssh2';
import { DevclusterError } from '../errors.js';
import { fingerprintOf } from '../config/ssh-keys.js';
import { SSH_TIMING, type SshTarget } from './settings.js';

export type { SshTarget };

export interface ConnectOptions {
  signal: AbortSignal;
  /** How long to keep trying while the node boots (ms). */
  budgetMs: number;
  /** Called before each retry, with what failed. */
  onRetry?: (attempt: number, reason: string) => void;
}

const RETRYABLE = /ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|EPIPE|Timed out while waiting for handshake|Connection lost before handshake|socket hang up|Not connected|closed/i;

function pinnedBlob(hostKey: string): { type: string; blob: Buffer } {
  const [type, base64] = hostKey.trim().split(/\s+/);
  if (!type || !base64) throw new TypeError(`not a public key line: ${hostKey}`);
  return { type, blob: Buffer.from(base64, 'base64') };
}

function attempt(target: SshTarget, signal: AbortSignal): Promise<ssh2.Client> {
  const pinned = pinnedBlob(target.hostKey);
  return new Promise((resolve, reject) => {
    const client = new ssh2.Client();
    let mismatch: Buffer | undefined;
    const onAbort = () => {
      client.destroy();
      reject(new DevclusterError('CANCELLED', `connecting to ${target.label} was cancelled`));
    };
    signal.addEventListener('abort', onAbort, { once: true });
    const done = () => signal.removeEventListener('abort', onAbort);
    client.once('ready', () => {
      settled = true;
      done();
      resolve(client);
    });
    let settled = false;
    // ssh2 can emit several errors for one failed attempt (e.g. a port forwarder that accepts and
    // then drops the socket): the first decides, the rest are swallowed rather than left uncaught.
    client.on('error', (error: Error & { level?: string }) => {
      if (settled) return;
      settled = true;
      done();
      client.destroy();
      if (mismatch !== undefined) {
        reject(
          new DevclusterError('SSH_HOST_KEY_MISMATCH', `${target.label} (${target.host}:${target.port}) showed a host key that is not the one devcluster planned for it; the connection was refused`, {
            details: [`expected ${fingerprintOf(pinned.blob)}`, `offered  ${fingerprintOf(mismatch)}`],
            hint: 'something else answers at that address, or the node was not built from this cluster\'s seed; check `devcluster status`, and recreate the node if it is yours',
          }),
        );
      } else if (error.level === 'client-authentication') {
        reject(
          new DevclusterError('SSH_AUTH_FAILED', `${target.label} refused the login of ${target.username} with the cluster key`, {
            cause: error,
            hint: 'the node did not get this cluster\'s authorized key (see its console log); recreate it',
          }),
        );
      } else reject(error);
    });
    client.connect({
      host: target.host,
      port: target.port,
      username: target.username,
      privateKey: target.privateKey,
      readyTimeout: SSH_TIMING.readyTimeoutMs,
      keepaliveInterval: SSH_TIMING.keepaliveIntervalMs,
      keepaliveCountMax: SSH_TIMING.keepaliveCountMax,
      algorithms: { serverHostKey: [pinned.type as ssh2.ServerHostKeyAlgorithm] },
      hostVerifier: (key: Buffer) => {
        if (key.equals(pinned.blob)) return true;
        mismatch = Buffer.from(key);
        return false;
      },
    });
  });
}

/** Connect, retrying while the node is not up yet, within `budgetMs`. */
export async function connectPinned(target: SshTarget, options: ConnectOptions): Promise<ssh2.Client> {
  const deadline = Date.now() + options.budgetMs;
  let lastReason = 'no attempt made';
  for (let n = 1; ; n++) {
    options.signal.throwIfAborted();
    try {
      return await attempt(target, options.signal);
    } catch (error) {
      if (error instanceof DevclusterError) throw error; // mismatch, auth, cancel: never retried
      lastReason = (error as Error).message;
      if (!RETRYABLE.test(lastReason) || Date.now() + SSH_TIMING.retryDelayMs > deadline) {
        throw new DevclusterError('SSH_UNREACHABLE', `${target.label} did not answer SSH on ${target.host}:${target.port} within ${Math.round(options.budgetMs / 1000)} s (${lastReason})`, {
          cause: error,
          hint: 'the node may still be booting or failed to boot: look at its console log',
        });
      }
      options.onRetry?.(n, lastReason);
      await sleep(SSH_TIMING.retryDelayMs, undefined, { signal: options.signal });
    }
  }
}

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run one command; resolves with its exit code and output (a non-zero exit is not an error here). */
export function execCommand(client: ssh2.Client, command: string, signal: AbortSignal): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    client.exec(command, (error, channel) => {
      if (error) {
        reject(error);
        return;
      }
      let stdout = '';
      let stderr = '';
      const onAbort = () => {
        channel.signal('TERM');
        channel.close();
        reject(new DevclusterError('CANCELLED', `command on the node was cancelled: ${command}`));
      };
      signal.addEventListener('abort', onAbort, { once: true });
      channel.on('data', (d: Buffer) => (stdout += d.toString()));
      channel.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      channel.on('close', (code: number | null) => {
        signal.removeEventListener('abort', onAbort);
        resolve({ code: code ?? 255, stdout, stderr });
      });
    });
  });
}

/** End the connection and wait until its socket is really closed (ssh2 can otherwise keep Node alive). */
export function closeClient(client: ssh2.Client): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      client.destroy();
      resolve();
    }, 5000);
    client.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
    client.end();
  });
}
