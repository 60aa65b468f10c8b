/**
 * Upstream OpenStack trees for tests that run their real scripts, as a local bare repository that
 * nodes clone with a file:// URL: from $DEVCLUSTER_<PROJECT>_REPO (a clone, a git bundle or a URL;
 * e.g. DEVCLUSTER_GRENADE_REPO), else the shared bundle ../shared/upstream/<project>.bundle beside the
 * repository when it exists (CI), else opendev's URL (a user's machine). When none has every branch
 * asked for, the test fails naming what was tried and the variable to set — never a skip.
 */
import { execFile, execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export type UpstreamProject = 'devstack' | 'grenade';

/**
 * The shared bundle: `shared/upstream/<project>.bundle` beside the repository or beside any folder above
 * it, else in /work/shared (this project's build machines keep it there, wherever CI clones the
 * repository); the first that exists, or the one beside the repository. Then opendev's URL (a user's machine).
 */
export const sharedBundle = (project: UpstreamProject): string => {
  const file = join('shared', 'upstream', `${project}.bundle`);
  const beside = resolve(import.meta.dirname, '..', '..', '..', file);
  const candidates: string[] = [];
  for (let dir = resolve(import.meta.dirname, '..', '..', '..'); ; dir = dirname(dir)) {
    candidates.push(join(dir, file));
    if (dirname(dir) === dir) break;
  }
  candidates.push(join('/work', file));
  return candidates.find((c) => existsSync(c)) ?? beside;
};
export const upstreamUrl = (project: UpstreamProject): string => `https://opendev.org/openstack/${project}`;

/** The repositories to try, in order: $DEVCLUSTER_<PROJECT>_REPO alone, else the bundle (if any), then the URL. */
export function upstreamCandidates(project: UpstreamProject, env: NodeJS.ProcessEnv = process.env, bundle = sharedBundle(project)): string[] {
  const chosen = env[`DEVCLUSTER_${project.toUpperCase()}_REPO`]?.trim();
  if (chosen) return [chosen];
  return existsSync(bundle) ? [bundle, upstreamUrl(project)] : [upstreamUrl(project)];
}

function reason(error: unknown): string {
  const e = error as { stderr?: string; message?: string; killed?: boolean };
  if (e.killed) return 'no answer within 60 s';
  if ((e as { code?: unknown }).code === 2) return 'no such branch';
  const text = (e.stderr ?? '').trim() || (e.message ?? String(error));
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  // git's own reason is its `fatal:` line; the lines after it are advice.
  return (lines.find((l) => l.startsWith('fatal:')) ?? lines.at(-1) ?? text).replace(/\.$/, '');
}

/**
 * A bare repository at `dest` (readable by everyone) holding `branches` of the project, fetched from
 * the first candidate that has them all (shallow from a URL). Returns its file:// URL and where it came from.
 */
export async function upstreamMirror(project: UpstreamProject, branches: string[], dest: string, signal?: AbortSignal): Promise<{ url: string; source: string }> {
  const tried: string[] = [];
  const opts = signal ? { signal } : {};
  for (const source of upstreamCandidates(project)) {
    try {
      const listed = (await run('git', ['ls-remote', '--heads', source], { timeout: 60_000, ...opts })).stdout;
      const missing = branches.filter((b) => !listed.includes(`refs/heads/${b}\n`));
      if (missing.length > 0) throw Object.assign(new Error(`no branch ${missing.join(', ')}`), { stderr: `no branch ${missing.join(', ')}` });
    } catch (error) {
      tried.push(`${source}: ${reason(error)}`);
      continue;
    }
    await run('git', ['init', '-q', '--bare', dest]);
    const depth = /^[a-z][a-z0-9+.-]*:\/\//i.test(source) ? ['--depth', '1'] : [];
    await run('git', ['-C', dest, 'fetch', '-q', ...depth, source, ...branches.map((b) => `+refs/heads/${b}:refs/heads/${b}`)], { timeout: 600_000, ...opts });
    await run('chmod', ['-R', 'a+rX', dest]);
    await chmod(dest, 0o755);
    return { url: `file://${dest}`, source };
  }
  throw new Error(
    `openstack/${project} with branches ${branches.join(', ')} is not reachable from any of: ${tried.join('; ')}. ` +
      `Set DEVCLUSTER_${project.toUpperCase()}_REPO to a clone, a git bundle or a URL of openstack/${project}.`,
  );
}

/**
 * `branch` of the project cloned into `dest` (synchronous, for fixtures built at module load), from
 * the first candidate that has it (shallow from a URL); fails naming every candidate and the variable.
 */
export function cloneUpstreamSync(project: UpstreamProject, branch: string, dest: string): string {
  const tried: string[] = [];
  for (const source of upstreamCandidates(project)) {
    try {
      const depth = /^[a-z][a-z0-9+.-]*:\/\//i.test(source) ? ['--depth', '1'] : [];
      execFileSync('git', ['clone', '-q', ...depth, '-b', branch, source, dest], { timeout: 600_000, stdio: ['ignore', 'ignore', 'pipe'] });
      return dest;
    } catch (error) {
      tried.push(`${source}: ${reason(error)}`);
    }
  }
  throw new Error(
    `openstack/${project} branch ${branch} is not reachable from any of: ${tried.join('; ')}. ` +
      `Set DEVCLUSTER_${project.toUpperCase()}_REPO to a clone, a git bundle or a URL of openstack/${project}.`,
  );
}

/**
 * `branch` of the project cloned into `dest` from the first candidate that has it (shallow from a
 * URL; a local clone or bundle in full, each bundle branch being one commit); throws (failing the
 * test) with every candidate and git's own reason when none has.
 */
export async function cloneUpstream(
  project: UpstreamProject,
  branch: string,
  dest: string,
  options: { env?: NodeJS.ProcessEnv; bundle?: string; signal?: AbortSignal } = {},
): Promise<{ repo: string; head: string }> {
  const tried: string[] = [];
  const opts = options.signal ? { signal: options.signal } : {};
  for (const repo of upstreamCandidates(project, options.env, options.bundle)) {
    try {
      await run('git', ['ls-remote', '--exit-code', '--heads', repo, branch], { timeout: 60_000, ...opts });
    } catch (error) {
      tried.push(`${repo}: ${reason(error)}`);
      continue;
    }
    const depth = /^[a-z][a-z0-9+.-]*:\/\//i.test(repo) ? ['--depth', '1'] : [];
    await run('git', ['clone', '-q', ...depth, '-b', branch, repo, dest], { timeout: 600_000, ...opts });
    const head = (await run('git', ['-C', dest, 'rev-parse', 'HEAD'])).stdout.trim();
    return { repo, head };
  }
  throw new Error(
    `openstack/${project} branch ${branch} is not reachable from any of: ${tried.join('; ')}. ` +
      `Set DEVCLUSTER_${project.toUpperCase()}_REPO to a clone, a git bundle or a URL of openstack/${project}.`,
  );
}
