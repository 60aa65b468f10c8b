/**
 * `ssh` and `ssh-config`: reaching the nodes with the pinned settings of ssh/settings.ts. `ssh` checks
 * the node runs and shows the planned host key (with devcluster's own client, so a wrong key is refused
 * before anything runs), then hands the CLI OpenSSH's arguments for a real TTY and exit status.
 */
import type { Ctx } from '../events.js';
import type { LoadedConfig } from '../config/load.js';
import { DevclusterError } from '../errors.js';
import { openSshArgs, sshConfigText, SSH_TIMING } from '../ssh/settings.js';
import { withCluster } from './operation.js';
import { writeSshFiles, type SshFiles } from './ssh-files.js';

/** OpenSSH's arguments for a shell on `nodeName`, or for running `command` there. */
export function prepareSsh(loaded: LoadedConfig, nodeName: string, command: readonly string[], ctx: Ctx): Promise<{ args: string[] }> {
  return withCluster(loaded, { mode: 'change', lock: false }, ctx, async (op) => {
    const { plan } = op;
    const node = plan.nodes.find((n) => n.name === nodeName);
    if (!node) {
      throw new DevclusterError('NODE_NOT_FOUND', `cluster ${plan.name} has no node "${nodeName}"`, {
        hint: `nodes: ${plan.nodes.map((n) => n.name).join(', ')}`,
      });
    }
    const state = (await op.provider.listNodes(plan.name, { signal: ctx.signal, report: () => undefined })).find((n) => n.node === nodeName);
    if (state?.state !== 'running') {
      throw new DevclusterError('NODE_NOT_RUNNING', `node ${nodeName} of cluster ${plan.name} is ${state ? state.state : 'not created'}`, {
        hint: 'run `devcluster up` first',
      });
    }
    const files = await writeSshFiles(plan, op.stateDir);
    await op.session(node, { signal: ctx.signal, budgetMs: SSH_TIMING.probeBudgetMs });
    return { args: openSshArgs(files, node.name, command) };
  });
}

/** Write known_hosts, the key and ssh_config into the state folder; the config's text is returned too. */
export function sshConfig(loaded: LoadedConfig, ctx: Ctx): Promise<{ files: SshFiles; text: string }> {
  return withCluster(loaded, { mode: 'change', lock: false }, ctx, async ({ plan, stateDir }) => {
    const files = await writeSshFiles(plan, stateDir);
    return { files, text: sshConfigText(plan, files) };
  });
}
