/**
 * grenade, on the controller, only in grenade mode: the actions src/provision/grenade.ts lists (the
 * target DevStack and grenade cloned, their config written, grenade.sh run), after the steps before it
 * stacked the from-branch in /opt/stack/old everywhere.
 */
import { shellQuote as shq } from '../../process/quote.js';
import { grenadeActions } from '../grenade.js';
import { check, defineStep, libvirtType, SCRIPTS_DIR } from './step.js';

export const grenade = defineStep({
  name: 'grenade',
  targets: 'controller',
  parallel: false,
  enabled: (plan) => plan.devstack.mode === 'grenade',
  run: async (r, env) => {
    const { host } = env;
    for (const action of grenadeActions(env.plan, r.node, { libvirtType: await libvirtType(r, env) })) {
      if (action.kind === 'clone') {
        await check(r, `bash ${SCRIPTS_DIR}/fetch-git.sh --dest ${shq(action.dest)} --url ${shq(action.url)} --ref ${shq(action.ref)} --timeout ${Math.round(host.cloneTimeoutMs / 1000)}`, action.what);
      } else if (action.kind === 'upload') {
        await r.session.upload({ data: action.data }, action.path, { mode: action.mode, signal: r.ctx.signal });
      } else await check(r, action.command, action.what, action.long ? host.stackTimeoutMs : undefined);
    }
  },
});
