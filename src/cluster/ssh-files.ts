/**
 * The files that let ordinary tools reach the nodes with the pinned keys: known_hosts (each node's
 * planned host key under its address and names), the cluster's private key, and an OpenSSH config.
 * What they say comes from ssh/settings.ts; where they go, from state/layout.ts.
 */
import { atomicWrite } from '../fs/atomic-write.js';
import type { ClusterPlan } from '../plan/plan.js';
import { identityText, knownHostsText, sshConfigText, type OpenSshFiles } from '../ssh/settings.js';
import { stateLayout } from '../state/layout.js';

export type SshFiles = OpenSshFiles;
export { knownHostsText, sshConfigText };

export function sshFilePaths(stateDir: string): SshFiles {
  const layout = stateLayout(stateDir);
  return { knownHosts: layout.knownHosts, identity: layout.identity, config: layout.sshConfig };
}

export async function writeSshFiles(plan: ClusterPlan, stateDir: string): Promise<SshFiles> {
  const files = sshFilePaths(stateDir);
  await atomicWrite(files.knownHosts, knownHostsText(plan), 0o600);
  await atomicWrite(files.identity, identityText(plan), 0o600);
  await atomicWrite(files.config, sshConfigText(plan, files), 0o600);
  return files;
}
