/** The pooled session against a real sshd on loopback: streaming, masking, SFTP, cancellation. */
import { mkdtempSync, readFileSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProgressEvent } from '../events.js';
import { generateKeyPair } from '../state/secrets.js';
import { startSshd, type TestSshd } from '../../test/support/sshd.js';
import { SessionPool, type PoolTarget } from './session.js';

const hostKey = generateKeyPair('planned host key');
const clusterKey = generateKeyPair('cluster key');
const SECRET = 'Sup3rSecretAdminPassw0rd';
let sshd: TestSshd;
let pool: SessionPool;
const signal = new AbortController().signal;
const work = mkdtempSync(join(tmpdir(), 'dc-session-'));

beforeAll(async () => {
  sshd = await startSshd(hostKey, [clusterKey.public]);
  pool = new SessionPool([SECRET]);
});
afterAll(async () => {
  await pool.closeAll();
  await sshd.stop();
});

const target = (): PoolTarget => ({ node: 'controller', label: 'controller', host: '127.0.0.1', port: sshd.port, username: sshd.user, privateKey: clusterKey.private, hostKey: hostKey.public });
const session = () => pool.get(target(), { signal, budgetMs: 10_000 });

describe('SSH sessions', () => {
  it('reuse one connection per node for every command', async () => {
    const ports = new Set<string>();
    for (let i = 0; i < 5; i++) {
      const r = await (await session()).run('echo "$SSH_CONNECTION"', { signal, what: 'where from' });
      ports.add(r.stdout.split(' ')[1] as string);
    }
    expect(ports.size).toBe(1);
    expect(pool.connections).toBe(1);
  });

  it('stream output to the log and to the caller with secrets masked, keep exit code and tail', async () => {
    const logFile = join(work, 'logs', 'controller', 'stack.log');
    const events: ProgressEvent[] = [];
    const r = await (await session()).run(`for i in $(seq 1 40); do echo "line $i"; done; echo "The password: ${SECRET}"; echo "oops ${SECRET}x" >&2; exit 7`, {
      signal,
      what: 'stack.sh',
      logFile,
      lines: { step: 'stack', report: (e) => events.push(e) },
    });
    expect(r.code).toBe(7);
    expect(r.tail.at(-2)).toBe('The password: ******');
    expect(r.tail).toContain('oops ******x');
    expect(r.tail).toHaveLength(30);
    expect(events).toHaveLength(42);
    expect(events[0]).toEqual({ kind: 'line', node: 'controller', step: 'stack', line: 'line 1' });
    expect(events).toContainEqual({ kind: 'line', node: 'controller', step: 'stack', line: 'oops ******x' });
    const log = readFileSync(logFile, 'utf8');
    expect(log).toContain('line 1\n');
    expect(log).toContain('# exit 7 after');
    expect(log).not.toContain(SECRET);
    expect(log).not.toContain('@@devcluster-pgid');
    expect(statSync(logFile).mode & 0o777).toBe(0o600);
    expect(statSync(join(work, 'logs', 'controller')).mode & 0o777).toBe(0o700);
  });

  it('uploads over SFTP with the mode set from the first byte, replacing the old file atomically', async () => {
    const remote = join(work, 'local.conf');
    writeFileSync(remote, 'old\n', { mode: 0o644 });
    const s = await session();
    await s.upload({ data: `ADMIN_PASSWORD=${SECRET}\n` }, remote, { mode: 0o600, signal });
    expect(readFileSync(remote, 'utf8')).toBe(`ADMIN_PASSWORD=${SECRET}\n`);
    expect(statSync(remote).mode & 0o777).toBe(0o600);
    const big = join(work, 'image.qcow2');
    writeFileSync(big, Buffer.alloc(3 * 1024 * 1024, 7));
    let progress = 0;
    await s.upload({ file: big }, join(work, 'uploaded.qcow2'), { mode: 0o644, signal, onProgress: (b) => (progress = b) });
    expect(readFileSync(join(work, 'uploaded.qcow2')).equals(readFileSync(big))).toBe(true);
    expect(progress).toBe(3 * 1024 * 1024);
    const error = await s.upload({ data: 'x' }, join(work, 'no-such-dir', 'f'), { mode: 0o600, signal }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'SSH_UPLOAD_FAILED', message: expect.stringContaining('no-such-dir/f on controller') });
  });

  it('cancelling stops the remote command and everything it started', async () => {
    const pidFile = join(work, 'child.pid');
    const abort = new AbortController();
    const s = await session();
    const running = s.run(`bash -c 'sleep 300 & echo $! > ${pidFile}; wait'`, { signal: abort.signal, what: 'a long job' });
    for (let i = 0; i < 400 && !existsSync(pidFile); i++) await sleep(50);
    const pid = Number(readFileSync(pidFile, 'utf8'));
    expect(() => process.kill(pid, 0)).not.toThrow();
    abort.abort();
    await expect(running).rejects.toMatchObject({ code: 'CANCELLED' });
    // Alive = exists and is not a zombie (this machine's PID 1 may not reap orphans).
    const isAlive = () => existsSync(`/proc/${pid}/stat`) && readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0] !== 'Z';
    let alive = true;
    for (let i = 0; i < 100 && alive; i++) {
      alive = isAlive();
      if (alive) await sleep(50);
    }
    expect(alive).toBe(false);
    // The connection is still good for the next command.
    expect((await s.run('echo still here', { signal, what: 'after' })).stdout).toBe('still here\n');
  });

  it('a command over its budget is stopped and reported as STEP_TIMEOUT with its last lines', async () => {
    const error = await (await session()).run('echo started; sleep 60', { signal, what: 'stack.sh', timeoutMs: 3000 }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'STEP_TIMEOUT', message: 'stack.sh on controller did not finish within 3 s and was stopped' });
    expect((error as { details: string[] }).details).toContain('| started');
  });

  it('a dropped connection is replaced on the next get', async () => {
    const s = await session();
    await s.close();
    expect(s.isOpen).toBe(false);
    const again = await session();
    expect(again).not.toBe(s);
    expect((await again.run('echo ok', { signal, what: 'x' })).code).toBe(0);
  });
});
