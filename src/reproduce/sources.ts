/**
 * The source trees of a gate build, rebuilt on this host from its inventory's `zuul.projects` and
 * `zuul.items` (zuul-ci.org job content; ../shared/facts/zuul.md, "Exact sources"):
 * - a project no item touches (on its checkout branch) is cloned from `${gitBase}/${name}` (a project
 *   of another canonical host, such as github.com/novnc/novnc, from that host) and its `commit`
 *   checked out: 'exact', or SOURCE_COMMIT_MISSING when the commit is nowhere to be found;
 * - a project the items touch starts from the tip of its branch (or the tip as of `asOf`, the build's
 *   start), then each item's change ref `refs/changes/NN/CHANGE/PATCHSET` is fetched from
 *   `${gerritBase}/${name}` and applied in queue order, the way Zuul's merger builds the speculative
 *   state (zuul/merger/merger.py `mergeChanges` → `_mergeItem` → `_mergeChange`): each item on top of
 *   the previous result for the same project and branch, by the project's merge mode. We merge rather
 *   than cherry-pick by default because Zuul does: a project that sets no `merge-mode` gets
 *   `merge-resolve` (zuul/model.py falls back to MERGER_MERGE_RESOLVE), i.e. `git merge -s resolve
 *   FETCH_HEAD`, no --no-ff, so a change whose parent is the branch tip is fast-forwarded and the
 *   result IS the patchset's commit (then equal to the job's `commit`: 'exact'). When git has to
 *   make a merge commit, Zuul's existed only during the job (its date and identity cannot be
 *   replayed), so ours, made the same way, has another id (and other content if the branch moved
 *   since: hence `asOf`): 'reconstructed'. `cherry-pick` and `merge` are there for projects whose
 *   Zuul config sets that mode; the inventory does not say, so the caller does.
 * A project with no commit recorded (older Zuul: its 2019 job-content docs list no commit) starts
 * from its branch tip too, 'reconstructed'; an item that is no change (a branch tip, a tag) changes
 * nothing. The input is the shape src/reproduce/build.ts parses the inventory into (camelCased).
 * Each project is a non-bare repository under `cacheDir/<name>` (reused, so a second run fetches only
 * what it lacks), its local branch named `checkout` checked out at the result: devstack's
 * setup-devstack-source-dirs role checks out that branch name, and `up` pushes the tree's HEAD.
 * Git runs as the system's git (src/process/run.ts: execa, no shell, a budget and the AbortSignal).
 */
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { DEVSTACK_PROJECTS } from '../devstack/tables.js';
import { DevclusterError, isDevclusterError, isHostCommandError } from '../errors.js';
import type { Ctx } from '../events.js';
import { run } from '../process/run.js';

/** OpenDev's git server and its Gerrit (devstack's GIT_BASE; the change refs live on Gerrit). */
export const DEFAULT_GIT_BASE = 'https://opendev.org';
export const DEFAULT_GERRIT_BASE = 'https://review.opendev.org';

/** Zuul's merge modes this module replays (zuul/model.py MERGER_MAP); Zuul's default is merge-resolve. */
export type MergeMode = 'merge-resolve' | 'merge' | 'cherry-pick';
export const DEFAULT_MERGE_MODE: MergeMode = 'merge-resolve';

/**
 * One entry of the inventory's `zuul.projects`, as src/reproduce/build.ts parses it (any object of
 * this shape will do).
 */
export interface SourceProject {
  /** openstack/nova */
  name: string;
  /** nova */
  shortName: string;
  /** The branch (or tag) the job checked out. */
  checkout: string;
  /**
   * The commit the job had checked out; a speculative merge's may have existed only during the job.
   * Older Zuul did not record it (2019's docs list no commit): then the branch tip (as of `asOf`) is taken, 'reconstructed'.
   */
  commit: string | undefined;
  /** Where the project lives: opendev.org for OpenStack's, github.com for novnc/novnc. */
  canonicalHostname?: string;
  canonicalName?: string;
}

/** One entry of the inventory's `zuul.items`: a change under test or ahead of it, in queue order. */
export interface SourceItem {
  project: { name: string; shortName?: string; canonicalHostname?: string; canonicalName?: string };
  /** The change's target branch; an item without a change (a branch tip, a tag) changes nothing. */
  branch: string | undefined;
  change: string | number | undefined;
  patchset: string | number | undefined;
  /** The patchset's commit, which newer Zuul versions record. */
  commitId?: string | undefined;
}

/** An item that is a Gerrit change. */
type ChangeItem = SourceItem & { branch: string; change: string | number; patchset: string | number };
const isChange = (item: SourceItem): item is ChangeItem => item.branch !== undefined && item.change !== undefined && item.patchset !== undefined;

export interface SourceOptions {
  /** Where the repositories go (one non-bare repository per project, at `<cacheDir>/<name>`). */
  cacheDir: string;
  /** Git server for branches and commits of opendev.org's projects: an http(s) or file URL, or a local folder (default https://opendev.org). */
  gitBase?: string;
  /** Git server for the projects of another canonical host (github.com → its base; default https://<host>). */
  hostBases?: Record<string, string>;
  /** Gerrit for refs/changes/…: same forms (default review.opendev.org). */
  gerritBase?: string;
  /** Merge mode per project name (openstack/nova); others use `defaultMergeMode`. */
  mergeModes?: Record<string, MergeMode>;
  defaultMergeMode?: MergeMode;
  /** Start from each branch's tip as it was at this time (the build's start) instead of today's. */
  asOf?: Date;
  /** Budget of each fetch from a git server, in ms (default 15 min). */
  fetchTimeoutMs?: number;
  /** Projects resolved at once (default 4). */
  concurrency?: number;
  /** Folder that relative gitBase/gerritBase/cacheDir paths are relative to (default the process's). */
  cwd?: string;
}

/** A change applied to a project, as fetched. */
export interface AppliedChange {
  change: string;
  patchset: string;
  ref: string;
  /** The patchset's commit as fetched from Gerrit. */
  commit: string;
}

export interface ResolvedSource {
  /** openstack/nova */
  name: string;
  /** nova: the folder under /opt/stack and the key in devcluster.yaml's devstack.sources. */
  shortName: string;
  /** The repository on this host. */
  path: string;
  /** The local branch checked out at `got` (the job's `checkout`). */
  branch: string;
  /** The job's commit; undefined for an item's project missing from zuul.projects. */
  wanted: string | undefined;
  how: 'exact' | 'reconstructed';
  /** The commit checked out here. */
  got: string;
  /** The branch tip the changes were applied to (touched projects only). */
  base?: string;
  /** The changes applied, in queue order, and how (touched projects only). */
  changes: AppliedChange[];
  mergeMode?: MergeMode;
}

/** Gerrit's ref of a patchset: refs/changes/<last two digits of the change, zero-padded>/<change>/<patchset>. */
export function changeRef(change: string | number, patchset: string | number): string {
  const c = String(change);
  const ps = String(patchset);
  if (!/^\d+$/.test(c) || !/^\d+$/.test(ps)) {
    throw new DevclusterError('CHANGE_REF_MISSING', `change ${c} patchset ${ps} is not a Gerrit change (numbers expected)`, {
      hint: 'only Gerrit changes can be rebuilt; check zuul.items in the build inventory',
    });
  }
  return `refs/changes/${c.padStart(2, '0').slice(-2)}/${c}/${ps}`;
}

/** The git server of a project: gitBase for opendev.org's (and any without a host), else its host's. */
export function gitBaseOf(options: Pick<SourceOptions, 'gitBase' | 'hostBases'>, project: Pick<SourceProject, 'canonicalHostname' | 'canonicalName'>): string {
  const host = project.canonicalHostname ?? project.canonicalName?.split('/')[0] ?? 'opendev.org';
  if (host === 'opendev.org') return options.gitBase ?? DEFAULT_GIT_BASE;
  return options.hostBases?.[host] ?? `https://${host}`;
}

const URL_LIKE = /^[a-z][a-z0-9+.-]*:\/\//i;

/** `${base}/${name}`: a URL as it is; a local folder made absolute (also `<name>.git` when only that exists). */
export function repoUrl(base: string, name: string, cwd = process.cwd()): string {
  if (URL_LIKE.test(base)) return `${base.replace(/\/+$/, '')}/${name}`;
  const dir = resolve(cwd, base, name);
  return !existsSync(dir) && existsSync(`${dir}.git`) ? `${dir}.git` : dir;
}

/**
 * `devstack.repo` and `devstack.sources` for devcluster.yaml: openstack/devstack is the repo; a project
 * DevStack reads variables for (stackrc, src/devstack/tables.ts) or one of the job's `plugins` is a
 * source under its short name; the rest (grenade, a job's own tools) are `others`, which
 * config/rules.ts would refuse as sources: the caller decides what to do with them.
 */
export function configSources(
  resolved: readonly ResolvedSource[],
  plugins: readonly string[] = [],
): { repo: string | undefined; sources: Record<string, string>; others: ResolvedSource[] } {
  const sources: Record<string, string> = {};
  const others: ResolvedSource[] = [];
  let repo: string | undefined;
  for (const source of resolved) {
    if (source.name === 'openstack/devstack') repo = source.path;
    else if (Object.hasOwn(DEVSTACK_PROJECTS, source.shortName) || plugins.includes(source.shortName)) sources[source.shortName] = source.path;
    else others.push(source);
  }
  return { repo, sources, others };
}

const NAME = /^[A-Za-z0-9_][A-Za-z0-9._-]*(\/[A-Za-z0-9_][A-Za-z0-9._-]*)*$/;
/** A ref name git accepts for a branch Zuul checked out (no option-like or traversing names). */
const BRANCH = /^(?!-)(?!.*\.\.)(?!.*\/\/)[A-Za-z0-9._/+-]+(?<!\/)(?<!\.lock)$/;

function checkNames(project: { name: string; checkout?: string }, branch: string): void {
  if (!NAME.test(project.name) || project.name.split('/').includes('..')) {
    throw new DevclusterError('SOURCE_FETCH_FAILED', `"${project.name}" is not a project name a repository can have`, {
      hint: 'check zuul.projects in the build inventory',
    });
  }
  if (!BRANCH.test(branch)) {
    throw new DevclusterError('SOURCE_FETCH_FAILED', `"${branch}" (of ${project.name}) is not a branch name git accepts`, {
      hint: 'check zuul.projects and zuul.items in the build inventory',
    });
  }
}

/** Git with no prompt (a missing https repository asks for a password otherwise) and a fixed identity. */
const GIT_ENV = { GIT_TERMINAL_PROMPT: '0', GIT_ASKPASS: 'true', LC_ALL: 'C' };
const IDENTITY = ['-c', 'user.name=devcluster reproduce', '-c', 'user.email=devcluster@localhost', '-c', 'advice.detachedHead=false'];

interface Git {
  (args: readonly string[], options?: { timeoutMs?: number }): Promise<string>;
  /** True when git exits 0, false when it exits non-zero (other failures still throw). */
  ok(args: readonly string[], options?: { timeoutMs?: number }): Promise<boolean>;
}

function gitIn(dir: string, signal: AbortSignal): Git {
  const git = (async (args, options = {}) =>
    (await run('git', ['-C', dir, ...IDENTITY, ...args], { signal, timeoutMs: options.timeoutMs ?? 60_000, env: GIT_ENV, debianPackage: 'git' })).stdout.trim()) as Git;
  git.ok = async (args, options = {}) => {
    try {
      await git(args, options);
      return true;
    } catch (error) {
      if (isHostCommandError(error) && error.exitCode !== undefined) return false;
      throw error;
    }
  };
  return git;
}

/** git's own reason for a failed command: its `fatal:`/`error:` line. */
function gitReason(error: unknown): string {
  if (!isHostCommandError(error)) return error instanceof Error ? error.message : String(error);
  if (error.timedOut) return error.message;
  const lines = error.stderr.split('\n').map((l) => l.trim()).filter((l) => l !== '');
  return lines.find((l) => /^(fatal|error):/.test(l)) ?? lines.at(-1) ?? error.message;
}

const MISSING_REF = /couldn't find remote ref|no such remote ref|not our ref/i;

interface Resolver {
  options: SourceOptions;
  cwd: string;
  signal: AbortSignal;
  ctx: Ctx;
}

/** The project's repository under the cache, created if new, its `origin` the git server's URL. */
async function openRepo(r: Resolver, project: SourceProject): Promise<{ dir: string; git: Git; origin: string }> {
  const dir = resolve(r.cwd, r.options.cacheDir, project.name);
  await mkdir(dir, { recursive: true });
  const git = gitIn(dir, r.signal);
  const origin = repoUrl(gitBaseOf(r.options, project), project.name, r.cwd);
  if (!existsSync(join(dir, '.git'))) await git(['init', '-q']);
  else {
    const dirty = await git(['status', '--porcelain', '--untracked-files=no']);
    if (dirty !== '') {
      throw new DevclusterError('SOURCE_TREE_DIRTY', `${dir} has uncommitted changes; reproduce would overwrite them`, {
        details: dirty.split('\n').slice(0, 10),
        hint: `commit or stash them (git -C ${dir} stash), or give another cache folder`,
      });
    }
  }
  const remotes = (await git(['remote'])).split('\n');
  await git(remotes.includes('origin') ? ['remote', 'set-url', 'origin', origin] : ['remote', 'add', 'origin', origin]);
  return { dir, git, origin };
}

async function hasCommit(git: Git, commit: string): Promise<boolean> {
  return git.ok(['cat-file', '-e', `${commit}^{commit}`]);
}

/** Fetch from `url`; false when the server has no such ref, SOURCE_FETCH_FAILED when it cannot be read. */
async function fetchRefs(r: Resolver, git: Git, url: string, refspecs: readonly string[], what: string): Promise<boolean> {
  try {
    await git(['fetch', '-q', '--no-tags', url, ...refspecs], { timeoutMs: r.options.fetchTimeoutMs ?? 900_000 });
    return true;
  } catch (error) {
    if (isHostCommandError(error) && !error.timedOut && MISSING_REF.test(error.stderr)) return false;
    if (isDevclusterError(error) && error.code === 'CANCELLED') throw error;
    throw new DevclusterError('SOURCE_FETCH_FAILED', `could not fetch ${what} from ${url}: ${gitReason(error)}`, {
      hint: 'check the URL and the network, or point the git/Gerrit base at a mirror (a local folder works)',
      cause: error,
    });
  }
}

/** A project no item touches: its `commit`, from the branch, every branch and tag, or by id. */
async function resolveExact(r: Resolver, project: SourceProject & { commit: string }): Promise<ResolvedSource> {
  checkNames(project, project.checkout);
  const wanted = project.commit;
  if (!/^[0-9a-f]{40}$/.test(wanted)) {
    throw new DevclusterError('SOURCE_COMMIT_MISSING', `${project.name}: "${wanted}" is not a commit id`, { hint: 'check zuul.projects in the build inventory' });
  }
  const { dir, git, origin } = await openRepo(r, project);
  const attempts: (readonly string[])[] = [
    [`+refs/heads/${project.checkout}:refs/remotes/origin/${project.checkout}`],
    ['+refs/heads/*:refs/remotes/origin/*', '+refs/tags/*:refs/tags/*'],
    [wanted],
  ];
  let found = await hasCommit(git, wanted);
  for (const refspecs of attempts) {
    if (found) break;
    // By id last: a server serves an unadvertised commit only when configured to (uploadpack.allow*SHA1InWant).
    const fetched = await fetchRefs(r, git, origin, refspecs, `${project.name}`).catch((error: unknown) => {
      if (refspecs[0] === wanted && isDevclusterError(error) && error.code === 'SOURCE_FETCH_FAILED') return false;
      throw error;
    });
    if (fetched) found = await hasCommit(git, wanted);
  }
  if (!found) {
    throw new DevclusterError('SOURCE_COMMIT_MISSING', `${project.name}: commit ${wanted} (${project.checkout}) is not in ${origin}`, {
      hint: "a commit Zuul made by merging exists only during its job; if no change of this project was in the build, the mirror may be behind opendev's",
    });
  }
  await git(['checkout', '-q', '-f', '-B', project.checkout, wanted]);
  const got = await git(['rev-parse', 'HEAD']);
  return { name: project.name, shortName: project.shortName, path: dir, branch: project.checkout, wanted, how: got === wanted ? 'exact' : 'reconstructed', got, changes: [] };
}

/** A project the items touch (or with no commit recorded): the branch tip (as of `asOf`), then each change in queue order. */
async function resolveChanged(r: Resolver, project: SourceProject, items: readonly ChangeItem[]): Promise<ResolvedSource> {
  const branch = project.checkout;
  checkNames(project, branch);
  const { dir, git, origin } = await openRepo(r, project);
  const tracking = `refs/remotes/origin/${branch}`;
  if (!(await fetchRefs(r, git, origin, [`+refs/heads/${branch}:${tracking}`], `branch ${branch} of ${project.name}`))) {
    throw new DevclusterError('SOURCE_FETCH_FAILED', `${project.name} has no branch ${branch} at ${origin}`, {
      hint: 'the branch may have been deleted since the build (an end-of-life stable branch); a mirror from that time still has it',
    });
  }
  let base = await git(['rev-parse', tracking]);
  if (r.options.asOf) {
    // The tip as of the build: the last commit that reached the branch by then (Gerrit's merge commits carry the submit time).
    base = await git(['rev-list', '-1', '--first-parent', `--before=${Math.floor(r.options.asOf.getTime() / 1000)}`, tracking]);
    if (base === '') {
      throw new DevclusterError('SOURCE_COMMIT_MISSING', `${project.name}: branch ${branch} has no commit from before ${r.options.asOf.toISOString()}`, {
        hint: 'check the build time given',
      });
    }
  }
  await git(['checkout', '-q', '-f', '-B', branch, base]);
  const mode = r.options.mergeModes?.[project.name] ?? r.options.defaultMergeMode ?? DEFAULT_MERGE_MODE;
  const gerrit = repoUrl(r.options.gerritBase ?? DEFAULT_GERRIT_BASE, project.name, r.cwd);
  const changes: AppliedChange[] = [];
  for (const item of items) {
    const ref = changeRef(item.change, item.patchset);
    const what = `change ${item.change} patchset ${item.patchset} of ${project.name}`;
    if (!(await fetchRefs(r, git, gerrit, [`+${ref}:${ref}`], what))) {
      throw new DevclusterError('CHANGE_REF_MISSING', `${what} (${ref}) no longer exists on ${gerrit}`, {
        hint: 'the change may have been deleted or made private; a build of a patchset that still exists can be reproduced',
      });
    }
    const commit = await git(['rev-parse', `${ref}^{commit}`]);
    if (item.commitId && item.commitId !== commit) {
      r.ctx.report({ kind: 'note', message: `${what}: Gerrit serves ${commit.slice(0, 12)}, the build had ${item.commitId.slice(0, 12)}` });
    }
    const args = mode === 'cherry-pick' ? ['cherry-pick', commit] : ['merge', '-q', '--no-edit', ...(mode === 'merge-resolve' ? ['-s', 'resolve'] : []), commit];
    try {
      await git(args);
    } catch (error) {
      if (isDevclusterError(error) && error.code === 'CANCELLED') throw error;
      await git.ok([mode === 'cherry-pick' ? 'cherry-pick' : 'merge', '--abort']);
      await git(['reset', '-q', '--hard']);
      const ahead = changes.length === 0 ? `${branch} at ${base.slice(0, 12)}` : `${branch} at ${base.slice(0, 12)} with ${changes.map((c) => c.change).join(', ')}`;
      throw new DevclusterError('CHANGE_MERGE_FAILED', `${what} does not apply (${mode}) on ${ahead}: ${gitReason(error)}`, {
        hint: "the branch has moved since the build: give the build's start time so the branch is taken as it was then",
        cause: error,
      });
    }
    changes.push({ change: String(item.change), patchset: String(item.patchset), ref, commit });
  }
  const got = await git(['rev-parse', 'HEAD']);
  return {
    name: project.name,
    shortName: project.shortName,
    path: dir,
    branch,
    wanted: project.commit,
    how: project.commit !== undefined && got === project.commit ? 'exact' : 'reconstructed',
    got,
    base,
    changes,
    ...(changes.length > 0 ? { mergeMode: mode } : {}),
  };
}

/**
 * Every project of the build resolved into `options.cacheDir`, in zuul.projects' order (then any
 * item's project missing from it). Progress goes to `ctx.report`; the first failure stops the rest.
 */
export async function resolveSources(
  projects: Record<string, SourceProject> | readonly SourceProject[],
  allItems: readonly SourceItem[],
  options: SourceOptions,
  ctx: Ctx,
): Promise<ResolvedSource[]> {
  const list = Array.isArray(projects) ? [...(projects as readonly SourceProject[])] : Object.values(projects as Record<string, SourceProject>);
  const items = allItems.filter(isChange);
  // An item's project is always among zuul.projects (Zuul prepares it); if not, its branch is the item's.
  for (const item of items) {
    if (!list.some((p) => p.name === item.project.name)) {
      const { name, shortName, ...where } = item.project;
      list.push({ ...where, name, shortName: shortName ?? name.split('/').at(-1) ?? name, checkout: item.branch, commit: undefined });
    }
  }
  const stop = new AbortController();
  const signal = AbortSignal.any([ctx.signal, stop.signal]);
  const r: Resolver = { options, cwd: options.cwd ?? process.cwd(), signal, ctx };
  const results: ResolvedSource[] = new Array<ResolvedSource>(list.length);
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async () => {
    while (failure === undefined && next < list.length) {
      const i = next++;
      const project = list[i] as SourceProject;
      const touching = items.filter((item) => item.project.name === project.name && item.branch === project.checkout);
      for (const other of items.filter((item) => item.project.name === project.name && item.branch !== project.checkout)) {
        // Zuul merged it into that branch, but the job checked out another: it is not in the tree.
        ctx.report({ kind: 'note', message: `${project.name}: change ${other.change},${other.patchset} targets ${other.branch}, not the ${project.checkout} the job checked out: left out` });
      }
      try {
        const { commit } = project;
        const what = touching.length > 0 ? touching.map((t) => `${t.change},${t.patchset}`).join(' + ') : commit === undefined ? 'tip (no commit recorded)' : `at ${commit.slice(0, 12)}`;
        ctx.report({ kind: 'phase', label: project.name, message: `${project.checkout} ${touching.length > 0 ? '+ ' : ''}${what}` });
        results[i] = touching.length === 0 && commit !== undefined ? await resolveExact(r, { ...project, commit }) : await resolveChanged(r, project, touching);
      } catch (error) {
        failure ??= { error };
        stop.abort();
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(options.concurrency ?? 4, list.length)) }, worker));
  if (failure) throw ctx.signal.aborted ? new DevclusterError('CANCELLED', 'fetching the sources was cancelled') : failure.error;
  return results;
}
