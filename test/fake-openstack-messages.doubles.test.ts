/**
 * The fake DevStack's `openstack` stand-in (test/fixtures/fake-devstack/fake/openstack) prints what
 * the REAL python-openstackclient prints, for the outcomes devcluster's scripts meet: each scenario
 * runs through both — the real client (Debian's python3-openstackclient) against the OpenStack API
 * stand-in (test/doubles/openstack-api, whose bodies and status codes follow the servers), the fake
 * on its own state — and the exit code and stderr must be equal, up to IDs.
 * Needs root (ip netns) and python3-openstackclient (test/setup-host.sh installs it).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKeyPair } from '../src/state/secrets.js';
import { startOpenstackApiLocal, type OpenstackApi } from './support/openstack-api.js';

const FAKE_OPENSTACK = fileURLToPath(new URL('./fixtures/fake-devstack/fake/openstack', import.meta.url));
const REAL_OPENSTACK = '/usr/bin/openstack';
const IP = '10.0.0.10';
const PASSWORD = 'Secret123';
const SYSTEM_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const AUTH = { OS_AUTH_URL: `http://${IP}/identity`, OS_USERNAME: 'admin', OS_PROJECT_NAME: 'admin', OS_PASSWORD: PASSWORD, OS_USER_DOMAIN_ID: 'default', OS_PROJECT_DOMAIN_ID: 'default' };

const id = randomBytes(3).toString('hex');
const netns = `dcfm-${id}`;
const work = mkdtempSync(join(tmpdir(), 'dc-fakemsg-'));
chmodSync(work, 0o755);
let api: OpenstackApi | undefined;

interface Outcome {
  code: number | null;
  stderr: string;
  stdout: string;
}

function real(args: string[], env: Record<string, string> = AUTH): Outcome {
  const r = spawnSync('ip', ['netns', 'exec', netns, 'env', '-i', `PATH=${SYSTEM_PATH}`, `HOME=${work}`, ...Object.entries(env).map(([k, v]) => `${k}=${v}`), REAL_OPENSTACK, ...args], { encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, stderr: r.stderr.trim(), stdout: r.stdout.trim() };
}

function fake(args: string[], env: Record<string, string> = AUTH): Outcome {
  const r = spawnSync(FAKE_OPENSTACK, args, { encoding: 'utf8', env: { PATH: SYSTEM_PATH, FAKE_DEVSTACK_DATA: join(work, 'fake'), FAKE_OPENSTACK_OFFLINE: '1', ...env }, timeout: 60_000 });
  return { code: r.status, stderr: r.stderr.trim(), stdout: r.stdout.trim() };
}

/** IDs and UUIDs differ between the two clouds. */
const normal = (o: Outcome) => ({ code: o.code, stderr: o.stderr.replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|\b[0-9a-f]{32}\b/g, '<ID>') });

beforeAll(async () => {
  if (process.getuid?.() !== 0) throw new Error('this test needs root (ip netns)');
  if (spawnSync(REAL_OPENSTACK, ['--version']).status !== 0) {
    throw new Error(`this test needs the real client at ${REAL_OPENSTACK}: apt-get install -y --no-install-recommends python3-openstackclient (test/setup-host.sh does)`);
  }
  execFileSync('ip', ['netns', 'add', netns]);
  execFileSync('ip', ['-n', netns, 'link', 'set', 'lo', 'up']);
  execFileSync('ip', ['-n', netns, 'addr', 'add', `${IP}/32`, 'dev', 'lo']);
  api = await startOpenstackApiLocal({ netns, address: IP, password: PASSWORD });
  const init = fake(['init', '--admin-password', PASSWORD, '--auth-url', `http://${IP}/identity`, '--hostname', 'controller', '--enabled-services', 'mysql']);
  expect(init.code, init.stderr).toBe(0);
  writeFileSync(join(work, 'key.pub'), `${generateKeyPair('fake-vs-real').public}\n`);
}, 120_000);

afterAll(async () => {
  await api?.stop();
  spawnSync('ip', ['netns', 'del', netns]);
  rmSync(work, { recursive: true, force: true });
});

describe('the fake openstack client says what the real one says', () => {
  it('a missing keypair and a missing image: openstacksdk resource.find\'s "No Keypair/Image found for NAME", exit 1', () => {
    for (const args of [['keypair', 'show', 'nokey'], ['image', 'show', 'noimage']]) {
      const r = real(args);
      expect(r.stderr).toMatch(/^No (Keypair|Image) found for no(key|image)$/);
      expect(normal(fake(args)), args.join(' ')).toEqual(normal(r));
    }
  });

  it('a keypair created twice: the second fails the same way', () => {
    const args = ['keypair', 'create', '--public-key', join(work, 'key.pub'), 'twice'];
    expect(real(args).code).toBe(0);
    expect(fake(args).code).toBe(0);
    const r = real(args);
    expect(r.code).toBe(1);
    expect(normal(fake(args))).toEqual(normal(r));
  });

  it("as admin the group name `default` is ambiguous (every project has one): the same refusal", () => {
    const args = ['security', 'group', 'rule', 'create', '--protocol', 'tcp', '--dst-port', '22', 'default'];
    const r = real(args);
    expect(r.code).toBe(1);
    expect(normal(fake(args))).toEqual(normal(r));
  });

  it('a rule created twice in one group: the second fails the same way (Neutron SecurityGroupRuleExists)', () => {
    const group = (run: typeof real) => run(['security', 'group', 'list', '--project', 'admin', '-f', 'value', '-c', 'ID']).stdout.split('\n')[0] as string;
    const rg = group(real);
    const fg = group(fake);
    expect(rg).toMatch(/^[0-9a-f-]{32,36}$/);
    expect(real(['security', 'group', 'rule', 'create', '--protocol', 'icmp', rg]).code).toBe(0);
    expect(fake(['security', 'group', 'rule', 'create', '--protocol', 'icmp', fg]).code).toBe(0);
    const r = real(['security', 'group', 'rule', 'create', '--protocol', 'icmp', rg]);
    expect(r.code).toBe(1);
    expect(normal(fake(['security', 'group', 'rule', 'create', '--protocol', 'icmp', fg]))).toEqual(normal(r));
  });
});
