import { execFileSync } from 'node:child_process';
import { mkdtempSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../config/load.js';
import { completeSecrets } from '../state/secrets.js';
import { buildPlan } from '../plan/plan.js';
import { maskSecrets } from '../ssh/session.js';
import { parseMetaSections, renderLocalConf } from './local-conf.js';
import { secretsOf } from './provision.js';

async function planOf(text: string) {
  const loaded = await parseConfigText(text, { file: 'devcluster.yaml', baseDir: tmpdir(), home: tmpdir(), agentSocket: undefined });
  return buildPlan(loaded.config, loaded.userKeys, completeSecrets(loaded.config.name, loaded.config.nodes.map((n) => n.name)));
}

/** What bash sees after sourcing the localrc section, as stack.sh does. */
function sourceLocalrc(conf: string, names: string[]): Record<string, string> {
  const localrc = parseMetaSections(conf).find((s) => s.header === '[[local|localrc]]')?.lines.join('\n') ?? '';
  const script = `enable_plugin() { PLUGINS+="$*;"; }\nPLUGINS=\n${localrc}\n${names.map((n) => `printf '%s=%s\\0' ${n} "\${${n}-}"`).join('\n')}`;
  const out = execFileSync('bash', ['-c', script], { encoding: 'utf8' });
  return Object.fromEntries(out.split('\0').filter(Boolean).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
}

const THREE = `nodes:
  - { name: controller, role: controller }
  - { name: compute1, role: compute }
  - { name: compute2, role: compute }
`;

describe('local.conf', () => {
  it('controller and compute variants carry their role\'s values, as bash reads them', async () => {
    const plan = await planOf(`${THREE}devstack:\n  plugins: [{ name: designate, url: https://opendev.org/openstack/designate, ref: master }]\n  journal: true\n`);
    const [controller, compute1] = plan.nodes as [NonNullable<(typeof plan.nodes)[0]>, NonNullable<(typeof plan.nodes)[0]>];
    const c = sourceLocalrc(renderLocalConf(plan, controller, { libvirtType: 'qemu' }), ['HOST_IP', 'SERVICE_HOST', 'ENABLED_SERVICES', 'ADMIN_PASSWORD', 'LIBVIRT_TYPE', 'USE_JOURNAL', 'FIXED_RANGE', 'PLUGINS', 'MYSQL_HOST']);
    expect(c).toMatchObject({ HOST_IP: '192.168.150.10', SERVICE_HOST: '192.168.150.10', LIBVIRT_TYPE: 'qemu', USE_JOURNAL: 'True', FIXED_RANGE: '10.1.0.0/20', MYSQL_HOST: '' });
    expect(c.ADMIN_PASSWORD).toBe(plan.devstack.passwords.admin);
    expect(c.ENABLED_SERVICES?.split(',')).toEqual(expect.arrayContaining(['mysql', 'rabbit', 'key', 'n-api', 'n-cpu', 'c-api']));
    expect(c.PLUGINS).toBe('designate https://opendev.org/openstack/designate master;');
    const k = sourceLocalrc(renderLocalConf(plan, compute1, { libvirtType: 'kvm' }), ['HOST_IP', 'SERVICE_HOST', 'MYSQL_HOST', 'RABBIT_HOST', 'GLANCE_HOSTPORT', 'ENABLED_SERVICES', 'LIBVIRT_TYPE', 'VNCSERVER_LISTEN', 'PLUGINS', 'DATABASE_PASSWORD']);
    expect(k).toMatchObject({ HOST_IP: '192.168.150.11', SERVICE_HOST: '192.168.150.10', MYSQL_HOST: '192.168.150.10', RABBIT_HOST: '192.168.150.10', GLANCE_HOSTPORT: '192.168.150.10:9292', LIBVIRT_TYPE: 'kvm', VNCSERVER_LISTEN: '192.168.150.11', PLUGINS: '' });
    expect(k.ENABLED_SERVICES?.split(',')).not.toContain('mysql');
    expect(k.ENABLED_SERVICES?.split(',')).toContain('n-cpu');
    expect(k.DATABASE_PASSWORD).toBe(plan.devstack.passwords.database);
  });

  it('extra text with shell metacharacters arrives intact and executes nothing', async () => {
    const marker = join(mkdtempSync(join(tmpdir(), 'dc-lc-')), 'ran');
    const extra = `EXTRA_OPTS='$(touch ${marker}) \`x\` $HOME'\n[[post-config|$NOVA_CONF]]\n[DEFAULT]\ndebug = True\n`;
    const plan = await planOf(`devstack:\n  passwords: { admin: Secret123 }\n  local_conf:\n    controller: ${JSON.stringify(extra)}\n`);
    const conf = renderLocalConf(plan, plan.nodes[0] as (typeof plan.nodes)[0] & object, { libvirtType: 'qemu' });
    const seen = sourceLocalrc(conf, ['ADMIN_PASSWORD', 'EXTRA_OPTS']);
    expect(seen.ADMIN_PASSWORD).toBe('Secret123');
    expect(seen.EXTRA_OPTS).toBe(`$(touch ${marker}) \`x\` $HOME`);
    expect(existsSync(marker)).toBe(false);
    expect(conf).toContain('[[post-config|$NOVA_CONF]]\n[DEFAULT]\ndebug = True\n');
  });

  it('every value stack.sh would prompt for is set on every node, from the secrets', async () => {
    const plan = await planOf(THREE);
    const names = ['DATABASE_PASSWORD', 'RABBIT_PASSWORD', 'SERVICE_PASSWORD', 'ADMIN_PASSWORD', 'LDAP_PASSWORD', 'SWIFT_HASH', 'SWIFT_TEMPURL_KEY'];
    for (const node of plan.nodes) {
      const seen = sourceLocalrc(renderLocalConf(plan, node, { libvirtType: 'qemu' }), names);
      expect(seen.SWIFT_HASH).toBe(plan.devstack.passwords.swift_hash);
      expect(seen.SWIFT_TEMPURL_KEY).toBe(plan.devstack.passwords.swift_tempurl_key);
      expect(seen.LDAP_PASSWORD).toBe(plan.devstack.passwords.ldap);
      for (const name of names) expect(seen[name], `${node.name} ${name}`).toMatch(/^[A-Za-z0-9]{8,}$/);
    }
    // Masked in logs like the passwords: a session masks every value of secretsOf(plan).
    const logged = maskSecrets(renderLocalConf(plan, plan.nodes[0] as (typeof plan.nodes)[0] & object, { libvirtType: 'qemu' }), secretsOf(plan));
    for (const value of Object.values(plan.devstack.passwords)) expect(logged).not.toContain(value);
    expect(logged).toContain('SWIFT_HASH=******');
  });

  it("the user's localrc lines come after ours, so theirs win; sections merge by header", async () => {
    const plan = await planOf(`devstack:\n  local_conf:\n    compute: "LIBVIRT_TYPE=kvm\\n[[post-config|/etc/nova/nova.conf]]\\n[libvirt]\\ncpu_mode = none\\n[[local|localrc]]\\nRECLONE=True\\n"\n`);
    const compute = plan.nodes[1] as (typeof plan.nodes)[0] & object;
    const conf = renderLocalConf(plan, compute, { libvirtType: 'qemu' });
    expect(sourceLocalrc(conf, ['LIBVIRT_TYPE', 'RECLONE'])).toEqual({ LIBVIRT_TYPE: 'kvm', RECLONE: 'True' });
    expect(conf.match(/\[\[local\|localrc\]\]/g)).toHaveLength(1);
    expect(conf).toMatch(/\[\[post-config\|\/etc\/nova\/nova.conf\]\]\n\[libvirt\]\ncpu_mode = none\n$/);
    // The controller gets none of the compute text.
    expect(renderLocalConf(plan, plan.nodes[0] as typeof compute, { libvirtType: 'qemu' })).not.toContain('cpu_mode');
  });

  it('plugins and URL sources follow devstack.branch, or master when that is a change of DevStack itself', async () => {
    const ofBranch = async (branch: string) => {
      const plan = await planOf(`devstack:\n  branch: ${branch}\n  layer: 3\n  sources: { nova: https://example.org/nova }\n`);
      return sourceLocalrc(renderLocalConf(plan, plan.nodes[0] as (typeof plan.nodes)[0] & object, { libvirtType: 'qemu' }), ['PLUGINS', 'NOVA_BRANCH']);
    };
    expect(await ofBranch('stable/2025.2')).toEqual({
      PLUGINS: 'barbican https://opendev.org/openstack/barbican stable/2025.2;ceilometer https://opendev.org/openstack/ceilometer stable/2025.2;',
      NOVA_BRANCH: 'stable/2025.2',
    });
    expect(await ofBranch('refs/changes/12/912/3')).toEqual({
      PLUGINS: 'barbican https://opendev.org/openstack/barbican master;ceilometer https://opendev.org/openstack/ceilometer master;',
      NOVA_BRANCH: 'master',
    });
  });

  it('sources: the variables stackrc reads, a Gerrit change from the project\'s own namespace, libraries through LIBS_FROM_GIT', async () => {
    const plan = await planOf(
      `devstack:\n  plugins: [{ name: networking-foo, url: https://opendev.org/x/networking-foo }]\n` +
        `  sources: { nova: refs/changes/50/5050/1, oslo.policy: https://example.org/oslo.policy, python-novaclient: refs/changes/61/661/2, networking-foo: refs/changes/77/777/3 }\n`,
    );
    const conf = renderLocalConf(plan, plan.nodes[0] as (typeof plan.nodes)[0] & object, { libvirtType: 'qemu' });
    expect(sourceLocalrc(conf, ['NOVA_REPO', 'NOVA_BRANCH', 'OSLOPOLICY_REPO', 'OSLOPOLICY_BRANCH', 'NOVACLIENT_REPO', 'NOVACLIENT_BRANCH', 'LIBS_FROM_GIT', 'PLUGINS'])).toEqual({
      NOVA_REPO: 'https://review.opendev.org/openstack/nova',
      NOVA_BRANCH: 'refs/changes/50/5050/1',
      OSLOPOLICY_REPO: 'https://example.org/oslo.policy',
      OSLOPOLICY_BRANCH: 'master',
      NOVACLIENT_REPO: 'https://review.opendev.org/openstack/python-novaclient',
      NOVACLIENT_BRANCH: 'refs/changes/61/661/2',
      LIBS_FROM_GIT: 'oslo.policy,python-novaclient',
      PLUGINS: 'networking-foo https://review.opendev.org/x/networking-foo refs/changes/77/777/3;',
    });
  });
});
