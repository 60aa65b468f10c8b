/**
 * The run's shared stacked cluster (test/support/shared-cluster.ts: a controller and two computes of
 * the test image on qemu:///system, TCG, `up` with the fake DevStack) as its making `up` left it: the
 * controller stacked before any compute, discovery after both, each node's local.conf has its role's
 * values, the local nova tree and the controller's CA reached every node, and the fake cloud holds the
 * images, keypairs and rules — once, even after a second `provision`. No secret is printed or logged.
 * Then the cluster as a user reaches it: ssh with exit codes, node-to-node TCP, status.
 * Read-only, apart from the second provision of the post-stack steps (which must change nothing).
 * The fault, resume and host-key cases, which change a cluster, are in provision-devstack.host.test.ts.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { CliRun } from '../support/cli-cluster.js';
import { fakeCloud, madeByPostStack, timeline } from '../support/fake-devstack-state.js';
import { SHARED_NODES, sharedCluster, type SharedCluster } from '../support/shared-cluster.js';

function allFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

describe('the shared stacked cluster, as up made it', () => {
  let cluster: SharedCluster;
  /** What devcluster itself printed here (not what `ssh NODE -- CMD` passes through from the node). */
  const printed: Array<[string, string]> = [];
  let cli: CliRun;
  beforeAll(async () => {
    cluster = await sharedCluster();
    printed.push(['devcluster up', `${cluster.up.stdout}\n${cluster.up.stderr}`]);
    cli = async (...args) => {
      const r = await cluster.run(...args);
      if (args[0] !== 'ssh') printed.push([`devcluster ${args.join(' ')}`, `${r.stdout}\n${r.stderr}`]);
      return r;
    };
  }, 45 * 60_000);

  it('stacked in order, local.conf per role, sources and CA on every node, post-stack once; no secret printed or logged', async () => {
    const { name, work } = cluster;
    const ctl = await timeline(cli, 'controller');
    expect(ctl.filter((e) => e.what === 'start')).toHaveLength(1);
    const controllerDone = ctl.find((e) => e.what === 'done')?.t as number;
    const c1 = await timeline(cli, 'compute1');
    const c2 = await timeline(cli, 'compute2');
    for (const e of [...c1, ...c2].filter((x) => x.what === 'start')) expect(e.t).toBeGreaterThan(controllerDone);
    expect(c1.map((e) => e.what)).toEqual(['start', 'done']);
    expect(c2.map((e) => e.what)).toEqual(['start', 'done']);
    expect(cluster.up.stdout).toContain(`cluster ${name} is ready`);

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

    // local.conf per role, 0600.
    // Passwords masked here so that a failed assertion never prints them.
    const conf = async (node: string) => (await cli('ssh', node, '--', 'stat -c %a /opt/stack/devstack/local.conf && cat /opt/stack/devstack/local.conf')).stdout.replace(/(_PASSWORD=).*/g, '$1<masked>');
    const controllerConf = await conf('controller');
    expect(controllerConf.startsWith('600\n')).toBe(true);
    expect(controllerConf).toContain('HOST_IP=192.168.168.10\n');
    expect(controllerConf).toMatch(/ENABLED_SERVICES=.*\bmysql\b/);
    expect(controllerConf).toContain('USE_JOURNAL=True\n');
    expect(controllerConf).toContain('LIBVIRT_TYPE=qemu\n');
    for (const [node, ip] of [['compute1', '192.168.168.11'], ['compute2', '192.168.168.12']] as const) {
      const text = await conf(node);
      expect(text).toContain(`HOST_IP=${ip}\n`);
      expect(text).toContain('SERVICE_HOST=192.168.168.10\n');
      expect(text).toContain('MYSQL_HOST=192.168.168.10\n');
      expect(text).not.toMatch(/ENABLED_SERVICES=.*\bmysql\b/);
      expect(text).toContain('LIBVIRT_TYPE=qemu\n');
      expect(text).toMatch(/^NOVA_BRANCH=devcluster-local$/m);
    }
    // The local nova tree reached every node at its commit, on the branch local.conf names.
    for (const node of ['controller', 'compute1', 'compute2']) {
      const head = await cli('ssh', node, '--', 'git -C /opt/stack/nova rev-parse --abbrev-ref HEAD && git -C /opt/stack/nova rev-parse HEAD');
      expect(head.stdout.trim().split('\n'), node).toEqual(['devcluster-local', cluster.nova.head]);
    }
    // tls-proxy: the controller's CA reached every compute before it stacked.
    const ca = async (node: string) => (await cli('ssh', node, '--', 'sha256sum /opt/stack/data/ca-bundle.pem')).stdout.split(' ')[0];
    const controllerCa = await ca('controller');
    expect(controllerCa).toMatch(/^[0-9a-f]{64}$/);
    expect(await ca('compute1')).toBe(controllerCa);
    expect(await ca('compute2')).toBe(controllerCa);

    // The fake cloud: both images public, a keypair for admin and demo, two rules per project.
    const made = madeByPostStack(await fakeCloud(cli));
    expect(made.images).toEqual(['fedora-42-tiny public qcow2', 'ubuntu-24.04-tiny public qcow2']);
    expect(made.keypairs).toEqual(['admin/default', 'demo/default']);
    expect(made.rules).toEqual(['admin/default icmp', 'admin/default tcp/22', 'demo/default icmp', 'demo/default tcp/22']);

    // The services log to the journal with request ids (USE_JOURNAL=True).
    const journal = await cli('ssh', 'controller', '--', "sudo journalctl -u 'devstack@key' -o json --no-pager | grep -c REQUEST_ID || true");
    expect(Number(journal.stdout.trim())).toBeGreaterThan(0);

    // A second provision of the post-stack steps changes nothing in the fake cloud.
    const again = await cli('provision', '--from', 'discover');
    expect(again.exitCode, again.stderr).toBe(0);
    expect(again.stdout).toContain('controller/images');
    expect(madeByPostStack(await fakeCloud(cli))).toEqual(made);

    // No password or key appears in any log or in anything printed.
    const secrets = JSON.parse(readFileSync(join(work, '.devcluster', name, 'secrets.json'), 'utf8')) as { passwords: Record<string, string> };
    const logs = allFiles(join(work, '.devcluster', name, 'logs'));
    expect(logs.length).toBeGreaterThanOrEqual(10);
    const sources: Array<[string, string]> = [...logs.map((f): [string, string] => [f, readFileSync(f, 'utf8')]), ...printed];
    expect(sources.some(([, text]) => text.includes('The password: ******'))).toBe(true);
    // Only names are reported, so a failure never prints a secret.
    const leaks = sources.filter(([, text]) => Object.values(secrets.passwords).some((v) => text.includes(v))).map(([where]) => where);
    expect(leaks).toEqual([]);
    for (const f of logs) expect(statSync(f).mode & 0o777).toBe(0o600);
  }, 10 * 60_000);

  it('ssh runs commands with their exit code, the nodes reach each other, status lists them running', async () => {
    for (const node of Object.keys(SHARED_NODES)) expect((await cli('ssh', node, '--', 'hostname')).stdout.trim()).toBe(node);
    const reach = await cli('ssh', 'compute1', '--', `timeout 10 bash -c "echo > /dev/tcp/${SHARED_NODES.controller}/22" && echo reached`);
    expect(reach.stdout.trim(), reach.stderr).toBe('reached');
    expect((await cli('ssh', 'controller', '--', 'exit 7')).exitCode).toBe(7);
    const status = JSON.parse((await cli('status', '--json')).stdout) as { nodes: Array<{ node: string; state: string; ip: string }> };
    expect(status.nodes.map((n) => `${n.node} ${n.state} ${n.ip}`).sort()).toEqual(Object.entries(SHARED_NODES).map(([node, ip]) => `${node} running ${ip}`).sort());
  }, 5 * 60_000);
});
