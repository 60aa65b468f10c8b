/**
 * The fake DevStack (test/fixtures/fake-devstack) that the real-guest tests clone onto their nodes:
 * its scripts are shellcheck-clean, its stand-ins for `openstack`, `nova-manage` and the service
 * processes keep the real texts and formats, and stack.sh brings up a controller and a compute node
 * that only meet over a real network (two network namespaces joined by a veth pair, each with its own
 * hostname, stack.sh run as the unprivileged user `nobody`). systemd and sudo are replaced by small
 * shims on PATH (there is no systemd here); everything else is the fake as the guests get it: the
 * fixture laid over the real DevStack tree (test/support/fake-devstack-tree.ts), so openrc is DevStack's.
 * Needs root (network namespaces, setpriv), iproute2, util-linux, python3 and shellcheck.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmod, cp, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fakeDevstackTree } from './support/fake-devstack-tree.js';
import { freePort } from '../src/net/free-port.js';

const FAKE = fileURLToPath(new URL('./fixtures/fake-devstack/', import.meta.url));
const PROVISION = fileURLToPath(new URL('../provision/', import.meta.url));
const OPENSTACK = join(FAKE, 'fake/openstack');
const NOVA_MANAGE = join(FAKE, 'fake/nova-manage');
const SERVICE = join(FAKE, 'fake/service.py');
const NOBODY = '65534';
const SYSTEM_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const PASSWORD = 'Secret-123';
const AUTH_URL = 'http://10.0.0.10/identity';
const ADMIN = { OS_AUTH_URL: AUTH_URL, OS_USERNAME: 'admin', OS_PROJECT_NAME: 'admin', OS_PASSWORD: PASSWORD };
const DEMO = { ...ADMIN, OS_USERNAME: 'demo', OS_PROJECT_NAME: 'demo' };
const PUBLIC_KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMYMUf4Hs7shDioCcAvWm2wsLr+oMVKsaUuE5wslALJk alice@example';

const children: ChildProcess[] = [];
afterAll(() => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
});

async function tempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  await chmod(dir, 0o755);
  return dir;
}


/** Connects, sends `line`, resolves with everything the peer sent until it closed. */
function exchange(port: number, line: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let data = '';
    socket.setTimeout(5_000, () => socket.destroy(new Error(`no answer on ${port}`)));
    socket.on('connect', () => socket.write(line));
    socket.on('data', (d: Buffer) => (data += d.toString()));
    socket.on('error', reject);
    socket.on('close', () => resolve(data));
  });
}

async function waitForPort(port: number, budgetMs = 10_000): Promise<void> {
  const deadline = Date.now() + budgetMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1');
      s.on('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on 127.0.0.1:${port}`);
    await sleep(100);
  }
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, budgetMs = 10_000): Promise<T> {
  const deadline = Date.now() + budgetMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

function startService(args: string[], env: Record<string, string>): { child: ChildProcess; output: () => string } {
  const child = spawn(SERVICE, args, { env: { PATH: SYSTEM_PATH, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  return { child, output: () => output };
}

/** ANSI escapes made visible as `<ESC>` (DevStack's log format carries colour codes). */
function visible(text: string): string {
  return text.replaceAll('\x1b', '<ESC>');
}

function md5Fingerprint(publicKey: string): string {
  const blob = Buffer.from(publicKey.split(/\s+/)[1] ?? '', 'base64');
  return (createHash('md5').update(blob).digest('hex').match(/../g) ?? []).join(':');
}

/** The fixture copied to `dir`, owned by nobody (stack.sh writes .localrc.auto and .stackenv there). */
let composed: string | undefined;
/** The fake as the guests get it (test/support/fake-devstack-tree.ts: the real DevStack tree, the stand-in laid over it). */
async function copyFixture(dir: string): Promise<string> {
  composed ??= fakeDevstackTree();
  await cp(composed, dir, { recursive: true });
  await execa('chown', ['-R', `${NOBODY}:${NOBODY}`, dir]);
  return dir;
}

function localConf(settings: Record<string, string>, extra = ''): string {
  const lines = Object.entries(settings).map(([k, v]) => `${k}=${v}`);
  return `[[local|localrc]]\n${lines.join('\n')}\n${extra}`;
}

const PASSWORDS = { ADMIN_PASSWORD: PASSWORD, DATABASE_PASSWORD: PASSWORD, RABBIT_PASSWORD: PASSWORD, SERVICE_PASSWORD: PASSWORD };

describe('fake DevStack scripts', () => {
  it('are clean under shellcheck', async () => {
    const scripts = await execa('shellcheck', ['-x', 'stack.sh', 'unstack.sh', 'tools/discover_hosts.sh'], { cwd: FAKE, reject: false });
    expect(scripts.stdout + scripts.stderr).toBe('');
    expect(scripts.exitCode).toBe(0);
    // openrc is DevStack's own (the stand-in is laid over the real tree), so it is not the fixture's.
    expect(existsSync(join(FAKE, 'openrc'))).toBe(false);
  });

  it('say in their first lines that they are test stand-ins, and the Python ones parse', async () => {
    for (const file of ['stack.sh', 'unstack.sh', 'tools/discover_hosts.sh', 'fake/service.py', 'fake/openstack', 'fake/nova-manage']) {
      const head = (await readFile(join(FAKE, file), 'utf8')).split('\n').slice(0, 4).join('\n');
      expect(head, file).toMatch(/TEST STAND-IN/);
    }
    expect(await readFile(join(FAKE, 'README.md'), 'utf8')).toMatch(/test stand-in/i);
    const parsed = await execa('python3', ['-c', 'import ast,sys\nfor f in sys.argv[1:]: ast.parse(open(f).read(), f)', OPENSTACK, NOVA_MANAGE, SERVICE], { reject: false });
    expect(parsed.stderr).toBe('');
    const discover = await readFile(join(FAKE, 'tools/discover_hosts.sh'), 'utf8');
    expect(discover).toContain('if [[ -x $(which nova-manage) ]]; then\n    nova-manage cell_v2 discover_hosts --verbose\nfi\n');
  });

  it('stack.sh refuses root with real DevStack text', async () => {
    const r = await execa('bash', [join(FAKE, 'stack.sh')], { reject: false, env: { PATH: SYSTEM_PATH }, extendEnv: false });
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toBe(
      `DevStack should be run as a user with sudo permissions, \nnot root.\nA "stack" user configured correctly can be created with:\n ${FAKE.replace(/\/$/, '')}/tools/create-stack-user.sh`,
    );
  });
});

describe('stack.sh failures before any service starts (as nobody, on this host)', () => {
  const asNobody = (dir: string, env: Record<string, string> = {}) =>
    execa('setpriv', ['--reuid', NOBODY, '--regid', NOBODY, '--clear-groups', '--', 'env', '-i', `PATH=${SYSTEM_PATH}`, `HOME=${dir}`, ...Object.entries(env).map(([k, v]) => `${k}=${v}`), 'bash', join(dir, 'devstack/stack.sh')], {
      reject: false,
      all: true,
      // stdin closed, as devcluster runs it (an open stdin makes a prompting stack.sh wait forever, as the real one does).
      stdin: 'ignore',
    });

  it('without local.conf: a DevStack error naming it, exit 1', async () => {
    const dir = await tempDir('fds-noconf-');
    await copyFixture(join(dir, 'devstack'));
    const r = await asNobody(dir);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`^\\[ERROR\\] ${dir}/devstack/stack\\.sh:\\d+ missing ${dir}/devstack/local\\.conf`, 'm'));
    expect(r.stdout).toContain('Error on exit');
  });

  it('a password left unset prompts as real stack.sh does (read_password); stdin closed: exit 1 at the prompt; other sections ignored', async () => {
    const dir = await tempDir('fds-novar-');
    const devstack = await copyFixture(join(dir, 'devstack'));
    const { ADMIN_PASSWORD: _omit, ...rest } = PASSWORDS;
    await writeFile(join(devstack, 'local.conf'), localConf({ HOST_IP: '10.0.0.10', SERVICE_HOST: '10.0.0.10', ...rest }, '[[post-config|$NOVA_CONF]]\n[DEFAULT]\nADMIN_PASSWORD = not-this-one\n'));
    const r = await asNobody(dir);
    expect(r.exitCode).toBe(1);
    // stack.sh read_password (master 644-688): the banner, then a `read` that fails on EOF under errexit.
    expect(r.stdout).toContain(
      [
        '################################################################################',
        'ENTER A PASSWORD TO USE FOR HORIZON AND KEYSTONE (20 CHARS OR LESS).',
        '################################################################################',
        `This value will be written to ${devstack}/.localrc.password file so you don't have to enter it `,
        'again.  Use only alphanumeric characters.',
        'If you leave this blank, a random default value will be used.',
        'Enter a password now:',
      ].join('\n'),
    );
    expect(r.stdout).toContain('Error on exit');
    // The ones set in localrc were not asked for (database, rabbit, service come first in stack.sh).
    expect(r.stdout).not.toContain('ENTER A PASSWORD TO USE FOR THE DATABASE.');
    expect(r.stdout).not.toContain('ENTER A SERVICE_PASSWORD');
    const auto = await readFile(join(devstack, '.localrc.auto'), 'utf8');
    expect(auto).toBe(`# Generated file, do not edit\nHOST_IP=10.0.0.10\nSERVICE_HOST=10.0.0.10\nDATABASE_PASSWORD=${PASSWORD}\nRABBIT_PASSWORD=${PASSWORD}\nSERVICE_PASSWORD=${PASSWORD}\n`);
  });

  it('s-proxy without SWIFT_HASH prompts for it; an answer on stdin is kept in .localrc.password and the run goes on', async () => {
    const dir = await tempDir('fds-swift-');
    const devstack = await copyFixture(join(dir, 'devstack'));
    const dest = join(dir, 'stack');
    await mkdir(dest);
    await execa('chown', [`${NOBODY}:${NOBODY}`, dest]);
    await writeFile(join(devstack, 'local.conf'), localConf({ HOST_IP: '10.0.0.10', SERVICE_HOST: '10.0.0.10', DEST: dest, DATA_DIR: join(dest, 'data'), ...PASSWORDS, ENABLED_SERVICES: 'key,mysql,rabbit,s-proxy,s-object' }));
    const closed = await asNobody(dir);
    expect(closed.exitCode).toBe(1);
    expect(closed.stdout).toContain('ENTER A RANDOM SWIFT HASH.\n################################################################################\n');
    expect(closed.stdout).toMatch(/Enter a password now:\n(.*\n)*Error on exit/);
    // Answered: stack.sh writes it where stackrc reads it next time, and carries on (to the fail-on stop here).
    await writeFile(join(devstack, 'fail-on'), `${hostname().split('.')[0] ?? ''}\n`);
    const answered = await execa('setpriv', ['--reuid', NOBODY, '--regid', NOBODY, '--clear-groups', '--', 'env', '-i', `PATH=${SYSTEM_PATH}`, `HOME=${dir}`, 'bash', join(devstack, 'stack.sh')], { reject: false, all: true, input: 'abc123\n' });
    expect(answered.stderr).toContain('nova-compute did not start');
    expect(await readFile(join(devstack, '.localrc.password'), 'utf8')).toBe('SWIFT_HASH=abc123\n');
    const again = await asNobody(dir);
    expect(again.stdout).not.toContain('ENTER A RANDOM SWIFT HASH.');
    expect(again.stderr).toContain('nova-compute did not start');
  });

  it('fail-on naming this host: a real-looking nova failure, a fail line in the timeline, local.conf.seen kept', async () => {
    const dir = await tempDir('fds-failon-');
    const devstack = await copyFixture(join(dir, 'devstack'));
    const dest = join(dir, 'stack');
    await mkdir(dest);
    await execa('chown', [`${NOBODY}:${NOBODY}`, dest]);
    const me = hostname().split('.')[0] ?? '';
    await writeFile(join(devstack, 'local.conf'), localConf({ HOST_IP: '10.0.0.10', SERVICE_HOST: '10.0.0.10', DEST: dest, DATA_DIR: join(dest, 'data'), ...PASSWORDS }));
    await writeFile(join(devstack, 'fail-on'), `some-other-node\n${me}\r\n`);
    const r = await asNobody(dir);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain(`[ERROR] ${devstack}/lib/nova:1234 nova-compute did not start`);
    expect(r.stdout).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} \| /m);
    expect(r.stdout).toContain('Error on exit');
    const timeline = (await readFile(join(dest, 'logs/fake-timeline'), 'utf8')).trim().split('\n');
    expect(timeline).toHaveLength(2);
    expect(timeline[0]).toMatch(new RegExp(`^start \\d+\\.\\d{9} ${me} controller$`));
    expect(timeline[1]).toMatch(new RegExp(`^fail \\d+\\.\\d{9} ${me} controller$`));
    expect(await readFile(join(dest, 'logs/local.conf.seen'), 'utf8')).toContain(`ADMIN_PASSWORD=${PASSWORD}`);
  });
});

describe('fake openstack client', () => {
  let data: string;
  const os = (args: string[], env: Record<string, string> = ADMIN) =>
    execa(OPENSTACK, args, { reject: false, env: { PATH: SYSTEM_PATH, FAKE_DEVSTACK_DATA: data, FAKE_OPENSTACK_OFFLINE: '1', ...env }, extendEnv: false });

  beforeAll(async () => {
    data = await tempDir('fds-osc-');
    const init = await os(['init', '--admin-password', PASSWORD, '--auth-url', AUTH_URL, '--hostname', 'controller', '--enabled-services', 'mysql,n-cond,n-sch']);
    expect(init.exitCode).toBe(0);
  });

  it('init keeps an existing state', async () => {
    const before = JSON.parse(await readFile(join(data, 'openstack.json'), 'utf8')) as { projects: { id: string }[] };
    const again = await os(['init', '--admin-password', PASSWORD, '--auth-url', AUTH_URL]);
    expect(again.stdout).toContain('Kept the existing fake OpenStack state');
    const after = JSON.parse(await readFile(join(data, 'openstack.json'), 'utf8')) as { projects: { id: string }[] };
    expect(after.projects).toEqual(before.projects);
  });

  it('needs auth like the real client', async () => {
    const noUrl = await os(['image', 'list'], { OS_USERNAME: 'admin', OS_PASSWORD: PASSWORD });
    expect(noUrl.exitCode).toBe(1);
    expect(noUrl.stderr).toBe('Missing value auth-url required for auth plugin password');
    const wrong = await os(['image', 'list'], { ...ADMIN, OS_PASSWORD: 'wrong' });
    expect(wrong.exitCode).toBe(1);
    expect(wrong.stderr).toMatch(/^The request you have made requires authentication\. \(HTTP 401\) \(Request-ID: req-[0-9a-f-]{36}\)$/);
    const cloud = await os(['--os-cloud', 'devstack-admin', 'token', 'issue', '-f', 'value', '-c', 'project_id'], {});
    expect(cloud.exitCode).toBe(0);
    const projects = await os(['project', 'list', '-f', 'json']);
    const admin = (JSON.parse(projects.stdout) as { ID: string; Name: string }[]).find((p) => p.Name === 'admin');
    expect(cloud.stdout).toBe(admin?.ID);
    const unknown = await os(['server', 'list']);
    expect(unknown.exitCode).toBe(2);
    expect(unknown.stderr).toContain("openstack: 'server list' is not an openstack command. See 'openstack --help'.");
    const demoProjects = await os(['project', 'list'], DEMO);
    expect(demoProjects.exitCode).toBe(1);
    expect(demoProjects.stderr).toMatch(/identity:list_projects\. \(HTTP 403\)/);
  });

  it('images: show before create, raw by default, duplicates allowed, --public needs admin', async () => {
    const dir = await tempDir('fds-img-');
    const file = join(dir, 'disk.img');
    const bytes = randomBytes(4096);
    await writeFile(file, bytes);
    const missing = await os(['image', 'show', 'tiny']);
    expect(missing.exitCode).toBe(1);
    expect(missing.stderr).toBe('No Image found for tiny');
    const created = await os(['image', 'create', 'tiny', '--container-format', 'bare', '--public', '--file', file, '-f', 'json']);
    expect(created.exitCode).toBe(0);
    const image = JSON.parse(created.stdout) as Record<string, unknown>;
    expect(image).toMatchObject({ name: 'tiny', disk_format: 'raw', visibility: 'public', status: 'active', size: 4096 });
    expect((image.properties as Record<string, string>)['owner_specified.openstack.sha256']).toBe(createHash('sha256').update(bytes).digest('hex'));
    const shown = await os(['image', 'show', 'tiny', '-f', 'value', '-c', 'id']);
    expect(shown.stdout).toBe(image.id);
    const listed = await os(['image', 'list', '-f', 'value', '-c', 'Name', '-c', 'ID']);
    expect(listed.stdout).toBe(`${String(image.id)} tiny`);
    const table = await os(['image', 'list']);
    expect(table.stdout.split('\n')[1]).toBe('| ID                                   | Name | Status |');
    const dup = await os(['image', 'create', 'tiny', '--disk-format', 'qcow2', '--container-format', 'bare', '--file', file]);
    expect(dup.exitCode).toBe(0);
    const ambiguous = await os(['image', 'show', 'tiny']);
    expect(ambiguous.exitCode).toBe(1);
    expect(ambiguous.stderr).toBe("More than one Image exists with the name 'tiny'.");
    const forbidden = await os(['image', 'create', 'mine', '--public', '--file', file], DEMO);
    expect(forbidden.exitCode).toBe(1);
    expect(forbidden.stderr).toBe('ForbiddenException: 403: Client Error for url: http://10.0.0.10/image/v2/images, You are not authorized to complete publicize_image action.');
    const state = JSON.parse(await readFile(join(data, 'openstack.json'), 'utf8')) as { images: { name: string; sha256: string }[] };
    expect(state.images.map((i) => i.name)).toEqual(['tiny', 'tiny']);
    expect(state.images[0]?.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));
  });

  it('keypairs belong to the user; a second create is HTTP 409 with exit 1', async () => {
    const dir = await tempDir('fds-key-');
    const pub = join(dir, 'id.pub');
    await writeFile(pub, `${PUBLIC_KEY}\n`);
    const none = await os(['keypair', 'show', 'dc']);
    expect(none.exitCode).toBe(1);
    // openstacksdk resource.py Resource.find, as python-openstackclient >= 5.5 prints it.
    expect(none.stderr).toBe('No Keypair found for dc');
    const created = await os(['keypair', 'create', '--public-key', pub, 'dc', '-f', 'json']);
    expect(created.exitCode).toBe(0);
    expect(JSON.parse(created.stdout)).toMatchObject({ name: 'dc', fingerprint: md5Fingerprint(PUBLIC_KEY), type: 'ssh' });
    const again = await os(['keypair', 'create', '--public-key', pub, 'dc']);
    expect(again.exitCode).toBe(1);
    expect(again.stderr).toBe("ConflictException: 409: Client Error for url: http://10.0.0.10/compute/v2.1/os-keypairs, Key pair 'dc' already exists.");
    expect((await os(['keypair', 'show', 'dc', '--public-key'])).stdout).toBe(PUBLIC_KEY);
    expect((await os(['keypair', 'list', '-f', 'value'], DEMO)).stdout).toBe('');
    expect((await os(['keypair', 'create', '--public-key', pub, 'dc', '-f', 'value', '-c', 'name'], DEMO)).stdout).toBe('dc');
    const bad = join(dir, 'bad.pub');
    await writeFile(bad, 'ssh-ed25519 not-base64!\n');
    const invalid = await os(['keypair', 'create', '--public-key', bad, 'bad']);
    expect(invalid.exitCode).toBe(1);
    expect(invalid.stderr).toContain('Keypair data is invalid: failed to generate fingerprint');
  });

  it('security groups: admin sees every default (ambiguous by name), IDs work, duplicate rules are 409', async () => {
    const groups = JSON.parse((await os(['security', 'group', 'list', '-f', 'json'])).stdout) as { ID: string; Name: string; Project: string }[];
    expect(groups.map((g) => g.Name)).toEqual(['default', 'default', 'default']);
    const ambiguous = await os(['security', 'group', 'rule', 'create', '--protocol', 'icmp', 'default']);
    expect(ambiguous.exitCode).toBe(1);
    expect(ambiguous.stderr).toBe("More than one SecurityGroup exists with the name 'default'.");
    const id = (await os(['security', 'group', 'list', '--project', 'admin', '-f', 'value', '-c', 'ID'])).stdout;
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    const icmp = await os(['security', 'group', 'rule', 'create', '--protocol', 'icmp', id, '-f', 'value', '-c', 'id']);
    expect(icmp.exitCode).toBe(0);
    const ssh = await os(['security', 'group', 'rule', 'create', '--protocol', 'tcp', '--dst-port', '22', id, '-f', 'json']);
    expect(JSON.parse(ssh.stdout)).toMatchObject({ direction: 'ingress', protocol: 'tcp', port_range_min: 22, port_range_max: 22, remote_ip_prefix: '0.0.0.0/0', security_group_id: id });
    const dup = await os(['security', 'group', 'rule', 'create', '--protocol', 'icmp', id]);
    expect(dup.exitCode).toBe(1);
    expect(dup.stderr).toBe(`Error while executing command: ConflictException: 409, Security group rule already exists. Rule id is ${icmp.stdout}.`);
    const rules = JSON.parse((await os(['security', 'group', 'rule', 'list', id, '-f', 'json'])).stdout) as Record<string, unknown>[];
    expect(rules.find((r) => r['IP Protocol'] === 'tcp')).toMatchObject({ 'Port Range': '22:22', 'IP Range': '0.0.0.0/0', Direction: 'ingress' });
    expect(rules.filter((r) => r.Direction === 'egress')).toHaveLength(2);
    // The demo user sees only its project's group: `default` is unique, admin's group is invisible.
    const demo = await os(['security', 'group', 'rule', 'create', '--protocol', 'tcp', '--dst-port', '22', 'default', '-f', 'value', '-c', 'security_group_id'], DEMO);
    expect(demo.exitCode).toBe(0);
    expect(groups.map((g) => g.ID)).toContain(demo.stdout);
    const other = await os(['security', 'group', 'rule', 'create', '--protocol', 'udp', id], DEMO);
    expect(other.exitCode).toBe(1);
    expect(other.stderr).toBe(`No SecurityGroup found for ${id}`);
  });

  it('really contacts Keystone at OS_AUTH_URL unless offline, and names the request in a 401', async () => {
    const port = await freePort();
    const refused = await execa(OPENSTACK, ['token', 'issue'], { reject: false, env: { PATH: SYSTEM_PATH, FAKE_DEVSTACK_DATA: data, ...ADMIN, OS_AUTH_URL: `http://127.0.0.1:${port}/identity` }, extendEnv: false });
    expect(refused.exitCode).toBe(1);
    expect(refused.stderr).toContain(`Unable to establish connection to http://127.0.0.1:${port}/identity/v3/auth/tokens`);
    const key = startService(['key', String(port), '--bind', '127.0.0.1'], { FAKE_DEVSTACK_DATA: data });
    await waitForPort(port);
    const env = { PATH: SYSTEM_PATH, FAKE_DEVSTACK_DATA: data, ...ADMIN, OS_AUTH_URL: `http://127.0.0.1:${port}/identity` };
    const ok = await execa(OPENSTACK, ['token', 'issue', '-f', 'value', '-c', 'user_id'], { reject: false, env, extendEnv: false });
    expect(ok.exitCode).toBe(0);
    const denied = await execa(OPENSTACK, ['token', 'issue'], { reject: false, env: { ...env, OS_PASSWORD: 'nope' }, extendEnv: false });
    const requestId = /Request-ID: (req-[0-9a-f-]{36})/.exec(denied.stderr)?.[1] ?? 'none';
    await until('the 401 request in the key log', async () => (key.output().includes(requestId) ? true : undefined));
    expect(visible(key.output())).toContain(`[None ${requestId} admin admin<ESC>[00;36m] <ESC>[00;36m127.0.0.1 "POST /identity/v3/auth/tokens" status: 200`);
    key.child.kill('SIGTERM');
  });
});

describe('fake nova-manage and tools/discover_hosts.sh', () => {
  it('maps every registered host once, prints nova verbose lines, records each run', async () => {
    const data = await tempDir('fds-nova-');
    await writeFile(join(data, 'computes'), 'compute1\ncompute2\n');
    const env = { PATH: SYSTEM_PATH, FAKE_DEVSTACK_DATA: data };
    const first = await execa(NOVA_MANAGE, ['cell_v2', 'discover_hosts', '--verbose'], { env, extendEnv: false });
    const lines = first.stdout.split('\n');
    const cell = /^Getting computes from cell 'cell1': ([0-9a-f-]{36})$/.exec(lines[2] ?? '')?.[1];
    expect(cell).toBeDefined();
    expect(lines[0]).toBe('Found 2 cell mappings.');
    expect(lines[1]).toBe('Skipping cell0 since it does not contain hosts.');
    expect(lines[3]).toMatch(/^Checking host mapping for compute host 'compute1': [0-9a-f-]{36}$/);
    expect(lines[4]).toMatch(/^Creating host mapping for compute host 'compute1': [0-9a-f-]{36}$/);
    expect(lines[6]).toMatch(/^Creating host mapping for compute host 'compute2': /);
    expect(lines[7]).toBe(`Found 2 unmapped computes in cell: ${cell}`);
    const second = await execa(NOVA_MANAGE, ['cell_v2', 'discover_hosts', '--verbose'], { env, extendEnv: false });
    expect(second.stdout).toBe(`Found 2 cell mappings.\nSkipping cell0 since it does not contain hosts.\nGetting computes from cell 'cell1': ${cell}\nFound 0 unmapped computes in cell: ${cell}`);
    expect((await execa(NOVA_MANAGE, ['cell_v2', 'discover_hosts', '--strict'], { env, extendEnv: false, reject: false })).exitCode).toBe(1);
    const hosts = await execa(NOVA_MANAGE, ['cell_v2', 'list_hosts'], { env, extendEnv: false });
    expect(hosts.stdout.split('\n')[1]).toBe('| Cell Name |              Cell UUID               | Hostname |');
    expect(hosts.stdout).toContain(`|   cell1   | ${cell} | compute2 |`);
    const state = JSON.parse(await readFile(join(data, 'nova-cells.json'), 'utf8')) as { discovery_runs: { epoch: number; mapped: string[] }[] };
    expect(state.discovery_runs.map((r) => r.mapped)).toEqual([['compute1', 'compute2'], [], []]);
    // discover_hosts.sh: runs nova-manage when it is on PATH, else nothing at all.
    const bin = await tempDir('fds-bin-');
    await writeFile(join(data, 'computes'), 'compute3\n', { flag: 'a' });
    const silent = await execa('bash', [join(FAKE, 'tools/discover_hosts.sh')], { env: { PATH: SYSTEM_PATH, FAKE_DEVSTACK_DATA: data }, extendEnv: false, all: true });
    expect(silent.all).toBe('');
    await cp(NOVA_MANAGE, join(bin, 'nova-manage'));
    const found = await execa('bash', [join(FAKE, 'tools/discover_hosts.sh')], { env: { PATH: `${bin}:${SYSTEM_PATH}`, FAKE_DEVSTACK_DATA: data }, extendEnv: false });
    expect(found.stdout).toContain("Creating host mapping for compute host 'compute3'");
  });
});

describe('fake service processes', () => {
  it('rabbit keeps the compute registry; n-cpu retries until it can register', async () => {
    const data = await tempDir('fds-svc-');
    const port = await freePort();
    const compute = startService(['n-cpu'], { FAKE_DEVSTACK_DATA: data, RABBIT_HOST: '127.0.0.1', RABBIT_PORT: String(port), FAKE_HOSTNAME: 'ncpu-test', FAKE_HEARTBEAT_SECONDS: '1' });
    await until('a failed connection attempt', async () => (compute.output().includes('Connection failed: [Errno 111] Connection refused (retrying in 2.0 seconds)') ? true : undefined));
    const rabbit = startService(['rabbit', String(port), '--bind', '127.0.0.1'], { FAKE_DEVSTACK_DATA: data });
    await waitForPort(port);
    expect(await exchange(port, 'REGISTER hostA\n')).toBe('OK\n');
    expect(await exchange(port, 'REGISTER hostA\n')).toBe('OK\n');
    const hosts = await until('n-cpu in the registry', async () => {
      const listed = await exchange(port, 'HOSTS\n');
      return listed.includes('ncpu-test') ? listed : undefined;
    });
    expect(hosts.split('\n').filter(Boolean).sort()).toEqual(['hostA', 'ncpu-test']);
    expect((await readFile(join(data, 'computes'), 'utf8')).split('\n').filter(Boolean).sort()).toEqual(['hostA', 'ncpu-test']);
    expect(await exchange(port, 'REGISTER bad/name\n')).toBe('ERROR bad host name\n');
    const http = await exchange(port, 'GET /healthcheck HTTP/1.1\r\nHost: x\r\n\r\n');
    expect(http).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    const requestId = /X-Openstack-Request-Id: (req-[0-9a-f-]{36})/.exec(http)?.[1] ?? 'none';
    expect(JSON.parse(http.split('\r\n\r\n')[1] ?? '{}')).toMatchObject({ service: 'rabbit', path: '/healthcheck', request_id: requestId });
    await until('the request in the log', async () => (rabbit.output().includes(requestId) ? true : undefined));
    expect(visible(rabbit.output())).toMatch(/<ESC>\[00;36mINFO oslo\.messaging\._drivers\.impl_rabbit \[None req-[0-9a-f-]{36} service nova<ESC>\[00;36m\] <ESC>\[00;36mRegistered compute host hostA \(from 127\.0\.0\.1\)<ESC>\[00m/);
    rabbit.child.kill('SIGTERM');
    compute.child.kill('SIGTERM');
  });

  it('USE_JOURNAL=True sends native journal datagrams with the oslo.log fields', async () => {
    const dir = await tempDir('fds-journal-');
    const sock = join(dir, 'journal.sock');
    const receiver = spawn('python3', ['-c', [
      'import socket,sys,base64',
      's=socket.socket(socket.AF_UNIX,socket.SOCK_DGRAM)',
      's.bind(sys.argv[1])',
      'print("ready",flush=True)',
      'while True:',
      '    print(base64.b64encode(s.recv(1<<20)).decode(),flush=True)',
    ].join('\n'), sock], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(receiver);
    const datagrams: Buffer[] = [];
    let buffered = '';
    receiver.stdout?.on('data', (d: Buffer) => {
      buffered += d.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) if (line !== 'ready') datagrams.push(Buffer.from(line, 'base64'));
    });
    await until('the journal socket', async () => (existsSync(sock) ? true : undefined));
    const port = await freePort();
    const glance = startService(['g-api', String(port), '--bind', '127.0.0.1'], { USE_JOURNAL: 'True', FAKE_JOURNAL_SOCKET: sock });
    await waitForPort(port);
    const http = await exchange(port, 'GET /v2/images HTTP/1.1\r\nX-Project-Name: demo\r\nX-User-Name: demo\r\n\r\n');
    const requestId = /X-Openstack-Request-Id: (req-[0-9a-f-]{36})/.exec(http)?.[1] ?? 'none';
    const fields = await until('the request datagram', async () => datagrams.map(parseJournal).find((f) => f.REQUEST_ID === requestId));
    expect(fields).toMatchObject({ PRIORITY: '6', SYSLOG_IDENTIFIER: 'g-api', PROJECT_NAME: 'demo', USER_NAME: 'demo', CODE_FUNC: 'http', LOGGER_NAME: 'glance.api.v2.images' });
    expect(fields.CODE_FILE).toBe(SERVICE);
    expect(fields.CODE_LINE).toMatch(/^\d+$/);
    expect(fields.MESSAGE).toContain(`\x1b[00;36mINFO glance.api.v2.images [None ${requestId} demo demo\x1b[00;36m] \x1b[00;36m127.0.0.1 "GET /v2/images" status: 200`);
    expect(glance.output()).toBe('');
    glance.child.kill('SIGTERM');
    receiver.kill('SIGTERM');
    // Values with a newline use the protocol's binary form.
    const encoded = await execa('python3', ['-c', `import importlib.util,sys\nspec=importlib.util.spec_from_file_location('svc',sys.argv[1])\nm=importlib.util.module_from_spec(spec)\nspec.loader.exec_module(m)\nsys.stdout.buffer.write(m.journal_datagram([('MESSAGE','a\\nb'),('PRIORITY','6')]))`, SERVICE], { encoding: 'buffer', stripFinalNewline: false, env: { PYTHONDONTWRITEBYTECODE: '1' } });
    const expected = Buffer.concat([Buffer.from('MESSAGE\n'), Buffer.from([3, 0, 0, 0, 0, 0, 0, 0]), Buffer.from('a\nb\nPRIORITY=6\n')]);
    expect(Buffer.from(encoded.stdout).equals(expected)).toBe(true);
  });
});

/** KEY=value lines, or KEY\n<le64 length><bytes>\n (systemd's native protocol). */
function parseJournal(datagram: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let i = 0;
  while (i < datagram.length) {
    const nl = datagram.indexOf(0x0a, i);
    const line = datagram.subarray(i, nl).toString();
    const eq = line.indexOf('=');
    if (eq >= 0) {
      out[line.slice(0, eq)] = line.slice(eq + 1);
      i = nl + 1;
    } else {
      const size = Number(datagram.readBigUInt64LE(nl + 1));
      out[line] = datagram.subarray(nl + 9, nl + 9 + size).toString();
      i = nl + 9 + size + 1;
    }
  }
  return out;
}

/**
 * Two nodes over a real link: a controller (10.250.0.1) and a compute (10.250.0.2), each its own
 * network namespace and hostname, stack.sh as nobody with `sudo` and `systemctl` shims.
 */
describe('stack.sh on a controller and a compute that meet over a veth link', () => {
  const id = randomBytes(3).toString('hex');
  const ns = { controller: `fds${id}c`, compute: `fds${id}k` };
  const CONTROLLER_IP = '10.250.0.1';
  const COMPUTE_IP = '10.250.0.2';
  let root = '';
  let shims = '';
  const outputs: Record<string, { exitCode: number | undefined; stdout: string; stderr: string; all: string }> = {};

  const SUDO = '#!/usr/bin/env bash\n# Test shim for sudo: the caller already is the only user there is.\nwhile [[ $# -gt 0 && $1 == -* ]]; do shift; done\nexec "$@"\n';
  const SYSTEMCTL = `#!/usr/bin/env bash
# Test shim for systemctl (no systemd here): runs a unit's ExecStart with its Environment in the
# background, remembers the pid, and stops it again.
units=\${FAKE_DEVSTACK_ETC:?}/systemd/system
state=\${FAKE_DEVSTACK_ETC}/systemctl-state
mkdir -p "$state"
echo "systemctl $*" >>"$state/calls"
action=$1
shift
stop_unit() {
    local pidfile="$state/$1.pid" pid
    [[ -f $pidfile ]] || return 0
    pid=$(cat "$pidfile")
    kill "$pid" 2>/dev/null
    # Gone, or a zombie waiting for init to reap it.
    for _ in $(seq 50); do [[ $(awk '/^State:/ { print $2 }' "/proc/$pid/status" 2>/dev/null) =~ ^[^Z] ]] || break; sleep 0.1; done
    rm -f "$pidfile"
}
start_unit() {
    local file="$units/$1" exec envline
    exec=$(sed -n 's/^ExecStart = //p' "$file")
    envline=$(sed -n 's/^Environment = //p' "$file")
    local -a envs
    eval "envs=($envline)"
    # shellcheck disable=SC2086
    setsid env "\${envs[@]}" $exec >>"$state/$1.log" 2>&1 </dev/null &
    echo $! >"$state/$1.pid"
}
for unit in "$@"; do
    [[ $unit == -* ]] && continue
    case $action in
        enable | disable) ;;
        stop) stop_unit "$unit" ;;
        restart) stop_unit "$unit"; start_unit "$unit" ;;
        start) [[ -f $state/$unit.pid ]] || start_unit "$unit" ;;
        *) echo "systemctl shim: $action is not supported" >&2; exit 1 ;;
    esac
done
exit 0
`;

  /** A node folder: devstack/ (the fixture), stack/ (DEST), bin/, etc/; all owned by nobody. */
  async function node(name: string, settings: Record<string, string>, extra = ''): Promise<string> {
    const dir = join(root, name);
    await mkdir(dir);
    const devstack = await copyFixture(join(dir, 'devstack'));
    for (const sub of ['stack', 'bin', 'etc']) await mkdir(join(dir, sub));
    // DATA_DIR too: DevStack derives it from its own DEST=/opt/stack, not from localrc's (stackrc).
    await writeFile(join(devstack, 'local.conf'), localConf({ DEST: join(dir, 'stack'), DATA_DIR: join(dir, 'stack/data'), ...PASSWORDS, ...settings }, extra));
    await execa('chown', ['-R', `${NOBODY}:${NOBODY}`, dir]);
    return dir;
  }

  function envFor(dir: string, extra: Record<string, string> = {}): string[] {
    const env: Record<string, string> = {
      // The node's bin/ stands for /usr/local/bin, which comes before /usr/bin on a node's PATH: a
      // distribution's /usr/bin/openstack on this host (python3-openstackclient) must not win.
      PATH: `${shims}:${join(dir, 'bin')}:${SYSTEM_PATH}`,
      HOME: dir,
      FAKE_DEVSTACK_BIN_DIR: join(dir, 'bin'),
      FAKE_DEVSTACK_ETC: join(dir, 'etc'),
      FAKE_DEVSTACK_DATA: join(dir, 'stack/data/fake'),
      ...extra,
    };
    return Object.entries(env).map(([k, v]) => `${k}=${v}`);
  }

  /** `command` (bash) as nobody inside the namespace, with its own hostname. */
  async function inNode(nsName: string, host: string, dir: string, command: string, extra: Record<string, string> = {}) {
    const r = await execa(
      'ip',
      ['netns', 'exec', nsName, 'unshare', '--uts', '--', 'bash', '-c', 'hostname "$0" && exec setpriv --reuid 65534 --regid 65534 --clear-groups -- "$@"', host, 'env', '-i', ...envFor(dir, extra), 'bash', '-c', command],
      { reject: false, all: true, timeout: 150_000 },
    );
    return { exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr, all: r.all ?? '' };
  }

  const stack = (nsName: string, host: string, dir: string, extra: Record<string, string> = {}) => inNode(nsName, host, dir, `cd ${dir}/devstack && ./stack.sh`, extra);

  beforeAll(async () => {
    root = await tempDir('fds-cluster-');
    shims = join(root, 'shims');
    await mkdir(shims);
    await writeFile(join(shims, 'sudo'), SUDO, { mode: 0o755 });
    await writeFile(join(shims, 'systemctl'), SYSTEMCTL, { mode: 0o755 });
    for (const n of Object.values(ns)) {
      await execa('ip', ['netns', 'add', n]);
      await execa('ip', ['-n', n, 'link', 'set', 'lo', 'up']);
      await execa('ip', ['netns', 'exec', n, 'sysctl', '-qw', 'net.ipv4.ip_unprivileged_port_start=0']);
    }
    await execa('ip', ['link', 'add', `fds${id}a`, 'netns', ns.controller, 'type', 'veth', 'peer', 'name', `fds${id}b`, 'netns', ns.compute]);
    await execa('ip', ['-n', ns.controller, 'addr', 'add', `${CONTROLLER_IP}/24`, 'dev', `fds${id}a`]);
    await execa('ip', ['-n', ns.compute, 'addr', 'add', `${COMPUTE_IP}/24`, 'dev', `fds${id}b`]);
    await execa('ip', ['-n', ns.controller, 'link', 'set', `fds${id}a`, 'up']);
    await execa('ip', ['-n', ns.compute, 'link', 'set', `fds${id}b`, 'up']);

    // An image given as a file:// URL (qcow2 magic) next to the CirrOS default.
    const qcow = join(root, 'tiny.qcow2');
    await writeFile(qcow, Buffer.concat([Buffer.from([0x51, 0x46, 0x49, 0xfb]), randomBytes(1020)]));
    await chmod(qcow, 0o644);
    const ctl = await node(
      'ctl',
      {
        HOST_IP: CONTROLLER_IP,
        SERVICE_HOST: CONTROLLER_IP,
        ENABLED_SERVICES: 'key,mysql,rabbit,g-api,n-api,n-cond,n-sch,n-cpu,placement-api,q-svc,tls-proxy',
        IMAGE_URLS: `file://${qcow}`,
        USE_JOURNAL: 'False',
      },
      '[[post-config|$NOVA_CONF]]\n[DEFAULT]\ndebug = True\n',
    );
    await writeFile(join(ctl, 'devstack/local.sh'), `#!/usr/bin/env bash\nset -euo pipefail\n{ echo "OS_CLOUD=$OS_CLOUD"; openstack image list -f value -c Name; } >${ctl}/local-sh.out\n`, { mode: 0o755 });
    await execa('chown', [`${NOBODY}:${NOBODY}`, join(ctl, 'devstack/local.sh')]);
    outputs.controller = await stack(ns.controller, 'controller', ctl);

    const compute = {
      HOST_IP: COMPUTE_IP,
      SERVICE_HOST: CONTROLLER_IP,
      MYSQL_HOST: CONTROLLER_IP,
      RABBIT_HOST: CONTROLLER_IP,
      GLANCE_HOSTPORT: `${CONTROLLER_IP}:9292`,
      DATABASE_TYPE: 'mysql',
      ENABLED_SERVICES: 'n-cpu,placement-client,ovn-controller,q-ovn-agent',
      NOVA_READY_TIMEOUT: '20',
    };
    const cmp = await node('cmp', compute);
    await writeFile(join(cmp, 'devstack/fail-on'), 'compute1\n');
    outputs.faulty = await stack(ns.compute, 'compute1', cmp);
    await rm(join(cmp, 'devstack/fail-on'));
    outputs.compute = await stack(ns.compute, 'compute1', cmp);

    const unreachable = await node('unreachable', { ...compute, SERVICE_HOST: '10.250.0.99', MYSQL_HOST: '10.250.0.99' });
    outputs.unreachable = await stack(ns.compute, 'compute2', unreachable, { FAKE_PRECHECK_TIMEOUT: '1' });
  }, 240_000);

  afterAll(async () => {
    if (!root) return;
    for (const name of await readdir(root).catch(() => [] as string[])) {
      const state = join(root, name, 'etc/systemctl-state');
      for (const file of await readdir(state).catch(() => [] as string[])) {
        if (!file.endsWith('.pid')) continue;
        const pid = Number(await readFile(join(state, file), 'utf8'));
        try {
          process.kill(pid, 'SIGTERM');
        } catch {
          // already gone
        }
      }
    }
    for (const n of Object.values(ns)) await execa('ip', ['netns', 'del', n], { reject: false });
    await rm(root, { recursive: true, force: true });
  }, 30_000);

  it('the controller stacks: units for its services, images uploaded, local.sh run, the real summary', async () => {
    const r = outputs.controller;
    expect(r?.all).toBeDefined();
    expect(r?.exitCode, r?.all).toBe(0);
    const ctl = join(root, 'ctl');
    const units = (await readdir(join(ctl, 'etc/systemd/system'))).sort();
    expect(units).toEqual(['g-api', 'key', 'mysql', 'n-api', 'n-cond', 'n-cpu', 'n-sch', 'placement-api', 'q-svc', 'rabbit', 'tls-proxy'].map((s) => `devstack@${s}.service`));
    expect(await readFile(join(ctl, 'etc/systemd/system/devstack@tls-proxy.service'), 'utf8')).toMatch(/^ExecStart = \S+ \S+\/service\.py tls-proxy $/m);
    expect(await readFile(join(ctl, 'stack/data/ca-bundle.pem'), 'utf8')).toContain('-----BEGIN CERTIFICATE-----');
    expect(existsSync(join(ctl, 'stack/data/CA/int-ca/ca-chain.pem'))).toBe(true);
    const keyUnit = await readFile(join(ctl, 'etc/systemd/system/devstack@key.service'), 'utf8');
    expect(keyUnit).toContain(`ExecStart = /usr/bin/python3 ${ctl}/devstack/fake/service.py key 80\n`);
    expect(keyUnit).toContain('User = nobody\n');
    expect(r?.stdout).toContain(`This is your host IP address: ${CONTROLLER_IP}\n`);
    expect(r?.stdout).toContain(`Keystone is serving at http://${CONTROLLER_IP}/identity/\n`);
    expect(r?.stdout).toContain(`\nThe password: ${PASSWORD}\n`);
    expect(r?.stdout).toMatch(/stack\.sh completed in \d+ seconds\.$/);
    expect(r?.stdout).toContain("Creating host mapping for compute host 'controller'");
    expect(await readFile(join(ctl, 'local-sh.out'), 'utf8')).toBe('OS_CLOUD=devstack-admin\ncirros-0.6.3-x86_64-disk\ntiny\n');
    const state = JSON.parse(await readFile(join(ctl, 'stack/data/fake/openstack.json'), 'utf8')) as { images: { name: string; disk_format: string; visibility: string }[] };
    expect(state.images.map((i) => [i.name, i.disk_format, i.visibility])).toEqual([
      ['tiny', 'qcow2', 'public'],
      ['cirros-0.6.3-x86_64-disk', 'raw', 'public'],
    ]);
    expect(await readFile(join(ctl, 'etc/openstack/clouds.yaml'), 'utf8')).toContain(`  devstack-admin:\n    auth:\n      auth_url: http://${CONTROLLER_IP}/identity\n      password: ${PASSWORD}\n`);
    expect(await readFile(join(ctl, 'etc/devstack-version'), 'utf8')).toMatch(/^DevStack Version: \S+\nChange: .*\nOS Version: Debian 12 bookworm\n$/);
    const seen = await readFile(join(ctl, 'stack/logs/local.conf.seen'), 'utf8');
    expect(seen).toContain('[[post-config|$NOVA_CONF]]');
  });

  it('a compute with fail-on fails like DevStack, then stacks once the switch is gone', async () => {
    const faulty = outputs.faulty;
    expect(faulty?.exitCode).toBe(1);
    expect(faulty?.stderr).toContain(`[ERROR] ${join(root, 'cmp')}/devstack/lib/nova:1234 nova-compute did not start`);
    expect(faulty?.stdout).toContain('Error on exit');
    const r = outputs.compute;
    expect(r?.exitCode, r?.all).toBe(0);
    expect(r?.stdout).toContain(`mysql on ${CONTROLLER_IP}:3306 accepts connections`);
    expect(r?.stdout).toContain(`This is your host IP address: ${COMPUTE_IP}\n`);
    expect(r?.stdout).not.toContain('The password:');
    const timeline = (await readFile(join(root, 'cmp/stack/logs/fake-timeline'), 'utf8')).trim().split('\n').map((l) => l.split(' '));
    expect(timeline.map((l) => [l[0], l[2], l[3]])).toEqual([
      ['start', 'compute1', 'compute'],
      ['fail', 'compute1', 'compute'],
      ['start', 'compute1', 'compute'],
      ['done', 'compute1', 'compute'],
    ]);
    const ctlTimeline = (await readFile(join(root, 'ctl/stack/logs/fake-timeline'), 'utf8')).trim().split('\n').map((l) => l.split(' '));
    expect(ctlTimeline.map((l) => [l[0], l[2], l[3]])).toEqual([
      ['start', 'controller', 'controller'],
      ['done', 'controller', 'controller'],
    ]);
    expect(Number(ctlTimeline[1]?.[1])).toBeLessThan(Number(timeline[2]?.[1]));
    expect((await readFile(join(root, 'ctl/stack/data/fake/computes'), 'utf8')).split('\n').filter(Boolean).sort()).toEqual(['compute1', 'controller']);
  });

  it('a compute that cannot reach the controller fails naming host:port', () => {
    const r = outputs.unreachable;
    expect(r?.exitCode).toBe(1);
    expect(r?.stderr).toMatch(/^\[ERROR\] \S+\/stack\.sh:\d+ mysql on 10\.250\.0\.99:3306 is not reachable from compute2 \(10\.250\.0\.2\) after 1 seconds$/m);
  });

  it('on the controller: discover_hosts.sh maps the compute, openrc + openstack work over the network', async () => {
    const ctl = join(root, 'ctl');
    const discover = await inNode(ns.controller, 'controller', ctl, `${ctl}/devstack/tools/discover_hosts.sh`);
    expect(discover.exitCode, discover.all).toBe(0);
    expect(discover.stdout).toMatch(/^Creating host mapping for compute host 'compute1': [0-9a-f-]{36}$/m);
    expect(discover.stdout).toMatch(/^Found 1 unmapped computes in cell: /m);
    const again = await inNode(ns.controller, 'controller', ctl, `${ctl}/devstack/tools/discover_hosts.sh`);
    expect(again.stdout).toMatch(/^Found 0 unmapped computes in cell: /m);
    const cli = await inNode(
      ns.controller,
      'controller',
      ctl,
      // DevStack's own openrc, sourced as its docs say (it is not written for `set -u`), then strict mode.
      `source ${ctl}/devstack/openrc admin admin; set -euo pipefail; env | grep ^OS_ | sort; openstack image show tiny -f value -c disk_format; openstack compute service list --service nova-compute -f value -c Host`,
    );
    expect(cli.exitCode, cli.all).toBe(0);
    expect(cli.stdout).toBe(
      [
        `OS_AUTH_TYPE=password`,
        `OS_AUTH_URL=http://${CONTROLLER_IP}/identity`,
        // Real openrc: OS_CACERT when lib/tls's $INT_CA_DIR/ca-chain.pem exists (tls-proxy's CA), no
        // OS_IDENTITY_API_VERSION any more.
        `OS_CACERT=${ctl}/stack/data/CA/int-ca/ca-chain.pem`,
        `OS_PASSWORD=${PASSWORD}`,
        'OS_PROJECT_DOMAIN_ID=default',
        'OS_PROJECT_NAME=admin',
        'OS_REGION_NAME=RegionOne',
        'OS_USERNAME=admin',
        'OS_USER_DOMAIN_ID=default',
        'qcow2',
        'controller',
        'compute1',
      ].join('\n'),
    );
    const glanceLog = await readFile(join(ctl, 'etc/systemctl-state/devstack@g-api.service.log'), 'utf8');
    expect(visible(glanceLog)).toMatch(/\[None req-[0-9a-f-]{36} admin admin<ESC>\[00;36m\] <ESC>\[00;36m10\.250\.0\.1 "GET \/v2\/images\/[0-9a-f-]{36}" status: 200/);
  });

  it("openrc under a caller's strict mode behaves as DevStack's own: dies where no IPv6 default route exists, works from a child shell", async () => {
    const ctl = join(root, 'ctl');
    // As provision/lib.sh runs: errexit, errtrace, pipefail and an ERR trap (its as() turns -u off).
    const strict = await inNode(ns.controller, 'controller', ctl, `set -Eeo pipefail; trap 'echo "ERR trap: $BASH_COMMAND" >&2; exit 7' ERR; source ${ctl}/devstack/openrc admin admin; echo "sourced: $OS_USERNAME"`);
    expect((await execa('ip', ['netns', 'exec', ns.controller, 'ip', '-6', 'route', 'show', 'default'])).stdout).toBe('');
    expect(strict.exitCode, strict.all).toBe(7);
    expect(strict.stdout).not.toContain('sourced:');
    expect(strict.stderr).toMatch(/ERR trap: .*grep via/);
    const child = await inNode(ns.controller, 'controller', ctl, `set -Eeuo pipefail; eval "$(bash -c 'source ${ctl}/devstack/openrc admin admin >/dev/null 2>&1; export -p | grep " OS_"')"; echo "$OS_USERNAME $OS_PROJECT_NAME"`);
    expect(child.exitCode, child.all).toBe(0);
    expect(child.stdout).toBe('admin admin');
  });

  it("devcluster's post-stack.sh works against it (its openrc in a child bash, listings); a second run creates nothing", async () => {
    const ctl = join(root, 'ctl');
    const scripts = join(root, 'provision');
    await cp(PROVISION, scripts, { recursive: true });
    await writeFile(join(root, 'key.pub'), `${PUBLIC_KEY}\n`);
    await execa('chmod', ['-R', 'a+rX', scripts, join(root, 'key.pub')]);
    const post = (args: string) => inNode(ns.controller, 'controller', ctl, `DEVSTACK_DIR=${ctl}/devstack bash ${scripts}/post-stack.sh ${args}`);
    const statePath = join(ctl, 'stack/data/fake/openstack.json');
    const first = [await post(`keypair demo dckey ${root}/key.pub`), await post('rules demo icmp tcp:22')];
    for (const r of first) expect(r.exitCode, r.all).toBe(0);
    const made = JSON.parse(await readFile(statePath, 'utf8')) as { keypairs: unknown[]; security_group_rules: unknown[] };
    const again = [await post(`keypair demo dckey ${root}/key.pub`), await post('rules demo icmp tcp:22')];
    for (const r of again) expect(r.exitCode, r.all).toBe(0);
    const after = JSON.parse(await readFile(statePath, 'utf8')) as { keypairs: unknown[]; security_group_rules: unknown[] };
    expect(after.keypairs).toEqual(made.keypairs);
    expect(after.security_group_rules).toEqual(made.security_group_rules);
    expect(made.keypairs.length).toBeGreaterThan(0);
  });

  it('a second stack.sh on the controller keeps the cloud, the registry and the host mappings', async () => {
    const ctl = join(root, 'ctl');
    const statePath = join(ctl, 'stack/data/fake/openstack.json');
    const before = JSON.parse(await readFile(statePath, 'utf8')) as { images: unknown[]; security_groups: unknown[] };
    const r = await stack(ns.controller, 'controller', ctl);
    expect(r.exitCode, r.all).toBe(0);
    expect(r.stdout).toContain('Kept the existing fake OpenStack state');
    expect(r.stdout).toContain('image tiny already uploaded');
    expect(r.stdout).toMatch(/^Found 0 unmapped computes in cell: /m);
    const after = JSON.parse(await readFile(statePath, 'utf8')) as { images: unknown[]; security_groups: unknown[] };
    expect(after.images).toEqual(before.images);
    expect(after.security_groups).toEqual(before.security_groups);
    const timeline = (await readFile(join(ctl, 'stack/logs/fake-timeline'), 'utf8')).trim().split('\n').map((l) => l.split(' ')[0]);
    expect(timeline).toEqual(['start', 'done', 'start', 'done']);
  }, 90_000);

  it('a compute whose nova-compute never registers fails after NOVA_READY_TIMEOUT with the real text', async () => {
    // Something answers on 5672 that is not the rabbit stand-in, so the checks pass but nothing registers.
    const lost = await node('lost', {
      HOST_IP: COMPUTE_IP,
      SERVICE_HOST: CONTROLLER_IP,
      RABBIT_HOST: '127.0.0.1',
      ENABLED_SERVICES: 'n-cpu',
      NOVA_READY_TIMEOUT: '3',
    });
    const impostor = spawn('ip', ['netns', 'exec', ns.compute, 'setpriv', '--reuid', NOBODY, '--regid', NOBODY, '--clear-groups', '--', SERVICE, 'mysql', '5672', '--bind', '127.0.0.1'], { stdio: 'ignore', env: { PATH: SYSTEM_PATH, FAKE_DEVSTACK_DATA: join(lost, 'impostor') } });
    children.push(impostor);
    try {
      await until('the impostor on 5672', async () => {
        const probe = await execa('ip', ['netns', 'exec', ns.compute, 'bash', '-c', 'exec 3<>/dev/tcp/127.0.0.1/5672'], { reject: false });
        return probe.exitCode === 0 ? true : undefined;
      });
      const r = await stack(ns.compute, 'compute3', lost);
      expect(r.exitCode).toBe(1);
      expect(r.stdout).toContain("Didn't find service registered by hostname after 3 seconds\nError on exit");
    } finally {
      impostor.kill('SIGTERM');
    }
  }, 60_000);
});
