/**
 * `devcluster logs` on the shared cluster (real journald and systemd in the guests), compute1's clock
 * stepped 4 s ahead for the test (and back in `finally`): lines written on two nodes alternately, in a
 * known order, come out interleaved in that order — read afterwards (each node's list arrives whole:
 * only the merge by corrected time interleaves them) and followed live with -f — each with its node
 * and unit; when one node's journalctl ends, one line says so and the other node's lines go on;
 * Ctrl-C (SIGINT to the CLI) exits 130 with no stack trace and leaves no journalctl running
 * on any node. Each line is written by a transient devstack@ unit (`systemd-run --wait
 * --collect`, so it is in system-devstack.slice as DevStack's services are, and gone afterwards),
 * through one OpenSSH connection per node kept open for the test, so a write costs milliseconds.
 * Also prints the measured delay from a line's journal time (host clock) to the CLI printing it, the
 * figure behind src/logs/follow.ts's HOLD_BACK_MS.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa, type ResultPromise } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sharedCluster, type SharedCluster } from '../support/shared-cluster.js';

const BIN = fileURLToPath(new URL('../../bin/devcluster.js', import.meta.url));
const NODES = ['controller', 'compute1', 'compute2'] as const;

/** A shell on a node over one OpenSSH connection: each command's end is seen by a marker line. */
class RemoteShell {
  private readonly child: ChildProcessWithoutNullStreams;
  private out = '';
  private seq = 0;

  constructor(sshConfig: string, node: string) {
    this.child = spawn('ssh', ['-F', sshConfig, '-o', 'BatchMode=yes', node, 'bash', '-s']);
    this.child.stdout.on('data', (d: Buffer) => (this.out += d.toString()));
    this.child.stderr.resume();
  }

  /** Run `command`; resolves with its output once it finished (within 30 s). */
  async run(command: string): Promise<string> {
    this.seq += 1;
    const mark = `@@done-${this.seq}@@`;
    const start = this.out.length;
    this.child.stdin.write(`${command}\necho ${mark}\n`);
    const deadline = Date.now() + 30_000;
    while (!this.out.includes(mark, start)) {
      if (Date.now() > deadline || this.child.exitCode !== null) throw new Error(`no end of "${command}" within 30 s`);
      await new Promise((r) => setTimeout(r, 10));
    }
    return this.out.slice(start, this.out.indexOf(mark, start));
  }

  close(): void {
    this.child.stdin.end();
  }
}

interface Printed {
  node: string;
  unit: string;
  time: string;
  timeUs: string;
  message: string;
  arrivedMs: number;
}

describe('devcluster logs -f on the shared cluster', () => {
  let cluster: SharedCluster;
  const shells = new Map<string, RemoteShell>();
  beforeAll(async () => {
    cluster = await sharedCluster();
    expect((await cluster.run('ssh-config')).exitCode).toBe(0);
    const config = join(cluster.work, '.devcluster', cluster.name, 'ssh_config');
    for (const node of NODES) shells.set(node, new RemoteShell(config, node));
  }, 45 * 60_000);
  afterAll(() => {
    for (const s of shells.values()) s.close();
  });

  /** Step `node`'s clock by `seconds` (python3's clock_settime: the step is exact to microseconds). */
  const stepClock = (node: string, seconds: number) =>
    (shells.get(node) as RemoteShell).run(`sudo -n python3 -c 'import time; time.clock_settime(time.CLOCK_REALTIME, time.time() + ${seconds})'`);
  const env = () => ({ HOME: cluster.work, XDG_CACHE_HOME: join(cluster.work, 'cache') });

  /** A line written on `node` by a transient devstack@ unit, done when the unit has exited. */
  const write = (node: string, unit: string, text: string) =>
    (shells.get(node) as RemoteShell).run(`sudo -n systemd-run --quiet --wait --collect --unit=${unit} echo ${text}`);

  it('interleaves two nodes in time order, read and followed, and stops on Ctrl-C with exit 130 and no journalctl left', async () => {
    const tag = randomBytes(3).toString('hex');
    await stepClock('compute1', 4);
    try {
      await readAndFollow(tag);
    } finally {
      await stepClock('compute1', -4);
    }
    for (const node of NODES) expect(await (shells.get(node) as RemoteShell).run('pgrep -a journalctl || true'), `journalctl left on ${node}`).toBe('');
  }, 180_000);

  /**
   * Six lines alternately on controller and compute1, each after the one before was logged and `gapMs`
   * more; their order. Followed live, the gap is wider than HOLD_BACK_MS plus the clock reading's error,
   * so that only a wrong merge (not a busy host's stream lag) can misorder them.
   */
  async function writeSteps(tag: string, prefix: string, gapMs = 150): Promise<string[]> {
    const order: string[] = [];
    for (let i = 1; i <= 6; i += 1) {
      const node = i % 2 === 1 ? 'controller' : 'compute1';
      order.push(`${node} lf-${tag}-${prefix}${i} ${prefix}-${tag}-${i}`);
      await write(node, `devstack@lf-${tag}-${prefix}${i}`, `${prefix}-${tag}-${i}`);
      await new Promise((r) => setTimeout(r, gapMs));
    }
    return order;
  }

  async function readAndFollow(tag: string): Promise<void> {
    // Read afterwards, --since a time each node reads on its own clock (TCG guests drift seconds off).
    const written = await writeSteps(tag, 'old');
    const read = await execa('node', [BIN, 'logs', '--since=-5min', 'controller', 'compute1'], { cwd: cluster.work, reject: false, env: env() });
    expect(read.exitCode, String(read.stderr)).toBe(0);
    const lines = String(read.stdout).split('\n').filter((l) => l.includes(`old-${tag}`));
    expect(lines.map((l) => l.split(/\s+/).filter((_, i) => i === 0 || i === 1 || i === 4).join(' '))).toEqual(written);
    expect(lines[0]).toMatch(/^controller +lf-\w+-old1 +\d\d:\d\d:\d\d\.\d{3} INFO +old-/);

    const cli: ResultPromise = execa('node', [BIN, 'logs', '-f', '-n', '0', '--json', 'controller', 'compute1'], { cwd: cluster.work, reject: false, env: env() });
    const printed: Printed[] = [];
    let rest = '';
    cli.stdout?.on('data', (d: Buffer) => {
      const lines = (rest + d.toString()).split('\n');
      rest = lines.pop() ?? '';
      for (const l of lines) if (l.includes(tag)) printed.push({ ...(JSON.parse(l) as Omit<Printed, 'arrivedMs'>), arrivedMs: Date.now() });
    });
    let errText = '';
    cli.stderr?.on('data', (d: Buffer) => (errText += d.toString()));
    try {
      // Both follows are live once a probe line of each node came through.
      const deadline = Date.now() + 60_000;
      for (let i = 0; !(printed.some((p) => p.node === 'controller') && printed.some((p) => p.node === 'compute1')); i += 1) {
        if (Date.now() > deadline || cli.exitCode !== null) throw new Error(`logs -f showed no probe line from both nodes within 60 s (exit ${cli.exitCode})`);
        await Promise.all(['controller', 'compute1'].map((n) => write(n, `devstack@lf-${tag}-probe-${n}-${i}`, `probe-${tag}-${i}`)));
        await new Promise((r) => setTimeout(r, 1000));
      }
      const order = await writeSteps(tag, 'new', 1500);
      const until = Date.now() + 15_000;
      while (printed.filter((p) => p.message.startsWith('new-')).length < 6 && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
      const steps = printed.filter((p) => p.message.startsWith('new-'));
      if (steps.length !== 6 || steps.some((p, i) => !(order[i] ?? '').endsWith(p.message))) console.log(errText, JSON.stringify(printed, null, 1));
      expect(steps.map((p) => `${p.node} ${p.unit} ${p.message}`)).toEqual(order);
      const times = steps.map((p) => BigInt(p.timeUs));
      expect([...times].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))).toEqual(times);
      // The figure behind HOLD_BACK_MS: journal time (host clock) to the CLI's line, hold-back included.
      const delays = printed.map((p) => p.arrivedMs - Number(BigInt(p.timeUs) / 1000n));
      console.log(errText.split('\n').filter((l) => l.includes(' clock ')).join('\n'));
      console.log(`logs -f delay, journal time to printed line (ms): min ${Math.min(...delays)}, max ${Math.max(...delays)}, all ${delays.join(' ')}`);

      // compute1's journalctl ends (TERM to its pid): one line says so, and controller's lines still come.
      await (shells.get('compute1') as RemoteShell).run('for p in $(pgrep -x journalctl); do grep -qa -- --follow /proc/$p/cmdline && sudo -n kill -TERM $p; done');
      const ended = Date.now() + 15_000;
      while (!errText.includes('compute1: journalctl --follow ended') && Date.now() < ended) await new Promise((r) => setTimeout(r, 50));
      expect(errText).toMatch(/^compute1: journalctl --follow ended \(exit \d+\); the other nodes go on$/m);
      await write('controller', `devstack@lf-${tag}-after`, `after-${tag}`);
      const after = Date.now() + 15_000;
      while (!printed.some((p) => p.message === `after-${tag}`) && Date.now() < after) await new Promise((r) => setTimeout(r, 50));
      expect(printed.at(-1)).toMatchObject({ node: 'controller', message: `after-${tag}` });

      // Ctrl-C: exit 130, a plain message, no stack trace.
      const stopping = Date.now();
      cli.kill('SIGINT');
      const result = await Promise.race([cli, new Promise<never>((_, reject) => setTimeout(() => reject(new Error('logs -f did not exit within 20 s of SIGINT')), 20_000))]);
      console.log(`logs -f stopped ${Date.now() - stopping} ms after SIGINT`);
      expect(result.exitCode).toBe(130);
      expect(String(result.stderr)).toContain('journalctl was ended on every node');
      expect(String(result.stderr)).not.toMatch(/\n\s+at /);
    } finally {
      if (cli.exitCode === null) cli.kill('SIGKILL');
      await cli;
    }
  }
});
