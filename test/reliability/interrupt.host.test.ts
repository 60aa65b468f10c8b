/**
 * Reliability on real guests (test image, qemu:///system, TCG, the fake DevStack): Ctrl-C at three
 * moments of `up` — while the image is fetched, while the node boots, while stack.sh runs on it —
 * each in the re-run of the one before, as a user who presses Ctrl-C and runs `up` again would meet
 * them. Ctrl-C is SIGINT to the whole foreground process group, as a terminal sends it. Each time the
 * CLI exits 130 with one line saying how to go on (no stack trace), leaves no lock and no remote
 * stack.sh running (a partial image download is kept on purpose: the next run resumes it); each
 * re-run gets past the moment the one before was stopped at, the last one completes, and `down`
 * leaves nothing. Then Ctrl-C during `snapshot save` (the node runs on, no snapshot kept) and during
 * `reset` (the restore finishes: the node runs from `stacked`; only the clock step and checks are skipped). (One cluster for the three: a boot and a stack fewer than a fresh one each.)
 *
 * The config carries values with shell metacharacters, which must reach the node intact and execute
 * nothing: the DevStack checkout and a project tree at paths with spaces and quotes, a proxy URL with
 * `&` and `$`, and extra local.conf text with `$` and backticks. (No config value reaches the domain
 * XML other than names the schema restricts; XML escaping is tested through libvirt in
 * src/providers/libvirt/domain-xml.test.ts.)
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { clusterInDir, testImageSpec, type CliRun } from '../support/cli-cluster.js';
import { gitRepo } from '../support/git-repo.js';
import { fakeDevstackTree } from '../support/fake-devstack-tree.js';
import { leftovers } from '../support/leftovers.js';
import { requireTestImage } from '../support/test-image.js';

const BIN = fileURLToPath(new URL('../../bin/devcluster.js', import.meta.url));
const PWNED = `/tmp/dc-pwned-${randomBytes(3).toString('hex')}`;
const PROXY = 'http://127.0.0.1:3128/p?a=1&b=$HOME';
const EXTRA_LINE = `DC_NOTE='costs $5 and \`touch ${PWNED}\`'`;

/** `devcluster ARGS` in its own process group; SIGINT to the group once stderr matches `moment`. */
async function interruptedAt(work: string, moment: RegExp, args: readonly string[] = ['up', '--follow']) {
  const child = execa('node', [BIN, ...args], { cwd: work, reject: false, detached: true, all: true, env: { HOME: work, XDG_CACHE_HOME: join(work, 'cache') } });
  let seen = '';
  let signalled = false;
  child.stderr?.on('data', (chunk: Buffer) => {
    seen += chunk.toString();
    if (!signalled && moment.test(seen)) {
      signalled = true;
      process.kill(-(child.pid as number), 'SIGINT');
    }
  });
  const result = await child;
  return { signalled, exitCode: result.exitCode, stderr: String(result.stderr), stdout: String(result.stdout) };
}

describe('reliability: Ctrl-C during up, and metacharacters in the config', () => {
  it('at three moments, each in the re-run of the last: exits 130 cleanly, the next run gets past it, the last completes, down leaves nothing; odd values arrive intact', async () => {
    const { image, sums } = requireTestImage();
    const name = `ir${randomBytes(2).toString('hex')}`;
    const work = mkdtempSync(join(tmpdir(), `dc-${name}-`));
    const odd = mkdtempSync(join(tmpdir(), `dc src "q" it's `));
    const devstack = gitRepo(join(odd, 'dev stack'), {}, fakeDevstackTree());
    const nova = gitRepo(join(odd, `my "nova" it's`), { 'patched.py': 'print("patched")\n' });
    const run: CliRun = await clusterInDir(work, [
      `name: ${name}`,
      `image: ${testImageSpec(image, sums)}`,
      'network: { cidr: 192.168.157.0/24 }',
      'nodes:',
      '  - { name: controller, role: controller, cpus: 1, memory: 1GiB, disk: 8GiB }',
      `proxy: { http: ${JSON.stringify(PROXY)} }`,
      'devstack:',
      `  repo: ${JSON.stringify(devstack)}`,
      '  layer: 1',
      // A small stack: every service start costs seconds under TCG.
      '  services: { disable: [n-api-meta, n-cond, n-sch, n-novnc, placement-api, ovn-controller, ovn-northd, ovs-vswitchd, ovsdb-server, q-ovn-agent, c-sch, c-api, c-vol, horizon, etcd3] }',
      `  sources: { nova: ${JSON.stringify(nova)} }`,
      `  local_conf: { controller: ${JSON.stringify(`[[local|localrc]]\n${EXTRA_LINE}\n`)} }`,
      'post_stack: { images: [], open_ports: [icmp] }',
    ]);
    const moments: Array<[string, RegExp]> = [
      ['while the image is fetched', new RegExp(`^${name}: image `, 'm')],
      ['while the node boots', /^controller: started/m],
      // stack.sh's own first line of work (the fake sources the real DevStack tree before it).
      ['while stack.sh runs', /^\[controller stack\] .*\(fake DevStack stand-in\) starting on /m],
    ];
    try {
      for (const [what, moment] of moments) {
        // The first `up`, then each re-run of an interrupted one: it must get past where the one before
        // was stopped (it reaches the next moment).
        const cut = await interruptedAt(work, moment);
        expect(cut.signalled, `${what}: the moment never came:\n${cut.stderr}`).toBe(true);
        expect(cut.exitCode, `${what}:\n${cut.stderr}`).toBe(130);
        expect(cut.stderr).toContain('SIGINT: stopping (again to force)');
        expect(cut.stderr).toContain('interrupted: up stopped; what it finished is kept. Run `devcluster up` again');
        expect(cut.stderr).not.toMatch(/error INTERNAL|^\s+at /m);
        expect(existsSync(join(work, '.devcluster', name, 'lock')), what).toBe(false);
      }
      const ps = await run('ssh', 'controller', '--', "pgrep -fa 'stack[.]sh' | grep -v pgrep || true");
      expect(ps.stdout.trim(), 'stack.sh still running on the node').toBe('');

      const done = await run('up');
      expect(done.exitCode, `the last re-run:\n${done.stderr}`).toBe(0);
      expect(done.stdout).toContain(`cluster ${name} is ready`);

      // The interrupted stack.sh started once and never finished; the re-run's finished.
      const timeline = (await run('ssh', 'controller', '--', 'cat /opt/stack/logs/fake-timeline')).stdout.trim().split('\n').map((l) => l.split(' ')[0]);
      expect(timeline.filter((e) => e === 'start')).toHaveLength(2);
      expect(timeline.at(-1)).toBe('done');
      // Metacharacters: intact on the node, nothing executed.
      const env = await run('ssh', 'controller', '--', 'grep ^http_proxy= /etc/environment');
      expect(env.stdout.trim().split('\n')).toContain(`http_proxy="${PROXY}"`);
      const conf = await run('ssh', 'controller', '--', 'cat /opt/stack/devstack/local.conf');
      expect(conf.stdout.split('\n')).toContain(EXTRA_LINE);
      const head = await run('ssh', 'controller', '--', 'git -C /opt/stack/nova log -1 --format=%s && cat /opt/stack/nova/patched.py');
      expect(head.stdout).toBe('init\nprint("patched")'); // execa strips the final newline
      const pwned = await run('ssh', 'controller', '--', `test -e ${PWNED} && echo executed || echo clean`);
      expect(pwned.stdout.trim()).toBe('clean');
      expect(existsSync(PWNED)).toBe(false);

      // Ctrl-C during a snapshot: the save's capture finishes, is undone, and the node runs on; the
      // restore (here `reset`, to the `stacked` that `up` saved) finishes once it has begun: never half-restored.
      expect(done.stdout).toMatch(/snapshot stacked saved: 1 node,/);
      const save = await interruptedAt(work, /^controller: saving memory and disks as cut/m, ['snapshot', 'save', 'cut']);
      expect(save.signalled, save.stderr).toBe(true);
      expect(save.exitCode, save.stderr).toBe(130);
      expect(save.stderr).toContain('interrupted: snapshot cut was not kept; every node runs on as before');
      const afterSave = JSON.parse((await run('snapshot', 'list', '--json')).stdout) as { snapshots: Array<{ name: string }> };
      expect(afterSave.snapshots.map((x) => x.name)).toEqual(['stacked']);
      expect((await run('status', '--json')).stdout).toMatch(/"state": "running"/);
      await run('ssh', 'controller', '--', 'echo gone > /home/stack/after-stacked.txt');
      const reset = await interruptedAt(work, /^controller: bringing back stacked/m, ['reset']);
      expect(reset.signalled, reset.stderr).toBe(true);
      expect(reset.exitCode, reset.stderr).toBe(130);
      expect(reset.stderr).toContain('interrupted: every node was already back to stacked and runs; the clock step and readiness check were skipped');
      expect((await run('status', '--json')).stdout).toMatch(/"state": "running"/);
      expect((await run('ssh', 'controller', '--', 'test -e /home/stack/after-stacked.txt; echo $?')).stdout.trim()).toBe('1');
      expect(existsSync(join(work, '.devcluster', name, 'lock'))).toBe(false);

      const down = await run('down');
      expect(down.exitCode, down.stderr).toBe(0);
      expect(leftovers(name, work)).toEqual([]);
    } finally {
      await run('down');
    }
  }, 30 * 60_000);
});
