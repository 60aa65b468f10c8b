/**
 * `up`: image → network → per node disk, seed and VM → all nodes started together → each node waited
 * for (SSH with its pinned host key, then `cloud-init status --wait`) within its budget. Re-running
 * on a complete cluster changes nothing; on a partial one it completes it.
 */
import { homedir } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { DevclusterError } from '../errors.js';
import type { Ctx } from '../events.js';
import type { LoadedConfig } from '../config/load.js';
import { renderSeed } from '../cloudinit/seed.js';
import type { CachedImage, CacheLayout } from '../images/cache.js';
import { pullImage } from '../images/pull.js';
import { imageSource } from '../images/source.js';
import type { ClusterPlan, NodePlan } from '../plan/plan.js';
import type { NodeState, Provider } from '../providers/provider.js';
import type { SessionPool, NodeSession } from '../ssh/session.js';
import { nodeTarget } from '../ssh/settings.js';
import type { EngineResult } from '../provision/engine.js';
import { provisionCluster } from '../provision/provision.js';
import { ProvisionState } from '../provision/state.js';
import { allOrFirstError } from '../flow/all-or-first-error.js';
import { withCluster } from './operation.js';
import { hostContext } from './host-context.js';
import { writeSshFiles } from './ssh-files.js';
import { snapshotAfterUp } from './snapshot/after-up.js';
import type { SaveResult } from './snapshot/save.js';

export interface UpOptions {
  ctx: Ctx;
  /** Per node, from start to cloud-init done. */
  bootBudgetMs: number;
  cacheLayout?: CacheLayout;
  /** Skip DevStack: stop once the nodes are ready. */
  noProvision?: boolean;
  /** Return once the nodes are started: no wait for SSH, no DevStack. */
  noWait?: boolean;
  /** Budgets for stack.sh and git clones (ms). */
  stackTimeoutMs?: number;
  cloneTimeoutMs?: number;
}

export interface UpResult {
  plan: ClusterPlan;
  created: string[];
  started: string[];
  bytesDownloaded: number;
  sshConfig: string;
  /** Undefined with noProvision or noWait. */
  provisioned?: EngineResult;
  /** The `stacked` snapshot taken after provisioning (snapshots.after_up), when one was. */
  snapshot?: SaveResult;
}

function minutes(ms: number): string {
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

/** How often the boot wait asks the hypervisor whether the node still runs. */
export const NODE_WATCH_INTERVAL_MS = 2000;

async function currentState(provider: Provider, plan: ClusterPlan, node: NodePlan, ctx: Ctx): Promise<NodeState | undefined> {
  if (provider.nodeState) return provider.nodeState(plan, node, ctx);
  return (await provider.listNodes(plan.name, ctx)).find((s) => s.node === node.name)?.state;
}

const STOPPED: ReadonlySet<NodeState | undefined> = new Set<NodeState | undefined>(['paused', 'stopped', 'crashed', undefined]);

/**
 * Polls the node's state until `signal` ends the watch; returns the error to fail the boot wait with
 * as soon as the node is paused, shut off, crashed or gone (undefined when the watch just ended).
 * A failed poll is not a verdict: the next one decides.
 */
async function watchNode(provider: Provider, plan: ClusterPlan, node: NodePlan, started: number, ctx: Ctx): Promise<DevclusterError | undefined> {
  for (;;) {
    try {
      await sleep(NODE_WATCH_INTERVAL_MS, undefined, { signal: ctx.signal });
    } catch {
      return undefined;
    }
    const state = await currentState(provider, plan, node, ctx).catch(() => 'other' as const);
    if (ctx.signal.aborted) return undefined;
    if (!STOPPED.has(state)) continue;
    const details = provider.stopDetails ? await provider.stopDetails(plan, node, ctx).catch(() => []) : [];
    const tail = (await provider.consoleTail(plan, node, 2000).catch(() => '')).trimEnd().split('\n').slice(-8).filter((l) => l !== '');
    // qemu's words for a KVM that cannot run the guest (accel/kvm/kvm-all.c), not a name that contains "kvm".
    const kvm = details.some((l) => /KVM internal error|KVM kernel module|initialize kvm|emulation failure/.test(l));
    return new DevclusterError('NODE_BOOT_FAILED', `node ${node.name} stopped running ${minutes(Date.now() - started)} after it started: it is ${state ?? 'gone'}`, {
      details: [...details, ...(tail.length > 0 ? ['last lines of its console:', ...tail.map((l) => `| ${l}`)] : ['its console log is empty: it stopped before its kernel wrote anything'])],
      hint:
        state === undefined
          ? 'its VM was removed while `up` waited: run `devcluster up` again'
          : kvm
            ? 'KVM cannot run this guest on this host: set `libvirt.accelerator: tcg` (or `auto`, which tries KVM first and falls back to TCG) in the config, then `devcluster down` and `devcluster up`'
            : 'the lines above are the hypervisor\'s own; if it was stopped by hand, run `devcluster up` again (it starts stopped nodes)',
    });
  }
}

/**
 * Wait for one node: SSH with the pinned key, then cloud-init, while its state is watched: a node that
 * stops running fails the wait at once with the hypervisor's reason. Fails with the console tail.
 */
export async function waitForNode(provider: Provider, plan: ClusterPlan, node: NodePlan, budgetMs: number, ctx: Ctx, pool: SessionPool): Promise<void> {
  const started = Date.now();
  const deadline = started + budgetMs;
  const endWatch = new AbortController();
  const nodeStopped = new AbortController();
  let stopError: DevclusterError | undefined;
  const watching = watchNode(provider, plan, node, started, { signal: AbortSignal.any([ctx.signal, endWatch.signal]), report: ctx.report }).then((error) => {
    if (error) {
      stopError = error;
      nodeStopped.abort(error);
    }
  });
  const signal = AbortSignal.any([ctx.signal, AbortSignal.timeout(budgetMs), nodeStopped.signal]);
  let lastReport = 0;
  const say = (what: string) => {
    if (Date.now() - lastReport < 15_000) return;
    lastReport = Date.now();
    ctx.report({ kind: 'phase', label: node.name, message: `${what} (${minutes(Date.now() - started)} of ${minutes(budgetMs)})` });
  };
  const endpoint = await provider.sshEndpoint(plan, node, ctx);
  const fail = async (what: string, cause: unknown): Promise<never> => {
    if (stopError) throw stopError;
    if (ctx.signal.aborted) throw cause;
    const tail = (await provider.consoleTail(plan, node, 4000)).trimEnd().split('\n').slice(-25);
    throw new DevclusterError('NODE_BOOT_FAILED', `node ${node.name} ${what} within its budget of ${minutes(budgetMs)}: ${(cause as Error).message}`, {
      cause,
      details: tail.length > 0 && tail[0] !== '' ? ['last lines of its console:', ...tail.map((l) => `| ${l}`)] : ['its console log is empty: it may not have booted at all'],
      hint: 'a slow host may need more time (--boot-timeout); otherwise check the image, and `devcluster down` then `up` again',
    });
  };
  try {
    say('waiting for SSH');
    const session = await pool
      .get(nodeTarget(plan, node, endpoint), { signal, budgetMs: Math.max(1000, deadline - Date.now()), onRetry: () => say('waiting for SSH') })
      .catch((error: unknown) => (error instanceof DevclusterError && error.code === 'SSH_HOST_KEY_MISMATCH' ? Promise.reject(error) : fail('did not answer SSH', error)));
    ctx.report({ kind: 'phase', label: node.name, message: `SSH up after ${minutes(Date.now() - started)}; waiting for cloud-init` });
    await waitForCloudInit(session, node, signal, ctx, fail);
    ctx.report({ kind: 'phase', label: node.name, message: `ready after ${minutes(Date.now() - started)}` });
  } finally {
    endWatch.abort();
    await watching;
  }
  if (stopError) throw stopError;
}

/**
 * `cloud-init status --wait`: 0 done; 2 done with recoverable errors (since cloud-init 23.4: a module
 * warned or failed but boot went on — cloudinit/cmd/status.py, `handle_status_args` returns 2 for
 * "degraded" states), so warn with `status --long` and go on; 1 (or anything else) is a failure.
 */
async function waitForCloudInit(
  session: NodeSession,
  node: NodePlan,
  signal: AbortSignal,
  ctx: Ctx,
  fail: (what: string, cause: unknown) => Promise<never>,
): Promise<void> {
  const result = await session.run('cloud-init status --wait', { signal, what: 'cloud-init status --wait' }).catch((error: unknown) => fail('did not finish cloud-init', error));
  if (result.code === 0) return;
  const long = await session.run('cloud-init status --long', { signal, what: 'cloud-init status --long' }).then(
    (r) => r.stdout.trimEnd().split('\n').filter((l) => l.trim() !== ''),
    () => [] as string[],
  );
  if (result.code === 2) {
    ctx.report({ kind: 'note', message: [`${node.name}: cloud-init finished with recoverable errors (exit 2); going on. cloud-init status --long:`, ...long.map((l) => `  ${l}`)].join('\n') });
    return;
  }
  await fail('finished cloud-init with errors', new Error(`cloud-init status --wait exited with ${result.code}: ${(long.length > 0 ? long : result.tail).join(' | ').trim()}`));
}

/**
 * Every node's disk, seed and VM: the first node alone (it imports the shared base image), then the
 * others together. Returns the nodes that were new, in plan order.
 */
export async function createNodes(provider: Provider, plan: ClusterPlan, image: CachedImage, ctx: Ctx): Promise<string[]> {
  const created = new Set<string>();
  const create = async (node: NodePlan, c: Ctx) => {
    if ((await provider.createNode(plan, node, image, renderSeed(plan, node), c)) === 'created') {
      created.add(node.name);
      c.report({ kind: 'phase', label: node.name, message: 'defined' });
    }
  };
  const [first, ...rest] = plan.nodes;
  if (first) await create(first, ctx);
  await allOrFirstError(rest, ctx, create);
  return plan.nodes.filter((n) => created.has(n.name)).map((n) => n.name);
}

export function up(loaded: LoadedConfig, options: UpOptions): Promise<UpResult> {
  const { ctx } = options;
  return withCluster(loaded, { mode: 'change', lock: true }, ctx, async (op) => {
    const { plan, provider, pool, stateDir } = op;
    const source = imageSource(loaded.config.image, { baseDir: loaded.baseDir, home: process.env.HOME ?? homedir() });
    ctx.report({ kind: 'phase', label: plan.name, message: `image ${source.label}` });
    const pulled = await pullImage(source, { ctx, ...(options.cacheLayout ? { layout: options.cacheLayout } : {}) });
    await provider.ensureNetwork(plan, ctx);
    const created = await createNodes(provider, plan, pulled.image, ctx);
    const existing = new Map((await provider.listNodes(plan.name, ctx)).map((s) => [s.node, s]));
    const toStart = plan.nodes.filter((n) => existing.get(n.name)?.state !== 'running');
    await allOrFirstError(toStart, ctx, async (node, c) => {
      await provider.startNode(plan, node, c);
      c.report({ kind: 'phase', label: node.name, message: 'started' });
    });
    const sshFiles = await writeSshFiles(plan, stateDir);
    const result: UpResult = { plan, created, started: toStart.map((n) => n.name), bytesDownloaded: pulled.bytesDownloaded, sshConfig: sshFiles.config };
    if (options.noWait) return result;
    await allOrFirstError(plan.nodes, ctx, (node, c) => waitForNode(provider, plan, node, options.bootBudgetMs, c, pool));
    if (created.length > 0) {
      // A new node has none of its steps; a new controller means a new cloud: every step again.
      const fresh = new Set(created);
      await (await ProvisionState.load(stateDir)).forget((node) => fresh.has(plan.controller) || fresh.has(node));
    }
    if (options.noProvision) return result;
    const host = await hostContext(loaded, options);
    result.provisioned = await provisionCluster(plan, { ctx, stateDir, provider, pool, host });
    const snapshot = await snapshotAfterUp(op, ctx);
    if (snapshot) result.snapshot = snapshot;
    return result;
  });
}
