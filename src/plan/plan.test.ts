import { tmpdir } from 'node:os';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { parseConfigText } from '../config/load.js';
import { completeSecrets } from '../state/secrets.js';
import { buildPlan } from './plan.js';
import { planView, redactPlan } from './redact.js';

const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMYMUf4Hs7shDioCcAvWm2wsLr+oMVKsaUuE5wslALJk alice@example';

async function planOf(text: string) {
  const loaded = await parseConfigText(text, { file: 'devcluster.yaml', baseDir: tmpdir(), home: tmpdir(), agentSocket: undefined });
  const secrets = completeSecrets(loaded.config.name, loaded.config.nodes.map((n) => n.name));
  return { plan: buildPlan(loaded.config, loaded.userKeys, secrets), secrets };
}

describe('the plan', () => {
  it('resolves the default cluster: roles, addresses, sizes, names, services', async () => {
    const { plan } = await planOf('');
    expect(plan.controller).toBe('controller');
    expect(plan.nodes.map((n) => [n.name, n.role, n.hostname, n.ip, n.cpus, n.memoryBytes / 2 ** 30, n.diskBytes / 2 ** 30, n.resourcePrefix])).toEqual([
      ['controller', 'controller', 'controller.dev.test', '192.168.150.10', 4, 8, 40, 'dc-dev-controller'],
      ['compute1', 'compute', 'compute1.dev.test', '192.168.150.11', 2, 4, 20, 'dc-dev-compute1'],
    ]);
    expect(plan.network).toMatchObject({ gateway: '192.168.150.1', netmask: '255.255.255.0', resourceName: 'dc-dev' });
    expect(plan.devstack.services.controller).toContain('c-api');
  });

  it('pins a distinct host key per node and authorizes the user\'s keys and the cluster key', async () => {
    const { plan, secrets } = await planOf(`stack_user:\n  ssh_public_keys: ["${KEY}"]\n`);
    const [a, b] = plan.nodes;
    expect(a?.hostKey.fingerprint).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
    expect(a?.hostKey.fingerprint).not.toBe(b?.hostKey.fingerprint);
    expect(a?.hostKey.public).toBe(secrets.host_keys.controller?.public);
    expect(plan.stackUser.authorizedKeys).toEqual([KEY, secrets.cluster_key.public]);
  });

  it('takes passwords from the config over the generated ones', async () => {
    const { plan, secrets } = await planOf('devstack:\n  passwords:\n    admin: myAdminPass1\n');
    expect(plan.devstack.passwords.admin).toBe('myAdminPass1');
    expect(plan.devstack.passwords.service).toBe(secrets.passwords.service);
  });

  it('shown redacted, holds no private key, password, hash or proxy credential', async () => {
    const hash = `$6$saltsalt$${'h'.repeat(86)}`;
    const { plan } = await planOf(`stack_user: { password_hash: "${hash}" }\nproxy: { http: "http://u:pw@proxy:3128/" }\n`);
    const text = stringify(planView(redactPlan(plan)));
    expect(text).not.toContain('PRIVATE KEY');
    expect(text).not.toContain(hash);
    expect(text).not.toContain('u:pw@');
    for (const password of Object.values(plan.devstack.passwords)) expect(text).not.toContain(password);
    expect(text).toContain('memory: 8GiB');
  });
});
