/** What every command gets from the global options: the config, once loaded, and the output. */
import { homedir } from 'node:os';
import type { Command } from 'commander';
import { loadConfig, type LoadedConfig } from '../config/load.js';
import type { CliIO } from './io.js';

export interface GlobalOptions {
  config?: string;
  verbose?: boolean;
}

export function globalOptions(command: Command): GlobalOptions {
  return command.optsWithGlobals<GlobalOptions>();
}

export async function loadFor(command: Command, io: CliIO): Promise<LoadedConfig> {
  const { config } = globalOptions(command);
  const loaded = await loadConfig({ configPath: config, cwd: io.cwd, home: io.env.HOME ?? homedir(), agentSocket: io.env.SSH_AUTH_SOCK });
  return loaded;
}

export function describeSource(loaded: LoadedConfig): string {
  return loaded.file ?? 'built-in default cluster (no devcluster.yaml here)';
}
