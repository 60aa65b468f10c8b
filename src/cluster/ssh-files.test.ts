/** The ssh_config and known_hosts devcluster writes, used by the real OpenSSH client against a real sshd. */
import { spawnSync } from 'node:child_process';
import { mkdtemp, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../config/load.js';
import { buildPlan } from '../plan/plan.js';
import { completeSecrets, generateKeyPair } from '../state/secrets.js';
import { startSshd } from '../../test/support/sshd.js';
import { writeSshFiles } from './ssh-files.js';

describe('ssh-config files', () => {
  it('let plain `ssh -F` reach a node with the pinned key, and refuse a host showing another key', async () => {
    const loaded = await parseConfigText('network: { cidr: 127.0.0.0/24 }\nnodes: [{ name: controller, role: controller, ip: 127.0.0.10 }]\n', {
      file: 'x', baseDir: tmpdir(), home: tmpdir(), agentSocket: undefined,
    });
    const secrets = completeSecrets('dev', ['controller']);
    const plan = buildPlan(loaded.config, [], secrets);
    const stateDir = join(await mkdtemp(join(tmpdir(), 'dc state "dir" ')), 'dev');
    const files = await writeSshFiles(plan, stateDir);
    for (const file of Object.values(files)) expect((await stat(file)).mode & 0o777).toBe(0o600);

    const sshd = await startSshd(secrets.host_keys.controller!, [plan.clusterKey.public], '127.0.0.10');
    const ssh = (port: number) => spawnSync('ssh', ['-F', files.config, '-o', 'BatchMode=yes', '-o', `User=${sshd.user}`, '-p', String(port), 'controller', 'echo', 'pinned-ok'], { encoding: 'utf8' });
    try {
      const ok = ssh(sshd.port);
      expect(ok.stderr).toBe('');
      expect(ok.stdout.trim()).toBe('pinned-ok');
    } finally {
      await sshd.stop();
    }
    const impostor = await startSshd(generateKeyPair('impostor'), [plan.clusterKey.public], '127.0.0.10');
    try {
      const refused = ssh(impostor.port);
      expect(refused.status).toBe(255);
      expect(refused.stdout).toBe('');
      expect(refused.stderr).toMatch(/REMOTE HOST IDENTIFICATION HAS CHANGED|Host key verification failed/);
    } finally {
      await impostor.stop();
    }
  });
});
