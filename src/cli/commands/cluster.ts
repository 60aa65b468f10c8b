/** `up`, `status`, `ssh`, `ssh-config`, `halt`, `down`: the cluster's life. */
import { spawn } from 'node:child_process';
import type { Command } from 'commander';
import type { CliIO } from '../io.js';
import { loadFor } from '../context.js';
import type { LoadedConfig } from '../../config/load.js';
import { progressReporter, formatBytes } from '../progress.js';
import { up } from '../../cluster/up.js';
import { provision } from '../../cluster/provision.js';
import { STEPS } from '../../provision/steps/index.js';
import type { EngineResult } from '../../provision/engine.js';
import { down, halt } from '../../cluster/down.js';
import { status } from '../../cluster/status.js';
import { prepareSsh, sshConfig } from '../../cluster/ssh.js';
import { DevclusterError } from '../../errors.js';
import { cacheLayout } from '../../images/cache.js';
import { formatTable } from '../table.js';
import { describeSave } from './snapshot.js';

/** A `--… <seconds>` flag's value in milliseconds; anything else is bad usage naming the flag. */
function seconds(value: string, flag: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n <= 0) {
    throw new DevclusterError('USAGE_INVALID', `${flag} "${value}" is not a number of seconds`, { hint: `give a positive number, e.g. ${flag} 900` });
  }
  return n * 1000;
}

export interface UpOptions {
  bootTimeout: string;
  stackTimeout: string;
  provision: boolean;
  wait: boolean;
  follow?: boolean;
}

/** What `up` does once the config is loaded (also `reproduce --up`, on the config it wrote). */
export async function runUp(loaded: LoadedConfig, opts: UpOptions, io: CliIO): Promise<void> {
  const started = Date.now();
  const result = await up(loaded, {
    ctx: { signal: io.signal, report: progressReporter(io, { follow: opts.follow === true }) },
    bootBudgetMs: seconds(opts.bootTimeout, '--boot-timeout'),
    stackTimeoutMs: seconds(opts.stackTimeout, '--stack-timeout'),
    cacheLayout: cacheLayout(io.env),
    noProvision: !opts.provision,
    noWait: !opts.wait,
  });
  if (result.provisioned) io.out(summarise(result.provisioned));
  if (result.snapshot) io.out(`${describeSave(result.snapshot)}; \`devcluster reset\` brings the cluster back to it`);
  io.out(
    `cluster ${result.plan.name} is ${opts.wait ? 'ready' : 'started (not waited for)'} in ${Math.round((Date.now() - started) / 1000)} s: ` +
      result.plan.nodes.map((n) => `${n.name} ${n.ip}`).join(', ') +
      `${result.created.length > 0 ? ` (created ${result.created.join(', ')})` : ' (nothing to create)'}; image ${formatBytes(result.bytesDownloaded)} downloaded`,
  );
  io.out(`ssh: devcluster ssh ${result.plan.controller}   or   ssh -F ${result.sshConfig} ${result.plan.controller}`);
}

export function registerCluster(program: Command, io: CliIO): void {
  program
    .command('up')
    .description('create and start the cluster, and wait until every node answers SSH (pinned host key) with cloud-init done')
    .option('--boot-timeout <seconds>', 'budget per node from start to cloud-init done', '900')
    .option('--stack-timeout <seconds>', 'budget for each stack.sh run', '7200')
    .option('--no-provision', 'stop once the nodes are ready: no DevStack')
    .option('--no-wait', 'return once the nodes are started: no wait for SSH, no DevStack')
    .option('--follow', "print every node's output as it runs, prefixed by node")
    .action(async (opts: UpOptions, command: Command) => runUp(await loadFor(command, io), opts, io));

  program
    .command('provision')
    .description(`run DevStack's steps on the running cluster: those not done yet, or --from a step on (${STEPS.join(', ')})`)
    .option('--from <step>', 're-run this step and every later one')
    .option('--only <node>', "only this node's steps")
    .option('--stack-timeout <seconds>', 'budget for each stack.sh run', '7200')
    .option('--follow', "print every node's output as it runs, prefixed by node")
    .action(async (opts: { from?: string; only?: string; stackTimeout: string; follow?: boolean }, command: Command) => {
      const loaded = await loadFor(command, io);
      const result = await provision(loaded, {
        ctx: { signal: io.signal, report: progressReporter(io, { follow: opts.follow === true }) },
        cacheLayout: cacheLayout(io.env),
        stackTimeoutMs: seconds(opts.stackTimeout, '--stack-timeout'),
        ...(opts.from === undefined ? {} : { from: opts.from }),
        ...(opts.only === undefined ? {} : { only: opts.only }),
      });
      io.out(summarise(result));
    });

  program
    .command('status')
    .description("every node's state, role and address, as the provider (libvirt or VirtualBox) reports them")
    .option('--json', 'machine-readable output')
    .action(async (opts: { json?: boolean }, command: Command) => {
      const loaded = await loadFor(command, io);
      const { cluster, provider, nodes } = await status(loaded, { signal: io.signal, report: progressReporter(io) });
      if (opts.json) {
        io.out(JSON.stringify({ cluster, provider, nodes }, null, 2));
        return;
      }
      if (nodes.length === 0) {
        io.out(`cluster ${cluster}: no nodes (run \`devcluster up\`)`);
        return;
      }
      io.out(formatTable([['NODE', 'ROLE', 'STATE', 'ADDRESS', 'RESOURCE'], ...nodes.map((n) => [n.node, n.role, n.state, n.ip ?? '-', n.resource])]));
    });

  program
    .command('ssh')
    .description('a shell on NODE as the stack user (pinned host key), or run CMD there and exit with its code')
    .argument('<node>', 'node name, e.g. controller')
    .argument('[command...]', 'command to run (after --)')
    .action(async (nodeName: string, commandArgs: string[], _opts: unknown, command: Command) => {
      const loaded = await loadFor(command, io);
      // The pin is checked with devcluster's own client first; then OpenSSH, for a real TTY and exit status.
      const { args } = await prepareSsh(loaded, nodeName, commandArgs, { signal: io.signal, report: progressReporter(io) });
      const code = await new Promise<number>((resolve) => {
        const child = spawn('ssh', args, { stdio: 'inherit' });
        child.on('exit', (c, signal) => resolve(c ?? (signal ? 128 : 255)));
        child.on('error', () => resolve(255));
      });
      if (code !== 0) throw new SshExit(code);
    });

  program
    .command('ssh-config')
    .description('print an OpenSSH config block per node (pinned known_hosts written beside it), for ssh -F, scp, Ansible')
    .action(async (_opts: unknown, command: Command) => {
      const loaded = await loadFor(command, io);
      const { files, text } = await sshConfig(loaded, { signal: io.signal, report: progressReporter(io) });
      io.out(`# ${files.config} (known hosts: ${files.knownHosts})`);
      io.out(text);
    });

  program
    .command('halt')
    .description('shut every node down (ACPI, then power off after the budget)')
    .option('--timeout <seconds>', 'ACPI shutdown budget per node', '120')
    .action(async (opts: { timeout: string }, command: Command) => {
      const loaded = await loadFor(command, io);
      for (const r of await halt(loaded, seconds(opts.timeout, '--timeout'), { signal: io.signal, report: progressReporter(io) })) io.out(`${r.node}: ${r.result}`);
    });

  program
    .command('down')
    .description("remove the cluster's VMs, disks, seeds, network and state (never the image cache)")
    .action(async (_opts: unknown, command: Command) => {
      const loaded = await loadFor(command, io);
      const removed = await down(loaded, { signal: io.signal, report: progressReporter(io) });
      for (const item of removed) io.out(`removed ${item}`);
    });
}

function summarise(result: EngineResult): string {
  if (result.ran.length === 0) return `provisioning: nothing to do (${result.skipped.length} steps already done)`;
  const steps = result.ran.map((r) => `${r.node}/${r.step} ${Math.round(r.durationMs / 1000)} s`);
  return `provisioned: ${steps.join(', ')}${result.skipped.length > 0 ? ` (${result.skipped.length} already done)` : ''}`;
}

/** A remote command's non-zero exit: passed through as devcluster's exit code, with no error text. */
export class SshExit extends Error {
  constructor(readonly code: number) {
    super(`remote command exited with ${code}`);
  }
}
