/**
 * How devcluster reaches a node over SSH, in one place: as the plan's stack user, with the cluster's
 * own key, accepting only the node's planned host key, within these budgets. The session pool (`up`,
 * `provision`, `devcluster ssh`'s check) connects with `nodeTarget`; `ssh-config` and `devcluster ssh`
 * hand the same settings to OpenSSH as `Host` blocks and a known_hosts file.
 */
import type { ClusterPlan, NodePlan } from '../plan/plan.js';

export interface SshTarget {
  /** Node name, for messages. */
  label: string;
  host: string;
  port: number;
  username: string;
  privateKey: string;
  /** The pinned host key as an OpenSSH public key line ("ssh-ed25519 AAAA… comment"). */
  hostKey: string;
}

export const SSH_TIMING = {
  /** One attempt's TCP connect + handshake (ssh2 readyTimeout). */
  readyTimeoutMs: 20_000,
  /** Keepalives on a live connection: a node gone quiet for interval × count is dropped. */
  keepaliveIntervalMs: 15_000,
  keepaliveCountMax: 4,
  /** Pause between attempts while a node boots. */
  retryDelayMs: 2000,
  /** How long to keep trying to reach a node that is already up (provisioning). */
  reachBudgetMs: 120_000,
  /** `devcluster ssh` checks the pin with its own client first, within this budget. */
  probeBudgetMs: 30_000,
} as const;

/** Where the hypervisor makes a node's SSH reachable from this host. */
export interface Endpoint {
  host: string;
  port: number;
}

/** The connection to one node at `endpoint`: user, key and pinned host key from the plan. */
export function nodeTarget(plan: ClusterPlan, node: NodePlan, endpoint: Endpoint): SshTarget & { node: string } {
  return {
    node: node.name,
    label: node.name,
    host: endpoint.host,
    port: endpoint.port,
    username: plan.stackUser.name,
    privateKey: plan.clusterKey.private,
    hostKey: node.hostKey.public,
  };
}

/** Paths of the files OpenSSH reads the settings from. */
export interface OpenSshFiles {
  knownHosts: string;
  identity: string;
  config: string;
}

/** Each node's planned host key under its address and names, as OpenSSH's known_hosts has it. */
export function knownHostsText(plan: ClusterPlan): string {
  return plan.nodes.map((n) => `${[n.ip, n.hostname, n.shortHostname].join(',')} ${n.hostKey.public.split(' ').slice(0, 2).join(' ')}\n`).join('');
}

/** `Host` blocks (NODE and CLUSTER-NODE); values are quoted so paths with spaces work. */
export function sshConfigText(plan: ClusterPlan, files: OpenSshFiles): string {
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

/** The private key file's text (OpenSSH wants the final newline). */
export function identityText(plan: ClusterPlan): string {
  return plan.clusterKey.private.endsWith('\n') ? plan.clusterKey.private : `${plan.clusterKey.private}\n`;
}

/** OpenSSH's arguments for a shell on `node` (a TTY) or for running `command` there. */
export function openSshArgs(files: OpenSshFiles, node: string, command: readonly string[]): string[] {
  return ['-F', files.config, ...(command.length === 0 ? ['-t'] : []), node, ...command];
}
