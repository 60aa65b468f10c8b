/**
 * Helpers the benchmarks share. The test image, the cluster folder, the CLI runner, the free port and
 * the fake DevStack come from test/support, as the real-guest tests use them; here only what a
 * benchmark alone needs: timing, a CLI child watched for a line, and `must` (a CLI run that throws).
 */
import { execFileSync, spawn, type ChildProcessByStdio, type ExecFileSyncOptionsWithStringEncoding } from 'node:child_process';
import type { Readable } from 'node:stream';
import { clusterInDir, testImageSpec } from '../test/support/cli-cluster.js';

export { freePort } from '../test/support/sshd.js';
export { requireTestImage } from '../test/support/test-image.js';

/** Run a command, return its stdout; throws with its stderr on failure. */
/** What every benchmark gets: the package root and a scratch folder removed at the end. */
export interface Shared {
  ROOT: string;
  work: string;
}

export const sh = (cmd: string, args: readonly string[], options: Partial<ExecFileSyncOptionsWithStringEncoding> = {}): string =>
  execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], ...options });
export const virsh = (...args: string[]): string => sh('virsh', ['-q', '-c', 'qemu:///system', ...args]);

/** Seconds taken by `fn`. */
export async function timed(fn: () => unknown): Promise<number> {
  const t = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t) / 1e9;
}

type Child = ChildProcessByStdio<null, Readable, Readable>;

/** Wait until `pattern` matches what `child` printed on stderr; resolves with the seconds since `t0`. */
export function whenPrinted(child: Child, pattern: RegExp, t0: bigint): Promise<number> {
  return new Promise((resolve, reject) => {
    let seen = '';
    child.stderr.on('data', (chunk: Buffer) => {
      seen += chunk.toString();
      if (pattern.test(seen)) resolve(Number(process.hrtime.bigint() - t0) / 1e9);
    });
    child.on('exit', (code) => reject(new Error(`exited ${code} before printing ${pattern}:\n${seen.slice(-2000)}`)));
  });
}

/** The built devcluster CLI run in `dir` (own HOME and cache), as a child process, for timing its output. */
export function devcluster(root: string, dir: string, args: readonly string[], env: Record<string, string> = {}): Child {
  return spawn('node', [`${root}/bin/devcluster.js`, ...args], { cwd: dir, env: { ...process.env, HOME: dir, XDG_CACHE_HOME: `${dir}/cache`, NO_COLOR: '1', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Resolve with the exit code and all output. */
export function finished(child: Child): Promise<{ code: number | null; out: string }> {
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c));
  child.stderr.on('data', (c: Buffer) => (out += c));
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, out })));
}

export interface ClusterSpec {
  name: string;
  image: string;
  sums: string;
  cidr: string;
  nodes: readonly string[];
  /** More config lines, appended. */
  extra?: readonly string[];
}

/**
 * DIR/devcluster.yaml for a cluster of the test image (nodes of 1 vCPU, 1 GiB, 8 GiB disk), and
 * `must(...args)`: the CLI run there (test/support/cli-cluster.ts), its output, thrown on failure.
 */
export async function clusterFolder(dir: string, spec: ClusterSpec): Promise<(...args: string[]) => Promise<string>> {
  const run = await clusterInDir(dir, [
    `name: ${spec.name}`,
    `image: ${testImageSpec(spec.image, spec.sums)}`,
    `network: { cidr: ${spec.cidr} }`,
    'nodes:',
    ...spec.nodes.map((node, i) => `  - { name: ${node}, role: ${i === 0 ? 'controller' : 'compute'}, cpus: 1, memory: 1GiB, disk: 8GiB }`),
    ...(spec.extra ?? []),
  ]);
  return async (...args) => {
    const r = await run(...args);
    const out = `${r.stdout}\n${r.stderr}`;
    if (r.exitCode !== 0) throw new Error(`devcluster ${args.join(' ')} failed:\n${out.slice(-3000)}`);
    return out;
  };
}
