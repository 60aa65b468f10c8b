/** The one list of steps: the names and order users see, and each cluster's stages on their nodes. */
import { tmpdir } from 'node:os';
import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../../config/load.js';
import { buildPlan, type ClusterPlan } from '../../plan/plan.js';
import { completeSecrets } from '../../state/secrets.js';
import { devstackStages, STEPS } from './index.js';
import type { HostContext } from './step.js';

const host: HostContext = { baseDir: tmpdir(), home: tmpdir(), nestedVirt: false, stackTimeoutMs: 1000, cloneTimeoutMs: 1000 };

async function planOf(extra: string): Promise<ClusterPlan> {
  const yaml = ['name: steps', 'nodes:', '  - { name: ctl, role: controller }', '  - { name: c1, role: compute }', '  - { name: c2, role: compute }', extra, ''].join('\n');
  const loaded = await parseConfigText(yaml, { file: 'devcluster.yaml', baseDir: tmpdir(), home: tmpdir(), agentSocket: undefined });
  return buildPlan(loaded.config, loaded.userKeys, completeSecrets(loaded.config.name, loaded.config.nodes.map((n) => n.name)));
}

/** `step@node,node` per stage, `|` between nodes run at once, `>` one after the other. */
function stagesOf(plan: ClusterPlan): string[] {
  const { stages } = devstackStages(plan, host, () => Promise.reject(new Error('no session in this test')));
  return stages.map((s) => `${s.step}@${s.nodes.map((n) => n.name).join(s.parallel ? '|' : '>')}`);
}

describe('provisioning steps', () => {
  it('names every step once, in the order they run (provision.json, logs, `provision --from`)', () => {
    expect(STEPS).toEqual(['prepare', 'devstack', 'local-conf', 'stack', 'tls-ca', 'discover', 'images', 'keypairs', 'security-groups', 'grenade']);
  });

  it('a plain cluster: node preparation everywhere at once, the controller stacks first, then the computes together, then the controller alone', async () => {
    expect(stagesOf(await planOf(''))).toEqual([
      'prepare@ctl|c1|c2',
      'devstack@ctl|c1|c2',
      'local-conf@ctl|c1|c2',
      'stack@ctl',
      'stack@c1|c2',
      'discover@ctl',
      'images@ctl',
      'keypairs@ctl',
      'security-groups@ctl',
    ]);
  });

  it("with tls-proxy the computes get the controller's CA after it stacked and before they stack", async () => {
    const stages = stagesOf(await planOf('devstack:\n  services: { enable: [tls-proxy] }'));
    expect(stages.slice(3, 6)).toEqual(['stack@ctl', 'tls-ca@c1|c2', 'stack@c1|c2']);
  });

  it('in grenade mode the grenade step comes last, on the controller', async () => {
    const stages = stagesOf(await planOf('devstack:\n  mode: grenade\n  branch: master\n  grenade:\n    from_branch: stable/2025.2'));
    expect(stages.at(-1)).toBe('grenade@ctl');
    expect(stages.filter((s) => s.startsWith('grenade'))).toHaveLength(1);
  });
});
