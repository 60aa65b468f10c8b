/**
 * Provisioning for real: a controller and two computes of the test image on qemu:///system (TCG),
 * `up` with the fake DevStack (test/fixtures/fake-devstack, pushed from a local checkout): the
 * controller stacks before any compute, discovery after both, each node's local.conf has its role's
 * values, and the fake cloud holds the images, keypairs and rules — once, even after a second
 * `provision`. A fault on compute2 fails `up` with node, step and log tail; after clearing it `up`
 * finishes without stacking the controller again. A swapped host key is refused; no secret is
 * printed or logged.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { gitRepo } from '../support/git-repo.js';
import { fakeDevstackTree } from '../support/fake-devstack-tree.js';
import { clusterInDir, testImageSpec, type CliRun } from '../support/cli-cluster.js';
import { requireTestImage } from '../support/test-image.js';


function fakeDevstackRepo(failOn: string): string {
  return gitRepo(join(mkdtempSync(join(tmpdir(), 'dc-fake-')), 'devstack'), { 'fail-on': `${failOn}\n` }, fakeDevstackTree());
}

function allFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

interface Timeline {
  what: string;
  t: number;
  host: string;
}
async function timeline(run: CliRun, node: string): Promise<Timeline[]> {
  const r = await run('ssh', node, '--', 'cat /opt/stack/logs/fake-timeline');
  return r.stdout.trim().split('\n').map((l) => {
    const [what, t, host] = l.split(' ');
    return { what: what as string, t: Number(t), host: host as string };
  });
}

interface FakeCloud {
  images: Array<{ name: string; visibility: string; disk_format: string }>;
  keypairs: Array<{ name: string; user_id: string }>;
  users: Array<{ id: string; name: string }>;
  projects: Array<{ id: string; name: string }>;
  security_groups: Array<{ id: string; name: string; project_id: string }>;
  security_group_rules: Array<{ security_group_id: string; direction: string; protocol: string | null; port_range_min: number | null; ethertype: string }>;
}
async function fakeCloud(run: CliRun): Promise<FakeCloud> {
  const r = await run('ssh', 'controller', '--', 'cat /opt/stack/data/fake/openstack.json');
  expect(r.exitCode, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as FakeCloud;
}

/** What the post-stack steps made, in a form that compares equal when nothing changed. */
function madeByPostStack(cloud: FakeCloud) {
  const user = (id: string) => cloud.users.find((u) => u.id === id)?.name;
  const project = (id: string) => cloud.projects.find((p) => p.id === id)?.name;
  const groups = new Map(cloud.security_groups.map((g) => [g.id, `${project(g.project_id)}/${g.name}`]));
  return {
    images: cloud.images.map((i) => `${i.name} ${i.visibility} ${i.disk_format}`).sort(),
    keypairs: cloud.keypairs.map((k) => `${user(k.user_id)}/${k.name}`).sort(),
    rules: cloud.security_group_rules
      .filter((r) => r.direction === 'ingress' && r.protocol !== null)
      .map((r) => `${groups.get(r.security_group_id)} ${r.protocol}${r.port_range_min === null ? '' : `/${r.port_range_min}`}`)
      .sort(),
  };
}

describe('provisioning DevStack over SSH on real guests', () => {
  it('up with the fake DevStack: order, local.conf per role, post-stack once; a fault resumes; secrets stay hidden', async () => {
    const { image, sums } = requireTestImage();
    const name = `pv${randomBytes(2).toString('hex')}`;
    const work = mkdtempSync(join(tmpdir(), `dc-${name}-`));
    const images = join(work, 'images');
    execFileSync('mkdir', ['-p', images]);
    for (const file of ['ubuntu-24.04-tiny.qcow2', 'fedora-42-tiny.qcow2']) execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', join(images, file), '64M']);
    const repo = fakeDevstackRepo('compute2');
    // A project tree of the user's, pushed to every node as DevStack's clone of it.
    const nova = gitRepo(join(mkdtempSync(join(tmpdir(), 'dc-nova-')), 'nova'), { 'patched.py': 'print("my patch")\n' });
    const novaHead = execFileSync('git', ['-C', nova, 'rev-parse', 'HEAD']).toString().trim();
    const run = await clusterInDir(work, [
      `name: ${name}`,
      `image: ${testImageSpec(image, sums)}`,
      'network: { cidr: 192.168.158.0/24 }',
      'nodes:',
      '  - { name: controller, role: controller, cpus: 1, memory: 1GiB, disk: 8GiB }',
      '  - { name: compute1, role: compute, cpus: 1, memory: 1GiB, disk: 8GiB }',
      '  - { name: compute2, role: compute, cpus: 1, memory: 1GiB, disk: 8GiB }',
      `devstack: { repo: ${JSON.stringify(repo)}, layer: 1, journal: true, services: { enable: [tls-proxy], disable: [n-novnc, horizon, c-sch, c-api, c-vol, etcd3, n-api-meta, ovn-northd, ovn-controller, ovs-vswitchd, ovsdb-server, q-ovn-agent] }, sources: { nova: ${JSON.stringify(nova)} } }`,
      'post_stack:',
      `  images: ["file://${images}/ubuntu-24.04-tiny.qcow2", "file://${images}/fedora-42-tiny.qcow2"]`,
      '  keypair: { name: default, users: [admin, demo] }',
      '  open_ports: [icmp, tcp/22]',
    ]);
    // What devcluster itself printed (not what `ssh NODE -- CMD` passes through from the node).
    const printed: Array<[string, string]> = [];
    const cli: CliRun = async (...args) => {
      const r = await run(...args);
      if (args[0] !== 'ssh') printed.push([`devcluster ${args.join(' ')}`, `${r.stdout}\n${r.stderr}`]);
      return r;
    };
    try {
      // 1. The fault on compute2: up fails naming compute2, the step, the exit code and the log tail.
      const failed = await cli('up', '--boot-timeout', '900');
      expect(failed.exitCode, failed.stderr).toBe(1);
      expect(failed.stderr).toContain('step stack failed on node compute2 with exit code 1');
      expect(failed.stderr).toContain(`log: ${join(work, '.devcluster', name, 'logs', 'compute2', 'stack.log')}`);
      expect(failed.stderr).toContain('| Error on exit');
      expect(failed.stderr).toContain('devcluster provision --from stack --only compute2');

      // 2. Clear the fault; up resumes at compute2's stack and does not stack the controller again.
      expect((await cli('ssh', 'compute2', '--', 'rm /opt/stack/devstack/fail-on')).exitCode).toBe(0);
      const resumed = await cli('up', '--boot-timeout', '900', '--follow');
      expect(resumed.exitCode, resumed.stderr).toBe(0);
      // --follow: the nodes' output, prefixed by node and step.
      expect(resumed.stderr).toMatch(/^\[compute2 stack\] .*This is your host IP address: 192\.168\.158\.12/m);
      expect(resumed.stdout).toContain('compute2/stack');
      expect(resumed.stdout).not.toContain('controller/stack');
      const ctl = await timeline(cli, 'controller');
      expect(ctl.filter((e) => e.what === 'start')).toHaveLength(1);
      const controllerDone = ctl.find((e) => e.what === 'done')?.t as number;
      const c1 = await timeline(cli, 'compute1');
      const c2 = await timeline(cli, 'compute2');
      for (const e of [...c1, ...c2].filter((x) => x.what === 'start')) expect(e.t).toBeGreaterThan(controllerDone);
      expect(c2.map((e) => e.what)).toEqual(['start', 'fail', 'start', 'done']);

      // Discovery ran after both computes had stacked, and mapped them.
      const cells = JSON.parse((await cli('ssh', 'controller', '--', 'cat /opt/stack/data/fake/nova-cells.json')).stdout) as { discovery_runs: Array<{ epoch: number; mapped: string[] }> };
      const mappedAt = new Map<string, number>();
      for (const r of cells.discovery_runs) for (const h of r.mapped) mappedAt.set(h, r.epoch);
      const lastDone = Math.max(...[...c1, ...c2].filter((e) => e.what === 'done').map((e) => e.t));
      expect(mappedAt.get('compute1')).toBeGreaterThan(c1.find((e) => e.what === 'done')?.t as number);
      expect(mappedAt.get('compute2')).toBeGreaterThanOrEqual(Math.floor(lastDone));
      const hosts = await cli('ssh', 'controller', '--', 'nova-manage cell_v2 list_hosts');
      expect(hosts.stdout).toMatch(/\|\s*compute1\s*\|/);
      expect(hosts.stdout).toMatch(/\|\s*compute2\s*\|/);

      // 3. local.conf per role, 0600.
      // Passwords masked here so that a failed assertion never prints them.
      const conf = async (node: string) => (await cli('ssh', node, '--', 'stat -c %a /opt/stack/devstack/local.conf && cat /opt/stack/devstack/local.conf')).stdout.replace(/(_PASSWORD=).*/g, '$1<masked>');
      const controllerConf = await conf('controller');
      expect(controllerConf.startsWith('600\n')).toBe(true);
      expect(controllerConf).toContain('HOST_IP=192.168.158.10\n');
      expect(controllerConf).toMatch(/ENABLED_SERVICES=.*\bmysql\b/);
      expect(controllerConf).toContain('USE_JOURNAL=True\n');
      expect(controllerConf).toContain('LIBVIRT_TYPE=qemu\n');
      for (const [node, ip] of [['compute1', '192.168.158.11'], ['compute2', '192.168.158.12']] as const) {
        const text = await conf(node);
        expect(text).toContain(`HOST_IP=${ip}\n`);
        expect(text).toContain('SERVICE_HOST=192.168.158.10\n');
        expect(text).toContain('MYSQL_HOST=192.168.158.10\n');
        expect(text).not.toMatch(/ENABLED_SERVICES=.*\bmysql\b/);
        expect(text).toContain('LIBVIRT_TYPE=qemu\n');
        expect(text).toMatch(/^NOVA_BRANCH=devcluster-local$/m);
      }
      // The local nova tree reached every node at its commit, on the branch local.conf names.
      for (const node of ['controller', 'compute1', 'compute2']) {
        const head = await cli('ssh', node, '--', 'git -C /opt/stack/nova rev-parse --abbrev-ref HEAD && git -C /opt/stack/nova rev-parse HEAD');
        expect(head.stdout.trim().split('\n'), node).toEqual(['devcluster-local', novaHead]);
      }
      // tls-proxy: the controller's CA reached every compute before it stacked.
      const ca = async (node: string) => (await cli('ssh', node, '--', 'sha256sum /opt/stack/data/ca-bundle.pem')).stdout.split(' ')[0];
      const controllerCa = await ca('controller');
      expect(controllerCa).toMatch(/^[0-9a-f]{64}$/);
      expect(await ca('compute1')).toBe(controllerCa);
      expect(await ca('compute2')).toBe(controllerCa);

      // 4. The fake cloud: both images public, a keypair for admin and demo, two rules per project.
      const made = madeByPostStack(await fakeCloud(cli));
      expect(made.images).toEqual(['fedora-42-tiny public qcow2', 'ubuntu-24.04-tiny public qcow2']);
      expect(made.keypairs).toEqual(['admin/default', 'demo/default']);
      expect(made.rules).toEqual(['admin/default icmp', 'admin/default tcp/22', 'demo/default icmp', 'demo/default tcp/22']);

      // The services log to the journal with request ids (USE_JOURNAL=True).
      const journal = await cli('ssh', 'controller', '--', "sudo journalctl -u 'devstack@key' -o json --no-pager | grep -c REQUEST_ID || true");
      expect(Number(journal.stdout.trim())).toBeGreaterThan(0);

      // 5. A second provision of the post-stack steps changes nothing in the fake cloud.
      const again = await cli('provision', '--from', 'discover');
      expect(again.exitCode, again.stderr).toBe(0);
      expect(again.stdout).toContain('controller/images');
      expect(madeByPostStack(await fakeCloud(cli))).toEqual(made);

      // 6. No password or key appears in any log or in anything printed.
      const secrets = JSON.parse(readFileSync(join(work, '.devcluster', name, 'secrets.json'), 'utf8')) as { passwords: Record<string, string> };
      const logs = allFiles(join(work, '.devcluster', name, 'logs'));
      expect(logs.length).toBeGreaterThanOrEqual(10);
      const sources: Array<[string, string]> = [...logs.map((f): [string, string] => [f, readFileSync(f, 'utf8')]), ...printed];
      expect(sources.some(([, text]) => text.includes('The password: ******'))).toBe(true);
      // Only names are reported, so a failure never prints a secret.
      const leaks = sources.filter(([, text]) => Object.values(secrets.passwords).some((v) => text.includes(v))).map(([where]) => where);
      expect(leaks).toEqual([]);
      for (const f of logs) expect(statSync(f).mode & 0o777).toBe(0o600);

      // 7. A node that shows another host key than the pinned one is refused.
      const swap = await cli('ssh', 'compute1', '--', "sudo rm -f /etc/ssh/ssh_host_ed25519_key* && sudo ssh-keygen -q -t ed25519 -N '' -f /etc/ssh/ssh_host_ed25519_key && sudo systemctl restart ssh");
      expect(swap.exitCode, swap.stderr).toBe(0);
      const refused = await cli('provision', '--from', 'stack', '--only', 'compute1');
      expect(refused.exitCode).toBe(1);
      expect(refused.stderr).toContain('SSH_HOST_KEY_MISMATCH');
      expect(refused.stderr).toContain('compute1');
      expect((await timeline(cli, 'controller')).filter((e) => e.what === 'start')).toHaveLength(1);
    } finally {
      // Soft: a failed down is reported without hiding the failure that got us here.
      const down = await run('down');
      expect.soft(down.exitCode, down.stderr).toBe(0);
    }
  }, 40 * 60_000);
});
