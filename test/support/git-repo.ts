/** A git repository with one commit ("init"), for sources pushed to the nodes (the fake DevStack, a project tree). */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** DIR as a repo on branch master: a copy of `from` (if given) plus `files`, committed. */
export function gitRepo(dir: string, files: Record<string, string>, from?: string): string {
  if (from) cpSync(from, dir, { recursive: true });
  else mkdirSync(dir, { recursive: true });
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  execFileSync('git', ['init', '-q', '-b', 'master', dir]);
  execFileSync('git', ['-C', dir, 'add', '.']);
  execFileSync('git', ['-C', dir, '-c', 'user.name=t', '-c', 'user.email=t@example.org', 'commit', '-qm', 'init']);
  return dir;
}
