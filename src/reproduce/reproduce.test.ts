/**
 * `reproduce` end to end on the build fixtures (test/fixtures/zuul/: devstack-multinode,
 * tempest-multinode-full-py3 in Zuul's old inventory layout, grenade-multinode), each read from its
 * folder and from a loopback log server answering as opendev's does (gzip-encoded, one file only as
 * NAME.gz): the generated config validates; each node's local.conf rebuilt from the job's variables
 * equals the job's local_conf.txt except where devcluster rewrites; and the local.conf devcluster then
 * writes on each node leaves every other setting of the job's in force.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfigText } from '../config/load.js';
import { GiB } from '../config/units.js';
import { quietCtx } from '../events.js';
import { DevclusterError } from '../errors.js';
import { buildPlan } from '../plan/plan.js';
import { parseMetaSections, renderLocalConf } from '../provision/local-conf.js';
import { completeSecrets } from '../state/secrets.js';
import { startZuulLogServer, type ZuulLogServer } from '../../test/support/zuul-log-server.js';
import { reproduceBuild, type ReproduceOptions } from './reproduce.js';

const FIXTURES = fileURLToPath(new URL('../../test/fixtures/zuul/', import.meta.url));
const HOST = { memoryBytes: 32 * GiB, cpus: 8 };

const JOBS = [
  { job: 'devstack-multinode', image: 'ubuntu-24.04', logs: ['logs/local_conf.txt'] },
  { job: 'tempest-multinode-full-py3', image: 'ubuntu-24.04', logs: ['logs/local_conf.txt'] },
  { job: 'grenade-multinode', image: 'ubuntu-22.04', logs: ['logs/old/local_conf.txt', 'logs/new/local_conf.txt'] },
] as const;

let home: string;
beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), 'dc-repro-'));
});
afterAll(async () => rm(home, { recursive: true, force: true }));

function options(extra: Partial<ReproduceOptions> = {}): ReproduceOptions {
  return { ctx: quietCtx(), cwd: home, home, env: {}, host: HOST, ...extra };
}

async function validate(text: string) {
  return parseConfigText(text, { file: join(home, 'devcluster.yaml'), baseDir: home, home, agentSocket: undefined });
}

/** localrc assignments and service lines, and `meta [section] option = value` lines, of a local.conf. */
function settings(text: string): { assignments: Map<string, string>; services: string[]; options: string[] } {
  const assignments = new Map<string, string>();
  const services: string[] = [];
  const options: string[] = [];
  for (const section of parseMetaSections(text)) {
    let ini = '';
    for (const raw of section.lines) {
      const line = raw.trim();
      if (line === '' || line.startsWith('#')) continue;
      if (section.header === '[[local|localrc]]') {
        const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
        if (m) assignments.set(m[1] as string, line); // the last one is what bash keeps
        else if (/^(enable_service|disable_service|disable_all_services)\b/.test(line)) services.push(line);
      } else if (/^\[[^\]]+\]$/.test(line)) ini = line;
      else options.push(`${section.header} ${ini} ${line}`);
    }
  }
  return { assignments, services, options };
}

/** What devcluster writes itself in a node's local.conf (the rewrites the generated header lists). */
const REWRITTEN = /^(HOST_IP|SERVICE_HOST|DATABASE_HOST|RABBIT_HOST|GLANCE_HOSTPORT|Q_HOST|[A-Z0-9_]*_PASSWORD|PUBLIC_BRIDGE_MTU|LIBVIRT_TYPE|ERROR_ON_CLONE)$/;

describe.each(JOBS)('$job', ({ job, image, logs }) => {
  const folder = join(FIXTURES, job);
  let server: ZuulLogServer;
  beforeAll(async () => {
    server = await startZuulLogServer(folder, { onlyGz: [`compute1/${logs[0]}`] });
  });
  afterAll(async () => server.close());

  it('makes the same valid config from the folder and over HTTP as a log server serves it', async () => {
    const fromFolder = await reproduceBuild(folder, options());
    const overHttp = await reproduceBuild(server.logs, options());
    expect(overHttp.checks.find((c) => c.node === 'compute1')?.publishedFrom).toBe(`${server.logs}compute1/${logs[0]}.gz`);
    expect(overHttp.generated.config).toEqual(fromFolder.generated.config);
    const { config } = await validate(overHttp.generated.text);
    expect(config.image).toBe(image);
    expect(config.nodes.map((n) => [n.name, n.role, n.ip, n.cpus, n.memory])).toEqual([
      ['controller', 'controller', '192.168.150.10', 8, '8GiB'],
      ['compute1', 'compute', '192.168.150.11', 8, '8GiB'],
    ]);
    expect(config.devstack.mode).toBe(job.startsWith('grenade') ? 'grenade' : 'devstack');
    expect(overHttp.generated.text).toContain(`of job ${job}`);
    expect(overHttp.generated.text).toContain(`logs: ${server.logs}`);
  });

  it("rebuilds each node's local.conf from the job's variables as the job wrote it, except where devcluster rewrites", async () => {
    const { checks } = await reproduceBuild(folder, options());
    expect(checks.map((c) => `${c.node} ${c.logPath}`).sort()).toEqual(['compute1', 'controller'].flatMap((n) => logs.map((l) => `${n} ${l}`)).sort());
    for (const check of checks) {
      expect(check.comparison, `${check.node} ${check.logPath}`).toBeDefined();
      expect(check.comparison?.differences, `${check.node} ${check.logPath}`).toEqual([]);
      // devcluster's addresses where the job had the gate's
      expect(check.comparison?.rewritten.map((l) => l.key)).toContain('HOST_IP');
    }
  });

  it("leaves every other setting of the job's in force in the local.conf devcluster writes on each node", async () => {
    const loaded = await validate((await reproduceBuild(folder, options())).generated.text);
    const plan = buildPlan(loaded.config, loaded.userKeys, completeSecrets(loaded.config.name, loaded.config.nodes.map((n) => n.name)));
    const grenade = loaded.config.devstack.mode === 'grenade';
    for (const node of plan.nodes) {
      const ours = settings(renderLocalConf(plan, node, { libvirtType: 'qemu', ...(grenade ? { dest: '/opt/stack/old' } : {}) }));
      const jobs = settings(readFileSync(join(folder, node.name, logs[0]), 'utf8'));
      for (const [key, line] of jobs.assignments) {
        if (REWRITTEN.test(key) || (grenade && (key === 'DEST' || key === 'LOGFILE'))) continue;
        expect(ours.assignments.get(key), `${node.name} ${key}`).toBe(line);
      }
      // The job's service lines, in its order, after devcluster's ENABLED_SERVICES.
      expect(ours.services.slice(-jobs.services.length), node.name).toEqual(jobs.services);
      for (const option of jobs.options) if (!/mtu\s*=/.test(option)) expect(ours.options, node.name).toContain(option);
    }
  });
});

describe('reproduce errors', () => {
  it('names the nodepool label it has no image for, and takes --image instead', async () => {
    const server = await startZuulLogServer(join(FIXTURES, 'devstack-multinode'));
    try {
      const text = readFileSync(join(FIXTURES, 'devstack-multinode/zuul-info/inventory.yaml'), 'utf8');
      expect(text).toContain('label: ubuntu-noble');
      const good = await reproduceBuild(server.logs, options({ image: 'debian-12' }));
      expect(good.generated.config.image).toBe('debian-12');
      expect(good.generated.text).toContain('image debian-12 (--image)');
      const bad = await reproduceBuild(server.logs, options({ image: 'windows-11' })).catch((e: unknown) => e);
      expect(bad).toBeInstanceOf(DevclusterError);
      expect((bad as DevclusterError).code).toBe('USAGE_INVALID');
      expect((bad as DevclusterError).message).toBe('--image windows-11 is not an image devcluster knows');
    } finally {
      await server.close();
    }
  });

  it('refuses a host too small for the build', async () => {
    const error = await reproduceBuild(join(FIXTURES, 'devstack-multinode'), options({ host: { memoryBytes: 6 * GiB, cpus: 2 } })).catch((e: unknown) => e);
    expect((error as DevclusterError).code).toBe('REPRODUCE_HOST_TOO_SMALL');
  });
});
