/**
 * `logs collect` on the run's shared cluster (test/support/shared-cluster.ts: controller, compute1,
 * compute2, the fake DevStack with USE_JOURNAL=True, real journald and systemd in the guests).
 *
 * One collect, with compute2's local.conf moved aside for its duration (put back in `finally`):
 * - the gate's layout per node, the README naming nodes, units and the one thing not read;
 * - a screen-UNIT.txt for exactly the devstack@ units `systemctl list-units`/`list-unit-files` list on each node, each starting
 *   with what `journalctl -o short-precise --unit` prints there;
 * - the journal export is real: systemd-journal-remote turns it into a journal file journalctl reads,
 *   with the node's devstack@ entries in it;
 * - exit 1 with LOGS_PARTIAL and a line naming compute2's local.conf; no password on stdout or stderr;
 *   the folder 0700; devcluster-clocks.json with every node's offset;
 * - a second collect into the same folder is refused and changes nothing;
 * - cancelled while the nodes run their collect script: CANCELLED, and within seconds no staging folder
 *   (it holds copies of local.conf) and no collect process is left on any node.
 * `logs` is F's command (src/cli/commands/logs.ts); until it is on main this file adds a plain `logs`
 * parent to the program for `collect` (the same registerLogsCollect call logs.ts makes).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerLogsCollect } from '../../src/cli/commands/logs-collect.js';
import { collectLogs } from '../../src/cluster/logs-collect.js';
import { loadConfig } from '../../src/config/load.js';
import type { ProgressEvent } from '../../src/events.js';
import { DevclusterError } from '../../src/errors.js';
import { EXIT, reportError } from '../../src/cli/errors.js';
import type { CliIO } from '../../src/cli/io.js';
import { buildProgram } from '../../src/cli/main.js';
import { sharedCluster, SHARED_NODES, type SharedCluster } from '../support/shared-cluster.js';

const NODES = Object.keys(SHARED_NODES) as (keyof typeof SHARED_NODES)[];
const MOVED = '/opt/stack/devstack/local.conf';

/** The CLI in this process, `logs collect` registered under a `logs` parent if the program has none yet. */
async function cli(work: string, args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io: CliIO = {
    out: (t) => (out += t.endsWith('\n') ? t : `${t}\n`),
    err: (t) => (err += t.endsWith('\n') ? t : `${t}\n`),
    errRaw: (t) => (err += t),
    signal: AbortSignal.timeout(10 * 60_000),
    isTTY: false,
    cwd: work,
    env: { HOME: work },
  };
  const program = buildProgram(io);
  const logs = program.commands.find((c) => c.name() === 'logs') ?? program.command('logs').description('logs');
  if (!logs.commands.some((c) => c.name() === 'collect')) registerLogsCollect(logs, io);
  try {
    await program.parseAsync(['node', 'devcluster', ...args]);
    return { code: EXIT.ok, out, err };
  } catch (error) {
    return { code: reportError(io, error, false), out, err };
  }
}

describe('logs collect on the shared cluster (real guests)', () => {
  let cluster: SharedCluster;
  const outer = mkdtempSync(join(tmpdir(), 'dc-logs-collect-'));
  const dir = join(outer, 'collected');
  let result: { code: number; out: string; err: string };
  let tookS = 0;
  /** Per node: the devstack@ units systemctl lists, and the first two lines journalctl gives for one. */
  const onNode: Record<string, { units: string[]; head: string; unit: string }> = {};
  let adminPassword = '';
  /** Guest minus host (s), measured by the test itself. */
  const offsets: Record<string, number> = {};

  const ssh = async (node: string, command: string) => {
    const r = await cluster.run('ssh', node, '--', command);
    if (r.exitCode !== 0) throw new Error(`ssh ${node} ${command}: exit ${r.exitCode}\n${r.stderr}`);
    return r.stdout;
  };

  beforeAll(async () => {
    cluster = await sharedCluster();
    adminPassword = (JSON.parse(readFileSync(join(cluster.work, '.devcluster', cluster.name, 'secrets.json'), 'utf8')) as { passwords: Record<string, string> }).passwords.admin ?? '';
    expect(adminPassword.length).toBeGreaterThan(3);
    await ssh('compute2', `sudo mv ${MOVED} ${MOVED}.dc-test-aside`);
    try {
      const started = Date.now();
      result = await cli(cluster.work, ['logs', 'collect', '--out', dir]);
      tookS = (Date.now() - started) / 1000;
    } finally {
      await ssh('compute2', `sudo mv ${MOVED}.dc-test-aside ${MOVED}`);
    }
    // Each clock against the host's, over one `devcluster ssh` round trip (its middle), one node at a time.
    for (const node of NODES) {
      const before = Date.now();
      const guest = Number(await ssh(node, 'date +%s.%N'));
      offsets[node] = guest - (before + Date.now()) / 2000;
    }
    // What the nodes say, read after the collect: units do not come and go on this cluster.
    await Promise.all(
      NODES.map(async (node) => {
        // The loaded units (list-units) and those with a unit file (the gate's list-unit-files).
        const list = "{ systemctl list-units --all --no-legend --plain 'devstack@*'; systemctl list-unit-files --no-legend --plain 'devstack@*'; } | awk '{print $1}' | grep -v '^devstack@.service$' | sort -u";
        const text = await ssh(node, `${list}; echo ===; u=$(${list} | head -n 1); echo "$u"; sudo journalctl -o short-precise --no-pager --unit "$u" | head -n 2`);
        const [units, rest] = text.split('===\n') as [string, string];
        const [unit, ...head] = rest.split('\n');
        onNode[node] = { units: units.trim().split('\n').filter(Boolean), unit: unit ?? '', head: head.join('\n').trim() };
      }),
    );
  }, 15 * 60_000);

  afterAll(() => rmSync(outer, { recursive: true, force: true }));

  it('exits LOGS_PARTIAL naming the one thing not read, in tens of seconds, saying nothing secret', () => {
    expect(result.code, result.err).toBe(1);
    expect(result.err).toMatch(/^error LOGS_PARTIAL: 1 thing could not be read; the rest is in /m);
    expect(result.out).toContain(`compute2: could not read ${MOVED}: no such file`);
    expect(result.out.split('\n').filter((l) => l.includes('could not read'))).toHaveLength(1);
    for (const node of NODES) expect(result.out).toMatch(new RegExp(`^${node}: \\d+ files, \\d+ devstack units`, 'm'));
    expect(`${result.out}${result.err}`).not.toContain(adminPassword);
    expect(tookS).toBeLessThan(120);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
  });

  it("lays every node out as the gate does, local.conf only where it was there", () => {
    for (const node of NODES) {
      const logs = join(dir, node, 'logs');
      for (const file of ['devstacklog.txt', 'syslog.txt', 'devstack.journal.gz', 'devstack.journal.README.txt', 'dpkg-l.txt', 'services.txt', 'df.txt', '.localrc_auto.txt']) {
        expect(existsSync(join(logs, file)), `${node}/logs/${file}`).toBe(true);
      }
      expect(readFileSync(join(logs, 'devstacklog.txt'), 'utf8')).toContain(`stack.sh (fake DevStack stand-in) starting on ${node}`);
      expect(readFileSync(join(logs, 'dpkg-l.txt'), 'utf8')).toMatch(/^ii {2}bash /m);
      // devcluster's own step logs, gate-named.
      expect(readdirSync(join(logs, 'devcluster'))).toContain('stack_log.txt');
      expect(existsSync(join(logs, 'local_conf.txt'))).toBe(node !== 'compute2');
    }
    expect(readFileSync(join(dir, 'controller', 'logs', 'local_conf.txt'), 'utf8')).toContain(`HOST_IP=${SHARED_NODES.controller}`);
    // roles/devstack-project-conf: /etc/openstack into etc/ (the fake DevStack writes clouds.yaml there).
    expect(existsSync(join(dir, 'controller', 'logs', 'etc', 'openstack', 'clouds.yaml'))).toBe(true);
    expect(existsSync(join(dir, 'controller', 'logs', 'sudoers'))).toBe(true);
  });

  it("has a screen-UNIT.txt for exactly the devstack@ units each node lists, as journalctl prints them", () => {
    for (const node of NODES) {
      const { units, unit, head } = onNode[node] as (typeof onNode)[string];
      expect(units.length, node).toBeGreaterThan(0);
      const screens = readdirSync(join(dir, node, 'logs')).filter((f) => f.startsWith('screen-')).sort();
      expect(screens, node).toEqual(units.map((u) => `screen-${u.replace(/^devstack@/, '').replace(/\.service$/, '')}.txt`).sort());
      const screen = readFileSync(join(dir, node, 'logs', `screen-${unit.replace(/^devstack@/, '').replace(/\.service$/, '')}.txt`), 'utf8');
      expect(head.length).toBeGreaterThan(0);
      expect(screen.startsWith(head), `${node} ${unit}`).toBe(true);
    }
  });

  it('exports a journal that systemd-journal-remote and journalctl read back', () => {
    const scratch = mkdtempSync(join(tmpdir(), 'dc-journal-'));
    try {
      const file = join(scratch, 'compute1.journal');
      execFileSync('bash', ['-c', `/lib/systemd/systemd-journal-remote -o "$1" - < <(zcat "$0")`, join(dir, 'compute1', 'logs', 'devstack.journal.gz'), file], { stdio: 'pipe' });
      const units = execFileSync('journalctl', ['--file', file, '-o', 'json', '-u', 'devstack@*', '--output-fields', '_SYSTEMD_UNIT,_HOSTNAME'], { encoding: 'utf8', maxBuffer: 64 * 2 ** 20 })
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { _SYSTEMD_UNIT: string; _HOSTNAME: string });
      expect(new Set(units.map((u) => u._HOSTNAME))).toEqual(new Set(['compute1']));
      // Every unit of the node is in it (transient devstack@ units other tests ran may be too).
      const seen = new Set(units.map((u) => u._SYSTEMD_UNIT));
      for (const u of onNode.compute1?.units ?? []) expect(seen.has(u), u).toBe(true);
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  });

  it('writes a README naming nodes, units and what was not read, and every clock offset', () => {
    const readme = readFileSync(join(dir, 'README.txt'), 'utf8');
    for (const node of NODES) {
      expect(readme).toMatch(new RegExp(`^ {2}${node} \\((controller|compute)\\): \\d+ files, clock [+-]\\d+\\.\\d{3} s against the host$`, 'm'));
      for (const u of onNode[node]?.units ?? []) expect(readme).toContain(`screen-${u.replace(/^devstack@/, '').replace(/\.service$/, '')}.txt`);
    }
    expect(readme).toContain('Could not be read (1):');
    expect(readme).toContain(`  compute2: could not read ${MOVED}: no such file`);
    const clocks = JSON.parse(readFileSync(join(dir, 'devcluster-clocks.json'), 'utf8')) as { measuredAt: string; nodes: Record<string, { offsetSeconds: number }> };
    expect(Number.isNaN(Date.parse(clocks.measuredAt))).toBe(false);
    expect(Object.keys(clocks.nodes).sort()).toEqual([...NODES].sort());
    // The guests' clocks drift under TCG (seconds after a while): the file must say by how much, as
    // the test's own round trip finds it (a process start on one side of it: within 2 s).
    for (const node of NODES) expect(Math.abs((clocks.nodes[node]?.offsetSeconds ?? 99) - (offsets[node] ?? -99)), node).toBeLessThan(2);
  });

  it('cancelled while the nodes stage their logs: nothing of it is left on any node', async () => {
    const loaded = await loadConfig({ configPath: join(cluster.work, 'devcluster.yaml'), cwd: cluster.work, home: cluster.work, agentSocket: undefined });
    const abort = new AbortController();
    let started = 0;
    // Once every node runs its script, and a moment more (it takes seconds here), stop.
    const report = (e: ProgressEvent) => {
      if (e.kind === 'phase' && e.message === 'collecting logs' && ++started === NODES.length) setTimeout(() => abort.abort(new Error('test: Ctrl-C')), 1000);
    };
    const error = await collectLogs(loaded, { out: join(outer, 'cancelled'), cwd: cluster.work }, { signal: abort.signal, report }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DevclusterError);
    expect((error as DevclusterError).code).toBe('CANCELLED');
    // Stopped in the script, not after it (then the host's tar would have been the one cancelled).
    expect((error as DevclusterError).message).toMatch(/^collect logs on \w+ was cancelled and stopped on the node$/);
    const left = await Promise.all(
      NODES.map((node) =>
        // (the patterns are written so that this command's own line does not match them)
        ssh(node, `for i in $(seq 20); do n=$(ls -d /tmp/devcluster[-]logs.* 2>/dev/null | wc -l); p=$(pgrep -fc 'devcluster[-]logs'); [ "$n $p" = "0 0" ] && { echo clean; exit 0; }; sleep 1; done; echo "left: $n folders, $p processes:"; ps -eo pid,user,args | grep 'devcluster[-]logs' | cut -c1-120`),
      ),
    );
    expect(left.map((l) => l.trim())).toEqual(NODES.map(() => 'clean'));
  }, 120_000);

  it('refuses to write into a folder that is not empty, and changes nothing there', async () => {
    const before = readFileSync(join(dir, 'README.txt'), 'utf8');
    const again = await cli(cluster.work, ['logs', 'collect', '--out', dir]);
    expect(again.code).toBe(1);
    expect(again.err).toMatch(/^error LOGS_OUT_NOT_EMPTY: .* is not empty/m);
    expect(readFileSync(join(dir, 'README.txt'), 'utf8')).toBe(before);
  });
});
