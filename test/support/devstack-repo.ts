/**
 * Where tests get the real openstack/devstack from: $DEVCLUSTER_DEVSTACK_REPO (a path to a clone or
 * bundle, or a git URL); unset, the shared bundle ../shared/upstream/devstack.bundle beside the
 * repository when it exists (CI), else opendev's URL (a user's machine). When none of them answers,
 * the test fails with a message naming what was tried and the variable to set — never a skip.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const DEVSTACK_URL = 'https://opendev.org/openstack/devstack';
export const SHARED_BUNDLE = resolve(import.meta.dirname, '..', '..', '..', 'shared', 'upstream', 'devstack.bundle');

/** The repositories to try, in order. */
export function devstackRepoCandidates(env: NodeJS.ProcessEnv = process.env, bundle = SHARED_BUNDLE): string[] {
  const chosen = env.DEVCLUSTER_DEVSTACK_REPO?.trim();
  if (chosen) return [chosen];
  return existsSync(bundle) ? [bundle, DEVSTACK_URL] : [DEVSTACK_URL];
}

function firstLine(error: unknown): string {
  const e = error as { stderr?: string; message?: string; killed?: boolean };
  if (e.killed) return 'no answer within 60 s';
  if ((e as { code?: unknown }).code === 2) return 'no such branch';
  const text = (e.stderr ?? '').trim() || (e.message ?? String(error));
  return text.split('\n').filter((l) => l.trim() !== '').at(-1) ?? text;
}

/**
 * Clone `branch` of DevStack into `dest` from the first candidate that has it; throws (failing the
 * test) with every candidate and git's own reason when none has.
 */
export async function cloneDevstack(branch: string, dest: string, options: { env?: NodeJS.ProcessEnv; bundle?: string; signal?: AbortSignal } = {}): Promise<{ repo: string; head: string }> {
  const tried: string[] = [];
  for (const repo of devstackRepoCandidates(options.env, options.bundle)) {
    try {
      await run('git', ['ls-remote', '--exit-code', '--heads', repo, branch], { timeout: 60_000, ...(options.signal ? { signal: options.signal } : {}) });
    } catch (error) {
      tried.push(`${repo}: ${firstLine(error)}`);
      continue;
    }
    // A URL is cloned shallow; a local clone or bundle in full (each bundle branch is one commit).
    const depth = /^[a-z][a-z0-9+.-]*:\/\//i.test(repo) ? ['--depth', '1'] : [];
    await run('git', ['clone', '-q', ...depth, '-b', branch, repo, dest], { timeout: 600_000, ...(options.signal ? { signal: options.signal } : {}) });
    const head = (await run('git', ['-C', dest, 'rev-parse', 'HEAD'])).stdout.trim();
    return { repo, head };
  }
  throw new Error(
    `DevStack branch ${branch} is not reachable from any of: ${tried.join('; ')}. ` +
      `Set DEVCLUSTER_DEVSTACK_REPO to a clone, a git bundle or a URL of openstack/devstack (default: ${SHARED_BUNDLE} when it exists, else ${DEVSTACK_URL}).`,
  );
}
