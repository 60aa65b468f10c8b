/**
 * The netns hosts helper itself: three hosts answer SSH with their planned host keys and their own
 * hostnames as the non-root user, reach each other, and leave nothing behind when stopped.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { afterAll, describe, expect, it } from 'vitest';
import ssh2 from 'ssh2';
import { generateKeyPair } from '../../src/state/secrets.js';
import { startNetnsHosts, type NetnsHost, type NetnsHosts } from './netns-hosts.js';

function keyBlob(publicLine: string): Buffer {
  return Buffer.from(publicLine.trim().split(/\s+/)[1] ?? '', 'base64');
}

/** Connect with the host key pinned, run one command, close; resolves on the client's `close`. */
function sshRun(host: NetnsHost, user: string, privateKey: string, hostKey: string, command: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const pinned = keyBlob(hostKey);
  return new Promise((resolve, reject) => {
    const client = new ssh2.Client();
    let result: { code: number | null; stdout: string; stderr: string } | undefined;
    let failure: Error | undefined;
    client.on('error', (error) => {
      failure ??= error;
      client.destroy();
    });
    client.on('close', () => (result && !failure ? resolve(result) : reject(failure ?? new Error(`${host.name}: connection closed early`))));
    client.on('ready', () => {
      client.exec(command, (error, stream) => {
        if (error) {
          failure = error;
          client.destroy();
          return;
        }
        let stdout = '';
        let stderr = '';
        let code: number | null = null;
        stream.on('data', (d: Buffer) => (stdout += d.toString()));
        stream.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        stream.on('exit', (c: number | null) => (code = c));
        stream.on('close', () => {
          result = { code, stdout, stderr };
          client.end();
        });
      });
    });
    client.connect({
      host: host.address,
      port: host.port,
      username: user,
      privateKey,
      readyTimeout: 10_000,
      hostVerifier: (key: Buffer) => key.equals(pinned),
    });
  });
}

/** Namespaces, links, /etc/netns entries and temp dirs of one start (`dct<id>…`, `dct-<id>-…`). */
const leftovers = (bridge: string) => {
  const id = bridge.slice('dct'.length);
  const netns = execFileSync('ip', ['netns', 'list']).toString().split('\n');
  const links = execFileSync('ip', ['-o', 'link']).toString().split('\n');
  const etc = existsSync('/etc/netns') ? readdirSync('/etc/netns') : [];
  const temp = readdirSync(tmpdir());
  return [...netns, ...links, ...etc, ...temp].filter((line) => line.includes(`dct${id}`) || line.includes(`dct-${id}-`));
};

let cluster: NetnsHosts | undefined;
afterAll(async () => {
  await cluster?.stop();
});

describe('netns hosts', () => {
  it('gives 3 hosts with their own host keys and hostnames that reach each other, and cleans up', async () => {
    const names = ['controller', 'compute1', 'compute2'];
    const hostKeys = Object.fromEntries(names.map((name) => [name, generateKeyPair(`host@${name}`)]));
    const userKey = generateKeyPair('user@test');

    const t0 = Date.now();
    cluster = await startNetnsHosts({ names, hostKeys, authorizedKeys: [userKey.public] });
    const startMs = Date.now() - t0;
    console.log(`netns hosts: ${names.length} hosts up in ${startMs} ms`);
    expect(cluster.user).toBe('dcstack');
    expect(cluster.hosts.map((h) => h.name)).toEqual(names);
    expect(new Set(cluster.hosts.map((h) => h.address)).size).toBe(3);
    const made = leftovers(cluster.bridge);
    expect(made.filter((line) => line.includes(cluster!.hosts[0]!.netns)).length).toBeGreaterThan(0);
    expect(made.some((line) => line.includes(`${cluster!.bridge}:`))).toBe(true);

    await Promise.all(
      cluster.hosts.map(async (host) => {
        const out = await sshRun(host, cluster!.user, userKey.private, hostKeys[host.name]!.public, 'hostname; id -un; echo "$HOME"; sudo -n id -u');
        expect(out.code, out.stderr).toBe(0);
        expect(out.stdout.trim().split('\n')).toEqual([host.name, 'dcstack', cluster!.home, '0']);
      }),
    );

    // A host key other than the planned one is refused.
    const [a, b] = cluster.hosts as [NetnsHost, NetnsHost];
    await expect(sshRun(a, cluster.user, userKey.private, hostKeys[b.name]!.public, 'true')).rejects.toThrow();

    // From inside A, B's sshd answers, by name and by address.
    const probe = (target: string) => `bash -c 'exec 3<>/dev/tcp/${target}/22 && head -c 7 <&3'`;
    const reach = await sshRun(a, cluster.user, userKey.private, hostKeys[a.name]!.public, `${probe(b.name)} && echo && ${probe(b.address)}`);
    expect(reach.code, reach.stderr).toBe(0);
    expect(reach.stdout).toBe('SSH-2.0\nSSH-2.0');

    await cluster.stop();
    await cluster.stop(); // idempotent
    expect(leftovers(cluster.bridge)).toEqual([]);
  }, 60_000);
});
