/**
 * Serialised as YAML 1.1, which cloud-init's PyYAML reads: a MAC such as 52:54:00:00:00:21 or a word
 * such as "on" is then quoted, where YAML 1.2 output would leave it to be read as a number or a bool.
 *
 * The #cloud-config for one node: its names, /etc/hosts for the whole cluster, the stack user, the
 * SSH host key planned for it (so its fingerprint is known and pinned before it boots), no password
 * SSH, and the proxy. Built as data and serialised by the yaml library: nothing is spliced into text.
 */
import { stringify } from 'yaml';
import type { ClusterPlan, NodePlan } from '../plan/plan.js';

/** Where DevStack wants the stack user's home (DevStack's own create-stack-user.sh uses it too). */
export const STACK_HOME = '/opt/stack';

export function etcHosts(plan: ClusterPlan): string {
  const lines = [
    '# written by devcluster: every node of the cluster',
    '127.0.0.1 localhost',
    '::1 localhost ip6-localhost ip6-loopback',
    'ff02::1 ip6-allnodes',
    'ff02::2 ip6-allrouters',
    ...plan.nodes.map((n) => `${n.ip} ${n.hostname} ${n.shortHostname}`),
  ];
  return `${lines.join('\n')}\n`;
}

/** no_proxy for the nodes: what the user gave, plus loopback and every node's address and names. */
export function noProxy(plan: ClusterPlan): string {
  const extra = plan.proxy.no_proxy.split(',').map((s) => s.trim()).filter(Boolean);
  const own = ['localhost', '127.0.0.1', '::1', ...plan.nodes.flatMap((n) => [n.ip, n.hostname, n.shortHostname])];
  return [...new Set([...extra, ...own])].join(',');
}

function proxyEnvironment(plan: ClusterPlan): string | undefined {
  const { http, https } = plan.proxy;
  if (http === '' && https === '') return undefined;
  const lines: string[] = [];
  const add = (key: string, value: string) => lines.push(`${key}="${value}"`, `${key.toUpperCase()}="${value}"`);
  if (http !== '') add('http_proxy', http);
  if (https !== '') add('https_proxy', https);
  add('no_proxy', noProxy(plan));
  return `${lines.join('\n')}\n`;
}

export function userDataObject(plan: ClusterPlan, node: NodePlan): Record<string, unknown> {
  const user: Record<string, unknown> = {
    name: plan.stackUser.name,
    gecos: 'DevStack (devcluster)',
    homedir: STACK_HOME,
    shell: '/bin/bash',
    sudo: 'ALL=(ALL) NOPASSWD:ALL',
    lock_passwd: plan.stackUser.passwordHash === undefined,
    ssh_authorized_keys: plan.stackUser.authorizedKeys,
  };
  if (plan.stackUser.passwordHash !== undefined) user.passwd = plan.stackUser.passwordHash;

  const writeFiles: Array<Record<string, unknown>> = [{ path: '/etc/hosts', permissions: '0644', owner: 'root:root', content: etcHosts(plan) }];
  const environment = proxyEnvironment(plan);
  if (environment !== undefined) writeFiles.push({ path: '/etc/environment', append: true, content: environment });

  const data: Record<string, unknown> = {
    hostname: node.shortHostname,
    fqdn: node.hostname,
    prefer_fqdn_over_hostname: false,
    preserve_hostname: false,
    manage_etc_hosts: false,
    users: [user],
    disable_root: true,
    ssh_pwauth: false,
    // Only the planned host key: every other key is removed, and the one type left to generate is
    // the planned key's, which exists — so the fingerprint devcluster pins is the only one shown.
    ssh_deletekeys: true,
    ssh_genkeytypes: [node.hostKey.type.replace(/^ssh-/, '')],
    ssh_keys: {
      [`${node.hostKey.type.replace(/^ssh-/, '')}_private`]: node.hostKey.private,
      [`${node.hostKey.type.replace(/^ssh-/, '')}_public`]: node.hostKey.public,
    },
    write_files: writeFiles,
    growpart: { mode: 'auto', devices: ['/'] },
    resize_rootfs: true,
    package_update: false,
    package_upgrade: false,
    runcmd: [['chmod', '0755', STACK_HOME]],
  };
  if (plan.proxy.http !== '' || plan.proxy.https !== '') {
    const apt: Record<string, string> = {};
    if (plan.proxy.http !== '') apt.http_proxy = plan.proxy.http;
    if (plan.proxy.https !== '') apt.https_proxy = plan.proxy.https;
    data.apt = apt;
  }
  return data;
}

export function renderUserData(plan: ClusterPlan, node: NodePlan): string {
  return `#cloud-config\n${stringify(userDataObject(plan, node), { lineWidth: 0, version: '1.1' })}`;
}
