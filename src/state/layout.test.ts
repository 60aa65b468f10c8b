/** The state folder's layout: the paths users and scripts already rely on. */
import { describe, expect, it } from 'vitest';
import { stateDirFor, stateLayout, stepLogFile } from './layout.js';

describe('state layout', () => {
  it('puts every file of cluster dev under .devcluster/dev beside the config', () => {
    const dir = stateDirFor('/work/project', 'dev');
    expect(dir).toBe('/work/project/.devcluster/dev');
    expect(stateLayout(dir)).toEqual({
      dir,
      secrets: `${dir}/secrets.json`,
      lock: `${dir}/lock`,
      provision: `${dir}/provision.json`,
      logs: `${dir}/logs`,
      knownHosts: `${dir}/known_hosts`,
      identity: `${dir}/id_ed25519`,
      sshConfig: `${dir}/ssh_config`,
      snapshots: `${dir}/snapshots`,
    });
    expect(stepLogFile(dir, 'compute1', 'stack')).toBe(`${dir}/logs/compute1/stack.log`);
  });

  it('resolves a relative config folder', () => {
    expect(stateDirFor('.', 'x')).toBe(`${process.cwd()}/.devcluster/x`);
  });
});
