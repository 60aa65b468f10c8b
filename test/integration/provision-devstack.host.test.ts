/**
 * Provisioning for real when it goes wrong, on a cluster of its own (it breaks a node and re-keys
 * one): a controller and a compute of the test image on qemu:///system (TCG), `up` with the fake
 * DevStack (test/fixtures/fake-devstack, pushed from a local checkout) whose stack.sh fails on
 * compute1. `up` fails naming compute1, the step, the exit code and the log tail; after clearing the
 * fault `up --follow` finishes without stacking the controller again, streaming the node's output. A
 * swapped host key is then refused. The normal path (order, local.conf per role, post-stack once,
 * secrets) is asserted on the run's shared cluster: stacked-cluster.host.test.ts.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { gitRepo } from '../support/git-repo.js';
import { fakeDevstackTree } from '../support/fake-devstack-tree.js';
import { timeline } from '../support/fake-devstack-state.js';
import { clusterInDir, testImageSpec } from '../support/cli-cluster.js';
import { requireTestImage } from '../support/test-image.js';

function fakeDevstackRepo(failOn: string): string {
  return gitRepo(join(mkdtempSync(join(tmpdir(), 'dc-fake-')), 'devstack'), { 'fail-on': `${failOn}\n` }, fakeDevstackTree());
}

describe('provisioning DevStack over SSH on real guests, when a step fails', () => {
  it('a fault fails up naming node, step and log tail; up resumes there; a swapped host key is refused', async () => {
    const { image, sums } = requireTestImage();
    const name = `pv${randomBytes(2).toString('hex')}`;
    const work = mkdtempSync(join(tmpdir(), `dc-${name}-`));
    const repo = fakeDevstackRepo('compute1');
    const run = await clusterInDir(work, [
      `name: ${name}`,
      `image: ${testImageSpec(image, sums)}`,
      'network: { cidr: 192.168.158.0/24 }',
      'nodes:',
      '  - { name: controller, role: controller, cpus: 1, memory: 1GiB, disk: 8GiB }',
      '  - { name: compute1, role: compute, cpus: 1, memory: 1GiB, disk: 8GiB }',
      // A small stack: every service start costs seconds under TCG.
      `devstack: { repo: ${JSON.stringify(repo)}, layer: 1, services: { disable: [n-novnc, horizon, c-sch, c-api, c-vol, etcd3, n-api-meta, ovn-northd, ovn-controller, ovs-vswitchd, ovsdb-server, q-ovn-agent] } }`,
      'post_stack: { images: [], open_ports: [icmp] }',
    ]);
    try {
      // The fault on compute1: up fails naming compute1, the step, the exit code and the log tail.
      const failed = await run('up', '--boot-timeout', '900');
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
