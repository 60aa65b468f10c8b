/**
 * `logs collect [--out DIR]`: every node's logs in the gate's layout, one folder (src/cluster/logs-collect.ts).
 * Prints where, per node what was collected, and one line per thing not read; some not read: exit 1 with
 * LOGS_PARTIAL (the folder holds the rest). Never prints anything the files hold.
 */
import type { Command } from 'commander';
import { collectLogs } from '../../cluster/logs-collect.js';
import { DevclusterError, InterruptedError } from '../../errors.js';
import { loadFor } from '../context.js';
import type { CliIO } from '../io.js';
import { formatBytes, progressReporter } from '../progress.js';

/** Adds `collect` to the `logs` command (src/cli/commands/logs.ts calls this once). */
export function registerLogsCollect(logs: Command, io: CliIO): void {
  logs
    .command('collect')
    .description("every node's logs in the gate's layout (NODE/logs/…: local.conf, stack.sh log, screen-UNIT.txt, journal export, /etc, package lists) with a README; nodes in parallel")
    .option('--out <dir>', 'folder to write (must not exist or be empty; default ./logs-CLUSTER-TIMESTAMP)')
    .action(async (opts: { out?: string }, command: Command) => {
      const loaded = await loadFor(command, io);
      const result = await collectLogs(loaded, { ...(opts.out === undefined ? {} : { out: opts.out }), cwd: io.cwd }, { signal: io.signal, report: progressReporter(io) }).catch((error: unknown) => {
        if (!io.signal.aborted) throw error;
        throw new InterruptedError('logs collect stopped: the nodes stopped their part and removed what they had staged; the folder holds only what had arrived', {
          hint: 'remove the folder (or give another --out) and run `devcluster logs collect` again',
          cause: error,
        });
      });
      for (const n of result.summary.nodes) {
        if (n.outcome.kind === 'collected') {
          const clock = n.offsetSeconds === undefined ? '' : `, clock ${n.offsetSeconds >= 0 ? '+' : ''}${n.offsetSeconds.toFixed(2)} s`;
          io.out(`${n.node}: ${n.outcome.files} files, ${n.outcome.units.length} devstack units, ${formatBytes(n.outcome.bytes)} received${clock}`);
        }
      }
      for (const line of result.problems) io.out(line);
      io.out(`logs of cluster ${result.summary.cluster} in ${result.dir} (README.txt there): ${formatBytes(result.bytesOnDisk)} in ${(result.tookMs / 1000).toFixed(1)} s`);
      if (result.problems.length > 0) {
        throw new DevclusterError('LOGS_PARTIAL', `${result.problems.length} thing${result.problems.length === 1 ? '' : 's'} could not be read; the rest is in ${result.dir}`, {
          hint: 'the lines above (and README.txt) say what and why; a node that is not running: `devcluster up`',
        });
      }
    });
}
