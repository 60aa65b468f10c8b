/**
 * `logs` as the user types it, before any cluster is reached: a bad -n is bad usage (exit 2) naming the
 * flag; a node the config does not have is NODE_NOT_FOUND (exit 2) listing the config's nodes.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { CliIO } from '../io.js';
import { main } from '../main.js';

const dir = mkdtempSync(join(tmpdir(), 'dc-logs-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function run(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIO = { out: (t) => out.push(t), err: (t) => err.push(t), errRaw: (t) => err.push(t), isTTY: false, cwd: dir, env: { HOME: dir }, signal: new AbortController().signal };
  const code = await main(['node', 'devcluster', ...args], io);
  return { code, out: out.join('\n'), err: err.join('\n') };
}

describe('devcluster logs, refused before reaching the cluster', () => {
  it('-n that is not a whole number: USAGE_INVALID naming -n, exit 2', async () => {
    const r = await run('logs', '-n', 'ten');
    expect(r.code).toBe(2);
    expect(r.err).toContain('error USAGE_INVALID: -n "ten" is not a number of lines');
    expect(r.out).toBe('');
  });

  it('a node the cluster does not have: NODE_NOT_FOUND with the nodes it has, exit 2', async () => {
    writeFileSync(join(dir, 'devcluster.yaml'), 'name: lt\nnodes:\n  - { name: controller, role: controller }\n  - { name: compute1, role: compute }\n');
    const r = await run('logs', 'compute9');
    expect(r.code).toBe(2);
    expect(r.err).toContain('error NODE_NOT_FOUND: cluster lt has no node "compute9"');
    expect(r.err).toContain('nodes: controller, compute1');
  });
});
