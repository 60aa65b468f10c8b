/**
 * What only devcluster knows about a cluster: its own SSH key pair, each node's SSH host key pair
 * (generated before boot so the fingerprint can be pinned), and the random service passwords —
 * every value DevStack's stack.sh would otherwise prompt for (`read_password`, master stack.sh
 * 710-763): the four service passwords, SWIFT_HASH, SWIFT_TEMPURL_KEY and LDAP_PASSWORD.
 * Kept in `.devcluster/<name>/secrets.json` beside the config, folder 0700, file 0600.
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, stat } from 'node:fs/promises';
import ssh2 from 'ssh2';
import { z } from 'zod';
import { DevclusterError } from '../errors.js';
import { atomicWrite } from '../fs/atomic-write.js';
import { stateDirFor, stateLayout } from './layout.js';

const keyPair = z.object({ private: z.string().min(1), public: z.string().min(1) });
export type KeyPair = z.infer<typeof keyPair>;

/** The passwords a user may also set in devstack.passwords. */
export const USER_PASSWORD_NAMES = ['admin', 'service', 'database', 'rabbit'] as const;
/**
 * Every generated secret DevStack reads: the user's four, then SWIFT_HASH (swift_hash_path_suffix,
 * must never change for a cluster), SWIFT_TEMPURL_KEY and LDAP_PASSWORD. Files written before the
 * last three existed get them added on the next run.
 */
export const PASSWORD_NAMES = [...USER_PASSWORD_NAMES, 'swift_hash', 'swift_tempurl_key', 'ldap'] as const;
export type PasswordName = (typeof PASSWORD_NAMES)[number];
const ADDED_LATER = ['swift_hash', 'swift_tempurl_key', 'ldap'] as const;

const secretsSchema = z.object({
  version: z.literal(1),
  cluster_key: keyPair,
  host_keys: z.record(z.string(), keyPair),
  passwords: z.object({
    admin: z.string(),
    service: z.string(),
    database: z.string(),
    rabbit: z.string(),
    swift_hash: z.string().optional(),
    swift_tempurl_key: z.string().optional(),
    ldap: z.string().optional(),
  }),
});
export type StoredSecrets = z.infer<typeof secretsSchema>;
export type Secrets = Omit<StoredSecrets, 'passwords'> & { passwords: Record<PasswordName, string> };

/** Kept here for modules that still import it from state/secrets; it lives in layout.ts. */
export { stateDirFor };

export function secretsFile(stateDir: string): string {
  return stateLayout(stateDir).secrets;
}

/** 24 characters from [A-Za-z0-9]: safe in local.conf, shells and URLs without quoting surprises. */
export function randomPassword(length = 24): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  let out = '';
  while (out.length < length) {
    for (const byte of randomBytes(length * 2)) {
      if (byte < 248 && out.length < length) out += alphabet[byte % 62];
    }
  }
  return out;
}

/**
 * A fresh ed25519 key pair in OpenSSH format.
 * ssh2 strips leading zero bytes from the 32-byte public key, so about one pair in 256 is malformed
 * (OpenSSH: `Load key …: error in libcrypto`; mscdex/ssh2#1390, #1513, open). Such a pair is drawn again.
 */
export function generateKeyPair(comment: string): KeyPair {
  for (;;) {
    const pair = ssh2.utils.generateKeyPairSync('ed25519', { comment });
    if (ed25519PublicLength(pair.public) === 32) return { private: pair.private, public: pair.public.trim() };
  }
}

/** Length of the raw key inside an `ssh-ed25519 AAAA…` line (32 when well formed). */
function ed25519PublicLength(line: string): number {
  const blob = Buffer.from(line.trim().split(/\s+/)[1] ?? '', 'base64');
  const typeLength = blob.length >= 4 ? blob.readUInt32BE(0) : 0;
  const at = 4 + typeLength;
  return blob.length >= at + 4 ? blob.readUInt32BE(at) : -1;
}

/**
 * Secrets for `nodes`, keeping everything `existing` has and generating only what is missing.
 * Host keys of nodes no longer in the config are kept too, so a node put back keeps its identity.
 */
export function completeSecrets(cluster: string, nodes: readonly string[], existing?: StoredSecrets): Secrets {
  const hostKeys = { ...(existing?.host_keys ?? {}) };
  for (const node of nodes) hostKeys[node] ??= generateKeyPair(`dc-${cluster}-${node} host key`);
  const passwords = Object.fromEntries(PASSWORD_NAMES.map((name) => [name, existing?.passwords[name] ?? randomPassword()]));
  return {
    version: 1,
    cluster_key: existing?.cluster_key ?? generateKeyPair(`devcluster-${cluster}`),
    host_keys: hostKeys,
    passwords: passwords as Record<PasswordName, string>,
  };
}

/** The stored secrets, or undefined when this cluster has none yet. Tightens a too-open mode to 0600. */
export async function readSecrets(stateDir: string): Promise<StoredSecrets | undefined> {
  const file = secretsFile(stateDir);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new DevclusterError('STATE_INVALID', `cannot read ${file}`, { cause: error, hint: 'check its owner and permissions' });
  }
  if (((await stat(file)).mode & 0o077) !== 0) await chmod(file, 0o600);
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw new DevclusterError('STATE_INVALID', `${file} is not valid JSON`, {
      cause: error,
      hint: `restore it from a backup; if the cluster is gone, delete ${stateDir} to start afresh`,
    });
  }
  const parsed = secretsSchema.safeParse(data);
  if (!parsed.success) {
    throw new DevclusterError('STATE_INVALID', `${file} does not hold devcluster secrets (${parsed.error.issues[0]?.message})`, {
      hint: `restore it from a backup; if the cluster is gone, delete ${stateDir} to start afresh`,
    });
  }
  return parsed.data;
}

/** Whether `stored` lacks anything `nodes` need (no file, a node's host key, a secret added later). */
export function secretsIncomplete(stored: StoredSecrets | undefined, nodes: readonly string[]): boolean {
  if (stored === undefined) return true;
  return nodes.some((n) => stored.host_keys[n] === undefined) || ADDED_LATER.some((name) => stored.passwords[name] === undefined);
}

/** Read the secrets, add what `nodes` need, and write them back if anything was added. */
export async function ensureSecrets(stateDir: string, cluster: string, nodes: readonly string[]): Promise<Secrets> {
  const existing = await readSecrets(stateDir);
  const complete = completeSecrets(cluster, nodes, existing);
  if (secretsIncomplete(existing, nodes)) {
    await mkdir(stateDir, { recursive: true, mode: 0o700 });
    await chmod(stateDir, 0o700);
    await atomicWrite(secretsFile(stateDir), `${JSON.stringify(complete, null, 2)}\n`, 0o600);
  }
  return complete;
}
