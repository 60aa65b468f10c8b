/**
 * devstack.grenade in devcluster.yaml: the branch to upgrade from and the branch to upgrade to, as
 * the gate's grenade jobs carry them (grenade roles/configure-grenade-branches: grenade_from_branch,
 * grenade_to_branch), where grenade comes from, and extra lines for grenade's localrc (the gate's
 * grenade_localrc, written by roles/write-grenade-conf/templates/localrc.j2): the rules relating it to
 * devstack.mode, devstack.branch and devstack.repo (grenadeIssues); its shape is in grenade-schema.ts.
 */
import type { ConfigIssue } from './issue.js';
import type { Config } from './schema.js';

export { GRENADE_REPO, grenadeSchema } from './grenade-schema.js';

/** Where a branch sits in OpenStack's release order: master last, stable/2025.2 by its series; unknown names undefined. */
function seriesOrder(branch: string): number | undefined {
  if (branch === 'master') return Number.POSITIVE_INFINITY;
  const series = /^(?:stable|unmaintained)\/(\d{4})\.(\d)$/.exec(branch);
  return series ? Number(series[1]) * 10 + Number(series[2]) : undefined;
}

export interface GrenadeBranches {
  from: string;
  to: string;
}

/** The two branches of a valid grenade config (to_branch defaults to devstack.branch). */
export function grenadeBranches(config: Config): GrenadeBranches | undefined {
  const g = config.devstack.grenade;
  if (config.devstack.mode !== 'grenade' || g?.from_branch === undefined) return undefined;
  return { from: g.from_branch, to: g.to_branch ?? config.devstack.branch };
}

/** Rules relating devstack.grenade to the rest of devstack: run once the shape is valid. */
export function grenadeIssues(config: Config, isLocalPath: (value: string) => boolean): ConfigIssue[] {
  const ds = config.devstack;
  const path = ['devstack', 'grenade'];
  if (ds.mode !== 'grenade') {
    return ds.grenade === undefined ? [] : [{ path, message: 'devstack.grenade is only used with devstack.mode: grenade: set the mode, or remove devstack.grenade' }];
  }
  const issues: ConfigIssue[] = [];
  if (ds.grenade?.from_branch === undefined) {
    issues.push({
      path: [...path, 'from_branch'],
      message: 'grenade mode needs devstack.grenade.from_branch, the branch to upgrade from (stacked in /opt/stack/old on every node), e.g. stable/2025.2; grenade\'s own default, stable/train, no longer exists',
    });
    return issues;
  }
  const from = ds.grenade.from_branch;
  const to = ds.grenade.to_branch ?? ds.branch;
  const toPath = ds.grenade.to_branch === undefined ? ['devstack', 'branch'] : [...path, 'to_branch'];
  if (from === to) {
    issues.push({ path: [...path, 'from_branch'], message: `from_branch and the branch to upgrade to are both ${from}: grenade upgrades from an older branch, e.g. from_branch: stable/2025.2 to master` });
  } else {
    const a = seriesOrder(from);
    const b = seriesOrder(to);
    if (a !== undefined && b !== undefined && a > b) {
      issues.push({ path: toPath, message: `grenade upgrades forwards: ${to} is older than from_branch ${from}; swap them` });
    }
  }
  if (isLocalPath(ds.repo)) {
    issues.push({
      path: ['devstack', 'repo'],
      message: `grenade mode clones DevStack at ${from} and at ${to} on the nodes, so devstack.repo must be a git URL, not the local tree ${ds.repo}`,
    });
  }
  if (isLocalPath(ds.grenade.repo)) {
    issues.push({ path: [...path, 'repo'], message: `devstack.grenade.repo must be a git URL (the controller clones it at ${to}), not the local path ${ds.grenade.repo}` });
  }
  return issues;
}
