/**
 * The files that let ordinary tools reach the nodes with the pinned keys: known_hosts (each node's
 * planned host key under its address and names), the cluster's private key, and an OpenSSH config.
 */
import { atomicWrite } from '../fs/atomic-write.js';
import type { ClusterPlan } from '../plan/plan.js';
import { stateLayout } from '../state/layout.js';

export interface SshFiles {
  knownHosts: string;
  identity: string;
  config: string;
}

export function sshFilePaths(stateDir: string): SshFiles {
  const layout = stateLayout(stateDir);
  return { knownHosts: layout.knownHosts, identity: layout.identity, config: layout.sshConfig };
}

export function knownHostsText(plan: ClusterPlan): string {
  return plan.nodes.map((n) => `${[n.ip, n.hostname, n.shortHostname].join(',')} ${n.hostKey.public.split(' ').slice(0, 2).join(' ')}\n`).join('');
}

/** `Host` blocks; values are quoted so paths with spaces work. */
export function sshConfigText(plan: ClusterPlan, files: SshFiles): string {
  const q = (v: string) => `"${v.replace(/(["\\])/g, '\\$1')}"`;
  return plan.nodes
    .map((n) =>
      [
        `Host ${n.name} ${plan.name}-${n.name}`,
        `  HostName ${n.ip}`,
        `  User ${plan.stackUser.name}`,
        `  IdentityFile ${q(files.identity)}`,
        '  IdentitiesOnly yes',
        `  UserKnownHostsFile ${q(files.knownHosts)}`,
        '  StrictHostKeyChecking yes',
        `  HostKeyAlias ${n.ip}`,
        '  LogLevel ERROR',
        '',
      ].join('\n'),
    )
    .join('\n');
}

export async function writeSshFiles(plan: ClusterPlan, stateDir: string): Promise<SshFiles> {
  const files = sshFilePaths(stateDir);
  await atomicWrite(files.knownHosts, knownHostsText(plan), 0o600);
  await atomicWrite(files.identity, plan.clusterKey.private.endsWith('\n') ? plan.clusterKey.private : `${plan.clusterKey.private}\n`, 0o600);
  await atomicWrite(files.config, sshConfigText(plan, files), 0o600);
  return files;
}
