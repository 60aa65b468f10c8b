/**
 * The shape of devstack.grenade in devcluster.yaml (see grenade.ts for what it means and the rules
 * that relate it to the rest of the config): the branches as the gate's grenade jobs carry them
 * (grenade_from_branch, grenade_to_branch), where grenade comes from, extra localrc lines.
 */
import { z } from 'zod';

export const GRENADE_REPO = 'https://opendev.org/openstack/grenade';

/** A git branch or tag name as `git check-ref-format --branch` accepts it (the common cases). */
const BRANCH = /^(?!-)(?!.*\.\.)(?!.*\/\/)(?!.*@\{)(?!\/)(?!.*\/$)(?!.*\.lock(?:\/|$))(?!(?:.*\/)?\.)[^\s~^:?*[\\\p{Cc}]+(?<!\.)$/u;
const branchName = (what: string) =>
  z.string({ error: `${what} must be a branch name such as stable/2025.2` }).regex(BRANCH, { error: `${what} must be a git branch or tag name such as stable/2025.2 or master` });

export const grenadeSchema = z.strictObject({
  from_branch: branchName('from_branch')
    .describe('The branch stacked first, in /opt/stack/old on every node (the gate: grenade_from_branch), e.g. stable/2025.2')
    .optional(),
  to_branch: branchName('to_branch').describe('The branch grenade upgrades the controller to. Unset: devstack.branch.').optional(),
  repo: z.string().min(1).default(GRENADE_REPO).describe('Where grenade is cloned from (at to_branch), a git URL'),
  localrc: z
    .record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { error: 'must be a shell variable name such as TEMPEST_CONCURRENCY' }), z.string())
    .default({})
    .describe("Extra lines for grenade's localrc (the gate's grenade_localrc), e.g. BASE_RUN_SMOKE: 'False'"),
});
