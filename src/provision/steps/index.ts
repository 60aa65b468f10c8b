/**
 * DevStack across the nodes, in the gate's order (orchestrate-devstack). PIPELINE below is the one
 * list of the order: the engine's stages, the step names (provision.json, logs, `provision --from`
 * and its help) all come from it. Each step is a file beside this one, with its targets and whether
 * it runs on them at once:
 *   prepare, devstack, local-conf          every node, in parallel
 *   stack                                  the controller
 *   tls-ca                                 the computes (only with tls-proxy): the controller's CA first
 *   stack                                  the computes, in parallel
 *   discover                               the controller: tools/discover_hosts.sh, output checked
 *   images, keypairs, security-groups      the controller: post-stack, each idempotent
 *   grenade                                the controller (grenade mode: src/provision/grenade.ts; the
 *                                          steps above then stack the from-branch in /opt/stack/old)
 * Scripts come from provision/ (uploaded once per run); secrets only ever travel as files over SFTP.
 */
import type { Ctx } from '../../events.js';
import type { ClusterPlan } from '../../plan/plan.js';
import type { NodeSession } from '../../ssh/session.js';
import type { Stage } from '../engine.js';
import { stackLayout } from '../grenade.js';
import { devstack } from './devstack.js';
import { discover } from './discover.js';
import { grenade } from './grenade.js';
import { images } from './images.js';
import { keypairs } from './keypairs.js';
import { localConf } from './local-conf.js';
import { prepare } from './prepare.js';
import { RunCache } from './run-cache.js';
import { securityGroups } from './security-groups.js';
import { stackComputes, stackController } from './stack.js';
import type { HostContext, ProvisionNode, StepDef, StepEnv } from './step.js';
import { tlsCa } from './tls-ca.js';

export { glanceName } from './images.js';
export { keypairArgs } from './keypairs.js';
export { ruleArg, rulesArgs } from './security-groups.js';
export { SCRIPTS_DIR, type HostContext, type ProvisionNode } from './step.js';

/** The steps in the order they run; a name may come twice (stack: the controller, later the computes). */
export const PIPELINE = [prepare, devstack, localConf, stackController, tlsCa, stackComputes, discover, images, keypairs, securityGroups, grenade] as const;

export type StepName = (typeof PIPELINE)[number]['name'];

/** Every step name, once, in order. */
export const STEPS: readonly StepName[] = [...new Set(PIPELINE.map((s) => s.name))];

export interface DevstackStages {
  stages: Stage<ProvisionNode>[];
  dispose: () => Promise<void>;
}

/** This cluster's stages: PIPELINE's enabled steps on their target nodes; every step first makes sure the scripts are on the node. */
export function devstackStages(plan: ClusterPlan, host: HostContext, sessionFor: (node: string, ctx: Ctx) => Promise<NodeSession>): DevstackStages {
  const cache = new RunCache();
  const nodes: ProvisionNode[] = plan.nodes.map((n) => ({ ...n, id: n.hostKey.fingerprint }));
  const controller = nodes.find((n) => n.name === plan.controller) as ProvisionNode;
  const computes = nodes.filter((n) => n.role === 'compute');
  const env: StepEnv = { plan, host, cache, controller, computes, layout: stackLayout(plan), sessionFor };
  const targets = { all: nodes, controller: [controller], computes };
  const stages = (PIPELINE as readonly StepDef[])
    .filter((def) => def.enabled?.(plan) ?? true)
    .map(
      (def): Stage<ProvisionNode> => ({
        step: def.name,
        nodes: targets[def.targets],
        parallel: def.parallel,
        run: async (r) => {
          await cache.scriptsOn(r.session, r.ctx.signal);
          await def.run(r, env);
        },
      }),
    );
  return { stages, dispose: () => cache.dispose() };
}
