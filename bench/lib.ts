// Small helpers shared by the benchmarks.
import { execFileSync, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createServer } from 'node:net';

/** Run a command, return its stdout; throws with its stderr on failure. */
export const sh = (cmd, args, options = {}) => execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], ...options });
export const virsh = (...args) => sh('virsh', ['-q', '-c', 'qemu:///system', ...args]);

/** Seconds taken by `fn`. */
export async function timed(fn) {
  const t = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t) / 1e9;
}

export function freePort() {
  return new Promise((done) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = s.address().port;
      s.close(() => done(p));
    });
  });
}

/** Wait until `line` matches what `child` printed on stderr; resolves with the seconds since `t0`. */
export function whenPrinted(child, pattern, t0) {
  return new Promise((resolve, reject) => {
    let seen = '';
    child.stderr.on('data', (chunk) => {
      seen += chunk.toString();
      if (pattern.test(seen)) resolve(Number(process.hrtime.bigint() - t0) / 1e9);
    });
    child.on('exit', (code) => reject(new Error(`exited ${code} before printing ${pattern}:\n${seen.slice(-2000)}`)));
  });
}

/** A devcluster CLI run in `dir` (own HOME and cache), as a child process. */
export function devcluster(root, dir, args, env = {}) {
  return spawn('node', [`${root}/bin/devcluster.js`, ...args], { cwd: dir, env: { ...process.env, HOME: dir, XDG_CACHE_HOME: `${dir}/cache`, NO_COLOR: '1', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Resolve with the exit code; collect output. */
export function finished(child) {
  let out = '';
  child.stdout.on('data', (c) => (out += c));
  child.stderr.on('data', (c) => (out += c));
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, out })));
}

/**
 * DIR/devcluster.yaml for a cluster of the test image (nodes of 1 vCPU, 1 GiB, 8 GiB disk; `extra`
 * config lines appended), and `must(...args)`: the CLI run there, its output, thrown on failure.
 */
export function clusterFolder(root, dir, { name, image, sums, cidr, nodes, extra = [] }) {
  writeFileSync(
    join(dir, 'devcluster.yaml'),
    [
      `name: ${name}`,
      `image: { url: "file://${image}", checksums_url: "file://${sums}" }`,
      `network: { cidr: ${cidr} }`,
      'nodes:',
      ...nodes.map((node, i) => `  - { name: ${node}, role: ${i === 0 ? 'controller' : 'compute'}, cpus: 1, memory: 1GiB, disk: 8GiB }`),
      ...extra,
      '',
    ].join('\n'),
  );
  return async (...args) => {
    const r = await finished(devcluster(root, dir, args));
    if (r.code !== 0) throw new Error(`devcluster ${args.join(' ')} failed:\n${r.out.slice(-3000)}`);
    return r.out;
  };
}
