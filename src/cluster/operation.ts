/**
 * The one way a command reaches a cluster: `withCluster` resolves everything an operation needs once
 * (state folder, secrets, plan; the provider and the SSH sessions when first asked for), takes the
 * cluster's lock when the operation needs it, and closes all of it in one `finally`, whatever happens.
 *
 * - mode 'change': missing keys and passwords are generated and kept (up, provision, ssh, ssh-config);
 * - mode 'look': nothing is written; what the state lacks is made up for this run only (status,
 *   render, halt, down), and `secretsMadeUp` says so.
 */
import type { LoadedConfig } from '../config/load.js';
import type { Ctx } from '../events.js';
import { acquireLock, type Lock } from '../fs/lock.js';
import { buildPlan, type ClusterPlan, type NodePlan } from '../plan/plan.js';
import { createProvider } from '../providers/index.js';
import type { Provider } from '../providers/provider.js';
import { secretsOf } from '../provision/provision.js';
import type { ConnectOptions } from '../ssh/connect.js';
import { SessionPool, type NodeSession } from '../ssh/session.js';
import { nodeTarget } from '../ssh/settings.js';
import { stateDirFor, stateLayout, type StateLayout } from '../state/layout.js';
import { completeSecrets, ensureSecrets, readSecrets, secretsIncomplete, type Secrets, type StoredSecrets } from '../state/secrets.js';

export type OperationMode = 'change' | 'look';

export interface OperationOptions {
  mode: OperationMode;
  /** Take the cluster's lock: one operation that changes the cluster at a time. */
  lock: boolean;
}

export type ClusterProvider = Provider;

export interface Operation {
  readonly loaded: LoadedConfig;
  readonly ctx: Ctx;
  readonly stateDir: string;
  readonly layout: StateLayout;
  /** The secrets the plan was built from. */
  readonly secrets: Secrets;
  /** What the state folder held before this operation (undefined: nothing yet). */
  readonly stored: StoredSecrets | undefined;
  /** Mode 'look' only: some keys or passwords are not in the state and were made up for this run. */
  readonly secretsMadeUp: boolean;
  readonly plan: ClusterPlan;
  /** The hypervisor, made on first use and closed when the operation ends. */
  readonly provider: ClusterProvider;
  /** One SSH session per node (masking the plan's secrets), made on first use, closed at the end. */
  readonly pool: SessionPool;
  /** The node's pooled session, reached where the provider says, with the plan's pinned settings. */
  session(node: NodePlan, options: ConnectOptions): Promise<NodeSession>;
}

/** One operation at a time per cluster: a second `up` is refused with the first one's pid. */
export function lockCluster(stateDir: string, cluster: string, ctx: Ctx): Promise<Lock> {
  return acquireLock(stateLayout(stateDir).lock, { what: `cluster ${cluster}`, waitMs: 0, signal: ctx.signal });
}

/** Run `fn` with the cluster's operation scope; everything it opened is closed when it ends. */
export async function withCluster<T>(loaded: LoadedConfig, options: OperationOptions, ctx: Ctx, fn: (op: Operation) => Promise<T>): Promise<T> {
  const name = loaded.config.name;
  const nodes = loaded.config.nodes.map((n) => n.name);
  const stateDir = stateDirFor(loaded.baseDir, name);
  let lock: Lock | undefined;
  let provider: ClusterProvider | undefined;
  let pool: SessionPool | undefined;
  try {
    if (options.lock) lock = await lockCluster(stateDir, name, ctx);
    const stored = await readSecrets(stateDir);
    const secrets = options.mode === 'change' ? await ensureSecrets(stateDir, name, nodes) : completeSecrets(name, nodes, stored);
    const plan = buildPlan(loaded.config, loaded.userKeys, secrets);
    const op: Operation = {
      loaded,
      ctx,
      stateDir,
      layout: stateLayout(stateDir),
      secrets,
      stored,
      secretsMadeUp: options.mode === 'look' && secretsIncomplete(stored, nodes),
      plan,
      get provider() {
        provider ??= createProvider(loaded.config);
        return provider;
      },
      get pool() {
        pool ??= new SessionPool(secretsOf(plan));
        return pool;
      },
      async session(node, connect) {
        return op.pool.get(nodeTarget(plan, node, await op.provider.sshEndpoint(plan, node, { ...ctx, signal: connect.signal })), connect);
      },
    };
    return await fn(op);
  } finally {
    await pool?.closeAll();
    // `down` removes the state folder, lock file included: nothing left to release then.
    await lock?.release().catch(() => undefined);
    await provider?.close();
  }
}
