/**
 * The user's SSH public keys: parsed with ssh2 so a broken key is caught at load time, read from
 * files the config names, or found in ~/.ssh/*.pub and the ssh-agent when the config names none.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import { resolveLocal } from '../fs/paths.js';

export interface PublicKey {
  /** e.g. ssh-ed25519 */
  type: string;
  /** The authorized_keys line: "TYPE BASE64 COMMENT". */
  line: string;
  /** OpenSSH-style SHA256 fingerprint. */
  fingerprint: string;
  /** Where it came from: a file path, "config", or "ssh-agent". */
  source: string;
}

const KEY_LINE = /^(ssh-[a-z0-9-]+|ecdsa-sha2-[a-z0-9-]+|sk-[a-z0-9@.-]+)\s+\S+/;

export function fingerprintOf(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

/** Parse one authorized_keys-style line; an Error says why it is not a public key. */
export function parsePublicKey(text: string, source: string): PublicKey | Error {
  const line = text.trim();
  const parsed = ssh2.utils.parseKey(line);
  if (parsed instanceof Error) return new Error(`not an SSH public key (${parsed.message})`);
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (key === undefined) return new Error('not an SSH public key');
  if (key.isPrivateKey()) return new Error('this is a PRIVATE key: give the .pub file or the public key line');
  const blob = key.getPublicSSH();
  const normalised = `${key.type} ${blob.toString('base64')}${key.comment ? ` ${key.comment}` : ''}`;
  return { type: key.type, line: normalised, fingerprint: fingerprintOf(blob), source };
}

/** Whether a `ssh_public_keys` entry is a key itself rather than a path to one. */
export function isKeyLiteral(entry: string): boolean {
  return KEY_LINE.test(entry.trim());
}

/** Kept here for modules that still import it from config/; it lives in fs/paths.ts. */
export { expandHome } from '../fs/paths.js';

/** Keys in a file: one per non-empty, non-comment line. */
export async function readKeyFile(path: string, baseDir: string, home = homedir()): Promise<PublicKey[] | Error> {
  const full = resolveLocal(path, { baseDir, home });
  let text: string;
  try {
    text = await readFile(full, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return new Error(code === 'ENOENT' ? `${full} does not exist: give a path to a .pub file or the key itself` : `cannot read ${full}: ${(error as Error).message}`);
  }
  const lines = text.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
  if (lines.length === 0) return new Error(`${full} holds no key`);
  const keys: PublicKey[] = [];
  for (const line of lines) {
    const key = parsePublicKey(line, full);
    if (key instanceof Error) return new Error(`${full}: ${key.message}`);
    keys.push(key);
  }
  return keys;
}

/** The keys the user has by default: ~/.ssh/*.pub, then those the ssh-agent holds (deduplicated). */
export async function discoverUserKeys(home = homedir(), agentSocket = process.env.SSH_AUTH_SOCK): Promise<PublicKey[]> {
  const found = new Map<string, PublicKey>();
  const dir = join(home, '.ssh');
  let names: string[] = [];
  try {
    names = (await readdir(dir)).filter((n) => n.endsWith('.pub')).sort();
  } catch {
    names = [];
  }
  for (const name of names) {
    const keys = await readKeyFile(join(dir, name), dir, home);
    if (keys instanceof Error) continue; // a stray unreadable .pub is not the user's intent to fail
    for (const key of keys) if (!found.has(key.fingerprint)) found.set(key.fingerprint, key);
  }
  if (agentSocket) {
    for (const key of await agentKeys(agentSocket)) if (!found.has(key.fingerprint)) found.set(key.fingerprint, key);
  }
  return [...found.values()];
}

/** Keys from the ssh-agent at `socket`, within one second; none when it does not answer. */
async function agentKeys(socket: string): Promise<PublicKey[]> {
  const agent = new ssh2.OpenSSHAgent(socket);
  const identities = await new Promise<ssh2.ParsedKey[]>((done) => {
    const timer = setTimeout(() => done([]), 1000);
    agent.getIdentities((error, keys) => {
      clearTimeout(timer);
      done(error || !keys ? [] : (keys as ssh2.ParsedKey[]));
    });
  });
  return identities.map((key) => {
    const blob = key.getPublicSSH();
    return {
      type: key.type,
      line: `${key.type} ${blob.toString('base64')}${key.comment ? ` ${key.comment}` : ''}`,
      fingerprint: fingerprintOf(blob),
      source: 'ssh-agent',
    };
  });
}
