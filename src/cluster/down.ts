/** `down` and `halt`: remove exactly what the cluster made (never the image cache), or stop it. */
import { rm } from 'node:fs/promises';
import type { Ctx } from '../events.js';
import type { LoadedConfig } from '../config/load.js';
import { withCluster } from './operation.js';

export function down(loaded: LoadedConfig, ctx: Ctx): Promise<string[]> {
  return withCluster(loaded, { mode: 'look', lock: true }, ctx, async ({ provider, stored, stateDir }) => {
    // Every node the state ever had a key for, and every node in the config.
    const nodes = [...new Set([...Object.keys(stored?.host_keys ?? {}), ...loaded.config.nodes.map((n) => n.name)])];
    const removed = await provider.deleteCluster(loaded.config.name, nodes, ctx);
    await rm(stateDir, { recursive: true, force: true });
    removed.push(`state ${stateDir}`);
    return removed;
  });
}

export function halt(loaded: LoadedConfig, budgetMs: number, ctx: Ctx): Promise<Array<{ node: string; result: string }>> {
  return withCluster(loaded, { mode: 'look', lock: true }, ctx, ({ provider, plan }) =>
    Promise.all(plan.nodes.map(async (n) => ({ node: n.name, result: await provider.stopNode(plan, n, budgetMs, ctx) }))),
  );
}
