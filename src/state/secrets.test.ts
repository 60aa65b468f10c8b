import { chmod, mkdtemp, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import ssh2 from 'ssh2';
import { spawnSync } from 'node:child_process';
import { ensureSecrets, generateKeyPair, readSecrets, secretsFile, stateDirFor } from './secrets.js';

async function stateDir() {
  return stateDirFor(await mkdtemp(join(tmpdir(), 'dc-state-')), 'dev');
}

describe('cluster secrets', () => {
  it('are generated once, in a 0700 folder and a 0600 file, with parseable keys', async () => {
    const dir = await stateDir();
    const secrets = await ensureSecrets(dir, 'dev', ['controller', 'compute1']);
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
    expect((await stat(secretsFile(dir))).mode & 0o777).toBe(0o600);
    expect(Object.keys(secrets.host_keys).sort()).toEqual(['compute1', 'controller']);
    const parsed = ssh2.utils.parseKey(secrets.host_keys.controller!.private);
    expect(parsed instanceof Error).toBe(false);
    expect(secrets.passwords.admin).toMatch(/^[A-Za-z0-9]{24}$/);
    expect(Object.keys(secrets.passwords).sort()).toEqual(['admin', 'database', 'ldap', 'rabbit', 'service', 'swift_hash', 'swift_tempurl_key']);
    for (const value of Object.values(secrets.passwords)) expect(value).toMatch(/^[A-Za-z0-9]{24}$/);
    expect(new Set(Object.values(secrets.passwords)).size).toBe(7);
  });

  it('a file from before SWIFT_HASH existed gets the missing secrets added and written, the others kept', async () => {
    const dir = await stateDir();
    const first = await ensureSecrets(dir, 'dev', ['controller']);
    const old = { ...first, passwords: { admin: first.passwords.admin, service: first.passwords.service, database: first.passwords.database, rabbit: first.passwords.rabbit } };
    await writeFile(secretsFile(dir), JSON.stringify(old), { mode: 0o600 });
    const second = await ensureSecrets(dir, 'dev', ['controller']);
    expect(second.passwords.admin).toBe(first.passwords.admin);
    expect(second.passwords.swift_hash).toMatch(/^[A-Za-z0-9]{24}$/);
    expect(second.passwords.swift_hash).not.toBe(first.passwords.swift_hash);
    expect(await readSecrets(dir)).toEqual(second);
    // A swift cluster's hash must never change: once written it is kept.
    expect((await ensureSecrets(dir, 'dev', ['controller'])).passwords.swift_hash).toBe(second.passwords.swift_hash);
  });

  it('are kept across runs; a new node gets only its own new host key', async () => {
    const dir = await stateDir();
    const first = await ensureSecrets(dir, 'dev', ['controller']);
    const second = await ensureSecrets(dir, 'dev', ['controller', 'compute2']);
    expect(second.cluster_key).toEqual(first.cluster_key);
    expect(second.host_keys.controller).toEqual(first.host_keys.controller);
    expect(second.passwords).toEqual(first.passwords);
    expect(second.host_keys.compute2).toBeDefined();
    expect(await readSecrets(dir)).toEqual(second);
  });

  it('a file made too open is tightened back to 0600', async () => {
    const dir = await stateDir();
    await ensureSecrets(dir, 'dev', ['controller']);
    await chmod(secretsFile(dir), 0o644);
    await readSecrets(dir);
    expect((await stat(secretsFile(dir))).mode & 0o777).toBe(0o600);
  });

  it('a damaged file is an error that names it, never silently replaced', async () => {
    const dir = await stateDir();
    await ensureSecrets(dir, 'dev', ['controller']);
    await writeFile(secretsFile(dir), '{"version": 1, "cluster_key": ');
    await expect(ensureSecrets(dir, 'dev', ['controller'])).rejects.toMatchObject({ code: 'STATE_INVALID', message: expect.stringContaining('secrets.json') });
    expect(await readFile(secretsFile(dir), 'utf8')).toBe('{"version": 1, "cluster_key": ');
  });

  it('key pairs all load in OpenSSH, even the one in 256 whose public key starts with a zero byte', async () => {
    // 1500 draws: with ssh2's own generator at least one is malformed with probability 1 - (255/256)^1500 > 99.7 %.
    const dir = await mkdtemp(join(tmpdir(), 'dc-keys-'));
    const publics: string[] = [];
    for (let i = 0; i < 1500; i++) {
      const pair = generateKeyPair(`k${i}`);
      await writeFile(join(dir, `${i}`), pair.private, { mode: 0o600 });
      publics.push(pair.public.split(' ').slice(0, 2).join(' '));
    }
    const derived = spawnSync('bash', ['-c', 'for i in $(seq 0 1499); do ssh-keygen -y -f "$1/$i" || echo "bad $i"; done', 'keys', dir], { encoding: 'utf8' });
    expect(derived.stderr).toBe('');
    expect(derived.stdout.trim().split('\n').map((line) => line.split(' ').slice(0, 2).join(' '))).toEqual(publics);
  }, 60_000);
});
