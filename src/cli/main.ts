/** The devcluster command line: global options, the commands, exit codes (0 ok, 1 failed, 2 usage/config, 130 interrupted). */
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { processIO, type CliIO } from './io.js';
import { EXIT, reportError, reportInterrupted } from './errors.js';
import { registerConfig } from './commands/config.js';
import { registerInit } from './commands/init.js';
import { registerRender } from './commands/render.js';
import { registerImage } from './commands/image.js';
import { registerCluster, SshExit } from './commands/cluster.js';
import { registerDoctor } from './commands/doctor.js';
import { registerSnapshot } from './commands/snapshot.js';
import { registerReproduce } from './commands/reproduce.js';
import { registerLogs } from './commands/logs.js';
import { registerTrace } from './commands/trace.js';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

export function buildProgram(io: CliIO): Command {
  const program = new Command('devcluster')
    .description('Multi-node OpenStack DevStack clusters on one workstation (libvirt or VirtualBox).')
    .version(pkg.version, '-V, --version', 'print the version')
    .option('-c, --config <file>', 'cluster config file (default: ./devcluster.yaml, else the built-in default cluster)')
    .option('-v, --verbose', 'show more detail, and stack traces on errors')
    .showHelpAfterError('(run with --help for usage)')
    .addHelpText(
      'after',
      '\nExit codes: 0 ok, 1 the operation failed, 2 bad usage or bad config, 130 interrupted (Ctrl-C or SIGTERM).\nConfig reference: config.example.yaml; JSON Schema: schema/devcluster.schema.json',
    )
    .configureOutput({ writeOut: (s) => io.out(s), writeErr: (s) => io.err(s) })
    .exitOverride();
  registerCluster(program, io);
  registerSnapshot(program, io);
  registerInit(program, io);
  registerReproduce(program, io);
  registerLogs(program, io);
  registerTrace(program, io);
  registerConfig(program, io);
  registerRender(program, io);
  registerImage(program, io);
  registerDoctor(program, io);
  for (const command of program.commands) {
    command.exitOverride().configureOutput({ writeOut: (s) => io.out(s), writeErr: (s) => io.err(s) });
    for (const sub of command.commands) sub.exitOverride().configureOutput({ writeOut: (s) => io.out(s), writeErr: (s) => io.err(s) });
  }
  return program;
}

export async function main(argv: readonly string[], io: CliIO = processIO()): Promise<number> {
  const program = buildProgram(io);
  const verbose = argv.includes('-v') || argv.includes('--verbose');
  if (argv.length <= 2) {
    program.outputHelp({ error: true });
    return EXIT.usage;
  }
  try {
    await program.parseAsync([...argv]);
    return EXIT.ok;
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version') return EXIT.ok;
      // commander already printed its message; a group command without a subcommand shows help.
      return EXIT.usage;
    }
    if (error instanceof SshExit) return error.code;
    if (io.signal.aborted) {
      const names = new Set(program.commands.map((c) => c.name()));
      return reportInterrupted(io, argv.slice(2).find((a) => names.has(a)) ?? 'up', error, verbose);
    }
    return reportError(io, error, verbose);
  }
}
