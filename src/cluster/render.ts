/**
 * `render`: the plan — what `up` would make — without touching the host. Keys and passwords not yet in
 * the state folder are made up for the view (nothing is written there); with an output folder, the
 * plan and each node's cloud-init seed, local.conf and grenade files are written as `up` would send them.
 */
import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Ctx } from '../events.js';
import type { LoadedConfig } from '../config/load.js';
import { atomicWrite } from '../fs/atomic-write.js';
import type { ClusterPlan } from '../plan/plan.js';
import { planView, redactPlan } from '../plan/redact.js';
import { renderSeed, SEED_FILE_NAMES } from '../cloudinit/seed.js';
import { grenadeActions, stackLocalConf } from '../provision/grenade.js';
import { nodesHaveKvm } from './host-context.js';
import { withCluster } from './operation.js';

export interface RenderedPlan {
  /** The plan as shown: secrets redacted unless asked for. */
  plan: ClusterPlan;
  /** The same for reading (sizes as "8GiB"). */
  view: ReturnType<typeof planView>;
  stateDir: string;
  /** Some keys or passwords are not in the state folder yet and were made up for this view. */
  secretsMadeUp: boolean;
}

export function renderPlan(loaded: LoadedConfig, options: { showSecrets: boolean }, ctx: Ctx): Promise<RenderedPlan> {
  return withCluster(loaded, { mode: 'look', lock: false }, ctx, async (op) => {
    const plan = options.showSecrets ? op.plan : redactPlan(op.plan);
    return { plan, view: planView(plan), stateDir: op.stateDir, secretsMadeUp: op.secretsMadeUp };
  });
}

export interface RenderFiles {
  dir: string;
  /** plan.yaml or plan.json, and its text. */
  planFile: string;
  planText: string;
  /** 0600 when the plan holds secrets, else 0644. */
  mode: number;
}

/** Write the plan and every node's files under `dir`; returns what was written, in order, for the CLI. */
export async function writeRendered(loaded: LoadedConfig, rendered: RenderedPlan, files: RenderFiles): Promise<string[]> {
  const { dir, mode } = files;
  const wrote: string[] = [];
  await mkdir(dir, { recursive: true });
  const planPath = join(dir, files.planFile);
  await atomicWrite(planPath, files.planText, mode);
  wrote.push(planPath);
  // Seeds from the plan as shown: with --show-secrets they are the real ones `up` will use.
  const plan = rendered.plan;
  // A node has /dev/kvm only when this host nests KVM; `up` checks on the node itself.
  const libvirtType = (await nodesHaveKvm(loaded.config)) ? 'kvm' : 'qemu';
  for (const node of plan.nodes) {
    const seed = renderSeed(plan, node);
    for (const name of SEED_FILE_NAMES) await atomicWrite(join(dir, node.name, name), seed[name], mode);
    await atomicWrite(join(dir, node.name, 'local.conf'), stackLocalConf(plan, node, { libvirtType }), mode);
    wrote.push(`${join(dir, node.name)}/{${[...SEED_FILE_NAMES, 'local.conf'].join(',')}}`);
    // Grenade mode: what the controller's grenade step writes, by its path under /opt/stack/new.
    for (const action of node.name === plan.controller ? grenadeActions(plan, node, { libvirtType }) : []) {
      if (action.kind !== 'upload') continue;
      const file = join(dir, node.name, 'grenade', action.path.replace(/^\/opt\/stack\//, ''));
      await mkdir(dirname(file), { recursive: true });
      await atomicWrite(file, action.data, mode);
      wrote.push(file);
    }
  }
  return wrote;
}
