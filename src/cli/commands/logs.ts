/**
 * `logs [NODE…] [--unit U…] [-f] [--since T] [-n N] [--json]`: the DevStack units' journals of the
 * cluster's nodes as one stream in time order (host clock), each line `NODE UNIT HH:MM:SS.mmm LEVEL
 * message`, or one JSON object per line. Lines about a node (stopped, its stream ended) go to stderr.
 * With -f it runs until Ctrl-C, which ends journalctl on every node and exits 130.
 */
import { registerLogsCollect } from './logs-collect.js';
import { Option, type Command } from 'commander';
import type { CliIO } from '../io.js';
import { loadFor } from '../context.js';
import { readLogs, DEFAULT_LINES } from '../../cluster/logs.js';
import { formatLine, jsonLine } from '../../logs/merge.js';
import { DevclusterError } from '../../errors.js';

/** -n's value: a whole number of lines, 0 or more. */
function lineCount(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n)) {
    throw new DevclusterError('USAGE_INVALID', `-n "${value}" is not a number of lines`, { hint: 'give a whole number, e.g. -n 50' });
  }
  return n;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

interface LogsFlags {
  unit: string[];
  follow?: boolean;
  since?: string;
  lines?: string;
  json?: boolean;
}

export function registerLogs(program: Command, io: CliIO): Command {
  const logs = program
    .command('logs')
    .description("the DevStack units' journals of every running node (or NODE…) as one stream in time order, each line prefixed with node and unit")
    .argument('[nodes...]', 'node names (default: every running node)')
    .addOption(new Option('--unit <unit>', 'a unit: n-api means devstack@n-api.service, any other name is a unit as is (sshd); repeatable').argParser(collect).default([], 'every devstack@ unit'))
    .option('-f, --follow', 'keep printing new entries until Ctrl-C')
    .option('--since <time>', "only entries since this time, in journalctl's --since syntax (\"2026-12-01 05:00\", \"-10min\", today)")
    .option('-n, --lines <n>', `entries per node before following or stopping (default ${DEFAULT_LINES}; with --since, all since then)`)
    .option('--json', 'one JSON object per line: node, unit, time (host clock), offsetSeconds, level, message, requestId, cursor')
    .action(async (nodes: string[], opts: LogsFlags, command: Command) => {
      const lines = opts.lines === undefined ? undefined : lineCount(opts.lines);
      const loaded = await loadFor(command, io);
      const width = Math.max(...loaded.config.nodes.map((n) => n.name.length));
      const result = await readLogs(
        loaded,
        { nodes, units: opts.unit, follow: opts.follow === true, ...(opts.since === undefined ? {} : { since: opts.since }), ...(lines === undefined ? {} : { lines }) },
        { signal: io.signal, report: () => undefined },
        (event) => {
          if (event.kind === 'node') io.err(`${event.node}: ${event.message}`);
          else io.out(opts.json ? jsonLine(event.t) : formatLine(event.t, { node: width, unit: 12 }));
        },
      );
      if (result.failed.length > 0) {
        throw new DevclusterError('SSH_COMMAND_FAILED', `no logs from ${result.failed.join(', ')} (see the lines above); ${result.entries} entries from ${result.nodes.map((n) => n.node).join(', ')}`);
      }
    });
  registerLogsCollect(logs, io);
  return logs;
}
