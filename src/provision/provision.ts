/**
 * Provisioning a running cluster: DevStack's stages (steps/) through the engine (engine.ts) over
 * one pooled SSH session per node. Used by `up` after the nodes are ready and by `provision`.
 */
import type { Ctx } from '../events.js';
import type { ClusterPlan } from '../plan/plan.js';
import type { Provider } from '../providers/provider.js';
import type { SessionPool } from '../ssh/session.js';
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

/** How long to keep trying to reach a node that is already up. */
const CONNECT_BUDGET_MS = 120_000;

export async function provisionCluster(plan: ClusterPlan, options: ProvisionOptions): Promise<EngineResult> {
  const sessionFor = (name: string, ctx: Ctx) => {
    const node = plan.nodes.find((n) => n.name === name);
    if (!node) throw new TypeError(`no node ${name}`);
    const endpoint = options.provider.sshEndpoint(plan, node);
    return options.pool.get(
      { node: node.name, label: node.name, host: endpoint.host, port: endpoint.port, username: plan.stackUser.name, privateKey: plan.clusterKey.private, hostKey: node.hostKey.public },
      { signal: ctx.signal, budgetMs: CONNECT_BUDGET_MS },
    );
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
