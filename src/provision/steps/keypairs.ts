/** keypairs, on the controller (post-stack): the cluster's first authorized key as a Nova keypair of each user. */
import type { ClusterPlan } from '../../plan/plan.js';
import { shellQuote as shq } from '../../process/quote.js';
import { check, defineStep, postStackCommand, WORK_DIR } from './step.js';

/** post-stack.sh's arguments for each user's keypair, the public key in `keyFile`. */
export function keypairArgs(plan: ClusterPlan, keyFile: string): string[][] {
  return plan.postStack.keypair.users.map((user) => ['keypair', user, plan.postStack.keypair.name, keyFile]);
}

export const keypairs = defineStep({
  name: 'keypairs',
  targets: 'controller',
  parallel: false,
  run: async (r, env) => {
    const { plan } = env;
    const key = plan.stackUser.authorizedKeys[0] as string;
    await r.session.upload({ data: `${key}\n` }, `${WORK_DIR}/keypair.pub`, { mode: 0o644, signal: r.ctx.signal });
    for (const args of keypairArgs(plan, `${WORK_DIR}/keypair.pub`)) {
      await check(r, `${postStackCommand(env)} ${args.map(shq).join(' ')}`, `keypair for ${args[1]}`);
    }
  },
});
