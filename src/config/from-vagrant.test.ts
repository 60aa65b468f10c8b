import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { convertVagrantConfig, VAGRANT_KEYS } from './from-vagrant.js';
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
