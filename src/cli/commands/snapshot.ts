/** `snapshot save|restore|list|delete` and `reset`: the cluster frozen at one instant, and back in seconds. */
import type { Command } from 'commander';
import type { CliIO } from '../io.js';
import { loadFor } from '../context.js';
import { formatBytes, progressReporter } from '../progress.js';
import { formatTable } from '../table.js';
import { saveSnapshot, type SaveResult } from '../../cluster/snapshot/save.js';
import { restoreSnapshot, type RestoreResult } from '../../cluster/snapshot/restore.js';
import { deleteSnapshot, listSnapshots } from '../../cluster/snapshot/manage.js';
import { AFTER_UP_SNAPSHOT } from '../../cluster/snapshot/after-up.js';

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

/** One line for a save: what it holds on disk and how long the nodes were paused. */
export function describeSave(result: SaveResult): string {
  const bytes = result.parts.reduce((sum, p) => sum + p.bytes, 0);
  const n = result.record.nodes.length;
  return `snapshot ${result.record.name} saved: ${n} node${n === 1 ? '' : 's'}, ${formatBytes(bytes)} on disk, nodes paused ${seconds(result.record.pausedMs)}`;
}

function describeRestore(result: RestoreResult): string[] {
  const clocks = result.clocks.map((c) => `${c.node} ${c.offsetSeconds >= 0 ? '+' : ''}${c.offsetSeconds.toFixed(2)} s${c.via === 'none' ? '' : ` (set by ${c.via})`}`);
  return [
    `snapshot ${result.record.name} (saved ${result.record.savedAt}) restored: every node back and running in ${seconds(result.restoreMs)}`,
    ...(clocks.length > 0 ? [`clocks against the host: ${clocks.join(', ')}`] : []),
    `ready: ${result.ready} (${seconds(result.tookMs)} in all)`,
  ];
}

export function registerSnapshot(program: Command, io: CliIO): void {
  const snapshot = program
    .command('snapshot')
    .description("save the whole cluster (every node's memory and disks, frozen at one instant) and bring it back in seconds");

  snapshot
    .command('save')
    .description('pause every node, capture each one, resume all; refused when NAME exists (unless --replace) or space is short')
    .argument('<name>', 'snapshot name: letters, digits, ".", "_", "-"')
    .option('--replace', 'replace a snapshot of the same name')
    .action(async (name: string, opts: { replace?: boolean }, command: Command) => {
      const loaded = await loadFor(command, io);
      const result = await saveSnapshot(loaded, name, { replace: opts.replace === true }, { signal: io.signal, report: progressReporter(io) });
      io.out(describeSave(result));
    });

  snapshot
    .command('restore')
    .description('bring every node back to NAME (paused, then resumed together), step the clocks, wait until the cluster answers')
    .argument('<name>', 'snapshot name')
    .option('--no-wait', 'return once the nodes run: no clock step, no readiness check')
    .action(async (name: string, opts: { wait: boolean }, command: Command) => {
      const loaded = await loadFor(command, io);
      const result = await restoreSnapshot(loaded, name, { noWait: !opts.wait }, { signal: io.signal, report: progressReporter(io) });
      for (const line of describeRestore(result)) io.out(line);
    });

  snapshot
    .command('list')
    .description("the cluster's snapshots: when, size on disk, and whether each can be restored; the method this host uses and why")
    .option('--json', 'machine-readable output')
    .action(async (opts: { json?: boolean }, command: Command) => {
      const loaded = await loadFor(command, io);
      const result = await listSnapshots(loaded, { signal: io.signal, report: progressReporter(io) });
      if (opts.json) {
        io.out(JSON.stringify(result, null, 2));
        return;
      }
      io.out(`method (${result.provider}): ${result.method.description}`);
      if (result.snapshots.length === 0) {
        io.out(`cluster ${result.cluster}: no snapshots (\`devcluster snapshot save NAME\`)`);
        return;
      }
      io.out(
        formatTable([
          ['NAME', 'SAVED', 'SIZE', 'STACKED', 'RESTORABLE'],
          ...result.snapshots.map((s) => [s.name, s.savedAt ?? '-', formatBytes(s.bytes), s.stacked === undefined ? '-' : s.stacked ? 'yes' : 'no', s.problems.length === 0 ? 'yes' : `no: ${s.problems.join('; ')}`]),
        ]),
      );
    });

  snapshot
    .command('delete')
    .description('remove snapshot NAME from every node and free its space')
    .argument('<name>', 'snapshot name')
    .action(async (name: string, _opts: unknown, command: Command) => {
      const loaded = await loadFor(command, io);
      const { freedBytes } = await deleteSnapshot(loaded, name, { signal: io.signal, report: progressReporter(io) });
      io.out(`snapshot ${name} deleted (${formatBytes(freedBytes)} freed)`);
    });

  program
    .command('reset')
    .description(`restore snapshot ${AFTER_UP_SNAPSHOT} (taken after \`up\` stacked DevStack): the cluster as it was just built`)
    .option('--no-wait', 'return once the nodes run: no clock step, no readiness check')
    .action(async (opts: { wait: boolean }, command: Command) => {
      const loaded = await loadFor(command, io);
      const result = await restoreSnapshot(loaded, AFTER_UP_SNAPSHOT, { noWait: !opts.wait }, { signal: io.signal, report: progressReporter(io) });
      for (const line of describeRestore(result)) io.out(line);
    });
}
