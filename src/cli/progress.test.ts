import { describe, expect, it } from 'vitest';
import type { CliIO } from './io.js';
import { formatBytes, formatDuration, progressReporter } from './progress.js';

function fakeIO(isTTY: boolean) {
  const err: string[] = [];
  const io: CliIO = { out: () => undefined, err: (t) => err.push(`${t}\n`), errRaw: (t) => err.push(t), isTTY, cwd: '/', env: {}, signal: new AbortController().signal };
  return { io, err };
}

describe('progress', () => {
  it('on a terminal: one live line with bytes, percent, rate and ETA, ended by a newline', () => {
    const { io, err } = fakeIO(true);
    let t = 0;
    const report = progressReporter(io, { now: () => t });
    report({ kind: 'download', label: 'ubuntu-24.04', bytes: 0, total: 100 * 1024 * 1024, resumedFrom: 0 });
    t = 10_000;
    report({ kind: 'download', label: 'ubuntu-24.04', bytes: 50 * 1024 * 1024, total: 100 * 1024 * 1024, resumedFrom: 0 });
    expect(err.at(-1)).toBe('\r\x1b[2Kubuntu-24.04: 50 MiB / 100 MiB (50%) 5.0 MiB/s ETA 0:10');
    t = 20_000;
    report({ kind: 'download', label: 'ubuntu-24.04', bytes: 100 * 1024 * 1024, total: 100 * 1024 * 1024, resumedFrom: 0 });
    expect(err.at(-1)).toBe('\n');
  });

  it('elsewhere: plain lines at most every 10 s, and the last one', () => {
    const { io, err } = fakeIO(false);
    let t = 0;
    const report = progressReporter(io, { now: () => t });
    for (let i = 0; i <= 100; i++) {
      t = i * 500;
      report({ kind: 'download', label: 'x', bytes: i * 1024 * 1024, total: 100 * 1024 * 1024, resumedFrom: 0 });
    }
    expect(err).toHaveLength(6); // 0 s, 10 s, 20 s, 30 s, 40 s, and 50 s (complete)
    expect(err.every((line) => !line.includes('\r'))).toBe(true);
    expect(err.at(-1)).toContain('100 MiB / 100 MiB (100%)');
  });

  it("the nodes' output lines only with --follow, prefixed by node and step", () => {
    const line = { kind: 'line', node: 'compute1', step: 'stack', line: '+ ./stack.sh:main:42 echo hi' } as const;
    const quiet = fakeIO(false);
    progressReporter(quiet.io)(line);
    expect(quiet.err).toEqual([]);
    const following = fakeIO(false);
    const report = progressReporter(following.io, { follow: true });
    report(line);
    report({ kind: 'phase', label: 'compute1', message: 'stack done in 3 s' });
    expect(following.err).toEqual(['[compute1 stack] + ./stack.sh:main:42 echo hi\n', 'compute1: stack done in 3 s\n']);
  });

  it('formats sizes and durations for people', () => {
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(1536 * 1024)).toBe('1.5 MiB');
    expect(formatDuration(75)).toBe('1:15');
    expect(formatDuration(3 * 3600 + 120)).toBe('3h02m');
  });
});
