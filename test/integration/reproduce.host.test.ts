/**
 * `reproduce` on real guests: the devstack-multinode build fixture (test/fixtures/zuul/) turned into
 * a devcluster.yaml by the built CLI, brought up with the fake DevStack (test/fixtures/fake-devstack,
 * pushed from a local checkout) on the test image under qemu:///system. What this host cannot give a
 * gate node is changed in the written file before `up`, as a user would: the test image and the
 * fake DevStack tree instead of Ubuntu and opendev, 1 vCPU and 1 GiB per node, a network of its own.
 * Then each node's local.conf, as devcluster wrote it on the node, keeps every setting of the job's
 * local_conf.txt in force except those devcluster rewrites (the same check as the unit tier's on
 * the rendered text, here on the file the node stacked with), and nova mapped the compute.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseDocument } from 'yaml';
import { parseMetaSections } from '../../src/provision/local-conf.js';
import { clusterInDir, testImageSpec } from '../support/cli-cluster.js';
import { fakeDevstackTree } from '../support/fake-devstack-tree.js';
import { gitRepo } from '../support/git-repo.js';
import { requireTestImage } from '../support/test-image.js';

const FIXTURE = fileURLToPath(new URL('../fixtures/zuul/devstack-multinode/', import.meta.url));
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

describe('reproduce, then up, on real guests with the fake DevStack', () => {
  it("brings up the build's cluster; each node stacks with the job's local.conf settings", async () => {
    const { image, sums } = requireTestImage();
    const name = `rp${randomBytes(2).toString('hex')}`;
    const work = mkdtempSync(join(tmpdir(), `dc-${name}-`));
    const repo = gitRepo(join(mkdtempSync(join(tmpdir(), 'dc-fake-')), 'devstack'), {}, fakeDevstackTree());
    const run = await clusterInDir(work, ['name: placeholder']);
    const reproduced = await run('reproduce', FIXTURE, '--force');
    expect(reproduced.exitCode, reproduced.stderr).toBe(0);
    expect(reproduced.stdout).toMatch(/^controller logs\/local_conf\.txt: same as the job's/m);

    const path = join(work, 'devcluster.yaml');
    const doc = parseDocument((await readFile(path, 'utf8')).replaceAll('192.168.150.', '192.168.166.'));
    doc.set('name', name);
    doc.set('image', parseDocument(testImageSpec(image, sums)).contents);
    doc.set('network', parseDocument('{ cidr: 192.168.166.0/24 }').contents);
    for (const i of [0, 1]) {
      doc.setIn(['nodes', i, 'cpus'], 1);
      doc.setIn(['nodes', i, 'memory'], '1GiB');
      doc.setIn(['nodes', i, 'disk'], '8GiB');
    }
    doc.setIn(['devstack', 'repo'], repo);
    await writeFile(path, doc.toString({ lineWidth: 0 }));
    try {
      const valid = await run('config', 'validate');
      expect(valid.exitCode, valid.stderr).toBe(0);
      const up = await run('up', '--boot-timeout', '900');
      expect(up.exitCode, up.stderr).toBe(0);
      expect(up.stdout).toContain(`cluster ${name} is ready`);

      for (const node of ['controller', 'compute1']) {
        const onNode = await run('ssh', node, '--', 'cat /opt/stack/devstack/local.conf');
        expect(onNode.exitCode, onNode.stderr).toBe(0);
        const ours = localrc(onNode.stdout);
        const jobs = localrc(readFileSync(join(FIXTURE, node, 'logs/local_conf.txt'), 'utf8'));
        for (const [key, line] of jobs.assignments) if (!REWRITTEN.test(key)) expect(ours.assignments.get(key), `${node} ${key}`).toBe(line);
        expect(ours.services.slice(-jobs.services.length), node).toEqual(jobs.services);
        expect(ours.assignments.get('HOST_IP'), node).toBe(`HOST_IP=192.168.166.${node === 'controller' ? 10 : 11}`);
      }
      const hosts = await run('ssh', 'controller', '--', 'nova-manage cell_v2 list_hosts');
      expect(hosts.stdout).toMatch(/\|\s*compute1\s*\|/);
    } finally {
      const down = await run('down');
      expect.soft(down.exitCode, down.stderr).toBe(0);
    }
  }, 45 * 60_000);
});
