/**
 * The state folder of a cluster, `.devcluster/<cluster>/` beside its config (folder 0700), and every
 * file in it: secrets.json (keys and passwords), lock (one operation at a time), provision.json (steps
 * done), logs/<node>/<step>.log (each step's output), and the files for plain OpenSSH: known_hosts,
 * id_ed25519 (the cluster key) and ssh_config; snapshots/NAME.json (what each cluster snapshot was taken of). Every other module asks here for a path.
 */
import { join, resolve } from 'node:path';

/** The folder every cluster's state folder sits in, under the config's folder. */
export const STATE_ROOT = '.devcluster';

export interface StateLayout {
  /** The cluster's state folder. */
  dir: string;
  secrets: string;
  lock: string;
  provision: string;
  /** Where step logs go, one folder per node. */
  logs: string;
  knownHosts: string;
  /** The cluster's private key, for `ssh -F`. */
  identity: string;
  sshConfig: string;
  /** One record per cluster snapshot: snapshots/NAME.json. */
  snapshots: string;
}

export function stateDirFor(baseDir: string, cluster: string): string {
  return resolve(baseDir, STATE_ROOT, cluster);
}

/** The paths inside a state folder. */
export function stateLayout(stateDir: string): StateLayout {
  return {
    dir: stateDir,
    secrets: join(stateDir, 'secrets.json'),
    lock: join(stateDir, 'lock'),
    provision: join(stateDir, 'provision.json'),
    logs: join(stateDir, 'logs'),
    knownHosts: join(stateDir, 'known_hosts'),
    identity: join(stateDir, 'id_ed25519'),
    sshConfig: join(stateDir, 'ssh_config'),
    snapshots: join(stateDir, 'snapshots'),
  };
}

/** The log of one step on one node. */
export function stepLogFile(stateDir: string, node: string, step: string): string {
  return join(stateLayout(stateDir).logs, node, `${step}.log`);
}
