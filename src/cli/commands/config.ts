/** `devcluster config validate` and `devcluster config show`. */
import type { Command } from 'commander';
import { stringify } from 'yaml';
import type { CliIO } from '../io.js';
import { describeSource, loadFor } from '../context.js';
import { redactProxy, REDACTED } from '../../plan/redact.js';
import type { Config } from '../../config/schema.js';
import { configNotes } from '../../config/rules.js';

export function registerConfig(program: Command, io: CliIO): void {
  const config = program.command('config').description('check or print the cluster config');

  config
    .command('validate')
    .description('check devcluster.yaml and report every problem with its line; exit 2 if any')
    .action(async (_opts, command: Command) => {
      const loaded = await loadFor(command, io);
      const c = loaded.config;
      io.out(
        `${describeSource(loaded)}: valid — cluster "${c.name}", ${c.nodes.length} node(s) (${c.nodes.map((n) => `${n.name}:${n.role}`).join(', ')}), ` +
          `${c.provider}, ${c.network.mode} ${c.network.cidr}`,
      );
      for (const note of configNotes(c)) io.err(`note: ${note}`);
      if (loaded.userKeys.length === 0) {
        io.err('note: no SSH public key of yours was found (~/.ssh/*.pub, ssh-agent); only `devcluster ssh` (the cluster key) will log in');
      }
    });

  config
    .command('show')
    .description('print the effective config, defaults filled in (passwords redacted)')
    .option('--show-secrets', 'print passwords and the password hash as they are')
    .action(async (opts: { showSecrets?: boolean }, command: Command) => {
      const loaded = await loadFor(command, io);
      const shown = opts.showSecrets ? loaded.config : redactConfig(loaded.config);
      io.out(`# effective config of ${describeSource(loaded)}, defaults filled in\n${stringify(shown, { lineWidth: 0 })}`);
    });
}

export function redactConfig(config: Config): Config {
  const passwords = Object.fromEntries(Object.keys(config.devstack.passwords).map((k) => [k, REDACTED]));
  return {
    ...config,
    stack_user:
      config.stack_user.password_hash === undefined ? config.stack_user : { ...config.stack_user, password_hash: REDACTED },
    devstack: { ...config.devstack, passwords },
    proxy: redactProxy(config.proxy),
  };
}
