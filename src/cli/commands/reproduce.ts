/**
 * `devcluster reproduce SOURCE`: a Zuul build's logs (log URL, Zuul build page, or a folder) → a
 * devcluster.yaml that rebuilds its cluster (src/reproduce/), validated before it is written; each
 * node's local.conf as devcluster rebuilt it from the job's variables, against the job's own; `--up`
 * then brings the cluster up as `devcluster up` does.
 */
import { rename, stat } from 'node:fs/promises';
import { cpus, homedir, totalmem } from 'node:os';
import { dirname, resolve } from 'node:path';
import type { Command } from 'commander';
import type { CliIO } from '../io.js';
import { globalOptions } from '../context.js';
import { progressReporter } from '../progress.js';
import { runUp } from './cluster.js';
import { DEFAULT_CONFIG_FILE, parseConfigText } from '../../config/load.js';
import { IMAGE_NAMES } from '../../config/catalog-names.js';
import { atomicWrite } from '../../fs/atomic-write.js';
import { expandHome } from '../../fs/paths.js';
import { DevclusterError } from '../../errors.js';
import { describeSource, reproduceBuild, type LocalConfCheck } from '../../reproduce/reproduce.js';
import { DEFAULT_GERRIT_BASE, DEFAULT_GIT_BASE } from '../../reproduce/sources.js';

async function exists(path: string): Promise<boolean> {
  return stat(path).then(() => true, () => false);
}

/** One node's local.conf check, as lines: agreed (with how many lines devcluster rewrites), or each difference. */
export function describeCheck(check: LocalConfCheck): string[] {
  const what = `${check.node} ${check.logPath}`;
  if (check.comparison === undefined) return [`${what}: the build published none; not compared`];
  const { differences, rewritten } = check.comparison;
  const rewrittenNote = rewritten.length === 0 ? '' : ` except ${rewritten.length} line(s) devcluster rewrites (${[...new Set(rewritten.map((l) => l.key))].join(', ')})`;
  if (differences.length === 0) return [`${what}: same as the job's${rewrittenNote}`];
  return [
    `${what}: ${differences.length} line(s) differ from the job's${rewrittenNote}:`,
    ...differences.map((d) => `  ${d.section} ${d.key}: ours ${d.ours ?? '(none)'} | the job's ${d.theirs ?? '(none)'}`),
  ];
}

export function registerReproduce(program: Command, io: CliIO): void {
  program
    .command('reproduce')
    .description("rebuild a Zuul build's cluster: its logs (URL or folder) → a devcluster.yaml, each node's local.conf checked against the job's")
    .argument('<source>', "the build's log URL (its Zuul page's \"Logs\" link), its Zuul build page, or a folder holding the same files")
    .option('--out <file>', 'where to write the config (default: -c FILE, else ./devcluster.yaml)')
    .option('--force', 'replace an existing file (it is kept as FILE.bak)')
    .option('--image <name>', `the image of every node instead of the one the nodepool label names (${IMAGE_NAMES.join(', ')})`)
    .option('--with <file>', 'a YAML file of your own settings laid over the generated config (image, network, node sizes by name, devstack.repo, …)')
    .option('--sources <dir>', "rebuild every project of the build in DIR (the job's commit, or its branch plus the changes under test) and use those trees")
    .option('--git-base <url>', `with --sources: where the projects' branches are cloned from (a URL or a local folder; default ${DEFAULT_GIT_BASE})`)
    .option('--gerrit-base <url>', `with --sources: where the changes' refs/changes/… are fetched from (default ${DEFAULT_GERRIT_BASE})`)
    .option('--host-base <host=url>', 'with --sources: where projects of another host come from (github.com=DIR for novnc/novnc); repeatable', (value: string, all: string[]) => [...all, value], [] as string[])
    .option('--up', 'then bring the cluster up, as `devcluster up` does')
    .action(async (source: string, opts: { out?: string; force?: boolean; image?: string; with?: string; up?: boolean; sources?: string; gitBase?: string; gerritBase?: string; hostBase: string[] }, command: Command) => {
      const home = io.env.HOME ?? homedir();
      if (opts.sources === undefined && (opts.gitBase !== undefined || opts.gerritBase !== undefined || opts.hostBase.length > 0)) {
        throw new DevclusterError('USAGE_INVALID', '--git-base, --gerrit-base and --host-base only count with --sources', { hint: 'add --sources DIR, the folder to rebuild the projects in' });
      }
      const hostBases: Record<string, string> = {};
      for (const entry of opts.hostBase) {
        const m = /^([A-Za-z0-9.-]+)=(.+)$/.exec(entry);
        if (!m) throw new DevclusterError('USAGE_INVALID', `--host-base "${entry}" is not HOST=URL`, { hint: 'e.g. --host-base github.com=/srv/mirror/github' });
        hostBases[m[1] as string] = expandHome(m[2] as string, home);
      }
      const target = resolve(io.cwd, expandHome(opts.out ?? globalOptions(command).config ?? DEFAULT_CONFIG_FILE, home));
      if ((await exists(target)) && !opts.force) {
        throw new DevclusterError('CONFIG_EXISTS', `${target} already exists; nothing was written`, {
          hint: 'use --force to replace it (the old file is kept as .bak), or --out to write elsewhere',
        });
      }
      const result = await reproduceBuild(source, {
        ctx: { signal: io.signal, report: progressReporter(io) },
        cwd: io.cwd,
        home,
        env: io.env,
        host: { memoryBytes: totalmem(), cpus: cpus().length },
        ...(opts.image === undefined ? {} : { image: opts.image }),
        ...(opts.with === undefined ? {} : { withFile: resolve(io.cwd, expandHome(opts.with, home)) }),
        ...(opts.sources === undefined
          ? {}
          : {
              sources: {
                cacheDir: resolve(io.cwd, expandHome(opts.sources, home)),
                ...(opts.gitBase === undefined ? {} : { gitBase: expandHome(opts.gitBase, home) }),
                ...(opts.gerritBase === undefined ? {} : { gerritBase: expandHome(opts.gerritBase, home) }),
                ...(opts.hostBase.length === 0 ? {} : { hostBases }),
              },
            }),
      });
      const { generated, build } = result;
      // Read back exactly as `config validate` will, before anything is written.
      // With --with, a problem may be the user's file's: the name says the text is both.
      const shown = opts.with === undefined ? target : `${target} (not written: the generated config with ${opts.with} laid over)`;
      const loaded = await parseConfigText(generated.text, { file: shown, baseDir: dirname(target), home, agentSocket: io.env.SSH_AUTH_SOCK });
      if (await exists(target)) await rename(target, `${target}.bak`);
      await atomicWrite(target, generated.text, 0o600);
      const config = loaded.config;
      io.out(
        `wrote ${target}: cluster ${config.name} for build ${build.zuul.build} of ${build.zuul.job} — ` +
          config.nodes.map((n) => `${n.name} (${n.role}, ${n.cpus} vCPU, ${n.memory})`).join(', ') +
          `, image ${typeof config.image === 'string' ? config.image : config.image.url}`,
      );
      for (const check of result.checks) for (const line of describeCheck(check)) io.out(line);
      for (const rebuilt of result.sources ?? []) io.out(`source ${describeSource(rebuilt)}`);
      for (const rewrite of generated.rewrites) io.err(`note: ${rewrite}`);
      for (const warning of generated.warnings) io.err(`warning: ${warning}`);
      if (generated.laid.length > 0) io.err(`note: from ${opts.with ?? ''}: ${generated.laid.join(', ')}`);
      if (opts.up) await runUp(loaded, { bootTimeout: '900', stackTimeout: '7200', provision: true, wait: true }, io);
    });
}
