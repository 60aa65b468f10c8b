/**
 * The local.conf port against its oracle, DevStack's own module (roles/write-devstack-local-conf/
 * library/devstack_local_conf.py from $DEVCLUSTER_DEVSTACK_REPO or the shared bundle, run by python3
 * on the same input): every node of every fixture build (ours == the module's == the job's
 * local_conf.txt), the cases of the module's own test.py, ordering by references, values as Python
 * prints them, and the errors the module fails on. Then compareLocalConf against the fixtures.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cloneUpstreamSync } from '../../test/support/upstream-repo.js';
import { DevclusterError } from '../errors.js';
import { nodeVars, parseInventory, type GateBuild } from './build.js';
import { compareLocalConf, DEVCLUSTER_REWRITES, gateLocalConf, gateLocalConfs, readPluginRequires, renderLocalConf, rewritesFor, type LocalConfInput } from './local-conf.js';

const FIXTURES = fileURLToPath(new URL('../../test/fixtures/zuul/', import.meta.url));
const JOBS = ['devstack-multinode', 'tempest-multinode-full-py3', 'grenade-multinode'];

let work: string;
let harness: string;

/** The module's parameters, as the role passes them (snake_case), for python3. */
interface ModuleParams {
  localrc?: unknown;
  local_conf?: unknown;
  base_services?: unknown;
  services?: unknown;
  plugins?: unknown;
  base_dir?: unknown;
  projects?: unknown;
  project?: unknown;
  tempest_plugins?: unknown;
  /** YAML whose mapping is added to the parameters (read by PyYAML, as Ansible reads an inventory). */
  yaml?: string;
}

type ModuleResult = { text: string; warnings: string[] } | { error: string };

function upstream(params: ModuleParams, seed = 'random'): ModuleResult {
  const out = execFileSync('python3', [harness], { input: JSON.stringify(params), env: { ...process.env, PYTHONHASHSEED: seed }, encoding: 'utf8', timeout: 30_000 });
  return JSON.parse(out) as ModuleResult;
}

function ours(params: ModuleParams, extra: Partial<LocalConfInput> = {}): ModuleResult {
  try {
    const p = params as Record<string, unknown>;
    const projects = p.projects as Record<string, { required?: boolean; short_name: string }> | undefined;
    const project = p.project as { short_name: string } | undefined;
    return renderLocalConf({
      localrc: p.localrc as Record<string, unknown>,
      localConf: p.local_conf as Record<string, unknown>,
      baseServices: p.base_services as unknown[],
      services: p.services as Record<string, unknown>,
      plugins: p.plugins as Record<string, unknown>,
      baseDir: p.base_dir as string,
      projects: projects ? Object.fromEntries(Object.entries(projects).map(([k, v]) => [k, { required: v.required === true, shortName: v.short_name }])) : undefined,
      project: project ? { shortName: project.short_name } : undefined,
      tempestPlugins: p.tempest_plugins as unknown[],
      ...extra,
    });
  } catch (error) {
    if (error instanceof DevclusterError) return { error: `${error.code}: ${error.message}` };
    throw error;
  }
}

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'devcluster-localconf-'));
  const devstack = cloneUpstreamSync('devstack', 'master', join(work, 'devstack'));
  const library = join(devstack, 'roles', 'write-devstack-local-conf', 'library');
  harness = join(work, 'harness.py');
  writeFileSync(
    harness,
    [
      'import json, os, sys, tempfile',
      `sys.path.insert(0, ${JSON.stringify(library)})`,
      'from devstack_local_conf import LocalConf',
      'p = json.load(sys.stdin)',
      "if 'yaml' in p:",
      '    import yaml',
      "    p.update(yaml.safe_load(p.pop('yaml')))",
      "path = tempfile.mktemp(prefix='local-conf-')",
      'try:',
      "    lc = LocalConf(p.get('localrc'), p.get('local_conf'), p.get('base_services'), p.get('services'), p.get('plugins'), p.get('base_dir'), p.get('projects'), p.get('project'), p.get('tempest_plugins'))",
      '    lc.write(path)',
      "    print(json.dumps({'text': open(path).read(), 'warnings': lc.warnings}))",
      '    os.unlink(path)',
      'except Exception as e:',
      "    print(json.dumps({'error': type(e).__name__ + ': ' + str(e)}))",
      '',
    ].join('\n'),
  );
});

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

function fixtureBuild(job: string): GateBuild {
  return parseInventory(readFileSync(`${FIXTURES}${job}/zuul-info/inventory.yaml`, 'utf8'));
}

describe('the fixtures: ours == the module on the same input == the job\'s local_conf.txt', () => {
  for (const job of JOBS) {
    it(job, () => {
      const build = fixtureBuild(job);
      let compared = 0;
      for (const node of build.nodes) {
        // The gate's external_bridge_mtu (README: 1450 − 30 − 40); everything else from the inventory.
        const { vars, unresolved } = nodeVars(build, node.name, { facts: { external_bridge_mtu: '1380' } });
        expect(unresolved).toEqual([]);
        for (const conf of gateLocalConfs(vars, { projects: build.zuul.projects, project: build.zuul.project })) {
          const theirs = readFileSync(`${FIXTURES}${job}/${node.name}/${conf.logPath}`, 'utf8');
          const localrc = job.startsWith('grenade')
            ? { ...((vars.grenade_devstack_localrc as Record<string, Record<string, unknown>>).shared ?? {}), ...((vars.grenade_devstack_localrc as Record<string, Record<string, unknown>>)[conf.logPath.split('/')[1] as string] ?? {}) }
            : vars.devstack_localrc;
          const module = upstream({
            localrc,
            local_conf: vars.devstack_local_conf,
            services: vars.devstack_services,
            plugins: vars.devstack_plugins,
            base_dir: conf.baseDir,
            projects: (build.zuulVars as Record<string, unknown>).projects,
            project: (build.zuulVars as Record<string, unknown>).project,
            tempest_plugins: vars.tempest_plugins,
          });
          expect(module, `${node.name} ${conf.logPath}`).toEqual({ text: conf.text, warnings: [] });
          expect(conf.text, `${node.name} ${conf.logPath}`).toBe(theirs);
          compared++;
        }
      }
      expect(compared).toBe(job.startsWith('grenade') ? 4 : 2);
    });
  }
});

describe("the module's own cases (test.py) and more, against the module", () => {
  const localConf = { install: { 'nova.conf': { main: { test_conf: '2' } } } };

  it('plugins without dependencies come in name order', () => {
    const p = { localrc: { test_localrc: '1' }, local_conf: localConf, base_services: [], services: { cinder: true }, plugins: { bar: 'https://git.openstack.org/openstack/bar-plugin', foo: 'https://git.openstack.org/openstack/foo-plugin', baz: 'https://git.openstack.org/openstack/baz-plugin' }, base_dir: './test' };
    const mine = ours(p);
    expect(mine).toEqual(upstream(p));
    expect('text' in mine && mine.text.match(/^enable_plugin (\S+)/gm)).toEqual(['enable_plugin bar', 'enable_plugin baz', 'enable_plugin foo']);
  });

  function pluginTree(name: string, settings: Record<string, string>): string {
    const base = join(work, name);
    for (const [dir, text] of Object.entries(settings)) {
      mkdirSync(join(base, dir, 'devstack'), { recursive: true });
      mkdirSync(join(base, dir, '.git'), { recursive: true });
      writeFileSync(join(base, dir, 'devstack', 'settings'), text);
    }
    return base;
  }

  it("plugin_requires read from the plugins' trees put a required plugin first", () => {
    const base = pluginTree('deps', { 'foo-plugin': 'define_plugin foo-plugin\n', 'bar-plugin': 'define_plugin bar-plugin\nplugin_requires bar-plugin foo-plugin\n' });
    expect(readPluginRequires(base)).toEqual({ 'bar-plugin': ['foo-plugin'] });
    const p = { localrc: { test_localrc: '1' }, local_conf: localConf, base_services: [], services: { cinder: true }, plugins: { 'bar-plugin': 'https://x/bar-plugin', 'foo-plugin': 'https://x/foo-plugin' }, base_dir: base };
    const mine = ours(p);
    expect(mine).toEqual(upstream(p));
    expect('text' in mine && mine.text.match(/^enable_plugin (\S+)/gm)).toEqual(['enable_plugin foo-plugin', 'enable_plugin bar-plugin']);
    // gateLocalConf takes the requirements from its caller, never from a folder on this host.
    const plugins = (text: string) => text.match(/^enable_plugin (\S+)/gm);
    expect(plugins(gateLocalConf({ devstack_plugins: p.plugins, devstack_base_dir: base }, { pluginRequires: { 'bar-plugin': ['foo-plugin'] } }))).toEqual(['enable_plugin foo-plugin', 'enable_plugin bar-plugin']);
    expect(plugins(gateLocalConf({ devstack_plugins: p.plugins, devstack_base_dir: base }))).toEqual(['enable_plugin bar-plugin', 'enable_plugin foo-plugin']);
  });

  it('plugins requiring each other in a cycle, or a plugin the job does not enable, fail as the module fails', () => {
    const circular = pluginTree('circular', { 'foo-plugin': 'define_plugin foo\nplugin_requires foo bar\n', 'bar-plugin': 'define_plugin bar\nplugin_requires bar foo\n' });
    const p = { localrc: { test_localrc: '1' }, base_services: [], services: { cinder: true }, plugins: { bar: 'https://x/bar', foo: 'https://x/foo' }, base_dir: circular };
    expect(upstream(p)).toEqual({ error: 'Exception: Dependency cycle detected in foo' });
    expect(ours(p)).toEqual({ error: expect.stringMatching(/^REPRODUCE_SOURCE_INVALID: .*cycle \(at foo\)/) });
    const missing = { ...p, plugins: { bar: 'https://x/bar' }, base_dir: pluginTree('missing', { 'bar-plugin': 'define_plugin bar\nplugin_requires bar foo\n' }) };
    expect(upstream(missing)).toEqual({ error: "KeyError: 'foo'" });
    expect(ours(missing)).toEqual({ error: expect.stringMatching(/^REPRODUCE_SOURCE_INVALID: .*need foo/) });
  });

  it('LIBS_FROM_GIT: the required projects, then the project under test; unless the job sets it', () => {
    const projects = {
      'git.openstack.org/openstack/nova': { required: true, short_name: 'nova' },
      'git.openstack.org/openstack/oslo.messaging': { required: true, short_name: 'oslo.messaging' },
      'git.openstack.org/openstack/devstack-plugin': { required: false, short_name: 'devstack-plugin' },
    };
    const auto = { base_services: [], base_dir: './test', projects, project: { short_name: 'glance' } };
    expect(ours(auto)).toEqual(upstream(auto));
    expect((ours(auto) as { text: string }).text).toContain('\nLIBS_FROM_GIT=nova,oslo.messaging,glance\n');
    const set = { localrc: { LIBS_FROM_GIT: 'oslo.db' }, base_services: [], base_dir: './test', projects };
    expect(ours(set)).toEqual(upstream(set));
    expect((ours(set) as { text: string }).text).toContain('\nLIBS_FROM_GIT="oslo.db"\n');
  });

  it('a value already in double quotes is not quoted again', () => {
    const p = { localrc: { TESTVAR: '"quoted value"', OTHER: "it's" }, base_services: [], base_dir: './test', projects: {} };
    expect(ours(p)).toEqual(upstream(p));
    expect((ours(p) as { text: string }).text).toContain('\nTESTVAR="quoted value"\n');
  });

  it('TEMPEST_PLUGINS from tempest_plugins under base_dir, or kept as set with a warning', () => {
    const p = { base_services: [], base_dir: './test', tempest_plugins: ['heat-tempest-plugin', 'sahara-tests'] };
    expect(ours(p)).toEqual(upstream(p));
    expect((ours(p) as { text: string }).text).toContain('\nTEMPEST_PLUGINS="./test/heat-tempest-plugin ./test/sahara-tests"\n');
    const kept = { ...p, localrc: { TEMPEST_PLUGINS: 'someplugin' } };
    const mine = ours(kept);
    expect(mine).toEqual(upstream(kept));
    expect(mine).toMatchObject({ warnings: [expect.stringContaining('TEMPEST_PLUGINS already defined')] });
  });

  it('services: ENABLED_SERVICES from base services unless base is false; only true/false make lines', () => {
    for (const services of [{ base: false, key: true, horizon: false, odd: 'yes' }, { key: true }, { base: true, 'n-cpu': true }, {}]) {
      for (const base_services of [['key', 'mysql'], [], null]) {
        const p = { base_services, services, base_dir: '/opt/stack' };
        expect(ours(p), JSON.stringify(p)).toEqual(upstream(p));
      }
    }
  });

  it("a variable comes after the variables it references (in the module's own order)", () => {
    // Chains (one reference each) have one order only, so equal to the module's output. The module
    // lists a variable's references before it, each reference before that reference's own: DEST
    // before BASE here, though DEST references BASE (devstack's localrc runs as a whole, unaffected).
    const p = { localrc: { A_LOG: '$DEST/logs/a.log', DEST: '${BASE}/stack', BASE: '/opt', Z: '$Z:$PATH', M: 'x' }, base_dir: '/opt/stack' };
    const mine = ours(p) as { text: string };
    expect(ours(p)).toEqual(upstream(p));
    const order = mine.text.split('\n').filter((l) => /^[A-Z_]+=/.test(l)).map((l) => l.split('=')[0]);
    expect(order).toEqual(['DEST', 'BASE', 'A_LOG', 'M', 'Z']);
  });

  it('a variable referencing two others: ours is one of the orders the module produces (it iterates a Python set)', () => {
    const p = { localrc: { URL: '$PROTO://$HOST/x', PROTO: 'https', HOST: 'h', AAA: '1' }, base_dir: '/opt/stack' };
    const mine = ours(p) as { text: string };
    const seen = new Set<string>();
    for (let seed = 0; seed < 24 && !seen.has(mine.text); seed++) {
      const r = upstream(p, String(seed));
      if ('text' in r) seen.add(r.text);
    }
    expect(seen.has(mine.text), [...seen].join('\n----\n')).toBe(true);
  });

  it('variables referencing each other in a cycle fail as the module fails', () => {
    const p = { localrc: { A: '$B', B: '$C', C: '${A}' }, base_dir: '/opt/stack' };
    expect(upstream(p)).toMatchObject({ error: expect.stringMatching(/^Exception: Dependency cycle detected in /) });
    expect(ours(p)).toEqual({ error: expect.stringMatching(/^REPRODUCE_SOURCE_INVALID: .*cycle/) });
  });

  it('values print as Python prints them (booleans, None, integers, floats, lists, dicts), from YAML as Ansible reads it', () => {
    const yaml = [
      'localrc:',
      '  T: true',
      '  F: no',
      '  N: null',
      '  Y: y',
      '  O: on',
      '  DAY: 2026-07-20',
      '  NOEXP: 1e3',
      '  I: 8',
      '  BIG: 12345678901234567890',
      '  FL: 1.0',
      '  FS: 0.00001',
      '  FE: 1.5e+20',
      "  L: [a, \"it's\", 1]",
      '  D: {k: v}',
      'local_conf:',
      '  post-config:',
      '    $NOVA_CONF:',
      '      DEFAULT: {debug: true, workers: 2, ratio: 2.50}',
      'services: {key: true, horizon: false}',
      'base_dir: /opt/stack',
      '',
    ].join('\n');
    const build = parseInventory(`all:\n  hosts: {n1: {}}\n  vars:\n    zuul: {job: j, build: b}\n${yaml.replace(/^/gm, '    ')}`);
    const v = build.jobVars;
    const mine = ours({ localrc: v.localrc, local_conf: v.local_conf, services: v.services, base_dir: v.base_dir });
    expect(mine).toEqual(upstream({ yaml }));
    expect((mine as { text: string }).text).toContain('\nFL="1.0"\n');
  });
});

describe('compareLocalConf against the job', () => {
  function fixture(job: string, node: string, path = 'logs/local_conf.txt'): string {
    return readFileSync(`${FIXTURES}${job}/${node}/${path}`, 'utf8');
  }

  function ourConf(job: string, node: string, vars: (v: Record<string, unknown>) => Record<string, unknown> = (v) => v): string {
    const build = fixtureBuild(job);
    // devcluster's own addresses and MTU, as `reproduce` renders it.
    const { vars: rendered } = nodeVars(build, node, { facts: { external_bridge_mtu: '1450' }, addresses: { controller: '192.168.122.10', compute1: '192.168.122.11' } });
    return gateLocalConf(vars(rendered), { projects: build.zuul.projects, project: build.zuul.project });
  }

  it('only rewritten lines differ when devcluster renders the job with its own addresses and MTU', () => {
    const result = compareLocalConf(ourConf('devstack-multinode', 'compute1'), fixture('devstack-multinode', 'compute1'));
    expect(result.differences).toEqual([]);
    expect(result.rewritten.map((l) => l.key).sort()).toEqual(['DATABASE_HOST', 'GLANCE_HOSTPORT', 'HOST_IP', 'PUBLIC_BRIDGE_MTU', 'Q_HOST', 'RABBIT_HOST', 'SERVICE_HOST', 'global_physnet_mtu']);
    expect(result.rewritten.find((l) => l.key === 'HOST_IP')).toEqual({ section: '[[local|localrc]]', key: 'HOST_IP', ours: 'HOST_IP="192.168.122.11"', theirs: 'HOST_IP="10.209.33.94"' });
  });

  it('reports a line that differs beyond the rewrites, one only on either side, and a changed password as rewritten', () => {
    const changed = ourConf('tempest-multinode-full-py3', 'controller', (v) => {
      const localrc = { ...(v.devstack_localrc as Record<string, unknown>), LIBVIRT_TYPE: 'kvm', ADMIN_PASSWORD: 'devcluster-secret', EXTRA: 'x' };
      const services = { ...(v.devstack_services as Record<string, unknown>) };
      delete services['br-int-flows'];
      return { ...v, devstack_localrc: localrc, devstack_services: services };
    });
    const result = compareLocalConf(changed, fixture('tempest-multinode-full-py3', 'controller'));
    // Ours in our order, then what only the job has.
    expect(result.differences).toEqual([
      { section: '[[local|localrc]]', key: 'EXTRA', ours: 'EXTRA="x"', theirs: undefined },
      { section: '[[local|localrc]]', key: 'LIBVIRT_TYPE', ours: 'LIBVIRT_TYPE="kvm"', theirs: 'LIBVIRT_TYPE="qemu"' },
      { section: '[[local|localrc]]', key: 'enable_service br-int-flows', ours: undefined, theirs: 'enable_service br-int-flows' },
    ]);
    expect(result.rewritten.map((l) => l.key)).toContain('ADMIN_PASSWORD');
  });

  it('a meta-section option differing is reported with its section; a job value holding a gate address is rewritten', () => {
    const theirs = fixture('grenade-multinode', 'controller', 'logs/old/local_conf.txt');
    const mine = theirs.replace('min_compute_nodes = 2', 'min_compute_nodes = 1').replace('SERVICE_HOST="10.209.33.17"', 'SERVICE_HOST="192.168.122.10"');
    const rewrites = rewritesFor(fixtureBuild('grenade-multinode'));
    expect(rewrites.gateAddresses).toEqual(expect.arrayContaining(['10.209.33.17', '10.209.33.94', '104.130.127.18']));
    expect(rewrites.keys).toEqual(DEVCLUSTER_REWRITES.keys);
    const result = compareLocalConf(mine, theirs.replace('[[local|localrc]]\n', '[[local|localrc]]\nMY_URL="http://10.209.33.17/x"\n'), rewrites);
    expect(result.differences).toEqual([{ section: '[[test-config|$TEMPEST_CONFIG]] [compute]', key: 'min_compute_nodes', ours: 'min_compute_nodes = 1', theirs: 'min_compute_nodes = 2' }]);
    expect(result.rewritten.map((l) => l.key).sort()).toEqual(['MY_URL', 'SERVICE_HOST']);
  });
});
