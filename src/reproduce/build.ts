/**
 * A Zuul build as its published `zuul-info/inventory.yaml` describes it: the nodes (name, nodepool
 * label and private address, groups, host vars), the groups and their vars, the job's vars, and the
 * `zuul` dict (projects, items, job, build, buildset, pipeline, ref, change). Both layouts Zuul has
 * written are read: the current one (groups under `all.children`, each with its `vars`) and the old
 * one (groups at the top level beside `all`, openstack-infra/zuul tests/unit/test_inventory.py).
 * The YAML is read as Ansible reads it (PyYAML's YAML 1.1 resolvers: `yes`/`no`/`on`/`off` are
 * booleans but `y`/`n` are not, a float needs a dot, a date stays text as Python prints it).
 *
 * `mergedVars` is one node's variables with Ansible's precedence for inventory variables: job vars
 * (`all.vars`) < group vars (by depth, then `ansible_group_priority`, then name) < host vars, each
 * variable replaced whole (Ansible's default hash_behaviour=replace: a group's `devstack_localrc`
 * replaces the job's, it is not merged into it). `nodeVars` adds the templates rendered for that node.
 * `imageForLabel` maps a nodepool label to an image of devcluster's catalog.
 */
import { parseDocument, type ScalarTag, type Tags } from 'yaml';
import { IMAGE_NAMES, type ImageName } from '../config/catalog-names.js';
import { DevclusterError } from '../errors.js';
import { pyFloatRepr } from './python-str.js';
import { renderTemplates } from './template.js';
import { isRecord } from './is-record.js';

export interface GateNode {
  name: string;
  /** nodepool.label ('' when the inventory has none, as for a static node). */
  label: string;
  /** nodepool.private_ipv4: the address DevStack's job vars point at. */
  privateIpv4: string | undefined;
  /** The groups the node is in (directly or through a child group), in inventory order; never `all`. */
  groups: string[];
  /** The host's own entry: ansible_* connection vars, `nodepool`, and the job's host-vars. */
  hostVars: Record<string, unknown>;
}

export interface ZuulProjectRef {
  name: string;
  shortName: string;
  canonicalName: string;
  canonicalHostname: string;
  srcDir: string;
}

export interface ZuulProject extends ZuulProjectRef {
  /** Listed in the job's required-projects (DevStack puts these in LIBS_FROM_GIT). */
  required: boolean;
  /** The branch checked out. */
  checkout: string;
  checkoutDescription: string | undefined;
  /** The commit the job ran (a speculative merge's commit may exist only during the job). */
  commit: string | undefined;
}

export interface ZuulItem {
  project: ZuulProjectRef;
  branch: string | undefined;
  change: string | undefined;
  patchset: string | undefined;
  changeUrl: string | undefined;
  topic: string | undefined;
}

export interface ZuulBuildInfo {
  /** zuul.projects by canonical name, in the inventory's order. */
  projects: Record<string, ZuulProject>;
  /** zuul.items: the changes ahead (Depends-On, the queue) and, last, the one under test. */
  items: ZuulItem[];
  job: string;
  build: string;
  buildset: string | undefined;
  pipeline: string | undefined;
  tenant: string | undefined;
  ref: string | undefined;
  branch: string | undefined;
  change: string | undefined;
  patchset: string | undefined;
  /** zuul.project: the project of the item under test. */
  project: ZuulProjectRef | undefined;
}

export interface GateBuild {
  layout: 'children' | 'top-level';
  nodes: GateNode[];
  /** Members of each group (directly or through child groups), in inventory order; no `all`. */
  groups: Record<string, string[]>;
  /** all.vars without `zuul`. */
  jobVars: Record<string, unknown>;
  /** Each group's own vars (groups without vars have {}). */
  groupVars: Record<string, Record<string, unknown>>;
  zuul: ZuulBuildInfo;
  /** all.vars.zuul as written (templates such as `{{ zuul.project.src_dir }}` read it). */
  zuulVars: Record<string, unknown>;
  /** Group depth (all = 0) and ansible_group_priority, for the precedence order. */
  groupOrder: { name: string; depth: number; priority: number }[];
}

const NOT_INVENTORY_HINT = "SOURCE must be a Zuul build's log root: it holds zuul-info/inventory.yaml (a copy of the job's Ansible inventory)";

function invalid(message: string): DevclusterError {
  return new DevclusterError('REPRODUCE_SOURCE_INVALID', message, { hint: NOT_INVENTORY_HINT });
}

function str(v: unknown): string | undefined {
  if (v === null || v === undefined) return undefined;
  return typeof v === 'string' ? v : String(v);
}

/**
 * Integers are numbers (bigint beyond 2^53, so they stay exact); floats become the text Python prints
 * for them (`1.0`, `1e-05`), the only thing a job does with them being to write them out.
 */
function normalize(v: unknown): unknown {
  if (typeof v === 'bigint') return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  if (typeof v === 'number') return pyFloatRepr(v);
  if (Array.isArray(v)) return v.map(normalize);
  if (v instanceof Map) return Object.fromEntries([...v.entries()].map(([k, x]) => [String(k), normalize(x)]));
  if (isRecord(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, normalize(x)]));
  return v;
}

function hostNames(hosts: unknown): string[] {
  if (Array.isArray(hosts)) return hosts.map(String);
  if (isRecord(hosts)) return Object.keys(hosts);
  if (typeof hosts === 'string') return [hosts];
  return [];
}

function projectRef(raw: unknown, where: string): ZuulProjectRef {
  if (!isRecord(raw)) throw invalid(`${where} is not a mapping`);
  const name = str(raw.name) ?? '';
  const canonicalName = str(raw.canonical_name) ?? name;
  return {
    name,
    shortName: str(raw.short_name) ?? name.split('/').at(-1) ?? name,
    canonicalName,
    canonicalHostname: str(raw.canonical_hostname) ?? canonicalName.split('/')[0] ?? '',
    srcDir: str(raw.src_dir) ?? `src/${canonicalName}`,
  };
}

function parseZuul(raw: unknown): ZuulBuildInfo {
  if (!isRecord(raw)) throw invalid('the inventory has no `zuul` variables (all.vars.zuul): it was not written by Zuul');
  const projects: Record<string, ZuulProject> = {};
  const rawProjects = raw.projects;
  // Early Zuul v3 wrote zuul.projects as a list; it has been a dict by canonical name since.
  const entries: [string, unknown][] = Array.isArray(rawProjects)
    ? rawProjects.map((p, i) => [isRecord(p) ? String(p.canonical_name ?? p.name ?? i) : String(i), p])
    : isRecord(rawProjects)
      ? Object.entries(rawProjects)
      : [];
  for (const [key, p] of entries) {
    const ref = projectRef(p, `zuul.projects[${key}]`);
    const info = p as Record<string, unknown>;
    projects[key] = {
      ...ref,
      required: info.required === true,
      checkout: str(info.checkout) ?? str(raw.branch) ?? 'master',
      checkoutDescription: str(info.checkout_description),
      commit: str(info.commit),
    };
  }
  const items: ZuulItem[] = (Array.isArray(raw.items) ? raw.items : []).map((item, i) => {
    if (!isRecord(item)) throw invalid(`zuul.items[${i}] is not a mapping`);
    return {
      project: projectRef(item.project, `zuul.items[${i}].project`),
      branch: str(item.branch),
      change: str(item.change),
      patchset: str(item.patchset),
      changeUrl: str(item.change_url),
      topic: str(item.topic),
    };
  });
  const job = str(raw.job);
  const build = str(raw.build);
  if (!job || !build) throw invalid('the inventory\'s `zuul` variables name no job or build (zuul.job, zuul.build)');
  return {
    projects,
    items,
    job,
    build,
    buildset: str(raw.buildset),
    pipeline: str(raw.pipeline),
    tenant: str(raw.tenant),
    ref: str(raw.ref),
    branch: str(raw.branch),
    change: str(raw.change),
    patchset: str(raw.patchset),
    project: raw.project === undefined ? undefined : projectRef(raw.project, 'zuul.project'),
  };
}

interface RawGroup {
  name: string;
  hosts: string[];
  vars: Record<string, unknown>;
  children: string[];
  depth: number;
  priority: number;
}

/** The `yaml` package's YAML 1.1 tags narrowed to PyYAML's resolvers (Ansible's loader). */
function pyYamlTags(tags: Tags): Tags {
  const out: Tags = [];
  for (const tag of tags) {
    if (typeof tag !== 'object' || !('tag' in tag)) {
      out.push(tag);
      continue;
    }
    const scalar = tag as ScalarTag;
    const test = scalar.test instanceof RegExp ? scalar.test.source : '';
    if (scalar.tag === 'tag:yaml.org,2002:timestamp') continue;
    if (scalar.tag === 'tag:yaml.org,2002:bool') {
      const truth = test.includes('rue');
      out.push({ ...scalar, test: truth ? /^(?:yes|Yes|YES|true|True|TRUE|on|On|ON)$/ : /^(?:no|No|NO|false|False|FALSE|off|Off|OFF)$/ });
    } else if (scalar.tag === 'tag:yaml.org,2002:float' && scalar.format === 'EXP') {
      out.push({ ...scalar, test: /^(?:[-+]?[0-9][0-9_]*\.[0-9_]*|\.[0-9][0-9_]*)[eE][-+][0-9]+$/ });
    } else if (scalar.tag === 'tag:yaml.org,2002:float' && !scalar.format && test !== '' && !test.includes('inf')) {
      out.push({ ...scalar, test: /^(?:[-+]?[0-9][0-9_]*\.[0-9_]*|\.[0-9][0-9_]*)$/ });
    } else out.push(tag);
  }
  return out;
}

/** Parses `zuul-info/inventory.yaml`; REPRODUCE_SOURCE_INVALID when it is not a Zuul inventory. */
export function parseInventory(text: string): GateBuild {
  const doc = parseDocument(text, { version: '1.1', intAsBigInt: true, uniqueKeys: false, customTags: pyYamlTags });
  if (doc.errors.length > 0) throw invalid(`zuul-info/inventory.yaml is not YAML: ${doc.errors[0]?.message.split('\n')[0]}`);
  const root = normalize(doc.toJS({ maxAliasCount: -1 }));
  if (!isRecord(root) || !isRecord(root.all)) throw invalid('zuul-info/inventory.yaml has no `all` group: it is not an Ansible inventory');
  const all = root.all;
  if (!isRecord(all.hosts) || Object.keys(all.hosts).length === 0) throw invalid('zuul-info/inventory.yaml lists no hosts (all.hosts)');
  const allVars = isRecord(all.vars) ? all.vars : {};
  const zuul = parseZuul(allVars.zuul);
  const jobVars = Object.fromEntries(Object.entries(allVars).filter(([k]) => k !== 'zuul'));

  // Groups: all.children (current layout) and top-level keys beside `all` (old layout), then their
  // own children; depth = longest path from `all`, as Ansible computes it.
  const raw = new Map<string, RawGroup>();
  const add = (name: string, body: unknown, depth: number): void => {
    const b = isRecord(body) ? body : {};
    const known = raw.get(name);
    const group: RawGroup = known ?? { name, hosts: [], vars: {}, children: [], depth, priority: 1 };
    group.depth = Math.max(group.depth, depth);
    for (const h of hostNames(b.hosts)) if (!group.hosts.includes(h)) group.hosts.push(h);
    if (isRecord(b.vars)) {
      Object.assign(group.vars, b.vars);
      if (typeof b.vars.ansible_group_priority === 'number') group.priority = b.vars.ansible_group_priority;
    }
    raw.set(name, group);
    if (isRecord(b.children)) {
      for (const [child, childBody] of Object.entries(b.children)) {
        if (!group.children.includes(child)) group.children.push(child);
        add(child, childBody, depth + 1);
      }
    }
  };
  if (isRecord(all.children)) for (const [name, body] of Object.entries(all.children)) add(name, body, 1);
  const topLevel = Object.keys(root).filter((k) => k !== 'all');
  for (const name of topLevel) add(name, root[name], 1);
  const layout: GateBuild['layout'] = topLevel.length > 0 && !isRecord(all.children) ? 'top-level' : 'children';

  const members = (name: string, seen = new Set<string>()): string[] => {
    const g = raw.get(name);
    if (!g || seen.has(name)) return [];
    seen.add(name);
    const out = [...g.hosts];
    for (const c of g.children) for (const h of members(c, seen)) if (!out.includes(h)) out.push(h);
    return out;
  };
  const groups: Record<string, string[]> = {};
  const groupVars: Record<string, Record<string, unknown>> = {};
  for (const g of raw.values()) {
    groups[g.name] = members(g.name);
    groupVars[g.name] = g.vars;
  }

  const nodes: GateNode[] = Object.entries(all.hosts).map(([name, entry]) => {
    const hostVars = isRecord(entry) ? entry : {};
    const nodepool = isRecord(hostVars.nodepool) ? hostVars.nodepool : {};
    return {
      name,
      label: str(nodepool.label) ?? '',
      privateIpv4: str(nodepool.private_ipv4),
      groups: Object.keys(groups).filter((g) => groups[g]?.includes(name)),
      hostVars,
    };
  });
  const groupOrder = [...raw.values()].map((g) => ({ name: g.name, depth: g.depth, priority: g.priority }));
  return { layout, nodes, groups, jobVars, groupVars, zuul, zuulVars: allVars.zuul as Record<string, unknown>, groupOrder };
}

function nodeNamed(build: GateBuild, name: string): GateNode {
  const node = build.nodes.find((n) => n.name === name);
  if (!node) throw new DevclusterError('NODE_NOT_FOUND', `the build has no node ${name} (it has ${build.nodes.map((n) => n.name).join(', ')})`);
  return node;
}

/**
 * One node's variables as Ansible resolves inventory variables (see the header): job vars, then the
 * vars of each group the node is in, shallowest first, then by ansible_group_priority, then by name,
 * then the host's own; a later source replaces a variable whole. `zuul` is included.
 */
export function mergedVars(build: GateBuild, nodeName: string): Record<string, unknown> {
  const node = nodeNamed(build, nodeName);
  const out: Record<string, unknown> = { zuul: build.zuulVars, ...build.jobVars };
  const order = build.groupOrder
    .filter((g) => node.groups.includes(g.name))
    .sort((a, b) => a.depth - b.depth || a.priority - b.priority || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const g of order) Object.assign(out, build.groupVars[g.name] ?? {});
  Object.assign(out, node.hostVars);
  return out;
}

export interface NodeVarsOptions {
  /** Facts Ansible would have gathered or set (e.g. external_bridge_mtu); they sit under the inventory's vars. */
  facts?: Record<string, unknown>;
  /** Addresses to use instead of each node's nodepool.private_ipv4 (devcluster's, by node name). */
  addresses?: Record<string, string>;
}

/**
 * One node's merged variables with their templates rendered for that node (hostvars, groups,
 * inventory_hostname and `facts` available), and the templates that could not be rendered.
 */
export function nodeVars(build: GateBuild, nodeName: string, options: NodeVarsOptions = {}): { vars: Record<string, unknown>; unresolved: string[] } {
  const withAddress = (name: string, vars: Record<string, unknown>): Record<string, unknown> => {
    const address = options.addresses?.[name];
    if (address === undefined) return vars;
    const nodepool = isRecord(vars.nodepool) ? vars.nodepool : {};
    return { ...vars, nodepool: { ...nodepool, private_ipv4: address } };
  };
  const hostvars = Object.fromEntries(build.nodes.map((n) => [n.name, withAddress(n.name, { ...options.facts, ...mergedVars(build, n.name) })]));
  const vars = hostvars[nodeName] ?? withAddress(nodeName, mergedVars(build, nodeName));
  const magic = {
    hostvars,
    groups: { all: build.nodes.map((n) => n.name), ...build.groups },
    inventory_hostname: nodeName,
    inventory_hostname_short: nodeName.split('.')[0],
    group_names: nodeNamed(build, nodeName).groups,
  };
  const rendered = renderTemplates(vars, { vars, magic });
  return { vars: rendered.value, unresolved: rendered.unresolved };
}

const DEVSTACK_VARS = ['devstack_localrc', 'devstack_services', 'devstack_local_conf', 'devstack_plugins', 'grenade_devstack_localrc'];

/** REPRODUCE_NOT_DEVSTACK unless some node's variables configure DevStack (write-devstack-local-conf's inputs). */
export function assertDevstackJob(build: GateBuild): void {
  const found = build.nodes.some((n) => DEVSTACK_VARS.some((k) => Object.hasOwn(mergedVars(build, n.name), k)));
  if (!found) {
    throw new DevclusterError('REPRODUCE_NOT_DEVSTACK', `job ${build.zuul.job} is not a DevStack job: its inventory sets none of ${DEVSTACK_VARS.join(', ')}`, {
      hint: 'reproduce rebuilds DevStack jobs (devstack, tempest, grenade and their children); pick a build of one of those',
    });
  }
}

/** Nodepool labels (release names) → images of the catalog. Size and nested-virt variants map to the same image. */
const LABEL_IMAGES: Record<string, ImageName> = {
  'ubuntu-noble': 'ubuntu-24.04',
  'ubuntu-jammy': 'ubuntu-22.04',
  'debian-bookworm': 'debian-12',
  'fedora-42': 'fedora-42',
};

/** The catalog image for a nodepool label; IMAGE_NOT_FOUND naming the label and the `--image` override. */
export function imageForLabel(label: string): ImageName {
  const base = label.replace(/^nested-virt-/, '').replace(/-\d+GB$/i, '');
  const image = LABEL_IMAGES[base];
  if (image) return image;
  const what = label === '' ? 'a node without a nodepool label' : `nodepool label "${label}"`;
  throw new DevclusterError('IMAGE_NOT_FOUND', `${what} has no image in devcluster's catalog (${IMAGE_NAMES.join(', ')})`, {
    hint: `pass --image with one of ${IMAGE_NAMES.join(', ')} to use that image for the nodes instead`,
  });
}
