/**
 * What a provisioning step is (a name, the nodes it runs on, whether at once, its body) and what every
 * step gets: the run's shared environment (plan, host, the nodes by role, the stacked layout, the
 * run cache) and the few helpers they share (a checked command, the post-stack script, the virt type).
 * The steps themselves are one file each beside this one; index.ts holds their order.
 */
import type { Ctx } from '../../events.js';
import type { CacheLayout } from '../../images/cache.js';
import type { ClusterPlan, NodePlan } from '../../plan/plan.js';
import { shellQuote as shq } from '../../process/quote.js';
import type { NodeSession, RunResult } from '../../ssh/session.js';
import { StepCommandError } from '../../errors.js';
import { stepLines, type StepRun } from '../engine.js';
import type { StackLayout } from '../grenade.js';
import { DEST } from '../local-conf.js';
import { SCRIPTS_DIR } from './node-paths.js';
import type { RunCache } from './run-cache.js';

export { SCRIPTS_DIR, WORK_DIR } from './node-paths.js';

/**
 * DevStack's DATA_DIR: stackrc sets it from its own DEST=/opt/stack before it sources localrc
 * (stackrc `DATA_DIR=${DEST}/data`, 2025.2 line 32), so it stays /opt/stack/data also where local.conf
 * moves DEST (grenade's /opt/stack/old; the gate's devstack_data_base_dir is devstack_bases.shared).
 */
export const DATA_DIR = `${DEST}/data`;

export interface HostContext {
  /** Folder of devcluster.yaml: relative local paths start here. */
  baseDir: string;
  home: string;
  cacheLayout?: CacheLayout;
  /**
   * Whether the nodes run on hardware virtualisation with nesting (KVM with nested=Y). Only then can a
   * node's own /dev/kvm be trusted: a guest of TCG may show /dev/kvm on emulated SVM, unusably slow.
   */
  nestedVirt: boolean;
  /** Budgets (ms). */
  stackTimeoutMs: number;
  cloneTimeoutMs: number;
}

export type ProvisionNode = NodePlan & { id: string };

/** Everything a run's steps share, made once per run. */
export interface StepEnv {
  plan: ClusterPlan;
  host: HostContext;
  cache: RunCache;
  controller: ProvisionNode;
  computes: ProvisionNode[];
  /** Where DevStack is stacked and from which branch (grenade mode: the from-branch in /opt/stack/old). */
  layout: StackLayout;
  /** Another node's live session (tls-ca reads the controller's CA). */
  sessionFor: (node: string, ctx: Ctx) => Promise<NodeSession>;
}

/** The nodes a step runs on. */
export type Targets = 'all' | 'controller' | 'computes';

export interface StepDef<Name extends string = string> {
  /** The name in provision.json, the logs and `provision --from`. */
  name: Name;
  targets: Targets;
  /** All target nodes at once (true) or one after the other. */
  parallel: boolean;
  /** Whether this cluster has the step at all (default: every cluster). */
  enabled?: (plan: ClusterPlan) => boolean;
  run: (r: StepRun<ProvisionNode>, env: StepEnv) => Promise<void>;
}

/** A step definition, its name kept as a literal type (StepName is the union of them). */
export function defineStep<const Name extends string>(def: StepDef<Name>): StepDef<Name> {
  return def;
}

/** Run a command and turn a non-zero exit into a StepCommandError the engine reports with its tail. */
export async function check(r: StepRun<ProvisionNode>, command: string, what: string, timeoutMs?: number): Promise<RunResult> {
  const result = await r.session.run(command, {
    signal: r.ctx.signal,
    what,
    logFile: r.logFile,
    lines: stepLines(r),
    ...(timeoutMs === undefined ? {} : { timeoutMs }),
  });
  if (result.code !== 0) throw new StepCommandError(result.code, result.tail, `${what} exited with ${result.code}`);
  return result;
}

/** post-stack.sh on the controller; it finds openrc through DEVSTACK_DIR. */
export function postStackCommand(env: StepEnv): string {
  return `DEVSTACK_DIR=${shq(env.layout.devstackDir)} bash ${SCRIPTS_DIR}/post-stack.sh`;
}

/** Nova's virt type on this node: kvm only where the host nests KVM and the node has /dev/kvm. */
export async function libvirtType(r: StepRun<ProvisionNode>, env: StepEnv): Promise<'kvm' | 'qemu'> {
  return env.host.nestedVirt && (await r.session.run('test -c /dev/kvm', { signal: r.ctx.signal, what: 'look for /dev/kvm', logFile: r.logFile })).code === 0 ? 'kvm' : 'qemu';
}
