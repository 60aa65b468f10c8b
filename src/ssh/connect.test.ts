/** Pinned host keys against a real sshd on loopback. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKeyPair } from '../state/secrets.js';
import { freePort, startSshd, type TestSshd } from '../../test/support/sshd.js';
import { closeClient, connectPinned, execCommand, type SshTarget } from './connect.js';

const hostKey = generateKeyPair('planned host key');
const otherHostKey = generateKeyPair('some other host');
const clusterKey = generateKeyPair('cluster key');
let sshd: TestSshd;
const signal = new AbortController().signal;

beforeAll(async () => {
  sshd = await startSshd(hostKey, [clusterKey.public]);
});
afterAll(() => sshd.stop());

const target = (over: Partial<SshTarget> = {}): SshTarget => ({
  label: 'controller',
  host: '127.0.0.1',
  port: sshd.port,
  username: sshd.user,
  privateKey: clusterKey.private,
  hostKey: hostKey.public,
  ...over,
});

describe('pinned SSH', () => {
  it('connects when the host shows the planned key, and runs commands with their exit code', async () => {
    const client = await connectPinned(target(), { signal, budgetMs: 10_000 });
    expect(await execCommand(client, 'echo hello; exit 3', signal)).toEqual({ code: 3, stdout: 'hello\n', stderr: '' });
    await closeClient(client);
  });

  it('refuses a host showing another key at once, naming both fingerprints, without retrying', async () => {
    const retries: string[] = [];
    const started = Date.now();
    const error = await connectPinned(target({ hostKey: otherHostKey.public }), { signal, budgetMs: 20_000, onRetry: (_n, r) => retries.push(r) }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'SSH_HOST_KEY_MISMATCH' });
    expect((error as { details: string[] }).details[1]).toMatch(/^offered {2}SHA256:/);
    expect(retries).toEqual([]);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('a refused login is SSH_AUTH_FAILED and not retried', async () => {
    const retries: string[] = [];
    const error = await connectPinned(target({ privateKey: generateKeyPair('stranger').private }), { signal, budgetMs: 20_000, onRetry: (_n, r) => retries.push(r) }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'SSH_AUTH_FAILED' });
    expect(retries).toEqual([]);
  });

  it('a port nobody answers on is retried until the budget, then SSH_UNREACHABLE', async () => {
    const retries: string[] = [];
    const port = await freePort();
    const error = await connectPinned(target({ port }), { signal, budgetMs: 5000, onRetry: (_n, r) => retries.push(r) }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'SSH_UNREACHABLE', message: expect.stringContaining('within 5 s') });
    expect(retries.length).toBeGreaterThanOrEqual(1);
    expect(retries[0]).toMatch(/ECONNREFUSED/);
  });
});
