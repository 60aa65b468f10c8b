/**
 * stack: `./stack.sh`, first on the controller alone, later on the computes at once (with tls-ca
 * between them when the cloud has tls-proxy). One step name, two places in the order: two stages.
 */
import { shellQuote as shq } from '../../process/quote.js';
import type { StepRun } from '../engine.js';
import { check, defineStep, type ProvisionNode, type StepEnv } from './step.js';

async function stackSh(r: StepRun<ProvisionNode>, env: StepEnv): Promise<void> {
  await check(r, `cd ${shq(env.layout.devstackDir)} && ./stack.sh`, 'stack.sh', env.host.stackTimeoutMs);
}

export const stackController = defineStep({ name: 'stack', targets: 'controller', parallel: false, run: stackSh });

export const stackComputes = defineStep({ name: 'stack', targets: 'computes', parallel: true, run: stackSh });
