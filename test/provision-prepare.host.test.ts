/**
 * provision/prepare.sh for real on this host, in a private mount namespace (root) where the files it
 * edits (/etc/environment, /etc/apt/apt.conf.d) are bind-mounted temporary copies: it adds the
 * user's no_proxy to the one cloud-init wrote instead of replacing it. The rest of provision/:
 * provision-scripts.test.ts.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const DIR = resolve(import.meta.dirname, '..', 'provision');

describe('provision/ scripts', () => {
  it('prepare.sh adds the user\'s no_proxy to the one cloud-init wrote instead of replacing it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dc-prepare-'));
    const env = join(dir, 'environment');
    // What devcluster's cloud-init user-data appends (src/cloudinit/user-data.ts proxyEnvironment).
    writeFileSync(env, 'PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"\nhttp_proxy="http://proxy:3128/"\nno_proxy="localhost,127.0.0.1,::1,192.168.150.10,controller"\nNO_PROXY="localhost,127.0.0.1,::1,192.168.150.10,controller"\n');
    const apt = join(dir, 'apt.conf.d');
    execFileSync('mkdir', ['-p', apt, join(dir, 'bin'), join(dir, 'home')]);
    // cloud-init itself cannot run here (no boot of it to wait for): `status --wait` of a finished
    // boot prints "status: done" and exits 0 (cloudinit/cmd/status.py).
    writeFileSync(join(dir, 'bin', 'cloud-init'), '#!/bin/sh\necho "status: done"\n', { mode: 0o755 });
    const script = `mount --bind "$1" /etc/environment && mount --bind "$2" /etc/apt/apt.conf.d && PATH="$3:$PATH" HOME="$4" bash "$5" --http-proxy http://proxy:3128/ --no-proxy ".corp.example,127.0.0.1"`;
    const r = spawnSync('unshare', ['--mount', '--propagation', 'private', 'bash', '-c', script, 'x', env, apt, join(dir, 'bin'), join(dir, 'home'), join(DIR, 'prepare.sh')], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const lines = readFileSync(env, 'utf8').split('\n');
    const merged = 'localhost,127.0.0.1,::1,192.168.150.10,controller,.corp.example';
    expect(lines.filter((l) => /^no_proxy=/i.test(l))).toEqual([`no_proxy="${merged}"`, `NO_PROXY="${merged}"`]);
  });
});
