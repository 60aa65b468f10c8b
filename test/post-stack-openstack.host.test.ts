/**
 * provision/post-stack.sh, unmodified, run as the keypairs / security-groups / images steps run it,
 * with the REAL python-openstackclient (Debian's python3-openstackclient) and the REAL DevStack
 * `openrc` (from the DevStack tree of DEVCLUSTER_DEVSTACK_REPO, default the shared bundle), against
 * the OpenStack API stand-in (test/doubles/openstack-api) in a network namespace of the test's own:
 * the controller's address on a dummy NIC, an IPv4 default route and none for IPv6, as on a default
 * cluster's node — where stackrc's `ip -f inet6 route … | grep via` fails. Assertions are on the
 * stand-in's state (what the API was asked to create), not on the script's own output.
 * Needs root (ip netns), python3-openstackclient, git.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfigText } from '../src/config/load.js';
import { buildPlan, type ClusterPlan } from '../src/plan/plan.js';
import { renderLocalConf } from '../src/provision/local-conf.js';
import { glanceName, keypairArgs, rulesArgs } from '../src/provision/steps/index.js';
import { completeSecrets, generateKeyPair } from '../src/state/secrets.js';
import { cloneUpstreamSync } from './support/upstream-repo.js';
import { startOpenstackApiLocal, type OpenstackApi, type StandinState } from './support/openstack-api.js';

const ROOT = resolve(import.meta.dirname, '..');
const POST_STACK = join(ROOT, 'provision', 'post-stack.sh');
const DEVSTACK_BRANCH = process.env.DEVCLUSTER_DEVSTACK_BRANCH ?? 'master';

function requireHost(): void {
  if (process.getuid?.() !== 0) throw new Error('this test needs root (ip netns)');
  if (spawnSync('sh', ['-c', 'command -v openstack']).status !== 0) {
    throw new Error('this test needs the real openstack client: apt-get install -y --no-install-recommends python3-openstackclient (test/setup-host.sh does)');
  }
}

interface Node {
  netns: string;
  home: string;
  plan: ClusterPlan;
  api: OpenstackApi;
  keyFile: string;
  publicKey: string;
  imageFile: string;
}

async function planOf(yaml: string): Promise<ClusterPlan> {
  const loaded = await parseConfigText(yaml, { file: 'devcluster.yaml', baseDir: tmpdir(), home: tmpdir(), agentSocket: undefined });
  return buildPlan(loaded.config, loaded.userKeys, completeSecrets(loaded.config.name, loaded.config.nodes.map((n) => n.name)));
}

/**
 * A controller as stack.sh leaves it, as far as openrc reads it: devcluster's local.conf, the
 * `.localrc.auto` DevStack's own extract_localrc_section (inc/meta-config:201) makes of it, and the
 * `.stackenv` save_stackenv (functions-common:64-72) writes, with the values stack.sh computes
 * (KEYSTONE_SERVICE_URI from lib/keystone:89).
 */
async function makeNode(devstackSource: string, yaml: string): Promise<Node> {
  const plan = await planOf(yaml);
  const controller = plan.nodes.find((n) => n.name === plan.controller)!;
  const id = randomBytes(3).toString('hex');
  const netns = `dcos-${id}`;
  const home = mkdtempSync(join(tmpdir(), 'dc-poststack-'));
  const devstack = join(home, 'devstack');
  execFileSync('cp', ['-a', devstackSource, devstack]);
  writeFileSync(join(devstack, 'local.conf'), renderLocalConf(plan, controller, { libvirtType: 'qemu' }), { mode: 0o600 });
  execFileSync('bash', ['-c', 'cd "$1" && source inc/meta-config && extract_localrc_section "$PWD/local.conf" "$PWD/localrc" "$PWD/.localrc.auto"', 'x', devstack]);
  const ip = controller.ip;
  const stackenv = [
    `# ${new Date().toISOString()}`,
    `BASE_SQL_CONN=mysql+pymysql://root:${plan.devstack.passwords.database}@${ip}`,
    `DATA_DIR=/opt/stack/data`,
    `DEST=/opt/stack`,
    `ENABLED_SERVICES=${plan.devstack.services.controller.join(',')}`,
    `HOST_IP=${ip}`,
    `KEYSTONE_SERVICE_URI=http://${ip}/identity`,
    `LOGFILE=/opt/stack/logs/stack.sh.log`,
    `OS_CACERT=`,
    `SERVICE_HOST=${ip}`,
    `STACK_USER=stack`,
    `TLS_IP=`,
    `HOST_IPV6=`,
    `SERVICE_IP_VERSION=4`,
    `TUNNEL_ENDPOINT_IP=${ip}`,
    `TUNNEL_IP_VERSION=4`,
  ];
  writeFileSync(join(devstack, '.stackenv'), `${stackenv.join('\n')}\n`);

  let api: OpenstackApi;
  try {
    execFileSync('ip', ['netns', 'add', netns]);
    // `ip netns exec` bind-mounts /etc/netns/NS/* over /etc: names resolve from hosts, DNS fails at
    // once (nothing answers inside; the host's resolver would make every lookup wait for a timeout).
    mkdirSync(join('/etc/netns', netns), { recursive: true });
    writeFileSync(join('/etc/netns', netns, 'hosts'), `127.0.0.1 localhost\n::1 localhost\n${ip} controller\n`);
    writeFileSync(join('/etc/netns', netns, 'resolv.conf'), 'nameserver 127.0.0.1\noptions timeout:1 attempts:1\n');
    // eth0 is one end of a veth pair whose other end stays in the root namespace, up, without address.
    execFileSync('ip', ['link', 'add', `dco${id}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', netns]);
    execFileSync('ip', ['link', 'set', `dco${id}`, 'up']);
    const inside = (...args: string[]) => execFileSync('ip', ['-n', netns, ...args]);
    inside('link', 'set', 'lo', 'up');
    inside('addr', 'add', `${ip}/24`, 'dev', 'eth0');
    inside('link', 'set', 'eth0', 'up');
    inside('route', 'add', 'default', 'dev', 'eth0');
    api = await startOpenstackApiLocal({ netns, address: ip, password: plan.devstack.passwords.admin });
  } catch (error) {
    spawnSync('ip', ['netns', 'del', netns]);
    rmSync(join('/etc/netns', netns), { recursive: true, force: true });
    rmSync(home, { recursive: true, force: true });
    throw error;
  }

  const key = generateKeyPair(`dc-test-${id}`);
  const keyFile = join(home, 'keypair.pub');
  writeFileSync(keyFile, `${key.public}\n`);
  const imageFile = join(home, 'image.qcow2');
  writeFileSync(imageFile, randomBytes(300_000));
  return { netns, home, plan, api, keyFile, publicKey: key.public.trim(), imageFile };
}

async function dropNode(node: Node | undefined): Promise<void> {
  if (!node) return;
  await node.api.stop();
  spawnSync('ip', ['netns', 'del', node.netns]);
  rmSync(join('/etc/netns', node.netns), { recursive: true, force: true });
  rmSync(node.home, { recursive: true, force: true });
}

/** `bash post-stack.sh ARGS` inside the node, with a login-like environment (HOME, PATH, LANG). */
function postStack(node: Node, args: string[]): { code: number | null; out: string; err: string } {
  const r = spawnSync('ip', ['netns', 'exec', node.netns, 'env', '-i', `HOME=${node.home}`, 'PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin', 'LANG=C.UTF-8', 'bash', POST_STACK, ...args], {
    encoding: 'utf8',
    timeout: 120_000,
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

function ok(node: Node, args: string[]): string {
  const r = postStack(node, args);
  expect(r.code, `post-stack.sh ${args.join(' ')}\n${r.out}\n${r.err}`).toBe(0);
  return r.out;
}

/** The images step: look, and create from the pulled file only when absent (src/provision/steps/images.ts). */
function imagesStep(node: Node): void {
  for (const image of node.plan.postStack.images) {
    const name = glanceName(image);
    const present = postStack(node, ['image-present', name]);
    if (present.code === 0) continue;
    expect(present.code, `image-present ${name}: ${present.err}`).toBe(3);
    ok(node, ['image', name, 'qcow2', node.imageFile]);
  }
}

function runAllSteps(node: Node): void {
  imagesStep(node);
  for (const args of keypairArgs(node.plan, node.keyFile)) ok(node, args);
  for (const args of rulesArgs(node.plan)) ok(node, args);
}

function md5Fingerprint(publicKey: string): string {
  const hex = createHash('md5').update(Buffer.from(publicKey.split(' ')[1] ?? '', 'base64')).digest('hex');
  return hex.match(/../g)!.join(':');
}

function defaultGroup(state: StandinState, project: string) {
  const group = state.security_groups.find((g) => g.project === project && g.name === 'default');
  expect(group, `${project} has a default group`).toBeDefined();
  return group!;
}

/** The ingress rules anyone may reach (no remote group), as "ethertype protocol min-max". */
function openRules(state: StandinState, project: string): string[] {
  return defaultGroup(state, project)
    .security_group_rules.filter((r) => r.direction === 'ingress' && r.remote_group_id === null)
    .map((r) => `${r.ethertype} ${r.protocol} ${r.port_range_min ?? ''}-${r.port_range_max ?? ''} ${r.remote_ip_prefix}`)
    .sort();
}

const CONFIG = (ipVersion: string) => `name: ostest
devstack:
  ip_version: ${ipVersion}
post_stack:
  images: [file:///srv/images/cirros-0.6.2-x86_64-disk.img]
  keypair: { name: devcluster, users: [admin, demo] }
  open_ports: [icmp, tcp/22]
`;

describe('post-stack.sh with the real openstackclient and DevStack openrc against the API stand-in', () => {
  let source = '';
  const nodes: Node[] = [];

  beforeAll(() => {
    requireHost();
    source = join(mkdtempSync(join(tmpdir(), 'dc-devstack-')), 'devstack');
    cloneUpstreamSync('devstack', DEVSTACK_BRANCH, source);
  }, 300_000);

  afterAll(async () => {
    for (const node of nodes) await dropNode(node);
    if (source) rmSync(resolve(source, '..'), { recursive: true, force: true });
  });

  it('creates the image, both keypairs and the IPv4 and IPv6 rules ("4+6") owned by each project; a second run changes nothing', async () => {
    const node = await makeNode(source, CONFIG('"4+6"'));
    nodes.push(node);
    // The namespace is what a default node is: an IPv4 default route, none for IPv6.
    expect(execFileSync('ip', ['-n', node.netns, '-6', 'route', 'list', 'match', 'default', 'table', 'all'], { encoding: 'utf8' }).trim()).toBe('');

    runAllSteps(node);
    const state = await node.api.state();
    const projectId = (name: string) => Object.entries(state.projects).find(([, n]) => n === name)![0];

    expect(state.images).toHaveLength(1);
    expect(state.images[0]).toMatchObject({ name: 'cirros-0.6.2-x86_64-disk', status: 'active', visibility: 'public', disk_format: 'qcow2', container_format: 'bare', owner: projectId('admin') });
    expect(state.images[0]!.data_sha256).toBe(createHash('sha256').update(readFileSync(node.imageFile)).digest('hex'));

    expect(state.keypairs.map((k) => `${k.user} ${k.name}`).sort()).toEqual(['admin devcluster', 'demo devcluster']);
    for (const kp of state.keypairs) {
      expect(kp.public_key.trim()).toBe(node.publicKey);
      expect(kp.fingerprint).toBe(md5Fingerprint(node.publicKey));
    }

    for (const project of ['admin', 'demo']) {
      expect(openRules(state, project)).toEqual(['IPv4 icmp - 0.0.0.0/0', 'IPv4 tcp 22-22 0.0.0.0/0', 'IPv6 ipv6-icmp - ::/0', 'IPv6 tcp 22-22 ::/0']);
      // Item 13: the rules belong to the project whose group they open, not to admin who made them.
      const rules = defaultGroup(state, project).security_group_rules.filter((r) => r.direction === 'ingress' && r.remote_group_id === null);
      expect(new Set(rules.map((r) => r.project_id))).toEqual(new Set([projectId(project)]));
    }

    const before = (await node.api.requests()).length;
    runAllSteps(node);
    expect(await node.api.state()).toEqual(state);
    const again = (await node.api.requests()).slice(before);
    const writes = again.filter((r) => r.method !== 'GET' && !(r.method === 'POST' && r.path.startsWith('/identity/v3/auth/tokens')));
    expect(writes).toEqual([]);
    expect(again.every((r) => r.status < 400 || r.path.startsWith('/identity/v3/projects/'))).toBe(true);
  }, 300_000);

  it('finds a missing keypair by listing (a near name does not count) and opens only IPv4 with ip_version 4', async () => {
    const node = await makeNode(source, CONFIG('4'));
    nodes.push(node);
    // demo already has "devcluster-old"; admin already has "devcluster".
    ok(node, ['keypair', 'demo', 'devcluster-old', node.keyFile]);
    ok(node, ['keypair', 'admin', 'devcluster', node.keyFile]);
    const before = await node.api.state();
    expect(before.keypairs.map((k) => `${k.user} ${k.name}`).sort()).toEqual(['admin devcluster', 'demo devcluster-old']);

    const start = (await node.api.requests()).length;
    for (const args of keypairArgs(node.plan, node.keyFile)) ok(node, args);
    const after = await node.api.state();
    expect(after.keypairs.map((k) => `${k.user} ${k.name}`).sort()).toEqual(['admin devcluster', 'demo devcluster', 'demo devcluster-old']);
    // Decided from the listing: one keypair created (demo's), no create refused with 409.
    const creates = (await node.api.requests()).slice(start).filter((r) => r.method === 'POST' && r.path.includes('os-keypairs'));
    expect(creates.map((r) => r.status)).toEqual([201]);

    for (const args of rulesArgs(node.plan)) ok(node, args);
    const rules = await node.api.state();
    for (const project of ['admin', 'demo']) expect(openRules(rules, project)).toEqual(['IPv4 icmp - 0.0.0.0/0', 'IPv4 tcp 22-22 0.0.0.0/0']);
  }, 300_000);

  it('says which credentials it could not get when openrc gives none', async () => {
    const node = await makeNode(source, CONFIG('4'));
    nodes.push(node);
    rmSync(join(node.home, 'devstack', 'openrc'));
    const r = postStack(node, ['keypair', 'demo', 'devcluster', node.keyFile]);
    expect(r.code).toBe(1);
    expect(r.err).toContain(`ERROR: ${node.home}/devstack/openrc is missing: did stack.sh run?`);
    expect((await node.api.state()).keypairs).toEqual([]);
  }, 120_000);
});
