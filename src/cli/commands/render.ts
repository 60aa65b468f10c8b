/** `devcluster render`: the plan — what `up` would make — without touching the host. */
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { stringify } from 'yaml';
import type { CliIO } from '../io.js';
import { describeSource, loadFor } from '../context.js';
import { buildPlan } from '../../plan/plan.js';
import { planView, redactPlan } from '../../plan/redact.js';
import { completeSecrets, readSecrets, secretsIncomplete, stateDirFor } from '../../state/secrets.js';
import { atomicWrite } from '../../fs/atomic-write.js';
import { renderSeed, SEED_FILE_NAMES } from '../../cloudinit/seed.js';
import { grenadeActions, stackLocalConf } from '../../provision/grenade.js';
import { hostNestsKvm, nodesNestKvm } from '../../providers/libvirt/accel.js';

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
      const stateDir = stateDirFor(loaded.baseDir, loaded.config.name);
      const stored = await readSecrets(stateDir);
      const nodes = loaded.config.nodes.map((n) => n.name);
      const secrets = completeSecrets(loaded.config.name, nodes, stored);
      if (secretsIncomplete(stored, nodes)) {
        io.err(`note: keys and passwords not yet in ${stateDir} are made up for this view only; \`devcluster up\` generates and keeps them`);
      }
      const plan = buildPlan(loaded.config, loaded.userKeys, secrets);
      const shown = planView(opts.showSecrets ? plan : redactPlan(plan));
      const text =
        opts.format === 'json'
          ? `${JSON.stringify(shown, null, 2)}\n`
          : `# plan of ${describeSource(loaded)}\n${stringify(shown, { lineWidth: 0 })}`;
      if (opts.out === undefined) {
        io.out(text);
        return;
      }
      const dir = resolve(io.cwd, opts.out);
      await mkdir(dir, { recursive: true });
      const mode = opts.showSecrets ? 0o600 : 0o644;
      const file = join(dir, opts.format === 'json' ? 'plan.json' : 'plan.yaml');
      await atomicWrite(file, text, mode);
      io.out(`wrote ${file}`);
      // Seeds from the plan as shown: with --show-secrets they are the real ones `up` will use.
      const seedPlan = opts.showSecrets ? plan : redactPlan(plan);
      // A node has /dev/kvm only when this host nests KVM; `up` checks on the node itself.
      const nested =
        loaded.config.provider === 'libvirt'
          ? await nodesNestKvm({ uri: loaded.config.libvirt.uri, accelerator: loaded.config.libvirt.accelerator })
          : await hostNestsKvm();
      const libvirtType = nested ? 'kvm' : 'qemu';
      for (const node of seedPlan.nodes) {
        const seed = renderSeed(seedPlan, node);
        for (const name of SEED_FILE_NAMES) await atomicWrite(join(dir, node.name, name), seed[name], mode);
        await atomicWrite(join(dir, node.name, 'local.conf'), stackLocalConf(seedPlan, node, { libvirtType }), mode);
        io.out(`wrote ${join(dir, node.name)}/{${[...SEED_FILE_NAMES, 'local.conf'].join(',')}}`);
        // Grenade mode: what the controller's grenade step writes, by its path under /opt/stack/new.
        for (const action of node.name === seedPlan.controller ? grenadeActions(seedPlan, node, { libvirtType }) : []) {
          if (action.kind !== 'upload') continue;
          const file = join(dir, node.name, 'grenade', action.path.replace(/^\/opt\/stack\//, ''));
          await mkdir(join(file, '..'), { recursive: true });
          await atomicWrite(file, action.data, mode);
          io.out(`wrote ${file}`);
        }
      }
    });
}
