/** `devcluster init`: write a commented devcluster.yaml, or convert a devstack-vagrant config.yaml. */
import { readdir, readFile, rename, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import type { Command } from 'commander';
import type { CliIO } from '../io.js';
import { globalOptions } from '../context.js';
import { ConfigError, DEFAULT_CONFIG_FILE, parseConfigText } from '../../config/load.js';
import { convertVagrantConfig, settleConversion } from '../../config/from-vagrant.js';
import { convertedConfigText, initialConfigText } from '../../config/template.js';
import { expandHome, resolveLocal } from '../../fs/paths.js';
import { atomicWrite } from '../../fs/atomic-write.js';
import { hashPassword } from '../../process/run.js';
import { DevclusterError } from '../../errors.js';

async function exists(path: string): Promise<boolean> {
  return stat(path).then(() => true, () => false);
}

export function registerInit(program: Command, io: CliIO): void {
  program
    .command('init')
    .description('write a commented devcluster.yaml (to -c FILE, default ./devcluster.yaml)')
    .option('--name <name>', 'cluster name (default: dev)')
    .option('--from-vagrant <file>', "convert devstack-vagrant's config.yaml instead")
    .option('--force', 'replace an existing file (it is kept as FILE.bak)')
    .action(async (opts: { name?: string; fromVagrant?: string; force?: boolean }, command: Command) => {
      const home = io.env.HOME ?? homedir();
      const target = resolve(io.cwd, expandHome(globalOptions(command).config ?? DEFAULT_CONFIG_FILE, home));
      if ((await exists(target)) && !opts.force) {
        throw new DevclusterError('CONFIG_EXISTS', `${target} already exists; nothing was written`, {
          hint: 'use --force to replace it (the old file is kept as .bak), or -c to write elsewhere',
        });
      }

      // Validated exactly as `config validate` will read it, before anything is written.
      const validateText = (text: string) => parseConfigText(text, { file: target, baseDir: dirname(target), home, agentSocket: io.env.SSH_AUTH_SOCK });
      let text: string;
      let notes: string[] = [];
      if (opts.fromVagrant !== undefined) {
        const source = resolve(io.cwd, expandHome(opts.fromVagrant, home));
        const vagrantText = await readFile(source, 'utf8').catch((error: unknown) => {
          throw new DevclusterError('CONFIG_NOT_FOUND', `cannot read ${source}`, { cause: error, hint: "give the path of devstack-vagrant's config.yaml" });
        });
        const converted = await convertVagrantConfig(vagrantText, source, {
          hashPassword: (password) => hashPassword(password),
          listProjects: (tree) => listProjects(resolveLocal(tree, { baseDir: dirname(source), home })),
        });
        if (opts.name !== undefined) converted.config.name = opts.name;
        // What devcluster would refuse is left out and listed at the top of the file: the rest of
        // the conversion is still worth having, and every default that takes a left-out field's
        // place (your ~/.ssh keys, generated passwords, addresses from the plan) works.
        const conversion = await settleConversion(converted, source, async (config) => {
          try {
            await validateText(convertedConfigText(config, source, []));
            return [];
          } catch (error) {
            if (error instanceof ConfigError) return error.issues;
            throw error;
          }
        });
        notes = conversion.notes;
        text = convertedConfigText(conversion.config, source, notes);
      } else {
        text = await initialConfigText(opts.name);
      }
      await validateText(text);

      if (await exists(target)) await rename(target, `${target}.bak`);
      await atomicWrite(target, text, 0o600);
      io.out(`wrote ${target}`);
      for (const note of notes) io.err(`note: ${note}`);
    });
}

/** Project checkouts (folders with .git) in a devstack-vagrant local_openstack_tree. */
async function listProjects(tree: string): Promise<string[] | undefined> {
  let names: string[];
  try {
    names = await readdir(tree);
  } catch {
    return undefined;
  }
  const projects: string[] = [];
  for (const name of names.sort()) {
    if (await exists(join(tree, name, '.git'))) projects.push(name);
  }
  return projects;
}
