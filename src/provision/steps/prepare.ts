/** prepare, on every node at once: packages, the stack user's environment, the proxy (provision/prepare.sh). */
import { shellQuote as shq } from '../../process/quote.js';
import { check, defineStep, SCRIPTS_DIR } from './step.js';

export const prepare = defineStep({
  name: 'prepare',
  targets: 'all',
  parallel: true,
  run: async (r, { plan }) => {
    const args: string[] = [];
    if (plan.proxy.http) args.push('--http-proxy', plan.proxy.http);
    if (plan.proxy.https) args.push('--https-proxy', plan.proxy.https);
    if (plan.proxy.no_proxy) args.push('--no-proxy', plan.proxy.no_proxy);
    await check(r, `bash ${SCRIPTS_DIR}/prepare.sh ${args.map(shq).join(' ')}`, 'prepare the node', 30 * 60_000);
  },
});
