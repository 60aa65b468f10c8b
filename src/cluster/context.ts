/** Everything a cluster operation needs, resolved once: config, state folder, secrets, plan, provider. */
import type { LoadedConfig } from '../config/load.js';
import type { Ctx } from '../events.js';
import { acquireLock, type Lock } from '../fs/lock.js';
import { buildPlan, type ClusterPlan } from '../plan/plan.js';
import { createProvider } from '../providers/index.js';
import type { Provider } from '../providers/provider.js';
import { stateDirFor, stateLayout } from '../state/layout.js';
import { ensureSecrets, readSecrets, type Secrets, type StoredSecrets } from '../state/secrets.js';

export interface ClusterContext {
  loaded: LoadedConfig;
  stateDir: string;
  secrets: Secrets;
  plan: ClusterPlan;
  provider: Provider & { close?: () => Promise<void> };
}

/** For operations that change the cluster: secrets made if missing. */
export async function openCluster(loaded: LoadedConfig): Promise<ClusterContext> {
  const stateDir = stateDirFor(loaded.baseDir, loaded.config.name);
  const secrets = await ensureSecrets(stateDir, loaded.config.name, loaded.config.nodes.map((n) => n.name));
  return { loaded, stateDir, secrets, plan: buildPlan(loaded.config, loaded.userKeys, secrets), provider: createProvider(loaded.config) };
}

/** For operations that only look or remove: no secrets are made. */
export async function peekCluster(loaded: LoadedConfig): Promise<{ stateDir: string; secrets: StoredSecrets | undefined; provider: ClusterContext['provider'] }> {
  const stateDir = stateDirFor(loaded.baseDir, loaded.config.name);
  return { stateDir, secrets: await readSecrets(stateDir), provider: createProvider(loaded.config) };
}

/** One operation at a time per cluster: a second `up` is refused with the first one's pid. */
export function lockCluster(stateDir: string, cluster: string, ctx: Ctx): Promise<Lock> {
  return acquireLock(stateLayout(stateDir).lock, { what: `cluster ${cluster}`, waitMs: 0, signal: ctx.signal });
}
