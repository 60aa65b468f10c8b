/**
 * Local git servers playing OpenDev for reproduce's sources: `<root>/gerrit/<name>` (bare; branches
 * and Gerrit's refs/changes/NN/CHANGE/PATCHSET) and `<root>/git/<name>` (bare; what opendev.org
 * serves: the branches and tags only, mirrored from Gerrit). Commits are made with git's plumbing on
 * top of any parent, with fixed identities and given dates, so the same calls make the same ids.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

export interface CommitSpec {
  /** path → content (added or replaced); a null content removes the file. */
  files: Record<string, string | null>;
  message?: string;
  /** Seconds since the epoch for author and committer (default: one more than the last commit made). */
  date?: number;
}

export class GerritForge {
  readonly gitBase: string;
  readonly gerritBase: string;
  private clock = 1_700_000_000;

  constructor(readonly root: string) {
    this.gitBase = join(root, 'git');
    this.gerritBase = join(root, 'gerrit');
  }

  private git(name: string, args: readonly string[], env: Record<string, string> = {}, input?: string): string {
    return execFileSync('git', ['-C', join(this.gerritBase, name), ...args], { env: { ...process.env, ...env }, input, encoding: 'utf8', stdio: 'pipe' }).trim();
  }

  /** A new project with `master` holding `files`; returns master's commit. */
  project(name: string, files: Record<string, string> = { 'README.rst': `${name}\n` }): string {
    for (const base of [this.gerritBase, this.gitBase]) {
      mkdirSync(join(base, name), { recursive: true });
      execFileSync('git', ['init', '-q', '--bare', '-b', 'master', join(base, name)]);
    }
    return this.commitOn(name, 'master', { files, message: `Initial ${name}` });
  }

  /** A commit of `spec` on top of `parents` (none: an empty tree), stored nowhere but the object database. */
  commit(name: string, parents: readonly string[], spec: CommitSpec): string {
    const date = spec.date ?? ++this.clock;
    this.clock = Math.max(this.clock, date);
    const index = join(this.gerritBase, name, `index-${process.pid}`);
    const env = { GIT_INDEX_FILE: index };
    if (parents[0]) this.git(name, ['read-tree', parents[0]], env);
    else this.git(name, ['read-tree', '--empty'], env);
    for (const [path, text] of Object.entries(spec.files)) {
      if (text === null) this.git(name, ['update-index', '--force-remove', path], env);
      else {
        const blob = this.git(name, ['hash-object', '-w', '--stdin'], {}, text);
        this.git(name, ['update-index', '--add', '--cacheinfo', `100644,${blob},${path}`], env);
      }
    }
    const tree = this.git(name, ['write-tree'], env);
    execFileSync('rm', ['-f', index]);
    const stamp = `${date} +0000`;
    return this.git(name, ['commit-tree', tree, ...parents.flatMap((p) => ['-p', p]), '-m', spec.message ?? `Change ${Object.keys(spec.files).join(', ')}`], {
      GIT_AUTHOR_NAME: 'Dev',
      GIT_AUTHOR_EMAIL: 'dev@example.org',
      GIT_AUTHOR_DATE: stamp,
      GIT_COMMITTER_NAME: 'Gerrit',
      GIT_COMMITTER_EMAIL: 'review@example.org',
      GIT_COMMITTER_DATE: stamp,
    });
  }

  /** A commit on top of `branch` (created from master when new), which moves to it; returns it. */
  commitOn(name: string, branch: string, spec: CommitSpec): string {
    const tip = this.tip(name, branch) ?? (branch === 'master' ? undefined : this.tip(name, 'master'));
    const sha = this.commit(name, tip ? [tip] : [], spec);
    this.git(name, ['update-ref', `refs/heads/${branch}`, sha]);
    this.sync(name);
    return sha;
  }

  /** Patchset `patchset` of `change`, a commit on top of `parent`, at refs/changes/NN/CHANGE/PATCHSET on Gerrit only. */
  change(name: string, change: number, patchset: number, parent: string, spec: CommitSpec): string {
    const sha = this.commit(name, [parent], { message: `Change ${change} patchset ${patchset}`, ...spec });
    this.git(name, ['update-ref', `refs/changes/${String(change).padStart(2, '0').slice(-2)}/${change}/${patchset}`, sha]);
    return sha;
  }

  /** Gerrit submits the change: the branch moves to `commit` (a fast-forward or a merge made by the caller). */
  submit(name: string, branch: string, commit: string): void {
    this.git(name, ['update-ref', `refs/heads/${branch}`, commit]);
    this.sync(name);
  }

  /** Removes a change's ref from Gerrit (a deleted change). */
  deleteChange(name: string, change: number, patchset: number): void {
    this.git(name, ['update-ref', '-d', `refs/changes/${String(change).padStart(2, '0').slice(-2)}/${change}/${patchset}`]);
  }

  tip(name: string, branch: string): string | undefined {
    try {
      return this.git(name, ['rev-parse', '--verify', '-q', `refs/heads/${branch}`]);
    } catch {
      return undefined;
    }
  }

  /** The git server catches up with Gerrit: its branches and tags only (as opendev.org's mirror). */
  private sync(name: string): void {
    this.git(name, ['push', '-q', '--force', '--prune', join(this.gitBase, name), '+refs/heads/*:refs/heads/*', '+refs/tags/*:refs/tags/*']);
  }
}
