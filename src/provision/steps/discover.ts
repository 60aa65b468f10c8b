/**
 * discover, on the controller: tools/discover_hosts.sh, then `nova-manage cell_v2 list_hosts` must
 * list every compute (up to six tries, 10 s apart, while their nova-compute registers).
 */
import { DevclusterError } from '../../errors.js';
import { shellQuote as shq } from '../../process/quote.js';
import { check, defineStep, type ProvisionNode } from './step.js';

export const discover = defineStep({
  name: 'discover',
  targets: 'controller',
  parallel: false,
  run: async (r, { computes, layout }) => {
    const wanted = computes;
    let missing: ProvisionNode[] = wanted;
    for (let attempt = 1; attempt <= 6 && missing.length > 0; attempt++) {
      if (attempt > 1) await new Promise((done) => setTimeout(done, 10_000));
      const out = await check(r, `cd ${shq(layout.devstackDir)} && ./tools/discover_hosts.sh`, 'tools/discover_hosts.sh');
      if (out.stdout.trim() === '') {
        throw new DevclusterError('PROVISION_CHECK_FAILED', 'tools/discover_hosts.sh printed nothing: nova-manage is not installed on the controller, so no compute was mapped', {
          hint: "check that n-api and n-cond are enabled on the controller and that stack.sh installed nova",
        });
      }
      const hosts = await check(r, 'nova-manage cell_v2 list_hosts', 'nova-manage cell_v2 list_hosts');
      const listed = hosts.stdout;
      missing = wanted.filter((n) => !new RegExp(`\\|\\s*(${n.shortHostname}|${n.hostname.replace(/\./g, '\\.')})\\s*\\|`).test(listed));
    }
    if (missing.length > 0) {
      throw new DevclusterError('PROVISION_CHECK_FAILED', `after discover_hosts.sh, nova still has no host mapping for ${missing.map((n) => n.name).join(', ')}`, {
        hint: 'their nova-compute did not register: look at `journalctl -u devstack@n-cpu` on them',
      });
    }
  },
});
