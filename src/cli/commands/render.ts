/** `devcluster render`: the plan — what `up` would make — without touching the host. */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { stringify } from 'yaml';
import type { CliIO } from '../io.js';
import { describeSource, loadFor } from '../context.js';
import { progressReporter } from '../progress.js';
import { renderPlan, writeRendered } from '../../cluster/render.js';

export function registerRender(program: Command, io: CliIO): void {
  program
    .command('render')
    .description('print the plan: nodes, roles, addresses, MACs, host keys, services (secrets redacted)')
    .option('--out <dir>', 'write the plan (DIR/plan.yaml) and each node\'s cloud-init seed and DevStack config (DIR/NODE/user-data, network-config, meta-data, local.conf)')
    .option('--format <format>', 'yaml or json', 'yaml')
    .option('--show-secrets', 'include private keys and passwords (files written 0600)')
    .action(async (opts: { out?: string; format: string; showSecrets?: boolean }, command: Command) => {
      if (opts.format !== 'yaml' && opts.format !== 'json') {
        command.error(`error: option '--format <format>' must be yaml or json, not "${opts.format}"`, { exitCode: 2, code: 'devcluster.usage' });
      }
      const loaded = await loadFor(command, io);
      const ctx = { signal: io.signal, report: progressReporter(io) };
      const rendered = await renderPlan(loaded, { showSecrets: opts.showSecrets === true }, ctx);
      if (rendered.secretsMadeUp) {
        io.err(`note: keys and passwords not yet in ${rendered.stateDir} are made up for this view only; \`devcluster up\` generates and keeps them`);
      }
      const text =
        opts.format === 'json'
          ? `${JSON.stringify(rendered.view, null, 2)}\n`
          : `# plan of ${describeSource(loaded)}\n${stringify(rendered.view, { lineWidth: 0 })}`;
      if (opts.out === undefined) {
        io.out(text);
        return;
      }
      const wrote = await writeRendered(loaded, rendered, {
        dir: resolve(io.cwd, opts.out),
        planFile: opts.format === 'json' ? 'plan.json' : 'plan.yaml',
        planText: text,
        mode: opts.showSecrets ? 0o600 : 0o644,
      });
      for (const file of wrote) io.out(`wrote ${file}`);
    });
}
