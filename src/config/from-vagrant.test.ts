import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { convertVagrantConfig, puppetKeyType, settleConversion, VAGRANT_KEYS, type Conversion } from './from-vagrant.js';
import { ConfigError, parseConfigText } from './load.js';
import { configSchema } from './schema.js';
import { checkRules } from './rules.js';

const fixture = (name: string) => fileURLToPath(new URL(`../../test/fixtures/vagrant/${name}`, import.meta.url));
const io = {
  // The CLI hashes with `openssl passwd -6` (tested end to end in test/cli.test.ts).
  hashPassword: async () => `$6$saltsalt$${'h'.repeat(86)}`,
  listProjects: async (tree: string) => (tree === './openstack' ? ['neutron', 'nova'] : undefined),
};

describe('devstack-vagrant conversion', () => {
  it('gives every key of a full devstack-vagrant config a home', async () => {
    const text = await readFile(fixture('config.yaml'), 'utf8');
    const keys = [...text.matchAll(/^([a-z_]+):/gm)].map((m) => m[1] as string);
    for (const key of keys) expect(VAGRANT_KEYS, key).toHaveProperty(key);
    const { config, notes } = await convertVagrantConfig(text, 'config.yaml', io);
    expect(config).toMatchObject({
      network: { mode: 'nat', cidr: '10.0.10.0/24' },
      nodes: [
        { name: 'controller', role: 'controller', hostname: 'manager.openstack.site', ip: '10.0.10.10', mac: '08:00:27:4a:50:8c' },
        { name: 'compute1', role: 'compute', hostname: 'compute.openstack.site', ip: '10.0.10.20', mac: '08:00:27:4a:50:8d' },
      ],
      stack_user: { ssh_public_keys: ['ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMYMUf4Hs7shDioCcAvWm2wsLr+oMVKsaUuE5wslALJk'] },
      devstack: {
        repo: 'https://git.example.org/openstack/devstack',
        branch: 'compute_err_exit',
        mode: 'devstack',
        services: { enable: ['s-proxy', 's-object', 's-container', 's-account', 'ldap'] },
        passwords: { admin: 'secretsecret', service: 'secretsecret', database: 'secretsecret', rabbit: 'secretsecret' },
        ip_version: 4,
        sources: { neutron: './openstack/neutron', nova: './openstack/nova' },
      },
      post_stack: { images: ['ubuntu-24.04', 'fedora-42', 'https://images.example.org/a.img', 'https://images.example.org/b.img'] },
      proxy: { http: 'http://10.0.10.30:8123/', https: 'http://10.0.10.30:8123/', no_proxy: '.mycompany.com,10.20.30.40' },
    });
    expect(config.stack_user).toEqual(expect.objectContaining({ password_hash: `$6$saltsalt$${'h'.repeat(86)}` }));
    expect(JSON.stringify(config.stack_user)).not.toContain('secretsecret');
    expect(notes.join('\n')).toMatch(/box_name: a Vagrant box cannot be used/);
    expect(notes.join('\n')).toMatch(/bridge_int: ignored since use_bridge is false/);
    const parsed = configSchema.safeParse(config);
    expect(parsed.success, JSON.stringify(parsed.error?.issues)).toBe(true);
    expect(checkRules(parsed.data!)).toEqual([]);
  });

  it('the shipped sample becomes a bridged two-node cluster and says what it left out', async () => {
    const { config, notes } = await convertVagrantConfig(await readFile(fixture('sample.yaml'), 'utf8'), 'sample.yaml', io);
    expect(config).toMatchObject({ network: { mode: 'bridged', bridge_interface: 'eth1' } });
    expect(config.stack_user).not.toHaveProperty('ssh_public_keys');
    expect(notes.join('\n')).toMatch(/stack_sshkey: still the sample placeholder/);
    const parsed = configSchema.safeParse(config);
    expect(parsed.success).toBe(true);
    expect(checkRules(parsed.data!)).toEqual([]);
  });

  it('setup_mode: grenade stays a valid config: devstack mode, and a note asking for the branch to upgrade from', async () => {
    const { config, notes } = await convertVagrantConfig('setup_mode: grenade\n', 'config.yaml', io);
    expect((config.devstack as Record<string, unknown> | undefined)?.mode).toBeUndefined();
    expect(notes).toContain('setup_mode: grenade needs the branch to upgrade from, which devstack-vagrant never named: set devstack.mode: grenade and devstack.grenade.from_branch (e.g. stable/2025.2) by hand; left as devstack mode');
    expect(configSchema.safeParse(config).success).toBe(true);
  });

  it('a file that is not YAML is refused with its position', async () => {
    await expect(convertVagrantConfig('a: [1\nb: 2', 'x.yaml', io)).rejects.toMatchObject({ code: 'VAGRANT_CONFIG_INVALID', message: expect.stringMatching(/^x\.yaml:\d+:\d+ YAML syntax/) });
  });
});

/** Real keys of each type (ssh-keygen), by type: the blob devstack-vagrant users put in stack_sshkey. */
async function publicKeys(): Promise<Map<string, string>> {
  const text = await readFile(fixture('public-keys.txt'), 'utf8');
  return new Map(text.split('\n').filter((l) => l && !l.startsWith('#')).map((l) => l.split(' ') as [string, string]));
}

/** The real validator, as `config validate` runs it on the written file (no agent, an empty HOME). */
async function validator() {
  const home = await mkdtemp(join(tmpdir(), 'dc-home-'));
  return async (config: Record<string, unknown>) => {
    try {
      await parseConfigText(stringify(config), { file: 'devcluster.yaml', baseDir: home, home, agentSocket: undefined });
      return [];
    } catch (error) {
      if (error instanceof ConfigError) return error.issues;
      throw error;
    }
  };
}

const vagrant = (lines: Record<string, string>) => Object.entries({ hostname_manager: 'manager', hostname_compute: 'compute', ...lines }).map(([k, v]) => `${k}: ${v}`).join('\n');

describe('stack_sshkey_type, as Puppet\'s ssh_authorized_key type takes it', () => {
  // lib/puppet/type/ssh_authorized_key.rb newproperty(:type): newvalues and aliasvalue.
  const rows: Array<[string | undefined, string]> = [
    [undefined, 'ssh-rsa'], // devstack-vagrant's Vagrantfile: conf["stack_sshkey_type"] || "rsa"
    ['rsa', 'ssh-rsa'],
    ['dsa', 'ssh-dss'],
    ['ed25519', 'ssh-ed25519'],
    ['ssh-rsa', 'ssh-rsa'],
    ['ssh-dss', 'ssh-dss'],
    ['ssh-ed25519', 'ssh-ed25519'],
    ['ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp256'],
    ['ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp384'],
    ['ecdsa-sha2-nistp521', 'ecdsa-sha2-nistp521'],
  ];
  it.each(rows)('stack_sshkey_type %s → an authorized key of type %s that validates', async (given, type) => {
    const blob = (await publicKeys()).get(type) as string;
    const text = vagrant({ stack_sshkey: blob, ...(given === undefined ? {} : { stack_sshkey_type: given }) });
    const converted = await convertVagrantConfig(text, 'config.yaml', io);
    const settled = await settleConversion(converted, 'config.yaml', await validator());
    expect(settled.config.stack_user).toEqual({ ssh_public_keys: [`${type} ${blob}`] });
    expect(settled.notes.join('\n')).not.toMatch(/stack_sshkey/);
    expect(await (await validator())(settled.config)).toEqual([]);
  });

  it('the aliases are exactly those of Puppet, including sshkeys_core\'s security-key ones', () => {
    expect(['rsa', 'dsa', 'ed25519', 'ecdsa-sk', 'ed25519-sk', 'ecdsa', 'ssh-ecdsa', 'RSA'].map(puppetKeyType)).toEqual([
      'ssh-rsa',
      'ssh-dss',
      'ssh-ed25519',
      'sk-ecdsa-sha2-nistp256@openssh.com',
      'sk-ssh-ed25519@openssh.com',
      undefined,
      undefined,
      undefined,
    ]);
  });

  it('a type Puppet refuses: the key is left out with a note naming stack_sshkey_type, and the rest validates', async () => {
    const blob = (await publicKeys()).get('ssh-ed25519') as string;
    const converted = await convertVagrantConfig(vagrant({ stack_sshkey: blob, stack_sshkey_type: 'ecdsa' }), 'config.yaml', io);
    expect(converted.config).not.toHaveProperty('stack_user');
    expect(converted.notes).toContainEqual(expect.stringMatching(/^stack_sshkey_type: "ecdsa" is not a key type Puppet's ssh_authorized_key accepts \(dsa, rsa, ed25519, ecdsa-sk, ed25519-sk, or a full name such as ssh-ed25519 or ecdsa-sha2-nistp256\); stack_sshkey left out: your ~\/\.ssh\/\*\.pub keys will be used$/));
    expect(await (await validator())(converted.config)).toEqual([]);
  });

  it('a type that does not match the key (rsa for an ed25519 key): left out, saying why', async () => {
    const blob = (await publicKeys()).get('ssh-ed25519') as string;
    const converted = await convertVagrantConfig(vagrant({ stack_sshkey: blob, stack_sshkey_type: 'rsa' }), 'config.yaml', io);
    expect(converted.config).not.toHaveProperty('stack_user');
    expect(converted.notes).toContainEqual(expect.stringMatching(/^stack_sshkey with stack_sshkey_type rsa: not an SSH public key \(.+\); left out/));
  });
});

describe('a converted config always validates', () => {
  it('a value devcluster refuses is left out, named by its devstack-vagrant key and field, and the rest is kept', async () => {
    // A devcluster.yaml needs 8 characters or more for a password (schema.ts); devstack-vagrant did not.
    const converted = await convertVagrantConfig(vagrant({ admin_password: 'short', service_password: 'longenough1', devstack_branch: 'stable/2025.2' }), 'config.yaml', io);
    const validate = await validator();
    expect((await validate(converted.config)).map((i) => i.path.join('.'))).toEqual(['devstack.passwords.admin']);
    const settled = await settleConversion(converted, 'config.yaml', validate);
    expect(await validate(settled.config)).toEqual([]);
    expect(settled.config.devstack).toEqual({ branch: 'stable/2025.2', passwords: { service: 'longenough1', database: 'longenough1', rabbit: 'longenough1' } });
    expect(settled.notes).toContainEqual(expect.stringMatching(/^admin_password: left out, devcluster refuses it as devstack\.passwords\.admin: .*8/));
    expect(converted.config.devstack).toHaveProperty('passwords.admin', 'short'); // the input is not changed
  });

  it('an issue no converted field causes (a bad --name) stops it: VAGRANT_CONFIG_INVALID naming the field', async () => {
    const converted: Conversion = await convertVagrantConfig(vagrant({}), 'config.yaml', io);
    converted.config.name = 'Not A Name';
    const error = await settleConversion(converted, 'config.yaml', await validator()).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'VAGRANT_CONFIG_INVALID', message: 'config.yaml cannot be converted into a valid devcluster.yaml; nothing was written' });
    expect((error as { details: string[] }).details).toEqual([expect.stringMatching(/^name: /)]);
  });
});
