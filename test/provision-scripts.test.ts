/** The scripts devcluster runs on the nodes (provision/), run here with real bash, git and shellcheck, as any user (prepare.sh on /etc, as root: provision-prepare.host.test.ts). */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const DIR = resolve(import.meta.dirname, '..', 'provision');
const scripts = readdirSync(DIR).filter((f) => f.endsWith('.sh'));

function bash(args: string[], cwd?: string) {
  const r = spawnSync('bash', args, { encoding: 'utf8', ...(cwd ? { cwd } : {}) });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

function gitRepo(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'dc-src-'));
  execFileSync('git', ['init', '-q', '-b', 'main', dir]);
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  execFileSync('git', ['-C', dir, 'add', '.']);
  execFileSync('git', ['-C', dir, '-c', 'user.name=t', '-c', 'user.email=t@example.org', 'commit', '-qm', 'first']);
  return dir;
}

describe('provision/ scripts', () => {
  it('are clean under shellcheck', () => {
    expect(scripts).toEqual(expect.arrayContaining(['lib.sh', 'prepare.sh', 'fetch-git.sh', 'post-stack.sh']));
    const r = spawnSync('shellcheck', ['-x', ...scripts], { cwd: DIR, encoding: 'utf8' });
    expect(r.error).toBeUndefined();
    expect(r.stdout + r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it('die prints the message and the call stack; a failing command dies through the ERR trap', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dc-lib-'));
    const script = join(dir, 'job.sh');
    writeFileSync(script, `source ${DIR}/lib.sh\ninner() { die "disk is full"; }\nouter() { inner; }\nouter\necho never\n`);
    const r = bash([script]);
    expect(r.code).toBe(1);
    expect(r.out).not.toContain('never');
    expect(r.err).toMatch(/^ERROR: disk is full\n {2}at inner \(.*job\.sh:2\)\n {2}at outer \(.*job\.sh:3\)\n {2}at main \(.*job\.sh:4\)/);
    writeFileSync(script, `source ${DIR}/lib.sh\nstep() { false; }\nstep\necho never\n`);
    const trapped = bash([script]);
    expect(trapped.code).toBe(1);
    expect(trapped.err).toContain('command failed with exit code 1: false');
    expect(trapped.err).toMatch(/at step \(.*job\.sh:2\)/);
  });

  it('die fires once: the ERR trap does not report the stack walk\'s last `caller` as a second failure', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dc-lib-'));
    const script = join(dir, 'job.sh');
    writeFileSync(script, `source ${DIR}/lib.sh\nf() { die "boom"; }\nf\n`);
    const r = bash([script]);
    expect(r.code).toBe(1);
    expect(r.err).toBe(`ERROR: boom\n  at f (${script}:2)\n  at main (${script}:3)\n`);
  });

  it('merge_list keeps the first list\'s entries first, each entry once, blanks dropped', () => {
    const r = bash(['-c', `source ${DIR}/lib.sh; merge_list "$1" "$2"`, 'x', 'localhost,127.0.0.1,::1,192.168.150.10,controller', ' .corp.example,127.0.0.1,,10.0.0.1 ']);
    expect(r.out).toBe('localhost,127.0.0.1,::1,192.168.150.10,controller,.corp.example,10.0.0.1\n');
    expect(bash(['-c', `source ${DIR}/lib.sh; merge_list "" "a,b"`]).out).toBe('a,b\n');
  });

  it('fetch-git.sh clones a URL at a branch, and leaves nothing behind when the clone fails', () => {
    const src = gitRepo({ 'stack.sh': '#!/bin/bash\n' });
    execFileSync('git', ['-C', src, 'branch', 'stable/2025.1']);
    const dest = join(mkdtempSync(join(tmpdir(), 'dc-dest-')), 'devstack');
    const ok = bash([join(DIR, 'fetch-git.sh'), '--dest', dest, '--url', `file://${src}`, '--ref', 'stable/2025.1']);
    expect(ok.code, ok.err).toBe(0);
    expect(execFileSync('git', ['-C', dest, 'rev-parse', '--abbrev-ref', 'HEAD'], { encoding: 'utf8' }).trim()).toBe('stable/2025.1');
    // Again on the existing tree: updated in place.
    expect(bash([join(DIR, 'fetch-git.sh'), '--dest', dest, '--url', `file://${src}`, '--ref', 'main']).code).toBe(0);

    const bad = join(mkdtempSync(join(tmpdir(), 'dc-dest-')), 'devstack');
    const failed = bash([join(DIR, 'fetch-git.sh'), '--dest', bad, '--url', 'file:///nonexistent/repo', '--ref', 'main', '--attempts', '2', '--retry-delay', '1']);
    expect(failed.code).toBe(1);
    expect(failed.err).toContain('ERROR: could not clone file:///nonexistent/repo at main');
    expect(failed.out).toContain('attempt 1 of 2 failed');
    expect(existsSync(bad)).toBe(false);
    expect(existsSync(`${bad}.partial`)).toBe(false);
  });

  it('fetch-git.sh checks a pushed bundle out as the given branch and removes the bundle', () => {
    const src = gitRepo({ 'nova.py': 'print("patched")\n' });
    const work = mkdtempSync(join(tmpdir(), 'dc-bundle-'));
    const bundle = join(work, 'nova.bundle');
    execFileSync('git', ['-C', src, 'bundle', 'create', bundle, 'HEAD'], { stdio: 'ignore' });
    const dest = join(work, 'nova');
    const r = bash([join(DIR, 'fetch-git.sh'), '--dest', dest, '--bundle', bundle, '--branch', 'devcluster-local']);
    expect(r.code, r.err).toBe(0);
    expect(execFileSync('git', ['-C', dest, 'rev-parse', '--abbrev-ref', 'HEAD'], { encoding: 'utf8' }).trim()).toBe('devcluster-local');
    expect(execFileSync('git', ['-C', dest, 'rev-parse', 'HEAD'], { encoding: 'utf8' })).toBe(execFileSync('git', ['-C', src, 'rev-parse', 'HEAD'], { encoding: 'utf8' }));
    expect(existsSync(bundle)).toBe(false);
  });

  it('refuse unknown options and missing values with a clear message', () => {
    expect(bash([join(DIR, 'fetch-git.sh'), '--dest']).err).toContain('ERROR: option --dest needs a value');
    expect(bash([join(DIR, 'prepare.sh'), '--colour', 'blue']).err).toContain('ERROR: unknown option: --colour');
  });
});
