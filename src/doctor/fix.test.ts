/**
 * applyFixes with real commands (mkdir, touch, false) on findings made up for the test, and a
 * re-check that looks at what those commands left on disk.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ProgressEvent } from '../events.js';
import type { Finding } from './finding.js';
import { formatCommand } from './finding.js';
import { applyFixes, budgetFor } from './fix.js';

function recorder() {
  const events: ProgressEvent[] = [];
  return { events, report: (e: ProgressEvent) => events.push(e) };
}

describe('applyFixes', () => {
  it('runs the fixes of failed findings in order, stops a fix at its failed step, leaves warnings alone', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'dc-fix-'));
    const p = (name: string) => join(dir, name);
    const findings: Finding[] = [
      { id: 'a', status: 'fail', message: 'a missing', fix: { description: 'make a', commands: [['mkdir', p('a')], ['touch', p('a/done')]] } },
      { id: 'b', status: 'fail', message: 'b broken', fix: { description: 'make b', commands: [['false'], ['touch', p('b')]] } },
      { id: 'w', status: 'warn', message: 'warned', fix: { description: 'not run', commands: [['touch', p('w')]] } },
      { id: 'o', status: 'ok', message: 'fine' },
      { id: 'm', status: 'fail', message: 'by hand', fix: { description: 'do it yourself', commands: [] } },
    ];
    let rechecks = 0;
    const recheck = async (): Promise<Finding[]> => {
      rechecks++;
      return findings.map((f) => (f.id === 'a' && existsSync(p('a/done')) ? { id: 'a', status: 'ok', message: 'a made' } : f));
    };
    const { events, report } = recorder();
    const result = await applyFixes(findings, { signal: new AbortController().signal, report, checks: { provider: 'libvirt' }, recheck });

    expect(existsSync(p('a/done'))).toBe(true);
    expect(existsSync(p('b'))).toBe(false); // after `false` failed
    expect(existsSync(p('w'))).toBe(false);
    expect(result.applied.map((a) => [a.id, a.command[0], a.ok])).toEqual([
      ['a', 'mkdir', true],
      ['a', 'touch', true],
      ['b', 'false', false],
    ]);
    expect(result.applied[2]?.error).toContain('false exited with 1');
    expect(result.findings.map((f) => [f.id, f.status])).toEqual([
      ['a', 'ok'],
      ['b', 'fail'],
      ['w', 'warn'],
      ['o', 'ok'],
      ['m', 'fail'],
    ]);
    // b still fails with the same fix: not tried again in a second round.
    expect(rechecks).toBe(1);
    const messages = events.map((e) => (e.kind === 'phase' ? `${e.label}: ${e.message}` : ''));
    expect(messages).toContain(`fix a: $ ${formatCommand(['mkdir', p('a')])}`);
    expect(messages.some((m) => m.startsWith('fix b: failed: false exited with 1'))).toBe(true);
    expect(messages.at(-1)).toBe('doctor: checking again');
  });

  it('a fix can uncover the next one; a command already done for an earlier fix is not run again', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'dc-fix-'));
    const p = (name: string) => join(dir, name);
    // "daemon" must exist before "pool" can be seen to be missing; both start with the same mkdir.
    const check = async (): Promise<Finding[]> => [
      existsSync(p('daemon'))
        ? { id: 'daemon', status: 'ok', message: 'up' }
        : { id: 'daemon', status: 'fail', message: 'down', fix: { description: 'start', commands: [['mkdir', '-p', p('state')], ['touch', p('daemon')]] } },
      !existsSync(p('daemon'))
        ? { id: 'pool', status: 'warn', message: 'not checked' }
        : existsSync(p('pool'))
          ? { id: 'pool', status: 'ok', message: 'there' }
          : { id: 'pool', status: 'fail', message: 'missing', fix: { description: 'define', commands: [['mkdir', '-p', p('state')], ['touch', p('pool')]] } },
    ];
    const { report } = recorder();
    const result = await applyFixes(await check(), { signal: new AbortController().signal, report, checks: { provider: 'libvirt' }, recheck: check });
    expect(result.findings.map((f) => f.status)).toEqual(['ok', 'ok']);
    expect(result.applied.map((a) => [a.id, a.command[0], a.ok, a.skipped ?? false])).toEqual([
      ['daemon', 'mkdir', true, false],
      ['daemon', 'touch', true, false],
      ['pool', 'mkdir', true, true],
      ['pool', 'touch', true, false],
    ]);
  });

  it('nothing to fix: no command, no re-check', async () => {
    const findings: Finding[] = [{ id: 'x', status: 'ok', message: 'fine' }];
    const result = await applyFixes(findings, {
      signal: new AbortController().signal,
      report: () => undefined,
      checks: { provider: 'libvirt' },
      recheck: () => Promise.reject(new Error('must not re-check')),
    });
    expect(result).toEqual({ findings, applied: [] });
  });

  it('cancellation stops everything', async () => {
    const controller = new AbortController();
    const findings: Finding[] = [{ id: 's', status: 'fail', message: 'slow', fix: { description: 'wait', commands: [['sleep', '30']] } }];
    setTimeout(() => controller.abort(new Error('stop')), 200);
    await expect(
      applyFixes(findings, { signal: controller.signal, report: () => undefined, checks: { provider: 'libvirt' }, recheck: async () => findings }),
    ).rejects.toMatchObject({ code: 'CANCELLED' });
  });

  it("a user's fix on a host without sudo says to run doctor --fix as root", async () => {
    const empty = await mkdtemp(join(tmpdir(), 'dc-fix-nopath-'));
    const findings: Finding[] = [{ id: 'kvm', status: 'fail', message: 'no access', fix: { description: 'chmod', commands: [['sudo', 'chmod', '0660', '/nonexistent/kvm']] } }];
    const result = await applyFixes(findings, { signal: new AbortController().signal, report: () => undefined, checks: { provider: 'libvirt', env: { PATH: empty } }, recheck: async () => findings });
    expect(result.applied).toEqual([{ id: 'kvm', command: ['sudo', 'chmod', '0660', '/nonexistent/kvm'], ok: false, error: 'needs root, and sudo is not installed: run `devcluster doctor --fix` as root' }]);
  });

  it("README's first command works as root on a host without sudo: no sudo in it, and doctor's fixes for root have none", async () => {
    const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8');
    const first = /```sh\n([^\n]*)\n/.exec(readme)?.[1] ?? '';
    expect(first).toMatch(/^npm ci && npx devcluster doctor --fix && npx devcluster up\b/);
    expect(first.split('#')[0]).not.toMatch(/\bsudo\b/);
  });

  it('gives package installs and builds ten minutes, other commands two', () => {
    expect(budgetFor(['apt-get', 'install', '-y', 'x'])).toBe(600_000);
    expect(budgetFor(['sudo', 'npm', 'rebuild'])).toBe(600_000);
    expect(budgetFor(['virsh', 'pool-start', 'default'])).toBe(120_000);
  });
});
