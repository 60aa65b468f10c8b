/**
 * Rules that relate fields to each other, run once the shape is valid: one controller, unique names,
 * hostnames, addresses and MACs, addresses inside the network, what bridged mode needs.
 */
import type { Config } from './schema.js';
import type { ConfigIssue } from './issue.js';
import { cidrContains, formatIPv4, parseCidr, parseIPv4 } from './ipv4.js';
import { defaultHostname } from './node-defaults.js';
import { DEVSTACK_PROJECTS } from '../devstack/tables.js';
import { gerritUrl, type UpstreamProject } from '../devstack/upstream.js';
import { planServices } from '../plan/services.js';
import { SUPPORTED_DISTROS } from '../devstack/tables.js';
import { distroSupported } from '../devstack/upstream.js';
import { CATALOG } from '../images/catalog.js';
import { IMAGE_NAMES } from './catalog-names.js';

const HOST_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i;

export function isRfc1123Hostname(name: string): boolean {
  if (name.length === 0 || name.length > 253 || name.endsWith('.')) return false;
  return name.split('.').every((label) => HOST_LABEL.test(label));
}

/** Whether a role's localrc text sets FORCE=yes, which lets stack.sh run on a distro it does not support. */
function forcesDistro(localConf: string): boolean {
  return /^\s*FORCE=["']?yes["']?\s*(#.*)?$/m.test(localConf);
}

/**
 * The nodes' image against the DevStack branch's stack.sh: it dies ("If you wish to run this script
 * anyway run with FORCE=yes") unless DISTRO matches SUPPORTED_DISTROS (master stack.sh:232-238), and
 * FORCE is read after localrc is sourced, so FORCE=yes in local.conf lets it through. An issue when
 * stack.sh would refuse; a note when devcluster cannot tell (an image by URL, a branch not in
 * src/devstack/tables.ts); nothing when it is accepted. `branch` may be another field's (grenade).
 */
export function checkDistro(config: Config, branch: string, branchField: string): { issue?: ConfigIssue; note?: string } {
  const image = config.image;
  const lc = config.devstack.local_conf;
  const forced = config.nodes.every((n) => forcesDistro(lc.nodes[n.name] ?? (n.role === 'controller' ? lc.controller : lc.compute)));
  if (typeof image !== 'string') return { note: `the image at ${image.url} is not one devcluster knows, so whether DevStack ${branch} supports its distro is not checked` };
  const supported = SUPPORTED_DISTROS[branch];
  const distro = CATALOG[image].distro;
  if (supported === undefined) {
    return {
      note: `${branchField} ${branch}: its SUPPORTED_DISTROS is not known to devcluster (known: ${Object.keys(SUPPORTED_DISTROS).join(', ')}), so whether stack.sh accepts ${image} (DISTRO ${distro}) is not checked`,
    };
  }
  if (distroSupported(supported.pattern, distro) || forced) return {};
  const fits = IMAGE_NAMES.filter((name) => distroSupported(supported.pattern, CATALOG[name].distro));
  return {
    issue: {
      path: ['image'],
      message:
        `image ${image} (DISTRO ${distro}) is refused by stack.sh of ${branchField} ${branch}: it dies unless DISTRO matches SUPPORTED_DISTROS "${supported.pattern}" (stack.sh:${supported.line}); ` +
        `use ${fits.length > 0 ? fits.join(' or ') : 'another image'}, another branch, or FORCE=yes in every node's devstack.local_conf to try anyway`,
    },
  };
}

/** Things `config validate` should say that are not errors. */
export function configNotes(config: Config): string[] {
  const note = checkDistro(config, config.devstack.branch, 'devstack.branch').note;
  return note === undefined ? [] : [note];
}

export function checkRules(config: Config): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const distro = checkDistro(config, config.devstack.branch, 'devstack.branch').issue;
  if (distro !== undefined) issues.push(distro);
  const nodes = config.nodes;

  const controllers = nodes.flatMap((n, i) => (n.role === 'controller' ? [i] : []));
  if (controllers.length === 0) {
    issues.push({ path: ['nodes'], message: 'no node has role "controller": give exactly one node role: controller' });
  } else if (controllers.length > 1) {
    for (const i of controllers.slice(1)) {
      issues.push({
        path: ['nodes', i, 'role'],
        node: nodes[i]?.name,
        message: `a second controller (the first is "${nodes[controllers[0] as number]?.name}"): a cluster has exactly one; make this one role: compute`,
      });
    }
  }

  const unique = (field: 'name' | 'hostname' | 'ip' | 'mac', valueOf: (i: number) => string | undefined) => {
    const seen = new Map<string, number>();
    nodes.forEach((node, i) => {
      const value = valueOf(i);
      if (value === undefined) return;
      const key = value.toLowerCase();
      const first = seen.get(key);
      if (first === undefined) {
        seen.set(key, i);
        return;
      }
      const explicit = node[field] !== undefined;
      // Two default hostnames only collide when the names do, which is reported once already.
      if (field === 'hostname' && !explicit && nodes[first]?.hostname === undefined) return;
      issues.push({
        path: explicit ? ['nodes', i, field] : ['nodes', i],
        node: node.name,
        message: `${field} ${value} is also used by node "${nodes[first]?.name}" (nodes[${first}]): each node needs its own`,
      });
    });
  };
  unique('name', (i) => nodes[i]?.name);
  unique('hostname', (i) => nodes[i]?.hostname ?? defaultHostname(config.name, nodes[i]?.name ?? ''));
  unique('ip', (i) => nodes[i]?.ip);
  unique('mac', (i) => nodes[i]?.mac);

  nodes.forEach((node, i) => {
    if (node.hostname !== undefined && !isRfc1123Hostname(node.hostname)) {
      issues.push({
        path: ['nodes', i, 'hostname'],
        node: node.name,
        message: `"${node.hostname}" is not a valid host name (RFC 1123): use letters, digits and '-' in dot-separated labels of at most 63 characters, e.g. controller.devstack.site`,
      });
    }
  });

  const cidr = parseCidr(config.network.cidr);
  if (cidr !== undefined) {
    if (cidr.prefix > 28) {
      issues.push({
        path: ['network', 'cidr'],
        message: `/${cidr.prefix} leaves too few addresses for a cluster: use a /28 or larger, e.g. 192.168.150.0/24`,
      });
    }
    nodes.forEach((node, i) => {
      if (node.ip === undefined) return;
      const address = parseIPv4(node.ip);
      if (address === undefined) return;
      const path = ['nodes', i, 'ip'];
      if (!cidrContains(cidr, address)) {
        issues.push({ path, node: node.name, message: `${node.ip} is outside network.cidr ${config.network.cidr}: pick an address inside it or change the cidr` });
      } else if (address === cidr.network) {
        issues.push({ path, node: node.name, message: `${node.ip} is the network address of ${config.network.cidr}: pick a host address such as ${formatIPv4(cidr.network + 10)}` });
      } else if (address === cidr.broadcast) {
        issues.push({ path, node: node.name, message: `${node.ip} is the broadcast address of ${config.network.cidr}: pick a host address such as ${formatIPv4(cidr.network + 10)}` });
      } else if (address === cidr.gateway) {
        issues.push({ path, node: node.name, message: `${node.ip} is the gateway of ${config.network.cidr} (the host's side): pick another, such as ${formatIPv4(cidr.network + 10)}` });
      }
    });
  }

  if (config.network.mode === 'bridged' && config.network.bridge_interface === undefined) {
    issues.push({
      path: ['network', 'bridge_interface'],
      message: 'bridged mode needs bridge_interface: the host bridge or NIC the nodes join (see `ip link`), e.g. br0 or eth1',
    });
  }
  if (config.network.mode === 'nat' && config.network.bridge_interface !== undefined) {
    issues.push({
      path: ['network', 'bridge_interface'],
      message: 'bridge_interface is only used in bridged mode: remove it, or set network.mode: bridged',
    });
  }

  const nodeNames = nodes.map((n) => n.name);
  for (const name of Object.keys(config.devstack.local_conf.nodes)) {
    if (!nodeNames.includes(name)) {
      issues.push({
        path: ['devstack', 'local_conf', 'nodes', name],
        message: `no node is named "${name}" (nodes: ${nodeNames.join(', ')}): use a node's name, or controller/compute above for a whole role`,
      });
    }
  }

  const { enable, disable } = config.devstack.services;
  enable.forEach((service, i) => {
    if (disable.includes(service)) {
      issues.push({
        path: ['devstack', 'services', 'enable', i],
        message: `service "${service}" is both enabled and disabled: keep it in one list`,
      });
    }
  });

  const pluginNames = new Map<string, number>();
  config.devstack.plugins.forEach((plugin, i) => {
    const first = pluginNames.get(plugin.name);
    if (first !== undefined) {
      issues.push({ path: ['devstack', 'plugins', i, 'name'], message: `plugin "${plugin.name}" is listed twice (also devstack.plugins[${first}]): keep one` });
    } else pluginNames.set(plugin.name, i);
  });

  const images = new Map<string, number>();
  config.post_stack.images.forEach((image, i) => {
    const first = images.get(image);
    if (first !== undefined) {
      issues.push({ path: ['post_stack', 'images', i], message: `image ${image} is listed twice (also post_stack.images[${first}]): keep one` });
    } else images.set(image, i);
  });

  const plugins = new Map(planServices(config.devstack.layer, config.devstack.services, config.devstack.plugins).plugins.map((p) => [p.name, p]));
  for (const [project, source] of Object.entries(config.devstack.sources)) {
    const known = DEVSTACK_PROJECTS[project];
    const plugin = plugins.get(project);
    if (known === undefined && plugin === undefined) {
      issues.push({
        path: ['devstack', 'sources', project],
        message:
          `DevStack reads no variables for a project "${project}" (stackrc's *_REPO and GITREPO[…] lines) and no plugin of that name is enabled: ` +
          'name a DevStack project such as nova or oslo.config, or a plugin (devstack.plugins), or set its variables in devstack.local_conf',
      });
      continue;
    }
    const url = plugin?.url ?? (known as UpstreamProject).url;
    if (source.startsWith('refs/') && gerritUrl(url) === undefined) {
      issues.push({
        path: ['devstack', 'sources', project],
        message: `"${source}" is a Gerrit change, but ${project} comes from ${url}, not opendev: give a URL or a local path instead`,
      });
      continue;
    }
    if (source.startsWith('refs/') && !/^refs\/changes\/\d{2}\/\d+\/\d+$/.test(source)) {
      issues.push({
        path: ['devstack', 'sources', project],
        message: `"${source}" is not a Gerrit change ref: write refs/changes/NN/CHANGE/PATCHSET, NN being the change's last two digits`,
      });
    } else if (/^refs\/changes\/(\d{2})\/(\d+)\//.test(source)) {
      const [, nn, change] = /^refs\/changes\/(\d{2})\/(\d+)\//.exec(source) as RegExpExecArray;
      if ((change as string).padStart(2, '0').slice(-2) !== nn) {
        issues.push({
          path: ['devstack', 'sources', project],
          message: `"${source}": the second part must be the last two digits of change ${change} (${(change as string).padStart(2, '0').slice(-2)})`,
        });
      }
    }
  }

  for (const [field, value] of Object.entries(config.proxy)) {
    if (field !== 'no_proxy' && value !== '' && !/^https?:\/\/[^\s]+$/.test(value)) {
      issues.push({ path: ['proxy', field], message: `"${value}" is not a proxy URL: write http://HOST:PORT/` });
    }
  }
  return issues;
}
