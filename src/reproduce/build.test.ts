/**
 * Reading a gate build's inventory: the fixtures of real jobs in both layouts Zuul has written,
 * Ansible's variable precedence on small inventories made for each rule, the templates rendered per
 * node, the errors a user meets (not an inventory, not a DevStack job, a label without an image).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { DevclusterError } from '../errors.js';
import { assertDevstackJob, imageForLabel, mergedVars, nodeVars, parseInventory } from './build.js';

const FIXTURES = fileURLToPath(new URL('../../test/fixtures/zuul/', import.meta.url));
const inventory = (job: string): string => readFileSync(`${FIXTURES}${job}/zuul-info/inventory.yaml`, 'utf8');

const ZUUL = { job: 'j', build: 'b1', projects: {}, items: [] };

function caught(fn: () => unknown): DevclusterError {
  try {
    fn();
  } catch (error) {
    if (error instanceof DevclusterError) return error;
    throw error;
  }
  throw new Error('no error thrown');
}

describe('parseInventory on real jobs', () => {
  it('reads the current layout (all.children with group vars): nodes, labels, addresses, groups, zuul', () => {
    const build = parseInventory(inventory('devstack-multinode'));
    expect(build.layout).toBe('children');
    expect(build.nodes.map((n) => [n.name, n.label, n.privateIpv4])).toEqual([
      ['compute1', 'ubuntu-noble', '10.209.33.94'],
      ['controller', 'ubuntu-noble', '10.209.33.17'],
    ]);
    expect(build.nodes.find((n) => n.name === 'compute1')?.groups).toEqual(['compute', 'peers', 'subnode']);
    expect(build.groups.compute).toEqual(['compute1', 'controller']);
    expect(Object.keys(build.groupVars.subnode ?? {})).toEqual(['devstack_localrc', 'devstack_services']);
    expect(build.jobVars).toHaveProperty('devstack_localrc.ERROR_ON_CLONE', true);
    expect(build.jobVars).not.toHaveProperty('zuul');
    expect(build.zuul).toMatchObject({ job: 'devstack-multinode', pipeline: 'check', change: '951234', patchset: '2', ref: 'refs/changes/34/951234/2' });
    expect(build.zuul.project?.shortName).toBe('devstack');
    expect(build.zuul.items.map((i) => [i.project.name, i.change, i.patchset])).toEqual([['openstack/devstack', '951234', '2']]);
    const nova = build.zuul.projects['opendev.org/openstack/nova'];
    expect(nova).toMatchObject({ name: 'openstack/nova', shortName: 'nova', required: true, checkout: 'master', srcDir: 'src/opendev.org/openstack/nova' });
    expect(nova?.commit).toMatch(/^[0-9a-f]{40}$/);
  });

  it('reads the old layout (groups at the top level, no group vars)', () => {
    const build = parseInventory(inventory('tempest-multinode-full-py3'));
    expect(build.layout).toBe('top-level');
    expect(build.groups).toEqual({ compute: ['compute1', 'controller'], peers: ['compute1'], subnode: ['compute1'], switch: ['controller'], tempest: ['controller'] });
    expect(build.nodes.find((n) => n.name === 'controller')?.groups).toEqual(['compute', 'switch', 'tempest']);
    expect(build.zuul.items.map((i) => i.project.name)).toEqual(['openstack/nova', 'openstack/tempest']);
    expect(Object.values(build.zuul.projects).find((p) => p.shortName === 'novnc')?.canonicalHostname).toBe('github.com');
  });

  it('accepts the three fixtures as DevStack jobs', () => {
    for (const job of ['devstack-multinode', 'tempest-multinode-full-py3', 'grenade-multinode']) expect(() => assertDevstackJob(parseInventory(inventory(job)))).not.toThrow();
  });
});

describe("mergedVars: Ansible's precedence", () => {
  it('a group var replaces the job var whole; of two groups at one depth the later name wins', () => {
    // tempest-multinode-full-base sets devstack_localrc for `peers`, devstack's jobs for `subnode`:
    // compute1 is in both, so subnode's wins and nothing of peers' or of the job's is merged in.
    const build = parseInventory(inventory('devstack-multinode'));
    const text = inventory('devstack-multinode').replace(/\n {4}peers:\n {6}hosts:\n {8}compute1: null\n {6}vars: \{\}\n/, '\n    peers:\n      hosts:\n        compute1: null\n      vars:\n        devstack_localrc:\n          FROM_PEERS: 1\n');
    const withPeers = parseInventory(text);
    expect(withPeers.groupVars.peers).toEqual({ devstack_localrc: { FROM_PEERS: 1 } });
    const localrc = mergedVars(withPeers, 'compute1').devstack_localrc as Record<string, unknown>;
    expect(localrc).toEqual(build.groupVars.subnode?.devstack_localrc);
    expect(localrc).not.toHaveProperty('SWIFT_HASH');
    // The controller is in no group with vars: the job's own.
    expect(mergedVars(withPeers, 'controller').devstack_localrc).toEqual(build.jobVars.devstack_localrc);
  });

  it('deeper groups beat shallower ones, then ansible_group_priority, then the name; host vars beat all', () => {
    const inv = {
      all: {
        hosts: { n1: { nodepool: { label: 'ubuntu-noble', private_ipv4: '10.0.0.1' }, fromHost: 'host' } },
        vars: { zuul: ZUUL, a: 'job', b: 'job', c: 'job', d: 'job', fromHost: 'job' },
        children: {
          zeta: { hosts: { n1: null }, vars: { a: 'zeta', b: 'zeta' } },
          alpha: { vars: { a: 'alpha', c: 'alpha', ansible_group_priority: 5 }, children: { inner: { hosts: { n1: null }, vars: { b: 'inner' } } } },
          beta: { hosts: { n1: null }, vars: { c: 'beta', d: 'beta' } },
        },
      },
    };
    const build = parseInventory(stringify(inv));
    expect(build.nodes[0]?.groups).toEqual(['zeta', 'alpha', 'inner', 'beta']);
    const v = mergedVars(build, 'n1');
    // depth 1: beta(1) < zeta(1) < alpha(priority 5); depth 2: inner.
    expect(v).toMatchObject({ a: 'alpha', b: 'inner', c: 'alpha', d: 'beta', fromHost: 'host' });
  });

  it('reads YAML as Ansible does: yes/no are booleans, 1.0 stays a float, big integers stay exact', () => {
    const text = `all:\n  hosts:\n    n1: {}\n  vars:\n    zuul: {job: j, build: b}\n    flag: yes\n    ratio: 1.0\n    hash: 12345678901234567890\n    port: 22\n`;
    const v = mergedVars(parseInventory(text), 'n1');
    expect(v.flag).toBe(true);
    expect(v.ratio).toBe('1.0');
    expect(String(v.hash)).toBe('12345678901234567890');
    expect(v.port).toBe(22);
  });
});

describe('nodeVars: templates rendered for each node', () => {
  it("gives each node its own and the controller's address, and the facts given", () => {
    const build = parseInventory(inventory('devstack-multinode'));
    const compute = nodeVars(build, 'compute1', { facts: { external_bridge_mtu: '1400' } });
    expect(compute.unresolved).toEqual([]);
    expect(compute.vars.devstack_localrc).toMatchObject({ HOST_IP: '10.209.33.94', SERVICE_HOST: '10.209.33.17', GLANCE_HOSTPORT: '10.209.33.17:9292', PUBLIC_BRIDGE_MTU: '1400' });
    const controller = nodeVars(build, 'controller', { facts: { external_bridge_mtu: '1400' }, addresses: { controller: '192.168.50.10', compute1: '192.168.50.11' } });
    expect(controller.vars.devstack_localrc).toMatchObject({ HOST_IP: '192.168.50.10', SERVICE_HOST: '192.168.50.10', LIBVIRT_TYPE: 'qemu' });
  });

  it('lists a template it cannot render (a fact nobody supplied) and leaves it as written', () => {
    const build = parseInventory(inventory('devstack-multinode'));
    const { vars, unresolved } = nodeVars(build, 'controller');
    expect(unresolved).toEqual(['{{ external_bridge_mtu }}']);
    expect((vars.devstack_localrc as Record<string, unknown>).PUBLIC_BRIDGE_MTU).toBe('{{ external_bridge_mtu }}');
  });

  it("renders grenade's nested templates and tempest's group count", () => {
    const build = parseInventory(inventory('grenade-multinode'));
    const { vars } = nodeVars(build, 'controller', { facts: { external_bridge_mtu: '1380' } });
    expect(vars.grenade_devstack_localrc).toMatchObject({ old: { DEST: '/opt/stack/old', LOGFILE: '/opt/stack/old/logs/devstacklog.txt' } });
    expect(vars.devstack_local_conf).toMatchObject({ 'test-config': { $TEMPEST_CONFIG: { compute: { min_compute_nodes: '2' } } } });
  });
});

describe('errors', () => {
  it('REPRODUCE_SOURCE_INVALID for what is not a Zuul inventory, saying what SOURCE must be', () => {
    const cases: [string, RegExp][] = [
      ['<html><body>Not Found</body></html>\n  - : x', /no `all` group|not YAML/],
      ['all: [1, 2]\n', /no `all` group/],
      ['all:\n  vars: {zuul: {job: j, build: b}}\n', /no hosts/],
      ['all:\n  hosts:\n    n1: {}\n', /no `zuul` variables/],
      ['all:\n  hosts:\n    n1: {}\n  vars:\n    zuul: {pipeline: check}\n', /no job or build/],
      ['all: {hosts: {n1: {}}\n', /not YAML/],
    ];
    for (const [text, message] of cases) {
      const error = caught(() => parseInventory(text));
      expect(error.code, text).toBe('REPRODUCE_SOURCE_INVALID');
      expect(error.message, text).toMatch(message);
      expect(error.hint).toMatch(/zuul-info\/inventory\.yaml/);
    }
  });

  it('REPRODUCE_NOT_DEVSTACK for a job whose variables configure no DevStack, naming the job', () => {
    const text = stringify({ all: { hosts: { ubuntu: { nodepool: { label: 'ubuntu-noble' } } }, vars: { zuul: { ...ZUUL, job: 'openstack-tox-py312' }, tox_envlist: 'py312' } } });
    const error = caught(() => assertDevstackJob(parseInventory(text)));
    expect(error.code).toBe('REPRODUCE_NOT_DEVSTACK');
    expect(error.message).toContain('openstack-tox-py312');
  });

  it('NODE_NOT_FOUND for a node the build does not have', () => {
    expect(caught(() => mergedVars(parseInventory(inventory('devstack-multinode')), 'compute2')).code).toBe('NODE_NOT_FOUND');
  });
});

describe('imageForLabel', () => {
  it("maps nodepool labels to the catalog's images, size and nested-virt variants included", () => {
    expect(imageForLabel('ubuntu-noble')).toBe('ubuntu-24.04');
    expect(imageForLabel('ubuntu-jammy')).toBe('ubuntu-22.04');
    expect(imageForLabel('debian-bookworm')).toBe('debian-12');
    expect(imageForLabel('ubuntu-noble-32GB')).toBe('ubuntu-24.04');
    expect(imageForLabel('nested-virt-ubuntu-jammy')).toBe('ubuntu-22.04');
  });

  it('IMAGE_NOT_FOUND for a label without a catalog image, naming it and the --image override', () => {
    for (const label of ['centos-9-stream', 'ubuntu-noble-arm64', 'rockylinux-9']) {
      const error = caught(() => imageForLabel(label));
      expect(error.code).toBe('IMAGE_NOT_FOUND');
      expect(error.message).toContain(`"${label}"`);
      expect(error.hint).toContain('--image');
    }
    expect(caught(() => imageForLabel('')).message).toContain('without a nodepool label');
  });
});
