/** local-conf, on every node at once: the node's local.conf (src/provision/local-conf.ts renders it), 0600. */
import { stackLocalConf } from '../grenade.js';
import { defineStep, libvirtType } from './step.js';

export const localConf = defineStep({
  name: 'local-conf',
  targets: 'all',
  parallel: true,
  run: async (r, env) => {
    const text = stackLocalConf(env.plan, r.node, { libvirtType: await libvirtType(r, env) });
    await r.session.upload({ data: text }, `${env.layout.devstackDir}/local.conf`, { mode: 0o600, signal: r.ctx.signal });
  },
});
