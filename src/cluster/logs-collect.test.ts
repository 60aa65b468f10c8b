/** The output folder of `logs collect` (its default name, never writing over anything), and a stopped cluster. */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { execa } from 'execa';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../config/load.js';
import { DevclusterError } from '../errors.js';
import { quietCtx } from '../events.js';
import { collectLogs, defaultOutDir, prepareOutDir } from './logs-collect.js';

const ROOT = resolve(import.meta.dirname, '..', '..');

const made: string[] = [];
const scratch = () => {
  const d = mkdtempSync(join(tmpdir(), 'dc-collect-out-'));
  made.push(d);
  return d;
};
afterEach(() => {
  for (const d of made.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('logs collect output folder', () => {
  it('defaults to logs-CLUSTER-TIMESTAMP (UTC, no separators)', () => {
    expect(defaultOutDir('dev', new Date('2026-12-01T06:05:07.123Z'))).toBe('logs-dev-20261201T060507Z');
  });

  it('makes a new folder 0700, and accepts an empty one (made 0700)', async () => {
    const root = scratch();
    await prepareOutDir(join(root, 'a', 'b'));
    expect(statSync(join(root, 'a', 'b')).mode & 0o777).toBe(0o700);
    mkdirSync(join(root, 'empty'), { mode: 0o755 });
    await prepareOutDir(join(root, 'empty'));
    expect(statSync(join(root, 'empty')).mode & 0o777).toBe(0o700);
  });

  it('refuses a folder holding anything, or a file, and leaves it as it was', async () => {
    const root = scratch();
    mkdirSync(join(root, 'full'));
    writeFileSync(join(root, 'full', 'keep'), 'mine');
    writeFileSync(join(root, 'file'), 'mine');
    for (const [path, text] of [[join(root, 'full'), 'is not empty'], [join(root, 'file'), 'exists and is not a folder']] as const) {
      const error = await prepareOutDir(path).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(DevclusterError);
      expect((error as DevclusterError).code).toBe('LOGS_OUT_NOT_EMPTY');
      expect((error as DevclusterError).message).toContain(text);
    }
    expect(readFileSync(join(root, 'full', 'keep'), 'utf8')).toBe('mine');
    expect(readFileSync(join(root, 'file'), 'utf8')).toBe('mine');
  });
});

/**
 * A cluster whose nodes are stopped (provider: virtualbox, the VBoxManage stand-in first on PATH: `up
 * --no-wait`, then `halt`, through the built CLI): collect tries no SSH, says per node that it is
 * stopped, in its result and the README, and still writes the README and an empty clocks file.
 */
describe('logs collect of a stopped cluster (VBoxManage stand-in)', () => {
  it('one line per stopped node, in the result and README.txt; no node folder', async () => {
    const root = scratch();
    const bin = join(root, 'bin');
    mkdirSync(bin);
    symlinkSync(join(ROOT, 'test', 'fixtures', 'vbox', 'VBoxManage'), join(bin, 'VBoxManage'));
    writeFileSync(join(root, 'networks.conf'), '* 192.168.0.0/16\n');
    const image = join(root, 'tiny.qcow2');
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', image, '64M']);
    const sha = execFileSync('sha256sum', [image]).toString().split(' ')[0];
    const config = join(root, 'devcluster.yaml');
    writeFileSync(config, ['name: lcs', 'provider: virtualbox', `image: { url: "file://${image}", sha256: ${sha} }`, 'network: { cidr: 192.168.166.0/24 }', 'nodes:',
      '  - { name: controller, role: controller, cpus: 1, memory: 512MiB, disk: 2GiB }', '  - { name: compute1, role: compute, cpus: 1, memory: 256MiB, disk: 2GiB }', ''].join('\n'));
    const env = { HOME: root, XDG_CACHE_HOME: join(root, 'cache'), PATH: `${bin}:${process.env.PATH ?? ''}`, VBOX_STANDIN_HOME: root, VBOX_STANDIN_NETWORKS_CONF: join(root, 'networks.conf'), VBOX_STANDIN_SESSION_RELEASE: '0.5' };
    const cli = (...args: string[]) => execa('node', [join(ROOT, 'bin', 'devcluster.js'), ...args], { cwd: root, env, reject: false });
    expect((await cli('up', '--no-wait')).exitCode).toBe(0);
    expect((await cli('halt', '--timeout', '10')).exitCode).toBe(0);
    // The provider runs VBoxManage from PATH, in this process.
    const saved = { ...process.env };
    Object.assign(process.env, env);
    try {
      const loaded = await loadConfig({ configPath: config, cwd: root, home: root, agentSocket: undefined });
      const result = await collectLogs(loaded, { out: 'collected', cwd: root }, quietCtx(AbortSignal.timeout(60_000)));
      expect(result.problems).toEqual(['controller: nothing collected: the node is stopped', 'compute1: nothing collected: the node is stopped']);
      expect(result.bytesReceived).toBe(0);
      expect(readdirSync(join(root, 'collected')).sort()).toEqual(['README.txt', 'devcluster-clocks.json']);
      const readme = readFileSync(join(root, 'collected', 'README.txt'), 'utf8');
      expect(readme).toContain('  controller (controller): NOT COLLECTED: the node is stopped\n');
      expect(readme).toContain('Could not be read (2):');
      expect(JSON.parse(readFileSync(join(root, 'collected', 'devcluster-clocks.json'), 'utf8'))).toMatchObject({ nodes: {} });
    } finally {
      for (const key of Object.keys(env)) delete process.env[key];
      Object.assign(process.env, saved);
      await cli('down');
    }
  }, 120_000);
});
