/**
 * `devcluster reproduce` as a user runs it (the CLI's main() with its output captured): a build's
 * log URL on a loopback log server → the config written 0600, which `config validate` accepts; each
 * node's local.conf against the job's; a differing line shown; a refused overwrite; a URL that is
 * not a build's log root.
 */
import { cp, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CliIO } from '../io.js';
import { main } from '../main.js';
import { parse } from 'yaml';
import { parseInventory } from '../../reproduce/build.js';
import { GerritForge } from '../../../test/support/gerrit-forge.js';
import { startZuulLogServer, type ZuulLogServer } from '../../../test/support/zuul-log-server.js';

const FIXTURE = fileURLToPath(new URL('../../../test/fixtures/zuul/devstack-multinode/', import.meta.url));

let work: string;
let server: ZuulLogServer;

async function run(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIO = {
    out: (t) => out.push(t),
    err: (t) => err.push(t),
    errRaw: (t) => err.push(t),
    signal: new AbortController().signal,
    isTTY: false,
    cwd: work,
    env: { HOME: work },
  };
  const code = await main(['node', 'devcluster', ...args], io);
  return { code, out: out.join('\n'), err: err.join('\n') };
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'dc-cli-repro-'));
  server = await startZuulLogServer(FIXTURE);
});
afterAll(async () => {
  await server.close();
  await rm(work, { recursive: true, force: true });
});

describe('devcluster reproduce', () => {
  it('writes a config that `config validate` accepts, and says how each local.conf compares with the job\'s', async () => {
    const result = await run('reproduce', server.logs, '--out', 'gate.yaml');
    expect(result.err).not.toContain('error ');
    expect(result.code).toBe(0);
    expect(result.out).toContain(`wrote ${join(work, 'gate.yaml')}: cluster devstack-multinode for build 0b09455967b9d63b8efa296293b79a26 of devstack-multinode`);
    expect(result.out).toMatch(/^controller logs\/local_conf\.txt: same as the job's except \d+ line\(s\) devcluster rewrites \(.*HOST_IP.*\)$/m);
    expect(result.out).toMatch(/^compute1 logs\/local_conf\.txt: same as the job's except \d+ line\(s\) devcluster rewrites/m);
    expect(result.err).toContain('note: addresses, gate → devcluster: 10.209.33.17 → 192.168.150.10, 10.209.33.94 → 192.168.150.11');
    expect((await stat(join(work, 'gate.yaml'))).mode & 0o777).toBe(0o600);
    const text = await readFile(join(work, 'gate.yaml'), 'utf8');
    expect(text).toContain(`#   logs: ${server.logs}`);
    const validated = await run('-c', 'gate.yaml', 'config', 'validate');
    expect(validated.code, validated.err).toBe(0);
    expect(validated.out).toContain('valid — cluster "devstack-multinode", 2 node(s) (controller:controller, compute1:compute)');
  });

  it("shows each line where ours and the job's differ", async () => {
    const copy = join(work, 'changed-build');
    await cp(FIXTURE, copy, { recursive: true });
    const path = join(copy, 'controller/logs/local_conf.txt');
    await writeFile(path, (await readFile(path, 'utf8')).replace('VERBOSE="True"', 'VERBOSE="False"'));
    const result = await run('reproduce', copy, '--out', 'changed.yaml');
    expect(result.code, result.err).toBe(0);
    expect(result.out).toContain("controller logs/local_conf.txt: 1 line(s) differ from the job's");
    expect(result.out).toContain('  [[local|localrc]] VERBOSE: ours VERBOSE="True" | the job\'s VERBOSE="False"');
  });

  it('--sources: every project rebuilt from local servers playing opendev and Gerrit, exact or reconstructed, and used', async () => {
    const copy = join(work, 'sources-build');
    await cp(FIXTURE, copy, { recursive: true });
    const inventoryPath = join(copy, 'zuul-info/inventory.yaml');
    let inventory = await readFile(inventoryPath, 'utf8');
    const { zuul } = parseInventory(inventory);
    const forge = new GerritForge(join(work, 'forge'));
    const github = new GerritForge(join(work, 'forge', 'github'));
    const touched = new Set(zuul.items.map((i) => i.project.name));
    const tips = new Map<string, string>();
    for (const p of Object.values(zuul.projects)) {
      const tip = (p.canonicalHostname === 'github.com' ? github : forge).project(p.name);
      tips.set(p.name, tip);
      // The fixture's commits are placeholders: untouched projects get the servers' real ones.
      if (!touched.has(p.name)) inventory = inventory.replace(`commit: ${p.commit}`, `commit: ${tip}`);
    }
    await writeFile(inventoryPath, inventory);
    // The change under test, on top of devstack's master: the job's commit (a speculative merge) is not it.
    const [item] = zuul.items;
    if (item === undefined) throw new Error('the fixture has no change under test');
    const patchset = forge.change(item.project.name, Number(item.change), Number(item.patchset), tips.get(item.project.name) as string, { files: { 'CHANGE.txt': 'under test\n' } });
    const wanted = zuul.projects[`opendev.org/${item.project.name}`]?.commit as string;
    // devstack's master moved on after the job started (job-output.txt: 2026-07-20 09:10): the change
    // is rebuilt on the tip the job saw, so it fast-forwards to the patchset as in the gate.
    forge.commitOn(item.project.name, 'master', { files: { 'LATER.txt': 'later\n' }, date: Date.parse('2026-08-01T00:00:00Z') / 1000 });

    const result = await run('reproduce', copy, '--out', 'sources.yaml', '--sources', 'trees', '--git-base', forge.gitBase, '--gerrit-base', forge.gerritBase, '--host-base', `github.com=${github.gitBase}`);
    expect(result.code, result.err).toBe(0);
    expect(result.out).toContain(`source openstack/nova: exact, master at ${(tips.get('openstack/nova') as string).slice(0, 12)}, the job's commit`);
    expect(result.out).toContain(`source novnc/novnc: exact, master at ${(tips.get('novnc/novnc') as string).slice(0, 12)}, the job's commit`);
    expect(result.out).toContain(`source openstack/devstack: reconstructed, master + ${item.change},${item.patchset} (merge-resolve) = ${patchset.slice(0, 12)}, the job had ${wanted.slice(0, 12)}`);
    const validated = await run('-c', 'sources.yaml', 'config', 'validate');
    expect(validated.code, validated.err).toBe(0);
    expect(await readFile(join(work, 'sources.yaml'), 'utf8')).toContain('changed projects start from their branch as it was at 2026-07-20T09:10:02.118Z, when the job started');
    const config = parse(await readFile(join(work, 'sources.yaml'), 'utf8')) as { devstack: { repo: string; sources: Record<string, string>; local_conf: { controller: string; compute: string } } };
    expect(config.devstack.repo).toBe(join(work, 'trees/openstack/devstack'));
    expect(config.devstack.sources.nova).toBe(join(work, 'trees/openstack/nova'));
    expect(Object.keys(config.devstack.sources).sort()).toEqual(Object.values(zuul.projects).map((p) => p.shortName).filter((n) => n !== 'devstack').sort());
    // Every project is pushed, so a missing one must fail loudly, as in the gate.
    expect(config.devstack.local_conf.controller).toContain('ERROR_ON_CLONE="True"');
    expect(config.devstack.local_conf.compute).toContain('ERROR_ON_CLONE="True"');
    expect(await readFile(join(work, 'trees/openstack/devstack/CHANGE.txt'), 'utf8')).toBe('under test\n');
  });

  it('--with FILE: your settings laid over the config, nodes matched by name; a node the build lacks or an invalid value writes nothing', async () => {
    await writeFile(join(work, 'mine.yaml'), 'name: mine\nnetwork: { cidr: 192.168.166.0/24 }\nnodes:\n  - { name: compute1, memory: 2GiB }\n');
    const result = await run('reproduce', server.logs, '--out', 'with.yaml', '--with', 'mine.yaml');
    expect(result.code, result.err).toBe(0);
    expect(result.err).toContain('note: from mine.yaml: nodes.compute1.memory, name, network');
    const text = await readFile(join(work, 'with.yaml'), 'utf8');
    expect(text).toContain(`# Yours, from ${join(work, 'mine.yaml')} (--with), laid over what the lines above describe:`);
    const config = parse(text) as { name: string; nodes: Array<{ name: string; ip: string; memory: string; cpus: number }>; network: { cidr: string }; devstack: { local_conf: { compute: string } } };
    expect(config.name).toBe('mine');
    expect(config.network.cidr).toBe('192.168.166.0/24');
    expect(config.nodes.map((n) => `${n.name} ${n.ip} ${n.memory}`)).toEqual(['controller 192.168.166.10 8GiB', 'compute1 192.168.166.11 2GiB']);
    // The network it sets decides the addresses, in the nodes and in the local.conf lines that carry them.
    expect(result.err).toContain('note: addresses, gate → devcluster: 10.209.33.17 → 192.168.166.10, 10.209.33.94 → 192.168.166.11');
    expect(config.devstack.local_conf.compute).toContain('enable_service n-cpu');
    expect(text).not.toContain('192.168.150.');
    expect((await run('config', 'validate', '-c', 'with.yaml')).code).toBe(0);

    await writeFile(join(work, 'bad.yaml'), 'nodes:\n  - { name: compute9, memory: 2GiB }\n');
    const unknown = await run('reproduce', server.logs, '--out', 'bad-out.yaml', '--with', 'bad.yaml');
    expect(unknown.code).toBe(2);
    expect(unknown.err).toContain(`--with ${join(work, 'bad.yaml')}: nodes[0] names compute9, which the build does not have (the build's nodes: controller, compute1)`);
    // A value the config check refuses names the field; nothing is written.
    await writeFile(join(work, 'bad.yaml'), 'nodes: [{ name: compute1, ip: 192.168.150.99 }]\nnetwork: { cidr: 192.168.170.0/24 }\n');
    const invalid = await run('reproduce', server.logs, '--out', 'bad-out.yaml', '--with', 'bad.yaml');
    expect(invalid.code).toBe(2);
    expect(invalid.err).toContain('not written: the generated config with bad.yaml laid over');
    expect(invalid.err).toMatch(/nodes\[1\]\.ip \(node compute1\): 192\.168\.150\.99 is outside network\.cidr 192\.168\.170\.0\/24/);
    await expect(stat(join(work, 'bad-out.yaml'))).rejects.toThrow();
  });

  it('refuses to overwrite a file unless --force, which keeps it as .bak', async () => {
    await writeFile(join(work, 'devcluster.yaml'), 'name: mine\n');
    const refused = await run('reproduce', server.logs);
    expect(refused.code).toBe(1);
    expect(refused.err).toContain(`error CONFIG_EXISTS: ${join(work, 'devcluster.yaml')} already exists; nothing was written`);
    expect(await readFile(join(work, 'devcluster.yaml'), 'utf8')).toBe('name: mine\n');
    const forced = await run('reproduce', server.logs, '--force');
    expect(forced.code, forced.err).toBe(0);
    expect(await readFile(join(work, 'devcluster.yaml.bak'), 'utf8')).toBe('name: mine\n');
    expect(await readFile(join(work, 'devcluster.yaml'), 'utf8')).toContain('name: devstack-multinode');
  });

  it('says when the URL is not a build log root, naming what it tried', async () => {
    const result = await run('reproduce', `${server.logs}controller/`, '--out', 'none.yaml');
    expect(result.code).toBe(1);
    expect(result.err).toContain(`error REPRODUCE_SOURCE_INVALID: ${server.logs}controller/ is not the log root of a Zuul build: no zuul-info/inventory.yaml there`);
    expect(result.err).toContain(`  tried ${server.logs}controller/zuul-info/inventory.yaml.gz`);
    await expect(stat(join(work, 'none.yaml'))).rejects.toThrow();
  });

  it('is listed in --help', async () => {
    const help = await run('--help');
    expect(help.out).toMatch(/^ {2}reproduce \[options\] <source>/m);
  });
});
