/**
 * The generated devcluster.yaml: read back by `config validate`'s own parser, each node's local.conf
 * as devcluster renders it from the result (the gate's lines, minus what devcluster owns, with
 * devcluster's addresses), sizes against the host, the header naming build, job, change and rewrites.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfigText } from '../config/load.js';
import { GiB } from '../config/units.js';
import { DevclusterError } from '../errors.js';
import { buildPlan } from '../plan/plan.js';
import { renderLocalConf } from '../provision/local-conf.js';
import { completeSecrets } from '../state/secrets.js';
import { clusterName, generateConfig, nodeRoles, nodeSizes, type GateBuild, type GenerateInput } from './generate.js';

const BUILD: GateBuild = {
  nodes: [
    { name: 'controller', label: 'ubuntu-noble', privateIpv4: '10.209.0.17', groups: ['compute', 'switch', 'tempest'] },
    { name: 'compute1', label: 'ubuntu-noble', privateIpv4: '10.209.0.41', groups: ['compute', 'peers', 'subnode'] },
  ],
  zuul: {
    job: 'tempest-multinode-full-py3',
    build: '4f2c7a9e0b1d4c3e8f6a5b7c9d0e1f2a',
    buildset: 'b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6',
    pipeline: 'check',
    branch: 'master',
    projects: {
      'opendev.org/openstack/devstack': { name: 'openstack/devstack', shortName: 'devstack', checkout: 'master' },
      'opendev.org/openstack/nova': { name: 'openstack/nova', shortName: 'nova', checkout: 'master' },
    },
    items: [{ project: { name: 'openstack/nova', shortName: 'nova' }, branch: 'master', change: '912345', patchset: '3', changeUrl: 'https://review.opendev.org/c/openstack/nova/+/912345' }],
  },
};

// As devstack_local_conf.py writes them: localrc vars quoted, topologically sorted.
const CONTROLLER_CONF = `[[local|localrc]]
disable_all_services
enable_service key
enable_service mysql
enable_service n-cpu
ADMIN_PASSWORD="secretadmin"
DATABASE_PASSWORD="secretdatabase"
ERROR_ON_CLONE="True"
FIXED_RANGE="10.1.0.0/20"
HOST_IP="10.209.0.17"
LIBVIRT_TYPE="qemu"
NOVNCPROXY_URL="http://10.209.0.17:6080/vnc_lite.html"
PUBLIC_BRIDGE_MTU="1380"
SERVICE_HOST="10.209.0.17"
LIBS_FROM_GIT=nova
enable_plugin neutron https://opendev.org/openstack/neutron

[[post-config|$NOVA_CONF]]
[vnc]
server_listen = 10.209.0.17

[[post-config|$NEUTRON_CONF]]
[DEFAULT]
global_physnet_mtu = 1380
`;
const COMPUTE_CONF = `[[local|localrc]]
disable_all_services
enable_service n-cpu
ADMIN_PASSWORD="secretadmin"
DATABASE_HOST="10.209.0.17"
DATABASE_TYPE="mysql"
ERROR_ON_CLONE="True"
HOST_IP="10.209.0.41"
RABBIT_HOST="{{ hostvars['controller']['nodepool']['private_ipv4'] }}"
SERVICE_HOST="10.209.0.17"
MY_PEER="{{ hostvars['controller']['nodepool']['private_ipv4'] }}:5000"
ODD="{{ some_unknown_var }}"
`;

const BIG_HOST = { memoryBytes: 64 * GiB, cpus: 16 };

function input(overrides: Partial<GenerateInput> = {}): GenerateInput {
  return {
    build: BUILD,
    source: 'https://logs.example.org/45/912345/3/check/tempest-multinode-full-py3/4f2c7a9/',
    image: 'ubuntu-24.04',
    imageReason: 'from nodepool label ubuntu-noble',
    gateLocalConfs: new Map([
      ['controller', CONTROLLER_CONF],
      ['compute1', COMPUTE_CONF],
    ]),
    host: BIG_HOST,
    ...overrides,
  };
}

let home: string;
beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), 'dc-gen-'));
});
afterAll(async () => rm(home, { recursive: true, force: true }));

async function validate(text: string) {
  return parseConfigText(text, { file: join(home, 'devcluster.yaml'), baseDir: home, home, agentSocket: undefined });
}

describe('generateConfig', () => {
  it('writes a config that `config validate` accepts, with the gate topology and devcluster addresses', async () => {
    const generated = generateConfig(input());
    const { config } = await validate(generated.text);
    expect(config.name).toBe('tempest-multinode');
    expect(config.image).toBe('ubuntu-24.04');
    expect(config.nodes).toEqual([
      { name: 'controller', role: 'controller', ip: '192.168.150.10', cpus: 8, memory: '8GiB', disk: '80GiB' },
      { name: 'compute1', role: 'compute', ip: '192.168.150.11', cpus: 8, memory: '8GiB', disk: '80GiB' },
    ]);
    expect(config.devstack.branch).toBe('master');
    expect(config.devstack.ip_version).toBe('4+6');
    expect(config.post_stack.images).toEqual([]);
  });

  it("carries the gate's local.conf without what devcluster writes itself, gate addresses rewritten", async () => {
    const { config } = await validate(generateConfig(input()).text);
    const controller = config.devstack.local_conf.controller;
    expect(controller).toContain('disable_all_services\nenable_service key\nenable_service mysql\nenable_service n-cpu\n');
    expect(controller).toContain('NOVNCPROXY_URL="http://192.168.150.10:6080/vnc_lite.html"');
    expect(controller).toContain('[[post-config|$NOVA_CONF]]\n[vnc]\nserver_listen = 192.168.150.10\n');
    expect(controller).toContain('enable_plugin neutron https://opendev.org/openstack/neutron');
    expect(controller).toContain('DOWNLOAD_DEFAULT_IMAGES=True');
    for (const gone of ['PASSWORD', 'HOST_IP', 'SERVICE_HOST', 'LIBVIRT_TYPE', 'PUBLIC_BRIDGE_MTU', 'ERROR_ON_CLONE', '10.209.', 'NEUTRON_CONF', 'mtu']) expect(controller).not.toContain(gone);
    const compute = config.devstack.local_conf.compute;
    expect(compute).toContain('DATABASE_TYPE="mysql"');
    expect(compute).toContain('MY_PEER="192.168.150.10:5000"');
    for (const gone of ['RABBIT_HOST', 'DATABASE_HOST', 'ODD', '{{']) expect(compute).not.toContain(gone);
  });

  it("renders each node's local.conf with the gate's settings after devcluster's, so they win", async () => {
    const loaded = await validate(generateConfig(input()).text);
    const plan = buildPlan(loaded.config, loaded.userKeys, completeSecrets(loaded.config.name, loaded.config.nodes.map((n) => n.name)));
    const node = plan.nodes.find((n) => n.name === 'controller');
    if (node === undefined) throw new Error('no controller in the plan');
    const text = renderLocalConf(plan, node, { libvirtType: 'qemu' });
    expect(text).toContain('HOST_IP=192.168.150.10');
    expect(text.indexOf('disable_all_services')).toBeGreaterThan(text.indexOf('ENABLED_SERVICES='));
    expect(text.lastIndexOf('DOWNLOAD_DEFAULT_IMAGES=True')).toBeGreaterThan(text.indexOf('DOWNLOAD_DEFAULT_IMAGES=False'));
  });

  it('names the build, job, change and rewrites in the header', () => {
    const { text, rewrites } = generateConfig(input());
    const header = text.slice(0, text.indexOf('\nname:'));
    expect(header).toContain('Zuul build 4f2c7a9e0b1d4c3e8f6a5b7c9d0e1f2a of job tempest-multinode-full-py3');
    expect(header).toContain('logs: https://logs.example.org/45/912345/3/check/tempest-multinode-full-py3/4f2c7a9/');
    expect(header).toContain('change: openstack/nova change 912345,3 on master (https://review.opendev.org/c/openstack/nova/+/912345)');
    expect(header).toContain('addresses, gate → devcluster: 10.209.0.17 → 192.168.150.10, 10.209.0.41 → 192.168.150.11');
    expect(rewrites.some((r) => r.includes('PUBLIC_BRIDGE_MTU'))).toBe(true);
    expect(rewrites.some((r) => r.includes('*_PASSWORD'))).toBe(true);
    for (const r of rewrites) expect(header).toContain(r);
  });

  it('keeps ERROR_ON_CLONE and names the sources when they were resolved', async () => {
    const generated = generateConfig(input({ sources: { nova: join(home, 'nova') } }));
    expect(generated.config.devstack).toMatchObject({ sources: { nova: join(home, 'nova') } });
    expect((generated.config.devstack as { local_conf: { controller: string } }).local_conf.controller).toContain('ERROR_ON_CLONE="True"');
  });

  it('writes a grenade job as grenade mode, DEST and LOGFILE left to devcluster', async () => {
    const conf = `[[local|localrc]]\nDEST="/opt/stack/old"\nLOGFILE="/opt/stack/old/logs/devstacklog.txt"\nCELLSV2_SETUP="singleconductor"\n`;
    const generated = generateConfig(
      input({
        gateLocalConfs: new Map([['controller', conf], ['compute1', conf]]),
        grenade: { fromBranch: 'stable/2025.2', toBranch: 'stable/2026.1', localrc: { BASE_RUN_SMOKE: 'True', SAVE_DIR: '{{ devstack_bases.shared }}/save' } },
      }),
    );
    const { config } = await validate(generated.text);
    expect(config.devstack.mode).toBe('grenade');
    expect(config.devstack.branch).toBe('stable/2026.1');
    expect(config.devstack.grenade).toMatchObject({ from_branch: 'stable/2025.2', to_branch: 'stable/2026.1', localrc: { BASE_RUN_SMOKE: 'True' } });
    expect(config.devstack.local_conf.controller).toContain('CELLSV2_SETUP="singleconductor"');
    expect(config.devstack.local_conf.compute).not.toMatch(/DEST|LOGFILE/);
    expect(generated.warnings).toContain('grenade localrc: left out SAVE_DIR="{{ devstack_bases.shared }}/save": it holds an Ansible template only the gate could fill');
  });

  it('warns about template lines it cannot fill', () => {
    const generated = generateConfig(input());
    expect(generated.warnings).toContain('compute1: left out "ODD="{{ some_unknown_var }}"": it holds an Ansible template only the gate could fill');
  });

  it("gives a compute whose local.conf differs from the first compute's its own, and each node stacks with the job's", async () => {
    const three: GateBuild = { ...BUILD, nodes: [...BUILD.nodes, { name: 'compute2', label: 'ubuntu-noble', privateIpv4: '10.209.0.42', groups: ['subnode'] }] };
    const generated = generateConfig(input({ build: three, gateLocalConfs: new Map([...input().gateLocalConfs, ['compute2', `${COMPUTE_CONF}NOVA_CPU_CELL="2"\n`]]) }));
    expect(generated.rewrites).toContain("local.conf: compute2's differs from compute1's in the job, so it is compute2's own (devstack.local_conf.nodes.compute2)");
    const loaded = await validate(generated.text);
    expect(Object.keys(loaded.config.devstack.local_conf.nodes)).toEqual(['compute2']);
    const plan = buildPlan(loaded.config, loaded.userKeys, completeSecrets(loaded.config.name, loaded.config.nodes.map((n) => n.name)));
    const rendered = (name: string) => renderLocalConf(plan, plan.nodes.find((n) => n.name === name) ?? expect.unreachable(name), { libvirtType: 'qemu' });
    expect(rendered('compute2')).toContain('NOVA_CPU_CELL="2"');
    expect(rendered('compute2')).toContain('MY_PEER="192.168.150.10:5000"');
    expect(rendered('compute1')).not.toContain('NOVA_CPU_CELL');
  });
});

describe('clusterName', () => {
  it("is the job's name, cut at a '-' to 20 characters when longer", () => {
    expect(clusterName('devstack-multinode')).toBe('devstack-multinode');
    expect(clusterName('tempest-multinode-full-py3')).toBe('tempest-multinode');
    expect(clusterName('nova-ceph-multistore')).toBe('nova-ceph-multistore');
    expect(clusterName('neutron-ovn-tempest-ipv6-only')).toBe('neutron-ovn-tempest');
    expect(clusterName('x_Y.z')).toBe('x-y-z');
    expect(clusterName('averyveryverylongjobnamewithoutdashes')).toBe('averyveryverylongjob');
  });
});

describe('nodeSizes', () => {
  it("gives the gate's 8 vCPU and 8 GiB when the host holds them", () => {
    expect(nodeSizes(BIG_HOST, ['controller', 'compute'])).toEqual({ cpus: 8, memoryBytes: 8 * GiB, warnings: [] });
  });

  it('scales down to the host, with a warning', () => {
    const sized = nodeSizes({ memoryBytes: 12 * GiB, cpus: 2 }, ['controller', 'compute']);
    expect(sized.cpus).toBe(2);
    expect(sized.memoryBytes).toBe(5 * GiB);
    expect(sized.warnings).toEqual([
      "each node gets 2 vCPU instead of the gate's 8: this host has 2 CPU(s)",
      "each node gets 5GiB of memory instead of the gate's 8GiB: this host has 12GiB and keeps 2GiB for itself",
    ]);
  });

  it('refuses a host too small for DevStack', () => {
    let error: unknown;
    try {
      nodeSizes({ memoryBytes: 8 * GiB, cpus: 4 }, ['controller', 'compute']);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(DevclusterError);
    expect((error as DevclusterError).code).toBe('REPRODUCE_HOST_TOO_SMALL');
    expect((error as DevclusterError).message).toContain('each would get 3GiB');
  });
});

describe('nodeRoles', () => {
  it('takes the host outside group subnode as controller when none is named so', () => {
    const roles = nodeRoles([
      { name: 'primary', label: 'ubuntu-noble', privateIpv4: '10.0.0.1', groups: ['tempest'] },
      { name: 'secondary', label: 'ubuntu-noble', privateIpv4: '10.0.0.2', groups: ['subnode'] },
    ]);
    expect(roles.controller.name).toBe('primary');
    expect(roles.computes.map((n) => n.name)).toEqual(['secondary']);
  });

  it('says when no host is the controller', () => {
    expect(() =>
      nodeRoles([
        { name: 'a', label: 'x', privateIpv4: undefined, groups: [] },
        { name: 'b', label: 'x', privateIpv4: undefined, groups: [] },
      ]),
    ).toThrow(/no host of a, b is the controller/);
  });
});
