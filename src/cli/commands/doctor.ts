/** `devcluster doctor [--fix] [--json]`: is this host ready to run the cluster, and what fixes it. */
import type { Command } from 'commander';
import type { CliIO } from '../io.js';
import { loadFor } from '../context.js';
import { progressReporter } from '../progress.js';
import { DevclusterError } from '../../errors.js';
import { runChecks, type CheckOptions } from '../../doctor/checks.js';
import { applyFixes, type AppliedCommand } from '../../doctor/fix.js';
import { formatCommand, type Finding } from '../../doctor/finding.js';

const LABEL = { ok: 'ok  ', warn: 'warn', fail: 'FAIL' } as const;

/** One line per finding, then its fix: each command as `  fix: …`, or what to do by hand. */
export function formatFindings(findings: readonly Finding[]): string {
  const lines: string[] = [];
  for (const f of findings) {
    lines.push(`${LABEL[f.status]} ${f.id}: ${f.message}`);
    if (f.status === 'ok' || f.fix === undefined) continue;
    if (f.fix.commands.length === 0) {
      lines.push(`  fix: ${f.fix.description}`);
      continue;
    }
    for (const command of f.fix.commands) lines.push(`  fix: ${formatCommand(command)}`);
    lines.push(`  note: ${f.fix.description}`);
  }
  const count = (s: Finding['status']) => findings.filter((f) => f.status === s).length;
  lines.push(`${count('ok')} ok, ${count('warn')} warn, ${count('fail')} fail`);
  return lines.join('\n');
}

export function registerDoctor(program: Command, io: CliIO): void {
  program
    .command('doctor')
    .description('check that this host can run the cluster: packages, libvirt, storage pool, KVM, tools (--fix repairs what it can)')
    .option('--fix', 'run the fix commands of the failed checks (most need root), then check again')
    .option('--json', 'machine-readable output')
    .action(async (opts: { fix?: boolean; json?: boolean }, command: Command) => {
      const loaded = await loadFor(command, io);
      const config = loaded.config;
      const options: CheckOptions = {
        provider: config.provider,
        uri: config.libvirt.uri,
        pool: config.libvirt.pool,
        accelerator: config.libvirt.accelerator,
        signal: io.signal,
        env: io.env,
        ...(config.network.mode === 'bridged' && config.network.bridge_interface ? { bridgeInterface: config.network.bridge_interface } : {}),
      };
      let findings = await runChecks(options);
      let applied: AppliedCommand[] = [];
      if (opts.fix) {
        const result = await applyFixes(findings, { signal: io.signal, report: progressReporter(io), checks: options });
        findings = result.findings;
        applied = result.applied;
        if (!opts.json && applied.length === 0) io.err('doctor: nothing that a command can fix');
      }
      if (opts.json) io.out(JSON.stringify({ config: loaded.file ?? null, findings, applied }, null, 2));
      else io.out(formatFindings(findings));

      const failed = findings.filter((f) => f.status === 'fail');
      if (failed.length > 0) {
        const hint = opts.fix
          ? 'the fixes above that are left need doing by hand'
          : 'run `devcluster doctor --fix` (as root) to run the fix commands, or run them yourself';
        throw new DevclusterError('PROVIDER_UNAVAILABLE', `this host is not ready: ${failed.length} check${failed.length === 1 ? '' : 's'} failed (${failed.map((f) => f.id).join(', ')})`, {
          hint,
        });
      }
    });
}
