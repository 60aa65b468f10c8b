/**
 * Provisioning a running cluster: DevStack's stages (steps/) through the engine (engine.ts) over
 * one pooled SSH session per node. Used by `up` after the nodes are ready and by `provision`.
 */
import type { Ctx } from '../events.js';
import type { ClusterPlan } from '../plan/plan.js';
import type { Provider } from '../providers/provider.js';
import type { SessionPool } from '../ssh/session.js';
import { nodeTarget, SSH_TIMING } from '../ssh/settings.js';
import { runStages, type EngineResult } from './engine.js';
import { devstackStages, type HostContext } from './steps/index.js';

export interface ProvisionOptions {
  ctx: Ctx;
  stateDir: string;
  provider: Provider;
  pool: SessionPool;
  host: HostContext;
  from?: string;
  only?: string;
}

/**
 * Every value to mask in logs and on the terminal: passwords and proxy credentials. (Private keys are
 * never sent as text a command could print, and masking works line by line, so they are not listed.)
 */
export function secretsOf(plan: ClusterPlan): string[] {
  const secrets = [...Object.values(plan.devstack.passwords)];
  for (const url of [plan.proxy.http, plan.proxy.https]) {
    if (!url) continue;
    try {
      const password = decodeURIComponent(new URL(url).password);
      if (password) secrets.push(password, new URL(url).password);
    } catch {
      // not a URL: nothing to hide
    }
  }
  return secrets.filter((s) => s.length >= 4);
}

export async function provisionCluster(plan: ClusterPlan, options: ProvisionOptions): Promise<EngineResult> {
  const sessionFor = async (name: string, ctx: Ctx) => {
    const node = plan.nodes.find((n) => n.name === name);
    if (!node) throw new TypeError(`no node ${name}`);
    return options.pool.get(nodeTarget(plan, node, await options.provider.sshEndpoint(plan, node, ctx)), { signal: ctx.signal, budgetMs: SSH_TIMING.reachBudgetMs });
  };
  const { stages, dispose } = devstackStages(plan, options.host, sessionFor);
  try {
    return await runStages(stages, {
      ctx: options.ctx,
      stateDir: options.stateDir,
      session: (node, ctx) => sessionFor(node.name, ctx),
      ...(options.from === undefined ? {} : { from: options.from }),
      ...(options.only === undefined ? {} : { only: options.only }),
    });
  } finally {
    await dispose();
  }
}
