/**
 * Seeds checked by the real consumers: Debian's cloud-init (`cloud-init schema`), PyYAML (which
 * cloud-init parses with) and xorriso reading the ISO back.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chmod, mkdtemp, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { parseConfigText } from '../config/load.js';
import { completeSecrets } from '../state/secrets.js';
import { buildPlan, type ClusterPlan } from '../plan/plan.js';
import { renderSeed } from './seed.js';
import { findIsoTool, writeSeedIso } from './seed-iso.js';

const HASH = '$6$abcdefgh$ltjgWl6579NluT/Vi1nwEvcil.G5Nbc4NiXZaNGStk8PSwGfQv72N2CKPPrVACtLtip/cZ/1GM/O6IND4WQhG.';

async function planOf(text: string): Promise<ClusterPlan> {
  const loaded = await parseConfigText(text, { file: 'devcluster.yaml', baseDir: tmpdir(), home: tmpdir(), agentSocket: undefined });
  return buildPlan(loaded.config, loaded.userKeys, completeSecrets(loaded.config.name, loaded.config.nodes.map((n) => n.name)));
}

/** Parse YAML the way cloud-init does: PyYAML's safe_load, returned as JSON. */
function pyyaml(text: string): Record<string, unknown> {
  const out = execFileSync('python3', ['-c', 'import sys, json, yaml; print(json.dumps(yaml.safe_load(sys.stdin.read())))'], { input: text });
  return JSON.parse(out.toString()) as Record<string, unknown>;
}

async function schemaCheck(userData: string): Promise<{ status: number | null; output: string }> {
  const file = join(await mkdtemp(join(tmpdir(), 'dc-ud-')), 'user-data');
  await writeFile(file, userData);
  const result = spawnSync('cloud-init', ['schema', '--config-file', file], { encoding: 'utf8' });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

const CONFIGS: Record<string, string> = {
  'default NAT cluster': '',
  'password hash and proxy with & and quotes-free query': `stack_user: { password_hash: "${HASH}" }\nproxy: { http: "http://proxy.example:3128/?a=1&b=2", https: "http://proxy.example:3128/", no_proxy: ".corp.example" }\n`,
  'bridged with three nodes': 'network: { mode: bridged, bridge_interface: br0 }\nnodes:\n  - { name: controller, role: controller }\n  - { name: compute1, role: compute }\n  - { name: compute2, role: compute, mac: "52:54:00:00:00:21" }\n',
};

describe('cloud-init seeds', () => {
  for (const [what, config] of Object.entries(CONFIGS)) {
    it(`every node's user-data passes cloud-init schema: ${what}`, async () => {
      const plan = await planOf(config);
      for (const node of plan.nodes) {
        const seed = renderSeed(plan, node);
        expect(seed['user-data'].startsWith('#cloud-config\n')).toBe(true);
        const check = await schemaCheck(seed['user-data']);
        expect(check.output).toContain('Valid cloud-config');
        expect(check.status, check.output).toBe(0);
      }
    });
  }

  it('a deliberately broken user-data fails cloud-init schema', async () => {
    const plan = await planOf('');
    const broken = renderSeed(plan, plan.nodes[0]!)['user-data'].replace('ssh_pwauth: false', 'ssh_pwauth: [not, a, bool]');
    const check = await schemaCheck(broken);
    expect(check.status).not.toBe(0);
    expect(check.output).toContain('ssh_pwauth');
  });

  it('user-data carries names, hosts, the stack user, the planned host key, and no password SSH', async () => {
    const plan = await planOf(`stack_user: { password_hash: "${HASH}" }\n`);
    const node = plan.nodes[1]!;
    const data = pyyaml(renderSeed(plan, node)['user-data']);
    expect(data).toMatchObject({ hostname: 'compute1', fqdn: 'compute1.dev.test', ssh_pwauth: false, ssh_deletekeys: true, ssh_genkeytypes: ['ed25519'] });
    expect(data.users).toEqual([
      expect.objectContaining({ name: 'stack', passwd: HASH, lock_passwd: false, sudo: 'ALL=(ALL) NOPASSWD:ALL', shell: '/bin/bash', ssh_authorized_keys: plan.stackUser.authorizedKeys }),
    ]);
    expect(data.ssh_keys).toEqual({ ed25519_private: node.hostKey.private, ed25519_public: node.hostKey.public });
    const hosts = (data.write_files as Array<{ path: string; content: string }>).find((f) => f.path === '/etc/hosts')?.content ?? '';
    expect(hosts).toContain('192.168.150.10 controller.dev.test controller');
    expect(hosts).toContain('192.168.150.11 compute1.dev.test compute1');
  });

  it('without a hash, password login stays locked', async () => {
    const plan = await planOf('');
    const users = pyyaml(renderSeed(plan, plan.nodes[0]!)['user-data']).users as Array<Record<string, unknown>>;
    expect(users[0]).toMatchObject({ lock_passwd: true });
    expect(users[0]).not.toHaveProperty('passwd');
  });

  it('proxy settings reach /etc/environment and apt intact, with the cluster in no_proxy', async () => {
    const plan = await planOf(CONFIGS['password hash and proxy with & and quotes-free query']!);
    const data = pyyaml(renderSeed(plan, plan.nodes[0]!)['user-data']);
    expect(data.apt).toEqual({ http_proxy: 'http://proxy.example:3128/?a=1&b=2', https_proxy: 'http://proxy.example:3128/' });
    const env = (data.write_files as Array<{ path: string; content: string; append?: boolean }>).find((f) => f.path === '/etc/environment');
    expect(env?.append).toBe(true);
    expect(env?.content).toContain('http_proxy="http://proxy.example:3128/?a=1&b=2"');
    expect(env?.content).toMatch(/^no_proxy=".corp.example,localhost,127\.0\.0\.1,::1,192\.168\.150\.10,controller\.dev\.test,controller,/m);
  });

  it('network-config: NAT gives a static address on the MAC-matched NIC with gateway and DNS', async () => {
    const plan = await planOf('nodes:\n  - { name: controller, role: controller, mac: "52:54:00:00:00:21" }\n');
    const net = pyyaml(renderSeed(plan, plan.nodes[0]!)['network-config']);
    // PyYAML (YAML 1.1) would read an unquoted 52:54:00:00:00:21 as a base-60 number.
    expect(net).toEqual({
      version: 2,
      ethernets: {
        cluster0: {
          match: { macaddress: '52:54:00:00:00:21' },
          dhcp4: false,
          addresses: ['192.168.150.10/24'],
          routes: [{ to: '0.0.0.0/0', via: '192.168.150.1' }],
          nameservers: { addresses: ['192.168.150.1'] },
        },
      },
    });
  });

  it('network-config: bridged takes DHCP (and the default route) on the bridged NIC and keeps a static management NIC', async () => {
    const plan = await planOf(CONFIGS['bridged with three nodes']!);
    const node = plan.nodes[2]!;
    const net = pyyaml(renderSeed(plan, node)['network-config']) as { ethernets: Record<string, Record<string, unknown>> };
    expect(net.ethernets.management0).toEqual({ match: { macaddress: node.nics[0]!.mac }, dhcp4: false, addresses: ['192.168.150.12/24'] });
    expect(net.ethernets.bridged1).toEqual({ match: { macaddress: '52:54:00:00:00:21' }, dhcp4: true });
    expect(node.nics[1]).toMatchObject({ promiscuous: true, defaultRoute: true });
  });

  it('meta-data: the instance-id changes exactly when the seed content changes', async () => {
    const plan = await planOf('');
    const node = plan.nodes[0]!;
    const id = (p: ClusterPlan) => pyyaml(renderSeed(p, p.nodes[0]!)['meta-data'])['instance-id'];
    expect(id(plan)).toBe(id(plan));
    expect(id(plan)).toMatch(/^dc-dev-controller-[0-9a-f]{12}$/);
    expect(id({ ...plan, proxy: { ...plan.proxy, http: 'http://p:1/' } })).not.toBe(id(plan));
    expect(pyyaml(renderSeed(plan, node)['meta-data'])['local-hostname']).toBe('controller');
  });

  it('the seed ISO is labelled cidata, holds the three files, and is 0600', async () => {
    const plan = await planOf('');
    const seed = renderSeed(plan, plan.nodes[0]!);
    const dir = await mkdtemp(join(tmpdir(), 'dc-iso-'));
    const iso = join(dir, 'seed.iso');
    await writeSeedIso(seed, iso);
    expect((await stat(iso)).mode & 0o777).toBe(0o600);
    const info = execFileSync('xorriso', ['-indev', iso, '-pvd_info'], { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
    expect(info).toMatch(/Volume Id\s*:\s*cidata/);
    const out = join(dir, 'x');
    execFileSync('xorriso', ['-osirrox', 'on', '-indev', iso, '-extract', '/', out], { stdio: 'ignore' });
    for (const name of ['user-data', 'meta-data', 'network-config'] as const) {
      expect(await readFile(join(out, name), 'utf8')).toBe(seed[name]);
    }
  });

  it('with no ISO tool on PATH, the error names the package to install', async () => {
    await expect(findIsoTool('/nonexistent')).rejects.toMatchObject({ code: 'HOST_TOOL_MISSING', hint: expect.stringContaining('apt-get install xorriso') });
  });

  it('an ISO tool that fails is SEED_FAILED naming the seed and showing the tool\'s output; no partial ISO is left', async () => {
    const bin = await mkdtemp(join(tmpdir(), 'dc-bin-'));
    await writeFile(join(bin, 'xorriso'), '#!/bin/sh\necho "xorriso : FAILURE : Cannot write: No space left on device" >&2\nexit 5\n');
    await chmod(join(bin, 'xorriso'), 0o755);
    vi.stubEnv('PATH', `${bin}:${process.env.PATH ?? ''}`);
    try {
      const plan = await planOf('');
      const dir = await mkdtemp(join(tmpdir(), 'dc-iso-'));
      const iso = join(dir, 'seed.iso');
      const error = await writeSeedIso(renderSeed(plan, plan.nodes[0]!), iso).then(() => undefined, (e: unknown) => e);
      expect(error).toMatchObject({
        code: 'SEED_FAILED',
        message: `the cloud-init seed ${iso} could not be made: xorriso exited with 5`,
        details: ['xorriso : FAILURE : Cannot write: No space left on device'],
        hint: expect.stringContaining(`check that ${dir} is writable`),
      });
      expect(await readdir(dir)).toEqual([]);
    } finally {
      vi.unstubAllEnvs();
    }
  });
});
