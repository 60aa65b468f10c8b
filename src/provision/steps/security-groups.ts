/** security-groups, on the controller (post-stack): post_stack.open_ports as rules of each user's default group. */
import type { ClusterPlan } from '../../plan/plan.js';
import { shellQuote as shq } from '../../process/quote.js';
import { check, defineStep, postStackCommand } from './step.js';

/** post_stack.open_ports to post-stack.sh's RULE form: icmp, tcp:22, tcp:1000:2000. */
export function ruleArg(port: string): string {
  if (port === 'icmp') return 'icmp';
  const [protocol, range] = port.split('/') as [string, string];
  return `${protocol}:${range.replace('-', ':')}`;
}

/**
 * post-stack.sh's arguments for each project's rules: the users' projects (DevStack names each user's
 * project after it), IPv6 rules too when DevStack's IP_VERSION has 6.
 */
export function rulesArgs(plan: ClusterPlan): string[][] {
  if (plan.postStack.open_ports.length === 0) return [];
  return plan.postStack.keypair.users.map((project) => ['rules', '--ip-version', String(plan.devstack.ipVersion), project, ...plan.postStack.open_ports.map(ruleArg)]);
}

export const securityGroups = defineStep({
  name: 'security-groups',
  targets: 'controller',
  parallel: false,
  run: async (r, env) => {
    for (const args of rulesArgs(env.plan)) {
      await check(r, `${postStackCommand(env)} ${args.map(shq).join(' ')}`, `security group rules of ${args[3]}`);
    }
  },
});
