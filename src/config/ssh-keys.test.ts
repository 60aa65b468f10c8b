import { execFileSync, spawn } from 'node:child_process';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { discoverUserKeys, parsePublicKey } from './ssh-keys.js';
import { generateKeyPair } from '../state/secrets.js';

const agents: Array<() => void> = [];
afterAll(() => agents.forEach((stop) => stop()));

/** A real ssh-agent on its own socket, holding one key added with ssh-add. */
async function agentWithKey(): Promise<{ socket: string; publicKey: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'dc-agent-'));
  const socket = join(dir, 'agent.sock');
  const agent = spawn('ssh-agent', ['-D', '-a', socket], { stdio: 'ignore' });
  agents.push(() => agent.kill());
  for (let i = 0; i < 50; i++) {
    try {
      execFileSync('ssh-add', ['-l'], { env: { SSH_AUTH_SOCK: socket }, stdio: 'ignore' });
    } catch (error) {
      if ((error as { status?: number }).status === 1) break; // agent up, no identities yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const pair = generateKeyPair('agent-key@example');
  await writeFile(join(dir, 'id'), pair.private, { mode: 0o600 });
  execFileSync('ssh-add', [join(dir, 'id')], { env: { SSH_AUTH_SOCK: socket }, stdio: 'ignore' });
  return { socket, publicKey: pair.public };
}

describe('user SSH keys', () => {
  it('finds ~/.ssh/*.pub and the ssh-agent keys, each once, skipping unreadable .pub files', async () => {
    const home = await mkdtemp(join(tmpdir(), 'dc-home-'));
    await mkdir(join(home, '.ssh'));
    const fileKey = generateKeyPair('file-key@example').public;
    await writeFile(join(home, '.ssh', 'id_ed25519.pub'), `${fileKey}\n`);
    await writeFile(join(home, '.ssh', 'junk.pub'), 'garbage\n');
    const { socket, publicKey } = await agentWithKey();
    await writeFile(join(home, '.ssh', 'copy-of-agent-key.pub'), `${publicKey}\n`);
    const keys = await discoverUserKeys(home, socket);
    expect(keys.map((k) => k.line).sort()).toEqual([fileKey, publicKey].sort());
  });

  it('an agent that is not there gives no keys, not an error', async () => {
    const home = await mkdtemp(join(tmpdir(), 'dc-home-'));
    expect(await discoverUserKeys(home, join(home, 'no-agent.sock'))).toEqual([]);
  });

  it('refuses a private key given where a public key belongs', () => {
    const pair = generateKeyPair('x');
    expect(parsePublicKey(pair.private, 'config')).toBeInstanceOf(Error);
    expect((parsePublicKey(pair.private, 'config') as Error).message).toContain('PRIVATE key');
    const key = parsePublicKey(pair.public, 'config');
    expect(key).not.toBeInstanceOf(Error);
    const fingerprint = execFileSync('ssh-keygen', ['-lf', '-'], { input: pair.public }).toString().split(' ')[1];
    expect((key as { fingerprint: string }).fingerprint).toBe(fingerprint);
  });
});
