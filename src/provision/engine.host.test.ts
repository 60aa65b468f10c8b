/**
 * The step engine over real SSH, against three sshd "hosts" in network namespaces (own hostname and
 * address, one shared filesystem): order and parallelism, resume after a failure, --from/--only,
 * cancellation on the hosts, a swapped host key.
 */
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Ctx, ProgressEvent } from '../events.js';
import { generateKeyPair } from '../state/secrets.js';
import { shellQuote as shq } from '../process/quote.js';
import { SessionPool } from '../ssh/session.js';
import { startNetnsHosts, type NetnsHosts } from '../../test/support/netns-hosts.js';
import { runStages, StepCommandError, stepLines, type EngineNode, type Stage, type StepRun } from './engine.js';

const NAMES = ['controller', 'compute1', 'compute2'];
const hostKeys = Object.fromEntries(NAMES.map((n) => [n, generateKeyPair(`${n} host key`)]));
const clusterKey = generateKeyPair('cluster key');
let net: NetnsHosts;
const work = mkdtempSync(join(tmpdir(), 'dc-engine-'));
chmodSync(work, 0o777);
const timeline = join(work, 'timeline');
const fault = join(work, 'fail-on');

beforeAll(async () => {
  net = await startNetnsHosts({ names: NAMES, hostKeys, authorizedKeys: [clusterKey.public] });
}, 60_000);
afterAll(() => net?.stop());

type N = EngineNode & { address: string; hostKey: string };
const nodes = (): N[] => net.hosts.map((h) => ({ name: h.name, id: 'id-1', address: h.address, hostKey: (hostKeys[h.name] as { public: string }).public }));

function sessionFrom(pool: SessionPool, pin: (n: N) => string = (n) => n.hostKey) {
  return (node: N, ctx: Ctx) =>
    pool.get({ node: node.name, label: node.name, host: node.address, port: 22, username: net.user, privateKey: clusterKey.private, hostKey: pin(node) }, { signal: ctx.signal, budgetMs: 15_000 });
}

/** A step that logs start and end to the shared timeline, sleeps, and fails where the fault file names the host. */
async function mark(r: StepRun<N>, seconds = 0.3): Promise<void> {
  const cmd = `echo "start ${r.step} $(hostname) $(date +%s.%N)" >> ${shq(timeline)}; sleep ${seconds}; ` +
    `if [ ${r.step} = stack ] && grep -qx "$(hostname)" ${shq(fault)} 2>/dev/null; then echo "something broke on $(hostname)"; echo "Error on exit"; exit 3; fi; ` +
    `echo "end ${r.step} $(hostname) $(date +%s.%N)" >> ${shq(timeline)}; echo "${r.step} done on $(hostname)"`;
  const result = await r.session.run(cmd, { signal: r.ctx.signal, what: r.step, logFile: r.logFile, lines: stepLines(r) });
  if (result.code !== 0) throw new StepCommandError(result.code, result.tail, `${r.step} exited with ${result.code}`);
}

function stages(all: N[]): Stage<N>[] {
  const [controller, ...computes] = all as [N, ...N[]];
  return [
    { step: 'prepare', nodes: all, parallel: true, run: (r) => mark(r) },
    { step: 'stack', nodes: [controller], parallel: false, run: (r) => mark(r, 1) },
    { step: 'stack', nodes: computes, parallel: true, run: (r) => mark(r, 1) },
    { step: 'discover', nodes: [controller], parallel: false, run: (r) => mark(r) },
  ];
}

interface Mark {
  what: 'start' | 'end';
  step: string;
  host: string;
  t: number;
}
const read = (): Mark[] =>
  existsSync(timeline)
    ? readFileSync(timeline, 'utf8').trim().split('\n').map((l) => {
        const [what, step, host, t] = l.split(' ');
        return { what, step, host, t: Number(t) } as Mark;
      })
    : [];
const at = (m: Mark[], what: string, step: string, host: string) => m.find((x) => x.what === what && x.step === step && x.host === host)?.t ?? NaN;

describe('the step engine over SSH', () => {
  it('runs stages in order: the controller stacks before any compute starts, computes in parallel, then discovery', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'dc-state-'));
    rmSync(timeline, { force: true });
    const pool = new SessionPool([]);
    const lines: string[] = [];
    const report = (e: ProgressEvent) => (e.kind === 'line' ? lines.push(`${e.node} ${e.step} ${e.line}`) : undefined);
    try {
      const result = await runStages(stages(nodes()), { ctx: { signal: new AbortController().signal, report }, stateDir, session: sessionFrom(pool) });
      expect(result.ran.map((r) => `${r.node}/${r.step}`).sort()).toEqual(['compute1/prepare', 'compute1/stack', 'compute2/prepare', 'compute2/stack', 'controller/discover', 'controller/prepare', 'controller/stack'].sort());
      expect(pool.connections).toBe(3);
      // Each command's output reaches the run's report as line events of its node and step.
      expect(lines.sort()).toEqual(result.ran.map((r) => `${r.node} ${r.step} ${r.step} done on ${r.node}`).sort());
    } finally {
      await pool.closeAll();
    }
    const m = read();
    const controllerDone = at(m, 'end', 'stack', 'controller');
    expect(at(m, 'start', 'stack', 'compute1')).toBeGreaterThan(controllerDone);
    expect(at(m, 'start', 'stack', 'compute2')).toBeGreaterThan(controllerDone);
    // In parallel: each compute started before the other finished.
    expect(at(m, 'start', 'stack', 'compute1')).toBeLessThan(at(m, 'end', 'stack', 'compute2'));
    expect(at(m, 'start', 'stack', 'compute2')).toBeLessThan(at(m, 'end', 'stack', 'compute1'));
    expect(at(m, 'start', 'discover', 'controller')).toBeGreaterThan(Math.max(at(m, 'end', 'stack', 'compute1'), at(m, 'end', 'stack', 'compute2')));
    const record = JSON.parse(readFileSync(join(stateDir, 'provision.json'), 'utf8')) as { done: Record<string, unknown> };
    expect(Object.keys(record.done)).toHaveLength(7);
    expect(readFileSync(join(stateDir, 'logs', 'compute2', 'stack.log'), 'utf8')).toMatch(/# exit 0 after/);
  });

  it('the first failure stops the run naming node, step, exit code, log and last lines; the next run resumes there', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'dc-state-'));
    rmSync(timeline, { force: true });
    writeFileSync(fault, 'compute2\n');
    const ctx = { signal: new AbortController().signal, report: () => undefined };
    let pool = new SessionPool([]);
    const error = await runStages(stages(nodes()), { ctx, stateDir, session: sessionFrom(pool) })
      .catch((e: unknown) => e)
      .finally(() => pool.closeAll());
    expect(error).toMatchObject({ code: 'PROVISION_STEP_FAILED', message: 'step stack failed on node compute2 with exit code 3: stack exited with 3' });
    const details = (error as { details: string[]; hint: string }).details;
    expect(details[0]).toBe(`log: ${join(stateDir, 'logs', 'compute2', 'stack.log')}`);
    expect(details).toEqual(expect.arrayContaining(['| something broke on compute2', '| Error on exit']));
    expect((error as { hint: string }).hint).toContain('devcluster provision --from stack --only compute2');
    expect(read().some((x) => x.step === 'discover')).toBe(false);

    rmSync(fault);
    const before = read().length;
    pool = new SessionPool([]);
    const again = await runStages(stages(nodes()), { ctx, stateDir, session: sessionFrom(pool) }).finally(() => pool.closeAll());
    const ranNow = read().slice(before);
    expect(ranNow.filter((x) => x.step === 'prepare' || (x.step === 'stack' && x.host === 'controller'))).toEqual([]);
    expect(again.ran.map((r) => `${r.node}/${r.step}`)).toContain('compute2/stack');
    expect(again.ran.map((r) => `${r.node}/${r.step}`)).toContain('controller/discover');
    expect(again.skipped.map((r) => `${r.node}/${r.step}`)).toEqual(expect.arrayContaining(['controller/prepare', 'controller/stack']));

    // --from stack --only compute1: just that, nothing else.
    const mid = read().length;
    pool = new SessionPool([]);
    const only = await runStages(stages(nodes()), { ctx, stateDir, session: sessionFrom(pool), from: 'stack', only: 'compute1' }).finally(() => pool.closeAll());
    expect(only.ran.map((r) => `${r.node}/${r.step}`)).toEqual(['compute1/stack']);
    expect(read().slice(mid).map((x) => `${x.what} ${x.step} ${x.host}`)).toEqual(['start stack compute1', 'end stack compute1']);
  });

  it('cancelling stops the running step on every host and records nothing for it', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'dc-state-'));
    const pids = join(work, 'pids');
    rmSync(pids, { force: true });
    const abort = new AbortController();
    const pool = new SessionPool([]);
    const long: Stage<N> = {
      step: 'prepare',
      nodes: nodes(),
      parallel: true,
      run: async (r) => {
        await r.session.run(`sleep 300 & echo $! >> ${shq(pids)}; wait`, { signal: r.ctx.signal, what: 'long' });
      },
    };
    const running = runStages([long], { ctx: { signal: abort.signal, report: () => undefined }, stateDir, session: sessionFrom(pool) });
    for (let i = 0; i < 200 && (!existsSync(pids) || readFileSync(pids, 'utf8').trim().split('\n').length < 3); i++) await new Promise((d) => setTimeout(d, 50));
    abort.abort();
    await expect(running).rejects.toMatchObject({ code: 'CANCELLED' });
    await pool.closeAll();
    // Alive = exists and is not a zombie (this machine's PID 1 may not reap orphans).
    const alive = readFileSync(pids, 'utf8').trim().split('\n').filter((pid) => {
      const stat = existsSync(`/proc/${pid}/stat`) ? readFileSync(`/proc/${pid}/stat`, 'utf8') : '';
      return stat !== '' && stat.split(') ')[1]?.[0] !== 'Z';
    });
    expect(alive).toEqual([]);
    expect(existsSync(join(stateDir, 'provision.json'))).toBe(false);
  });

  it('a host showing another key than the pinned one is refused before anything runs there', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'dc-state-'));
    rmSync(timeline, { force: true });
    const pool = new SessionPool([]);
    // compute2 is pinned to compute1's key: as if another machine answered at its address.
    const error = await runStages(stages(nodes()).slice(0, 1), {
      ctx: { signal: new AbortController().signal, report: () => undefined },
      stateDir,
      session: sessionFrom(pool, (n) => (n.name === 'compute2' ? (hostKeys.compute1 as { public: string }).public : n.hostKey)),
    })
      .catch((e: unknown) => e)
      .finally(() => pool.closeAll());
    expect(error).toMatchObject({ code: 'SSH_HOST_KEY_MISMATCH' });
    expect((error as Error).message).toContain('compute2');
    expect(read().filter((x) => x.host === 'compute2')).toEqual([]);
  });
});
