/**
 * `devcluster ssh` before it hands over to OpenSSH: the node must exist and run, and must show its
 * planned host key to devcluster's own client (a real sshd on loopback; the hypervisor is a double).
 * Only then are OpenSSH's arguments returned, with the pinned ssh_config written beside the state.
 */
import { chmod, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { parseConfigText, type LoadedConfig } from '../config/load.js';
import { quietCtx } from '../events.js';
import { readSecrets, generateKeyPair } from '../state/secrets.js';
import { stateDirFor, stateLayout } from '../state/layout.js';
import { startSshd, type TestSshd } from '../../test/support/sshd.js';
import { prepareSsh } from './ssh.js';

const hypervisor = { state: 'running', port: 0, closed: 0 };
vi.mock('../providers/index.js', () => ({
  createProvider: () => ({
    name: 'libvirt',
    listNodes: async (cluster: string) => [{ node: 'controller', cluster, role: 'controller', state: hypervisor.state, resource: `dc-${cluster}-controller` }],
    sshEndpoint: () => ({ host: '127.0.0.1', port: hypervisor.port }),
    close: async () => {
      hypervisor.closed += 1;
    },
  }),
}));

let loaded: LoadedConfig;
let sshd: TestSshd | undefined;
beforeEach(async () => {
  Object.assign(hypervisor, { state: 'running', port: 0, closed: 0 });
  const baseDir = await mkdtemp(join(tmpdir(), 'dc-ssh-'));
  // A user that exists on the test host and is not root (the plan refuses root as the stack user).
  loaded = await parseConfigText('name: sshx\nstack_user: { name: nobody }\nnodes: [{ name: controller, role: controller }]\n', {
    file: join(baseDir, 'devcluster.yaml'),
    baseDir,
    home: baseDir,
    agentSocket: undefined,
  });
});
afterEach(async () => {
  await sshd?.stop();
  sshd = undefined;
});

/** An sshd that shows `hostKey` and lets the cluster key in. */
async function node(hostKey: 'planned' | 'other'): Promise<void> {
  const secrets = (await readSecrets(stateDirFor(loaded.baseDir, 'sshx')))!;
  // sshd reads authorized keys as the user logging in: nobody gets a copy it can read.
  const keys = await mkdtemp(join(tmpdir(), 'dc-ssh-keys-'));
  await chmod(keys, 0o755);
  await writeFile(join(keys, 'authorized_keys'), `${secrets.cluster_key.public}\n`, { mode: 0o644 });
  const extra = ['Match User nobody', `  AuthorizedKeysFile ${join(keys, 'authorized_keys')}`];
  sshd = await startSshd(hostKey === 'planned' ? secrets.host_keys.controller! : generateKeyPair('impostor'), [secrets.cluster_key.public], '127.0.0.1', extra);
  hypervisor.port = sshd.port;
}

describe('prepareSsh', () => {
  it('a node the cluster does not have, or that is not running, is refused before any connection', async () => {
    await expect(prepareSsh(loaded, 'compute9', [], quietCtx())).rejects.toMatchObject({ code: 'NODE_NOT_FOUND', hint: 'nodes: controller' });
    hypervisor.state = 'stopped';
    await expect(prepareSsh(loaded, 'controller', [], quietCtx())).rejects.toMatchObject({ code: 'NODE_NOT_RUNNING', message: 'node controller of cluster sshx is stopped' });
    expect(hypervisor.closed).toBe(1);
  });

  it('with the planned host key: OpenSSH arguments for a shell (with a TTY) or a command, and the pinned files', async () => {
    await expect(prepareSsh(loaded, 'nosuch', [], quietCtx())).rejects.toThrow(); // makes the cluster's keys
    await node('planned');
    const layout = stateLayout(stateDirFor(loaded.baseDir, 'sshx'));
    expect(await prepareSsh(loaded, 'controller', [], quietCtx())).toEqual({ args: ['-F', layout.sshConfig, '-t', 'controller'] });
    expect(await prepareSsh(loaded, 'controller', ['hostname', '-f'], quietCtx())).toEqual({ args: ['-F', layout.sshConfig, 'controller', 'hostname', '-f'] });
    expect(await readFile(layout.sshConfig, 'utf8')).toContain('StrictHostKeyChecking yes');
    expect(hypervisor.closed).toBe(2);
  });

  it('a host showing another key is refused with both fingerprints, and no arguments are handed out', async () => {
    await expect(prepareSsh(loaded, 'nosuch', [], quietCtx())).rejects.toThrow();
    await node('other');
    const error = await prepareSsh(loaded, 'controller', [], quietCtx()).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'SSH_HOST_KEY_MISMATCH', details: [expect.stringMatching(/^expected SHA256:/), expect.stringMatching(/^offered {2}SHA256:/)] });
    expect(hypervisor.closed).toBe(1);
  });
});
