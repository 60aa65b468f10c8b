/**
 * devstack.grenade: the branches a grenade run needs, validated with errors naming the field and the
 * fix; the plan carries them, and grenade's localrc (src/provision/grenade.ts) gets both.
 */
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { describe, expect, it } from 'vitest';
import { buildPlan } from '../plan/plan.js';
import { completeSecrets } from '../state/secrets.js';
import { grenadeLocalrc, stackLayout } from '../provision/grenade.js';
import { ConfigError, parseConfigText } from './load.js';
import { formatPath } from './issue.js';

const ctx = { file: 'devcluster.yaml', baseDir: tmpdir(), home: tmpdir(), agentSocket: undefined };

async function issuesOf(text: string): Promise<string[]> {
  try {
    await parseConfigText(text, ctx);
  } catch (error) {
    if (error instanceof ConfigError) return error.issues.map((i) => `${formatPath(i.path)}: ${i.message}`);
    throw error;
  }
  return [];
}

async function planOf(text: string) {
  const loaded = await parseConfigText(text, ctx);
  return buildPlan(loaded.config, loaded.userKeys, completeSecrets(loaded.config.name, loaded.config.nodes.map((n) => n.name)));
}

describe('devstack.grenade in the config', () => {
  it('grenade mode without from_branch is refused, naming the field, an example, and why grenade\'s default will not do', async () => {
    const issues = await issuesOf('devstack:\n  mode: grenade\n');
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatch(/^devstack\.grenade\.from_branch: grenade mode needs devstack\.grenade\.from_branch.*e\.g\. stable\/2025\.2.*stable\/train, no longer exists/);
  });

  it('the same branch twice, a backwards upgrade, a bad branch name and a local DevStack tree are each refused', async () => {
    expect(await issuesOf('devstack:\n  mode: grenade\n  branch: stable/2025.2\n  grenade: { from_branch: stable/2025.2 }\n')).toEqual([
      expect.stringMatching(/^devstack\.grenade\.from_branch: from_branch and the branch to upgrade to are both stable\/2025\.2/),
    ]);
    expect(await issuesOf('devstack:\n  mode: grenade\n  grenade: { from_branch: master, to_branch: stable/2025.2 }\n')).toEqual([
      expect.stringMatching(/^devstack\.grenade\.to_branch: grenade upgrades forwards: stable\/2025\.2 is older than from_branch master; swap them/),
    ]);
    expect(await issuesOf('devstack:\n  mode: grenade\n  grenade: { from_branch: stable/2026.1 }\n  branch: stable/2025.2\n')).toEqual([
      expect.stringMatching(/^devstack\.branch: grenade upgrades forwards/),
    ]);
    expect(await issuesOf('devstack:\n  mode: grenade\n  grenade: { from_branch: "stable/2025.2 ; rm -rf /" }\n')).toEqual([
      expect.stringMatching(/^devstack\.grenade\.from_branch: from_branch must be a git branch or tag name/),
    ]);
    expect(await issuesOf('devstack:\n  mode: grenade\n  repo: ./devstack\n  grenade: { from_branch: stable/2025.2 }\n')).toEqual(
      expect.arrayContaining([expect.stringMatching(/^devstack\.repo: grenade mode clones DevStack at stable\/2025\.2 and at master on the nodes, so devstack\.repo must be a git URL/)]),
    );
  });

  it('devstack.grenade without grenade mode is refused rather than ignored', async () => {
    expect(await issuesOf('devstack:\n  grenade: { from_branch: stable/2025.2 }\n')).toEqual([
      'devstack.grenade: devstack.grenade is only used with devstack.mode: grenade: set the mode, or remove devstack.grenade',
    ]);
  });

  it('a valid config stacks the from-branch in /opt/stack/old; grenade\'s localrc, sourced by bash, carries both branches', async () => {
    const plan = await planOf('devstack:\n  mode: grenade\n  grenade:\n    from_branch: stable/2025.2\n    localrc: { BASE_RUN_SMOKE: "False" }\n');
    expect(plan.devstack.grenade).toEqual({ from: 'stable/2025.2', to: 'master', repo: 'https://opendev.org/openstack/grenade', localrc: { BASE_RUN_SMOKE: 'False' } });
    expect(stackLayout(plan)).toEqual({ dest: '/opt/stack/old', devstackDir: '/opt/stack/old/devstack', branch: 'stable/2025.2' });
    const localrc = grenadeLocalrc(plan.devstack.grenade as NonNullable<typeof plan.devstack.grenade>);
    const names = ['BASE_DEVSTACK_DIR', 'BASE_DEVSTACK_BRANCH', 'TARGET_DEVSTACK_DIR', 'TARGET_DEVSTACK_BRANCH', 'SAVE_DIR', 'BASE_RUN_SMOKE'];
    const out = execFileSync('bash', ['-c', `${localrc}\n${names.map((n) => `echo "${n}=\${${n}}"`).join('\n')}`], { encoding: 'utf8' });
    expect(out.trim().split('\n')).toEqual([
      'BASE_DEVSTACK_DIR=/opt/stack/old/devstack',
      'BASE_DEVSTACK_BRANCH=stable/2025.2',
      'TARGET_DEVSTACK_DIR=/opt/stack/new/devstack',
      'TARGET_DEVSTACK_BRANCH=master',
      'SAVE_DIR=/opt/stack/save',
      'BASE_RUN_SMOKE=False',
    ]);
    const devstackMode = await planOf('devstack:\n  branch: stable/2025.2\n');
    expect(stackLayout(devstackMode)).toEqual({ dest: '/opt/stack', devstackDir: '/opt/stack/devstack', branch: 'stable/2025.2' });
  });
});
