/**
 * Converting a devstack-vagrant config.yaml into devcluster.yaml. Every key of devstack-vagrant's
 * config.yaml.sample (and of its Vagrantfile and Puppet facts) has a home here or a reason why
 * devcluster does not need it; the notes say which.
 */
import { parseDocument } from 'yaml';
import { DevclusterError } from '../errors.js';
import { IMAGE_NAMES } from './catalog-names.js';
import { formatPath, type ConfigIssue, type FieldPath } from './issue.js';
import { parsePublicKey } from './ssh-keys.js';

export interface ConversionIO {
  /** crypt(3) hash for stack_password (the plaintext is never written). */
  hashPassword(password: string): Promise<string>;
  /** Project folders inside local_openstack_tree (those holding a .git), or undefined if it is not there. */
  listProjects(tree: string): Promise<string[] | undefined>;
}

export interface Conversion {
  config: Record<string, unknown>;
  /** What changed meaning or could not be carried, one line each, naming the devstack-vagrant key. */
  notes: string[];
}

/** Every key devstack-vagrant reads, and where it goes. */
export const VAGRANT_KEYS: Record<string, string> = {
  hostname_manager: 'nodes[controller].hostname',
  hostname_compute: 'nodes[compute1].hostname (no compute node when unset, as in devstack-vagrant)',
  user_domains: 'proxy.no_proxy',
  stack_password: 'stack_user.password_hash (hashed with openssl passwd -6)',
  service_password: 'devstack.passwords.service, .database and .rabbit',
  admin_password: 'devstack.passwords.admin',
  stack_sshkey: 'stack_user.ssh_public_keys',
  stack_sshkey_type: 'stack_user.ssh_public_keys (the key type)',
  setup_mode: 'devstack.mode',
  bridge_int: 'network.bridge_interface',
  use_bridge: 'network.mode (bridged unless false, as in devstack-vagrant)',
  use_ip_resolver: 'not needed: devcluster gives every node a static address',
  ip_address_manager: 'nodes[controller].ip',
  ip_address_compute: 'nodes[compute1].ip',
  mac_address_manager: 'nodes[controller].mac',
  mac_address_compute: 'nodes[compute1].mac',
  box_name: 'image (a Vagrant box is not a cloud image: ubuntu-24.04 is used)',
  box_url: 'image (a Vagrant box is not a cloud image: ubuntu-24.04 is used)',
  vagrant_username: 'not needed: devcluster creates the stack user through cloud-init',
  devstack_git: 'devstack.repo',
  devstack_branch: 'devstack.branch',
  proxy: 'proxy.http and proxy.https',
  use_ldap: 'devstack.services.enable: [ldap]',
  guest_interface_default: 'not needed: devcluster matches the NIC by its MAC',
  host_ip_iface: 'not needed: devcluster sets HOST_IP from the plan',
  ip_version: 'devstack.ip_version',
  extra_images: 'post_stack.images',
  manager_extra_services: 'devstack.services.enable',
  local_openstack_tree: 'devstack.sources (one entry per project folder)',
};

const SAMPLE_KEY_PLACEHOLDER = 'the_ssh_public_key_you_want_for_your_stack_user';

/**
 * stack_sshkey_type as devstack-vagrant used it: its Vagrantfile passes
 * `conf["stack_sshkey_type"] || "rsa"` as a Puppet fact, and puppet/modules/user/manifests/create.pp
 * gives it to `ssh_authorized_key { type => $key_type }`. Puppet's type (lib/puppet/type/
 * ssh_authorized_key.rb, `newproperty(:type)`: in puppetlabs/puppet up to 5.x, then in
 * puppetlabs-sshkeys_core) accepts these `newvalues`, and these `aliasvalue`s for them.
 */
const PUPPET_KEY_TYPES = new Set([
  'ssh-dss',
  'ssh-rsa',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'ssh-ed25519',
  // sshkeys_core only:
  'sk-ecdsa-sha2-nistp256@openssh.com',
  'sk-ssh-ed25519@openssh.com',
  'ssh-rsa-cert-v01@openssh.com',
  'ssh-ed25519-cert-v01@openssh.com',
  'ssh-dss-cert-v01@openssh.com',
  'ecdsa-sha2-nistp256-cert-v01@openssh.com',
  'ecdsa-sha2-nistp384-cert-v01@openssh.com',
  'ecdsa-sha2-nistp521-cert-v01@openssh.com',
]);
const PUPPET_KEY_ALIASES: Record<string, string> = {
  dsa: 'ssh-dss',
  rsa: 'ssh-rsa',
  ed25519: 'ssh-ed25519',
  // sshkeys_core only:
  'ecdsa-sk': 'sk-ecdsa-sha2-nistp256@openssh.com',
  'ed25519-sk': 'sk-ssh-ed25519@openssh.com',
};

/** The key type Puppet would have written for a stack_sshkey_type value, or undefined if it refused it. */
export function puppetKeyType(value: string): string | undefined {
  const type = value.trim();
  if (PUPPET_KEY_TYPES.has(type)) return type;
  return PUPPET_KEY_ALIASES[type];
}

/**
 * The authorized_keys line for stack_sshkey / stack_sshkey_type, or an Error saying which key is
 * wrong and why. A whole line in stack_sshkey (Puppet refused whitespace in `key`) is taken as it is.
 */
function stackKeyLine(key: string, typeValue: string | undefined): string | Error {
  let line: string;
  if (/\s/.test(key.trim())) {
    line = key.trim();
  } else {
    const type = puppetKeyType(typeValue ?? 'rsa');
    if (type === undefined) {
      return new Error(
        `stack_sshkey_type: "${typeValue ?? ''}" is not a key type Puppet's ssh_authorized_key accepts (${Object.keys(PUPPET_KEY_ALIASES).join(', ')}, or a full name such as ssh-ed25519 or ecdsa-sha2-nistp256); stack_sshkey left out`,
      );
    }
    line = `${type} ${key.trim()}`;
  }
  const parsed = parsePublicKey(line, 'stack_sshkey');
  if (parsed instanceof Error) {
    const typed = typeValue === undefined ? '' : ` with stack_sshkey_type ${typeValue}`;
    return new Error(`stack_sshkey${typed}: ${parsed.message}; left out`);
  }
  return line;
}

function macFromVagrant(value: string): string | undefined {
  const hex = value.replace(/[^0-9a-fA-F]/g, '');
  if (hex.length !== 12) return undefined;
  return hex.toLowerCase().match(/../g)?.join(':');
}

function cidrOf(ip: string): string {
  return `${ip.split('.').slice(0, 3).join('.')}.0/24`;
}

export async function convertVagrantConfig(text: string, file: string, io: ConversionIO): Promise<Conversion> {
  const doc = parseDocument(text, { prettyErrors: false });
  if (doc.errors.length > 0) {
    const error = doc.errors[0];
    const pos = error?.linePos?.[0];
    throw new DevclusterError('VAGRANT_CONFIG_INVALID', `${file}:${pos?.line ?? 1}:${pos?.col ?? 1} YAML syntax: ${error?.message.split('\n')[0]}`, {
      hint: 'fix the YAML, or start from `devcluster init` instead',
    });
  }
  const raw = (doc.toJS() ?? {}) as Record<string, unknown>;
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    throw new DevclusterError('VAGRANT_CONFIG_INVALID', `${file} is not a devstack-vagrant config.yaml (not a mapping)`, {
      hint: 'give the config.yaml that sits beside devstack-vagrant\'s Vagrantfile',
    });
  }
  const notes: string[] = [];
  const str = (key: string): string | undefined => {
    const value = raw[key];
    if (value === undefined || value === null || value === '') return undefined;
    return String(value);
  };

  for (const key of Object.keys(raw)) {
    if (!(key in VAGRANT_KEYS)) notes.push(`${key}: not a devstack-vagrant key, left out`);
  }

  const controller: Record<string, unknown> = { name: 'controller', role: 'controller' };
  const hostnameManager = str('hostname_manager');
  if (hostnameManager) controller.hostname = hostnameManager;
  const hostnameCompute = str('hostname_compute');
  const nodes: Record<string, unknown>[] = [controller];
  let compute: Record<string, unknown> | undefined;
  if (hostnameCompute) {
    compute = { name: 'compute1', role: 'compute', hostname: hostnameCompute };
    nodes.push(compute);
  } else {
    notes.push('hostname_compute: unset, so (as in devstack-vagrant) the cluster has no compute node; add one under nodes:');
  }

  const bridged = raw.use_bridge !== false;
  const network: Record<string, unknown> = { mode: bridged ? 'bridged' : 'nat' };
  const bridgeInt = str('bridge_int');
  if (bridged) {
    network.bridge_interface = bridgeInt ?? 'eth1';
    if (!bridgeInt) notes.push('bridge_int: unset; devstack-vagrant used eth1, so network.bridge_interface is eth1');
  } else if (bridgeInt) {
    notes.push('bridge_int: ignored since use_bridge is false (NAT network)');
  }
  const ipManager = str('ip_address_manager');
  const ipCompute = str('ip_address_compute');
  if (ipManager) {
    controller.ip = ipManager;
    network.cidr = cidrOf(ipManager); // a compute address outside it is left out by settleConversion
  } else if (ipCompute) {
    network.cidr = cidrOf(ipCompute);
  }
  if (ipCompute && compute) compute.ip = ipCompute;
  if (bridged && (ipManager || ipCompute)) {
    notes.push('ip_address_*: in bridged mode these become the management-network addresses; the bridged NIC takes DHCP as in devstack-vagrant');
  }
  for (const [key, node] of [['mac_address_manager', controller], ['mac_address_compute', compute]] as const) {
    const value = str(key);
    if (!value) continue;
    if (!node) {
      notes.push(`${key}: there is no compute node to carry it`);
      continue;
    }
    const mac = macFromVagrant(value);
    if (mac) node.mac = mac;
    else notes.push(`${key}: "${value}" is not a MAC address, left out`);
  }

  const config: Record<string, unknown> = { name: 'dev', provider: 'libvirt', image: 'ubuntu-24.04', network, nodes };
  for (const key of ['box_name', 'box_url']) {
    if (str(key)) notes.push(`${key}: a Vagrant box cannot be used as a cloud image; the cluster uses ubuntu-24.04 (set image: to change it)`);
  }

  const stackUser: Record<string, unknown> = {};
  const stackPassword = str('stack_password');
  if (stackPassword) stackUser.password_hash = await io.hashPassword(stackPassword);
  const sshKey = str('stack_sshkey');
  if (sshKey && sshKey !== SAMPLE_KEY_PLACEHOLDER) {
    const line = stackKeyLine(sshKey, str('stack_sshkey_type'));
    if (line instanceof Error) notes.push(`${line.message}: your ~/.ssh/*.pub keys will be used`);
    else stackUser.ssh_public_keys = [line];
  } else if (sshKey) {
    notes.push('stack_sshkey: still the sample placeholder; your ~/.ssh/*.pub keys will be used');
  }
  if (Object.keys(stackUser).length > 0) config.stack_user = stackUser;

  const devstack: Record<string, unknown> = {};
  const git = str('devstack_git');
  if (git) {
    devstack.repo = git;
    if (git.startsWith('/home/vagrant/')) notes.push(`devstack_git: ${git} is a path inside the Vagrant VM; give the host path of your devstack checkout`);
  }
  const branch = str('devstack_branch');
  if (branch) devstack.branch = branch;
  const mode = str('setup_mode');
  if (mode === 'devstack') devstack.mode = mode;
  else if (mode === 'grenade') {
    // devstack-vagrant left the old branch to grenaderc's default (stable/train then, gone now); devcluster needs it named.
    notes.push('setup_mode: grenade needs the branch to upgrade from, which devstack-vagrant never named: set devstack.mode: grenade and devstack.grenade.from_branch (e.g. stable/2025.2) by hand; left as devstack mode');
  } else if (mode) notes.push(`setup_mode: "${mode}" is neither devstack nor grenade, left out`);
  const enable = (str('manager_extra_services') ?? '').split(/[\s,]+/).filter(Boolean);
  if (raw.use_ldap === true || str('use_ldap') === 'true') enable.push('ldap');
  if (enable.length > 0) devstack.services = { enable: [...new Set(enable)] };
  const passwords: Record<string, string> = {};
  const admin = str('admin_password');
  if (admin) passwords.admin = admin;
  const service = str('service_password');
  if (service) Object.assign(passwords, { service, database: service, rabbit: service });
  if (Object.keys(passwords).length > 0) devstack.passwords = passwords;
  const ipVersion = str('ip_version');
  if (ipVersion === '4' || ipVersion === '6') devstack.ip_version = Number(ipVersion);
  else if (ipVersion === '4+6') devstack.ip_version = ipVersion;
  else if (ipVersion) notes.push(`ip_version: "${ipVersion}" is not 4, 6 or 4+6, left out`);
  const tree = str('local_openstack_tree');
  if (tree) {
    const projects = await io.listProjects(tree);
    if (projects === undefined) {
      notes.push(`local_openstack_tree: ${tree} does not exist here; list your checkouts under devstack.sources`);
    } else if (projects.length === 0) {
      notes.push(`local_openstack_tree: ${tree} holds no git checkouts; nothing to add to devstack.sources`);
    } else {
      devstack.sources = Object.fromEntries(projects.map((p) => [p, `${tree.replace(/\/$/, '')}/${p}`]));
    }
  }
  if (Object.keys(devstack).length > 0) config.devstack = devstack;

  const extra = (str('extra_images') ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  if (extra.length > 0) config.post_stack = { images: [...new Set([...IMAGE_NAMES.filter((n) => n === 'ubuntu-24.04' || n === 'fedora-42'), ...extra])] };

  const proxy = str('proxy');
  const userDomains = str('user_domains');
  if (proxy || userDomains) {
    const p: Record<string, string> = {};
    if (proxy) Object.assign(p, { http: proxy, https: proxy });
    if (userDomains) p.no_proxy = userDomains;
    config.proxy = p;
  }

  for (const key of ['use_ip_resolver', 'vagrant_username', 'guest_interface_default', 'host_ip_iface']) {
    if (raw[key] !== undefined) notes.push(`${key}: ${VAGRANT_KEYS[key]}`);
  }
  return { config, notes };
}

/**
 * Where each converted field came from: the unit that is left out when devcluster refuses its value
 * (a field is left out whole: ssh_public_keys without the key would authorize no key at all).
 */
const ORIGINS: Array<{ path: FieldPath; keys: string }> = [
  { path: ['nodes', 0, 'hostname'], keys: 'hostname_manager' },
  { path: ['nodes', 1, 'hostname'], keys: 'hostname_compute' },
  { path: ['nodes', 0, 'ip'], keys: 'ip_address_manager' },
  { path: ['nodes', 1, 'ip'], keys: 'ip_address_compute' },
  { path: ['nodes', 0, 'mac'], keys: 'mac_address_manager' },
  { path: ['nodes', 1, 'mac'], keys: 'mac_address_compute' },
  { path: ['network', 'cidr'], keys: 'ip_address_manager / ip_address_compute' },
  { path: ['network', 'bridge_interface'], keys: 'bridge_int' },
  { path: ['stack_user', 'password_hash'], keys: 'stack_password' },
  { path: ['stack_user', 'ssh_public_keys'], keys: 'stack_sshkey / stack_sshkey_type' },
  { path: ['devstack', 'repo'], keys: 'devstack_git' },
  { path: ['devstack', 'branch'], keys: 'devstack_branch' },
  { path: ['devstack', 'services'], keys: 'manager_extra_services / use_ldap' },
  { path: ['devstack', 'passwords', 'admin'], keys: 'admin_password' },
  { path: ['devstack', 'passwords', 'service'], keys: 'service_password' },
  { path: ['devstack', 'passwords', 'database'], keys: 'service_password' },
  { path: ['devstack', 'passwords', 'rabbit'], keys: 'service_password' },
  { path: ['devstack', 'ip_version'], keys: 'ip_version' },
  { path: ['devstack', 'sources'], keys: 'local_openstack_tree' },
  { path: ['post_stack', 'images'], keys: 'extra_images' },
  { path: ['proxy', 'http'], keys: 'proxy' },
  { path: ['proxy', 'https'], keys: 'proxy' },
  { path: ['proxy', 'no_proxy'], keys: 'user_domains' },
];

const startsWith = (path: FieldPath, prefix: FieldPath) => prefix.length <= path.length && prefix.every((part, i) => path[i] === part);

function removeAt(config: Record<string, unknown>, path: FieldPath): boolean {
  let parent: unknown = config;
  for (const part of path.slice(0, -1)) {
    parent = (parent as Record<string | number, unknown> | undefined)?.[part];
    if (typeof parent !== 'object' || parent === null) return false;
  }
  const last = path[path.length - 1] as string | number;
  const holder = parent as Record<string | number, unknown>;
  if (!(last in holder)) return false;
  delete holder[last];
  // A mapping left empty goes too (`devstack.passwords: {}` says nothing).
  if (path.length > 1 && Object.keys(holder).length === 0 && !Array.isArray(holder)) removeAt(config, path.slice(0, -1));
  return true;
}

/**
 * Make the conversion one that validates: every field devcluster refuses is left out, with a note
 * naming the devstack-vagrant key, the field and the reason (fields left out are listed at the top
 * of the file the caller writes). `validate` checks a config exactly as `config validate` would and
 * returns its issues. When an issue is not about a converted field (the cluster name given with
 * --name, say), nothing can be left out to fix it: VAGRANT_CONFIG_INVALID, and nothing is written.
 */
export async function settleConversion(
  conversion: Conversion,
  file: string,
  validate: (config: Record<string, unknown>) => Promise<readonly ConfigIssue[]>,
): Promise<Conversion> {
  const config = structuredClone(conversion.config);
  const notes = [...conversion.notes];
  for (;;) {
    const issues = await validate(config);
    if (issues.length === 0) return { config, notes };
    const leftOut = new Set<(typeof ORIGINS)[number]>();
    const stuck: ConfigIssue[] = [];
    for (const issue of issues) {
      const origin = ORIGINS.find((o) => startsWith(issue.path, o.path));
      if (origin && leftOut.has(origin)) continue; // a second issue about a field already left out
      if (origin && removeAt(config, origin.path)) {
        leftOut.add(origin);
        notes.push(`${origin.keys}: left out, devcluster refuses it as ${formatPath(origin.path)}: ${issue.message}`);
      } else {
        stuck.push(issue);
      }
    }
    // Each round leaves out at least one field, so this ends; an issue that leaving fields out
    // cannot fix (or that comes back once its field is gone) stops the conversion.
    if (stuck.length > 0) {
      throw new DevclusterError('VAGRANT_CONFIG_INVALID', `${file} cannot be converted into a valid devcluster.yaml; nothing was written`, {
        details: stuck.map((issue) => `${formatPath(issue.path)}: ${issue.message}`),
        hint: 'fix these (in config.yaml, or the options given to init), or start from `devcluster init`',
      });
    }
  }
}
