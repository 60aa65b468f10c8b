/** `provision`: run DevStack's steps again on a running cluster (all not yet done, or from a step on). */
import { DevclusterError } from '../errors.js';
import type { Ctx } from '../events.js';
import type { LoadedConfig } from '../config/load.js';
import type { CacheLayout } from '../images/cache.js';
import type { EngineResult } from '../provision/engine.js';
import { provisionCluster } from '../provision/provision.js';
import { STEPS } from '../provision/steps/index.js';
import { withCluster } from './operation.js';
import { hostContext } from './host-context.js';

export interface ProvisionCommandOptions {
  ctx: Ctx;
  from?: string;
  only?: string;
  cacheLayout?: CacheLayout;
  stackTimeoutMs?: number;
}

export async function provision(loaded: LoadedConfig, options: ProvisionCommandOptions): Promise<EngineResult> {
  const { ctx } = options;
  // Checked before anything is made: a typo leaves no state behind.
  if (options.from !== undefined && !(STEPS as readonly string[]).includes(options.from)) {
    throw new DevclusterError('USAGE_INVALID', `there is no step "${options.from}" (--from)`, { hint: `steps, in order: ${STEPS.join(', ')}` });
  }
  const names = loaded.config.nodes.map((n) => n.name);
  if (options.only !== undefined && !names.includes(options.only)) {
    throw new DevclusterError('NODE_NOT_FOUND', `cluster ${loaded.config.name} has no node "${options.only}"`, { hint: `nodes: ${names.join(', ')}` });
  }
  return withCluster(loaded, { mode: 'change', lock: true }, ctx, async ({ plan, provider, pool, stateDir }) => {
    const states = new Map((await provider.listNodes(plan.name, ctx)).map((s) => [s.node, s.state]));
    const notRunning = plan.nodes.filter((n) => (options.only === undefined || n.name === options.only) && states.get(n.name) !== 'running');
    if (notRunning.length > 0) {
      throw new DevclusterError('NODE_NOT_RUNNING', `${notRunning.map((n) => `${n.name} is ${states.get(n.name) ?? 'not created'}`).join(', ')}`, { hint: 'run `devcluster up` first' });
    }
    return await provisionCluster(plan, {
      ctx,
      stateDir,
      provider,
      pool,
      host: await hostContext(loaded, options),
      ...(options.from === undefined ? {} : { from: options.from }),
      ...(options.only === undefined ? {} : { only: options.only }),
    });
  });
}
