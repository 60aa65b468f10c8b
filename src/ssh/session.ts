/**
 * One SSH connection per node, reused for every command and upload of a run.
 *
 * - Commands stream their output, line by line and with every known secret masked, to a log file
 *   (`.devcluster/<cluster>/logs/<node>/<step>.log`, 0600) and optionally as `line` progress events
 *   (the CLI shows them with --follow). The exit code and the last lines are kept for the error message.
 * - Cancellation (AbortSignal, or the command's own time budget) stops the remote command too: every
 *   command runs as the leader of its own process group, whose id it announces first, and an abort
 *   sends TERM (then KILL) to that whole group over a second channel of the same connection.
 * - Uploads go over SFTP to a temporary name and are renamed into place, with the mode set before
 *   any byte is written (secrets are never readable by others, not even half-written).
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { randomBytes } from 'node:crypto';
import type ssh2 from 'ssh2';
import { DevclusterError } from '../errors.js';
import type { ProgressEvent } from '../events.js';
import { shellQuote as shq } from '../process/quote.js';
import { closeClient, connectPinned, type ConnectOptions, type SshTarget } from './connect.js';

const PID_MARK = '@@devcluster-pgid ';
const MASK = '******';

export interface RunOptions {
  signal: AbortSignal;
  /** What the command does, for messages ("stack.sh", "clone DevStack"). */
  what: string;
  /** Append the output here (created 0600, its folder 0700). */
  logFile?: string;
  /** Report each output line, secrets masked, as it arrives: a `line` event of this node and step. */
  lines?: { step: string; report: (event: ProgressEvent) => void };
  /** Budget for the whole command; on expiry the remote command is stopped and STEP_TIMEOUT thrown. */
  timeoutMs?: number;
  /** How many last lines to keep for failure messages. */
  tailLines?: number;
  /** Fed to the command's stdin, then closed. */
  stdin?: string | Buffer;
  /** Keep stdout as raw bytes (tar streams); lines are then not split. */
  binaryStdout?: boolean;
}

export interface RunResult {
  code: number;
  /** stdout with secrets masked (capped at 4 MiB). */
  stdout: string;
  /** Raw stdout, when binaryStdout was asked for. */
  stdoutBytes?: Buffer;
  /** The last lines of stdout and stderr together, masked. */
  tail: string[];
  durationMs: number;
}

const STDOUT_CAP = 4 * 1024 * 1024;

/** Replace every occurrence of each secret (4 characters or more) with a mask. */
export function maskSecrets(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) {
    if (secret.length >= 4) out = out.split(secret).join(MASK);
  }
  return out;
}

/** Split a byte stream into lines; hands out complete lines and the rest at the end. */
class LineSplitter {
  private rest = '';
  constructor(private readonly emit: (line: string) => void) {}
  push(chunk: Buffer): void {
    const text = this.rest + chunk.toString('utf8');
    const lines = text.split('\n');
    this.rest = lines.pop() ?? '';
    for (const line of lines) this.emit(line.replace(/\r$/, ''));
  }
  end(): void {
    if (this.rest !== '') this.emit(this.rest);
    this.rest = '';
  }
}

function openLog(file: string): Promise<WriteStream> {
  return mkdir(dirname(file), { recursive: true, mode: 0o700 }).then(
    () =>
      new Promise<WriteStream>((resolve, reject) => {
        const stream = createWriteStream(file, { flags: 'a', mode: 0o600 });
        stream.once('open', () => resolve(stream));
        stream.once('error', reject);
      }),
  );
}

function closeLog(stream: WriteStream | undefined): Promise<void> {
  return new Promise((resolve) => (stream ? stream.end(resolve) : resolve()));
}

export class NodeSession {
  private sftpChannel: Promise<ssh2.SFTPWrapper> | undefined;
  private closed = false;

  constructor(
    readonly node: string,
    private readonly client: ssh2.Client,
    private readonly secrets: readonly string[],
  ) {
    client.on('close', () => (this.closed = true));
    client.on('error', () => (this.closed = true));
  }

  get isOpen(): boolean {
    return !this.closed;
  }

  mask(text: string): string {
    return maskSecrets(text, this.secrets);
  }

  /** Run `command` (a shell command line) and resolve with its exit code; a non-zero exit is not an error here. */
  async run(command: string, options: RunOptions): Promise<RunResult> {
    const started = Date.now();
    const budget = options.timeoutMs !== undefined ? AbortSignal.timeout(options.timeoutMs) : undefined;
    const signal = budget ? AbortSignal.any([options.signal, budget]) : options.signal;
    signal.throwIfAborted();
    const log = options.logFile ? await openLog(options.logFile) : undefined;
    const tailSize = options.tailLines ?? 30;
    const tail: string[] = [];
    let stdout = '';
    const stdoutChunks: Buffer[] = [];
    let pgid: number | undefined;
    const line = (text: string, stream: 'stdout' | 'stderr') => {
      if (stream === 'stderr' && pgid === undefined && text.startsWith(PID_MARK)) {
        pgid = Number(text.slice(PID_MARK.length));
        return;
      }
      const masked = this.mask(text);
      tail.push(masked);
      if (tail.length > tailSize) tail.shift();
      if (stream === 'stdout' && stdout.length < STDOUT_CAP) stdout += `${masked}\n`;
      log?.write(`${masked}\n`);
      options.lines?.report({ kind: 'line', node: this.node, step: options.lines.step, line: masked });
    };
    log?.write(`# ${new Date().toISOString()} ${this.node}: ${this.mask(options.what)}\n# $ ${this.mask(command)}\n`);
    // The login shell announces its pid (= its process group: sshd made it a session leader), then
    // becomes bash running the command, so the whole tree can be stopped by group. --norc: the login
    // shell has read ~/.bashrc already (bash does for sshd's commands); a second read costs time.
    const wrapped = `echo "${PID_MARK}$$" >&2; exec bash --norc -c ${shq(command)}`;
    try {
      const code = await new Promise<number>((resolve, reject) => {
        this.client.exec(wrapped, (error, channel) => {
          if (error) {
            reject(new DevclusterError('SSH_COMMAND_FAILED', `could not start ${options.what} on ${this.node}: ${error.message}`, { cause: error }));
            return;
          }
          const out = new LineSplitter((l) => line(l, 'stdout'));
          const err = new LineSplitter((l) => line(l, 'stderr'));
          let stopping = false;
          const onAbort = () => {
            if (stopping) return;
            stopping = true;
            void this.killGroup(pgid).finally(() => channel.close());
          };
          signal.addEventListener('abort', onAbort, { once: true });
          channel.on('data', (d: Buffer) => {
            if (options.binaryStdout) stdoutChunks.push(d);
            else out.push(d);
          });
          channel.stderr.on('data', (d: Buffer) => err.push(d));
          channel.on('close', (exitCode: number | null) => {
            signal.removeEventListener('abort', onAbort);
            out.end();
            err.end();
            if (signal.aborted) {
              reject(
                budget?.aborted && !options.signal.aborted
                  ? new DevclusterError('STEP_TIMEOUT', `${options.what} on ${this.node} did not finish within ${Math.round((options.timeoutMs ?? 0) / 1000)} s and was stopped`, {
                      details: tail.length > 0 ? ['last lines:', ...tail.map((l) => `| ${l}`)] : [],
                      hint: 'look at the log for where it hung; a slow mirror or proxy is the usual cause',
                    })
                  : new DevclusterError('CANCELLED', `${options.what} on ${this.node} was cancelled and stopped on the node`),
              );
              return;
            }
            resolve(exitCode ?? 255);
          });
          if (options.stdin !== undefined) channel.end(options.stdin);
          else channel.end();
        });
      });
      log?.write(`# exit ${code} after ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
      const result: RunResult = { code, stdout, tail, durationMs: Date.now() - started };
      if (options.binaryStdout) result.stdoutBytes = Buffer.concat(stdoutChunks);
      return result;
    } catch (error) {
      log?.write(`# ${(error as Error).message}\n`);
      throw error;
    } finally {
      await closeLog(log);
    }
  }

  private async killGroup(pgid: number | undefined): Promise<void> {
    if (pgid === undefined || !Number.isInteger(pgid) || pgid <= 1 || this.closed) return;
    const kill = `kill -TERM -- -${pgid} 2>/dev/null; for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 -- -${pgid} 2>/dev/null || exit 0; sleep 0.5; done; kill -KILL -- -${pgid} 2>/dev/null; exit 0`;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 10_000);
      this.client.exec(kill, (error, channel) => {
        if (error) {
          clearTimeout(timer);
          resolve();
          return;
        }
        channel.on('close', () => {
          clearTimeout(timer);
          resolve();
        });
        channel.resume();
        channel.stderr.resume();
      });
    });
  }

  private sftp(): Promise<ssh2.SFTPWrapper> {
    this.sftpChannel ??= new Promise((resolve, reject) => {
      this.client.sftp((error, sftp) => (error ? reject(error) : resolve(sftp)));
    });
    return this.sftpChannel;
  }

  /**
   * Write `data` (bytes, or a local file by path) to `remotePath` with `mode`, atomically: a temporary
   * file made with the mode, then renamed over the target. The target's folder must exist.
   */
  async upload(source: { data: string | Buffer } | { file: string }, remotePath: string, options: { mode: number; signal: AbortSignal; onProgress?: (bytes: number, total: number) => void }): Promise<void> {
    options.signal.throwIfAborted();
    const sftp = await this.sftp();
    const temp = `${remotePath}.devcluster-${randomBytes(4).toString('hex')}`;
    const fail = (error: unknown): DevclusterError =>
      error instanceof DevclusterError
        ? error
        : new DevclusterError('SSH_UPLOAD_FAILED', `could not write ${remotePath} on ${this.node}: ${(error as Error).message}`, {
            cause: error,
            hint: 'check that the folder exists and that the disk is not full (`df -h` on the node)',
          });
    const onAbort = () => void sftp.unlink(temp, () => undefined);
    options.signal.addEventListener('abort', onAbort, { once: true });
    try {
      await new Promise<void>((resolve, reject) => {
        if ('data' in source) {
          sftp.writeFile(temp, source.data, { mode: options.mode }, (error) => (error ? reject(error) : resolve()));
        } else {
          sftp.fastPut(
            source.file,
            temp,
            {
              mode: options.mode,
              step: (done, _chunk, total) => {
                if (options.signal.aborted) return;
                options.onProgress?.(done, total);
              },
            },
            (error) => (error ? reject(error) : resolve()),
          );
        }
      });
      options.signal.throwIfAborted();
      // posix-rename@openssh.com replaces an existing target in one step; plain SFTP rename would refuse.
      await new Promise<void>((resolve, reject) => sftp.ext_openssh_rename(temp, remotePath, (error) => (error ? reject(error) : resolve())));
    } catch (error) {
      await new Promise<void>((resolve) => sftp.unlink(temp, () => resolve()));
      if (options.signal.aborted) throw new DevclusterError('CANCELLED', `upload of ${remotePath} to ${this.node} was cancelled`);
      throw fail(error);
    } finally {
      options.signal.removeEventListener('abort', onAbort);
    }
  }

  async close(): Promise<void> {
    if (this.sftpChannel) {
      const sftp = await this.sftpChannel.catch(() => undefined);
      sftp?.end();
    }
    await closeClient(this.client);
  }
}

export interface PoolTarget extends SshTarget {
  /** Pool key: the node name. */
  node: string;
}

/**
 * One live session per node. A session whose connection dropped is replaced on the next `get`;
 * connecting retries only while the node boots (see connectPinned).
 */
export class SessionPool {
  private readonly sessions = new Map<string, Promise<NodeSession>>();
  /** How many connections were opened, for tests and benchmarks. */
  connections = 0;

  constructor(private readonly secrets: readonly string[]) {}

  async get(target: PoolTarget, options: ConnectOptions): Promise<NodeSession> {
    const existing = this.sessions.get(target.node);
    if (existing) {
      const session = await existing.catch(() => undefined);
      if (session?.isOpen) return session;
      this.sessions.delete(target.node);
    }
    const pending = connectPinned(target, options).then((client) => {
      this.connections += 1;
      return new NodeSession(target.node, client, this.secrets);
    });
    this.sessions.set(target.node, pending);
    pending.catch(() => this.sessions.delete(target.node));
    return pending;
  }

  async closeAll(): Promise<void> {
    const all = [...this.sessions.values()];
    this.sessions.clear();
    await Promise.all(all.map((p) => p.then((s) => s.close(), () => undefined)));
  }
}
