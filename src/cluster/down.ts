/** `down` and `halt`: remove exactly what the cluster made (never the image cache), or stop it. */
import { rm } from 'node:fs/promises';
import type { Ctx } from '../events.js';
import type { LoadedConfig } from '../config/load.js';
import { lockCluster, peekCluster } from './context.js';
import { buildPlan } from '../plan/plan.js';
import { completeSecrets } from '../state/secrets.js';

export async function down(loaded: LoadedConfig, ctx: Ctx): Promise<string[]> {
  const { stateDir, secrets, provider } = await peekCluster(loaded);
  const lock = await lockCluster(stateDir, loaded.config.name, ctx);
  try {
    // Every node the state ever had a key for, and every node in the config.
    const nodes = [...new Set([...Object.keys(secrets?.host_keys ?? {}), ...loaded.config.nodes.map((n) => n.name)])];
    const removed = await provider.deleteCluster(loaded.config.name, nodes, ctx);
    await rm(stateDir, { recursive: true, force: true });
    removed.push(`state ${stateDir}`);
    return removed;
  } finally {
    await lock.release().catch(() => undefined);
    await provider.close();
  }
}

export async function halt(loaded: LoadedConfig, budgetMs: number, ctx: Ctx): Promise<Array<{ node: string; result: string }>> {
  const { stateDir, secrets, provider } = await peekCluster(loaded);
  const lock = await lockCluster(stateDir, loaded.config.name, ctx);
  try {
    const plan = buildPlan(loaded.config, loaded.userKeys, completeSecrets(loaded.config.name, loaded.config.nodes.map((n) => n.name), secrets));
    return await Promise.all(plan.nodes.map(async (n) => ({ node: n.name, result: await provider.stopNode(plan, n, budgetMs, ctx) })));
  } finally {
    await lock.release();
    await provider.close();
  }
}
