/**
 * A gate build reproduced for real, and provisioning when it goes wrong, on a cluster of its own (it
 * breaks a node and re-keys one). `devcluster reproduce --up` of the devstack-multinode build fixture
 * (test/fixtures/zuul/, shaped as the gate publishes it) writes the build's cluster — a controller and
 * a compute, the job's local.conf per role — with what this host cannot give a gate node laid over it
 * by `--with` as a user would (the test image, 1 vCPU and 1 GiB per node, a network of its own, the
 * fake DevStack: test/fixtures/fake-devstack, pushed from a local checkout), and brings it up on
 * qemu:///system (TCG). The fake stack.sh fails on compute1: `up` fails naming compute1, the step, the
 * exit code and the log tail; after clearing the fault `up --follow` finishes without stacking the
 * controller again, streaming the node's output. Then each node's local.conf as devcluster wrote it on
 * the node keeps every setting of the job's local_conf.txt in force except those devcluster rewrites
 * (the unit tier's check on the rendered text, here on the file the node stacked with), and nova
 * mapped the compute. A swapped host key is then refused. The normal path (order, local.conf per role,
 * post-stack once, secrets) is asserted on the run's shared cluster: stacked-cluster.host.test.ts.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { gitRepo } from '../support/git-repo.js';
import { fakeDevstackTree } from '../support/fake-devstack-tree.js';
import { timeline } from '../support/fake-devstack-state.js';
import { clusterInDir, testImageSpec } from '../support/cli-cluster.js';
import { requireTestImage } from '../support/test-image.js';
import { parseMetaSections } from '../../src/provision/local-conf.js';

const FIXTURE = fileURLToPath(new URL('../fixtures/zuul/devstack-multinode/', import.meta.url));
/** What devcluster writes itself (reproduce's header lists each): addresses, passwords, MTUs, LIBVIRT_TYPE, ERROR_ON_CLONE. */
const REWRITTEN = /^(HOST_IP|SERVICE_HOST|DATABASE_HOST|RABBIT_HOST|GLANCE_HOSTPORT|Q_HOST|[A-Z0-9_]*_PASSWORD|PUBLIC_BRIDGE_MTU|LIBVIRT_TYPE|ERROR_ON_CLONE)$/;

/** The last assignment of each localrc variable (what bash keeps) and the service lines, in order. */
function localrc(text: string): { assignments: Map<string, string>; services: string[] } {
  const assignments = new Map<string, string>();
  const services: string[] = [];
  for (const raw of parseMetaSections(text).find((s) => s.header === '[[local|localrc]]')?.lines ?? []) {
    const line = raw.trim();
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=/.exec(line);
    if (m) assignments.set(m[1] as string, line);
    else if (/^(enable_service|disable_service|disable_all_services)\b/.test(line)) services.push(line);
  }
  return { assignments, services };
}

function fakeDevstackRepo(failOn: string): string {
  return gitRepo(join(mkdtempSync(join(tmpdir(), 'dc-fake-')), 'devstack'), { 'fail-on': `${failOn}\n` }, fakeDevstackTree());
}

describe('a gate build reproduced on real guests; provisioning when a step fails', () => {
  it("reproduce --up: a fault fails up naming node, step and log tail; up resumes there; each node has the job's local.conf; a swapped host key is refused", async () => {
    const { image, sums } = requireTestImage();
    const name = `pv${randomBytes(2).toString('hex')}`;
    const work = mkdtempSync(join(tmpdir(), `dc-${name}-`));
    const repo = fakeDevstackRepo('compute1');
    const run = await clusterInDir(work, ['name: placeholder']);
    // What a gate node has and this host does not, as a user lays it over (reproduce --with).
    await writeFile(
      join(work, 'mine.yaml'),
      [
        `name: ${name}`,
        `image: ${testImageSpec(image, sums)}`,
        'network: { cidr: 192.168.158.0/24 }',
        'nodes:',
        '  - { name: controller, cpus: 1, memory: 1GiB, disk: 8GiB }',
        '  - { name: compute1, cpus: 1, memory: 1GiB, disk: 8GiB }',
        `devstack: { repo: ${JSON.stringify(repo)} }`,
        '',
      ].join('\n'),
    );
    try {
      // The fault on compute1: up fails naming compute1, the step, the exit code and the log tail.
      const failed = await run('reproduce', FIXTURE, '--force', '--with', 'mine.yaml', '--up');
      expect(failed.stdout).toMatch(/^controller logs\/local_conf\.txt: same as the job's/m);
      expect(failed.stdout).toMatch(/^compute1 logs\/local_conf\.txt: same as the job's/m);
      expect(failed.exitCode, failed.stderr).toBe(1);
      expect(failed.stderr).toContain('step stack failed on node compute1 with exit code 1');
      expect(failed.stderr).toContain(`log: ${join(work, '.devcluster', name, 'logs', 'compute1', 'stack.log')}`);
      expect(failed.stderr).toContain('| Error on exit');
      expect(failed.stderr).toContain('devcluster provision --from stack --only compute1');

      // Clear the fault; up resumes at compute1's stack and does not stack the controller again.
      expect((await run('ssh', 'compute1', '--', 'rm /opt/stack/devstack/fail-on')).exitCode).toBe(0);
      const resumed = await run('up', '--boot-timeout', '900', '--follow');
      expect(resumed.exitCode, resumed.stderr).toBe(0);
      // --follow: the nodes' output, prefixed by node and step.
      expect(resumed.stderr).toMatch(/^\[compute1 stack\] .*This is your host IP address: 192\.168\.158\.11/m);
      expect(resumed.stdout).toContain('compute1/stack');
      expect(resumed.stdout).not.toContain('controller/stack');
      const ctl = await timeline(run, 'controller');
      expect(ctl.filter((e) => e.what === 'start')).toHaveLength(1);
      const controllerDone = ctl.find((e) => e.what === 'done')?.t as number;
      const c1 = await timeline(run, 'compute1');
      for (const e of c1.filter((x) => x.what === 'start')) expect(e.t).toBeGreaterThan(controllerDone);
      expect(c1.map((e) => e.what)).toEqual(['start', 'fail', 'start', 'done']);
      const hosts = await run('ssh', 'controller', '--', 'nova-manage cell_v2 list_hosts');
      expect(hosts.stdout).toMatch(/\|\s*compute1\s*\|/);

      // Each node stacked with the job's settings: every localrc line of its local_conf.txt that
      // devcluster does not rewrite is in force on the node, and the job's service lines come last.
      for (const [node, address] of [['controller', '192.168.158.10'], ['compute1', '192.168.158.11']] as const) {
        const onNode = await run('ssh', node, '--', 'cat /opt/stack/devstack/local.conf');
        expect(onNode.exitCode, onNode.stderr).toBe(0);
        const ours = localrc(onNode.stdout);
        const jobs = localrc(readFileSync(join(FIXTURE, node, 'logs/local_conf.txt'), 'utf8'));
        expect(jobs.assignments.size, node).toBeGreaterThan(10);
        for (const [key, line] of jobs.assignments) if (!REWRITTEN.test(key)) expect(ours.assignments.get(key), `${node} ${key}`).toBe(line);
        expect(ours.services.slice(-jobs.services.length), node).toEqual(jobs.services);
        expect(ours.assignments.get('HOST_IP'), node).toBe(`HOST_IP=${address}`);
      }

      // A node that shows another host key than the pinned one is refused.
      const swap = await run('ssh', 'compute1', '--', "sudo rm -f /etc/ssh/ssh_host_ed25519_key* && sudo ssh-keygen -q -t ed25519 -N '' -f /etc/ssh/ssh_host_ed25519_key && sudo systemctl restart ssh");
      expect(swap.exitCode, swap.stderr).toBe(0);
      const refused = await run('provision', '--from', 'stack', '--only', 'compute1');
      expect(refused.exitCode).toBe(1);
      expect(refused.stderr).toContain('SSH_HOST_KEY_MISMATCH');
      expect(refused.stderr).toContain('compute1');
      expect((await timeline(run, 'controller')).filter((e) => e.what === 'start')).toHaveLength(1);
    } finally {
      // Soft: a failed down is reported without hiding the failure that got us here.
      const down = await run('down');
      expect.soft(down.exitCode, down.stderr).toBe(0);
    }
  }, 40 * 60_000);
});
