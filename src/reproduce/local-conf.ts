/**
 * The local.conf a gate job wrote, rebuilt from the job's variables: a port of DevStack's Ansible
 * module roles/write-devstack-local-conf/library/devstack_local_conf.py (LocalConf, VarGraph,
 * PluginGraph) and of the role that calls it, so `[[local|localrc]]` comes out line for line:
 * ENABLED_SERVICES or disable_all_services, one enable_service/disable_service per service, the
 * localrc vars sorted by name with each var's references first, LIBS_FROM_GIT from the required
 * projects plus the project under test (unless set), TEMPEST_PLUGINS, enable_plugin lines ordered by
 * the plugins' plugin_requires, then the `[[phase|file]]` meta-sections. Values print as Python's
 * str() prints them (True, False, None).
 *
 * Where the module iterates a Python set (a var referencing two others, a plugin requiring two), its
 * order follows string hashes, which differ from run to run; here those come in name order, one of
 * the orders the module itself can produce.
 *
 * `gateLocalConfs` adds what the playbooks around the role do: grenade writes two (old and new
 * side). `compareLocalConf` says which lines of ours and of the job's differ beyond what devcluster
 * rewrites (node addresses, passwords, MTUs tied to the gate's overlay).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { DevclusterError } from '../errors.js';
import type { GateBuild, ZuulProject, ZuulProjectRef } from './build.js';
import { pyStr } from './python-str.js';
import { isRecord } from './is-record.js';

/** The module's parameters (what the role passes it). */
export interface LocalConfInput {
  localrc?: Record<string, unknown> | null;
  localConf?: Record<string, unknown> | null;
  baseServices?: unknown[] | null;
  services?: Record<string, unknown> | null;
  plugins?: Record<string, unknown> | null;
  baseDir?: string | null;
  projects?: Record<string, Pick<ZuulProject, 'required' | 'shortName'>> | null;
  project?: Pick<ZuulProjectRef, 'shortName'> | null;
  tempestPlugins?: unknown[] | null;
  /** Each plugin's plugin_requires, by plugin name (the module reads them from the trees under base_dir: see readPluginRequires). */
  pluginRequires?: Record<string, readonly string[]>;
}

export interface LocalConfResult {
  text: string;
  /** The module's warnings (TEMPEST_PLUGINS set both ways). */
  warnings: string[];
}

function cycle(what: string, name: string): DevclusterError {
  return new DevclusterError('REPRODUCE_SOURCE_INVALID', `the job's ${what} depend on each other in a cycle (at ${name}); DevStack's module fails on it too`, {
    hint: "the gate job could not have written its local.conf: check the build's job-output.txt",
  });
}

const byName = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** DependencyGraph from the module (based on Zuul's JobGraph): edges name → dependencies, no cycles. */
class DependencyGraph {
  protected readonly dependencies = new Map<string, Set<string>>();

  constructor(private readonly what: string) {}

  add(name: string, deps: Iterable<string>): void {
    this.dependencies.set(name, this.dependencies.get(name) ?? new Set());
    for (const dep of [...deps].sort(byName)) {
      const ancestors = this.parentsOf(dep);
      ancestors.add(dep);
      if (ancestors.has(name)) {
        this.dependencies.delete(name);
        throw cycle(this.what, name);
      }
      this.dependencies.get(name)?.add(dep);
    }
  }

  dependenciesOf(parent: string): string[] {
    const current = this.dependencies.get(parent);
    if (!current) {
      throw new DevclusterError('REPRODUCE_SOURCE_INVALID', `the job's ${this.what} need ${parent}, which the job does not have; DevStack's module fails on it too`, {
        hint: "the gate job could not have written its local.conf: check the build's job-output.txt",
      });
    }
    const out: string[] = [];
    for (const dep of [...current].sort(byName)) {
      if (!out.includes(dep)) out.push(dep);
      for (const d of this.dependenciesOf(dep)) if (!out.includes(d)) out.push(d);
    }
    return out;
  }

  private parentsOf(item: string): Set<string> {
    const all = new Set<string>();
    const todo = [item];
    while (todo.length > 0) {
      const current = todo.pop() as string;
      for (const p of this.dependencies.get(current) ?? []) {
        if (!all.has(p)) {
          all.add(p);
          todo.push(p);
        }
      }
    }
    return all;
  }

  /** Every key in name order, each preceded by its dependencies (the module's getVars/getPlugins). */
  ordered<T>(values: Map<string, T>): [string, T][] {
    const out: [string, T][] = [];
    const seen = new Set<string>();
    for (const key of [...values.keys()].sort(byName)) {
      for (const k of [...this.dependenciesOf(key), key]) {
        if (!seen.has(k)) {
          out.push([k, values.get(k) as T]);
          seen.add(k);
        }
      }
    }
    return out;
  }
}

/** Python's `\w` (Unicode word characters) after `$` or `${`. */
const BASH_VAR = /\$\{?([\p{L}\p{N}\p{Mn}\p{Pc}]+)/gu;

function orderedVars(localrc: Record<string, unknown>): [string, string][] {
  const graph = new DependencyGraph('localrc variables');
  const values = new Map<string, string>();
  const names = new Set(Object.keys(localrc));
  for (const [key, raw] of Object.entries(localrc)) {
    const value = pyStr(raw);
    values.set(key, value);
    const deps = new Set<string>();
    for (const m of value.matchAll(BASH_VAR)) {
      const dep = m[1] as string;
      if (dep !== key && names.has(dep)) deps.add(dep);
    }
    graph.add(key, deps);
  }
  return graph.ordered(values);
}

function orderedPlugins(plugins: Record<string, unknown>, requires: Record<string, readonly string[]>): [string, string][] {
  const graph = new DependencyGraph('plugins (plugin_requires)');
  const values = new Map<string, string>();
  for (const [key, raw] of Object.entries(plugins)) {
    values.set(key, pyStr(raw));
    graph.add(
      key,
      (Object.hasOwn(requires, key) ? (requires[key] ?? []) : []).filter((d) => d !== key),
    );
  }
  return graph.ordered(values);
}

const DEFINE = /^define_plugin\s+(\S+).*/;
const REQUIRE = /^plugin_requires\s+(\S+)\s+(\S+).*/;

/**
 * plugin_requires of every plugin under `baseDir` as the module reads them: each git root (a folder
 * with a `.git` folder; not searched deeper) holding devstack/settings, `define_plugin NAME` and
 * `plugin_requires NAME DEP` lines.
 */
export function readPluginRequires(baseDir: string): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  const roots: string[] = [];
  const walk = (dir: string): void => {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    const dirs = entries.filter((e) => e.isDirectory()).map((e) => e.name);
    if (dirs.includes('.git')) {
      roots.push(dir);
      return;
    }
    for (const d of dirs.sort(byName)) walk(join(dir, d));
  };
  walk(baseDir);
  for (const root of roots) {
    const settings = join(root, 'devstack', 'settings');
    let text: string;
    try {
      if (!statSync(settings).isFile()) continue;
      text = readFileSync(settings, 'utf8');
    } catch {
      continue;
    }
    let name: string | undefined;
    const reqs: string[] = [];
    for (const line of text.split(/(?<=\n)/)) {
      const d = DEFINE.exec(line);
      if (d) name = d[1];
      const r = REQUIRE.exec(line);
      if (r && name === r[1] && !reqs.includes(r[2] as string)) reqs.push(r[2] as string);
    }
    if (name && reqs.length > 0) out[name] = reqs;
  }
  return out;
}

/** Python's os.path.join of two parts. */
function pathJoin(base: string, part: string): string {
  if (part.startsWith('/')) return part;
  return base === '' || base.endsWith('/') ? `${base}${part}` : `${base}/${part}`;
}

/** The module's LocalConf(...).write(): the file's text, and its warnings. */
export function renderLocalConf(input: LocalConfInput): LocalConfResult {
  const localrc: string[] = [];
  const warnings: string[] = [];
  const services = input.services ? { ...input.services } : undefined;
  const hasServices = services !== undefined && Object.keys(services).length > 0;
  const baseServices = input.baseServices ?? undefined;
  if (hasServices || (baseServices && baseServices.length > 0)) {
    const s = services ?? {};
    const enableBase = Object.hasOwn(s, 'base') ? s.base : true;
    delete s.base;
    if (truthy(enableBase) && baseServices && baseServices.length > 0) localrc.push(`ENABLED_SERVICES=${baseServices.map((x) => pyStr(x)).join(',')}`);
    else localrc.push('disable_all_services');
    for (const [k, v] of Object.entries(s)) {
      if (v === false) localrc.push(`disable_service ${k}`);
      else if (v === true) localrc.push(`enable_service ${k}`);
    }
  }

  let lfg = false;
  let tp = false;
  if (input.localrc && Object.keys(input.localrc).length > 0) {
    for (const [k, v] of orderedVars(input.localrc)) {
      localrc.push(v.length > 0 && v[0] === '"' ? `${k}=${v}` : `${k}="${v}"`);
      if (k === 'LIBS_FROM_GIT') lfg = true;
      else if (k === 'TEMPEST_PLUGINS') tp = true;
    }
  }
  const projects = input.projects && Object.keys(input.projects).length > 0 ? input.projects : undefined;
  if (!lfg && (projects || input.project)) {
    const required: string[] = [];
    for (const info of Object.values(projects ?? {})) if (info.required) required.push(info.shortName);
    if (input.project && !required.includes(input.project.shortName)) required.push(input.project.shortName);
    if (required.length > 0) localrc.push(`LIBS_FROM_GIT=${required.join(',')}`);
  }
  const tempestPlugins = input.tempestPlugins;
  if (tempestPlugins && tempestPlugins.length > 0) {
    if (!tp) {
      const baseDir = input.baseDir ?? '';
      localrc.push(`TEMPEST_PLUGINS="${tempestPlugins.map((p) => pathJoin(baseDir, pyStr(p))).join(' ')}"`);
    } else {
      warnings.push(`TEMPEST_PLUGINS already defined (${pyStr(tp)}),requested value ${pyStr(tempestPlugins)} ignored`);
    }
  }

  // Plugins last: lines after enable_plugin would not apply to the plugins (e.g. DEST).
  if (input.plugins && Object.keys(input.plugins).length > 0) {
    const requires = input.pluginRequires ?? (input.baseDir ? readPluginRequires(input.baseDir) : {});
    for (const [k, v] of orderedPlugins(input.plugins, requires)) if (v) localrc.push(`enable_plugin ${k} ${v}`);
  }

  const sections = new Map<string, string[]>();
  if (input.localConf && Object.keys(input.localConf).length > 0) {
    for (const [phase, phaseData] of Object.entries(input.localConf)) {
      for (const [fn, fnData] of Object.entries(asMapping(phaseData, `devstack_local_conf.${phase}`))) {
        const lines: string[] = [];
        for (const [section, sectionData] of Object.entries(asMapping(fnData, `devstack_local_conf.${phase}.${fn}`))) {
          lines.push(`[${section}]`);
          for (const [k, v] of Object.entries(asMapping(sectionData, `devstack_local_conf.${phase}.${fn}.${section}`))) lines.push(`${k} = ${pyStr(v)}`);
          lines.push('');
        }
        sections.set(`[[${phase}|${fn}]]`, lines);
      }
    }
  }

  let text = `[[local|localrc]]\n${localrc.join('\n')}\n\n`;
  for (const [name, lines] of sections) text += `${name}\n${lines.join('\n')}`;
  return { text, warnings };
}

function truthy(v: unknown): boolean {
  if (v === null || v === undefined || v === false || v === 0 || v === '') return false;
  if (Array.isArray(v)) return v.length > 0;
  if (isRecord(v)) return Object.keys(v).length > 0;
  return true;
}

function asMapping(v: unknown, where: string): Record<string, unknown> {
  if (isRecord(v)) return v;
  throw new DevclusterError('REPRODUCE_SOURCE_INVALID', `${where} is not a mapping; DevStack's module fails on it too`, {
    hint: "the gate job could not have written its local.conf: check the build's job-output.txt",
  });
}

export interface GateLocalConfOptions {
  /** zuul.projects (the required ones go into LIBS_FROM_GIT). */
  projects?: Record<string, Pick<ZuulProject, 'required' | 'shortName'>>;
  /** zuul.project: the project under test. */
  project?: Pick<ZuulProjectRef, 'shortName'>;
  /**
   * plugin_requires by plugin. The module reads them from the plugin trees under devstack_base_dir on
   * the gate node; here they come from the caller (readPluginRequires on the fetched sources), never
   * from this host's /opt/stack. Default: none.
   */
  pluginRequires?: Record<string, readonly string[]>;
}

function mapping(v: unknown): Record<string, unknown> | undefined {
  return isRecord(v) ? v : undefined;
}

function list(v: unknown): unknown[] | undefined {
  return Array.isArray(v) ? v : undefined;
}

/**
 * What the write-devstack-local-conf role writes for a node whose (rendered) variables are `vars`:
 * its parameters are devstack_localrc, devstack_local_conf, devstack_base_services (default:
 * enabled_services), devstack_services, devstack_plugins, devstack_base_dir (default /opt/stack),
 * tempest_plugins, zuul.projects and zuul.project.
 */
export function gateLocalConf(vars: Record<string, unknown>, options: GateLocalConfOptions = {}): string {
  return gateLocalConfResult(vars, options).text;
}

function gateLocalConfResult(vars: Record<string, unknown>, options: GateLocalConfOptions): LocalConfResult {
  const input: LocalConfInput = {
    localrc: mapping(vars.devstack_localrc),
    localConf: mapping(vars.devstack_local_conf),
    baseServices: list(vars.devstack_base_services) ?? list(vars.enabled_services),
    services: mapping(vars.devstack_services),
    plugins: mapping(vars.devstack_plugins),
    baseDir: typeof vars.devstack_base_dir === 'string' ? vars.devstack_base_dir : '/opt/stack',
    projects: options.projects,
    project: options.project,
    tempestPlugins: list(vars.tempest_plugins),
    pluginRequires: options.pluginRequires ?? {},
  };
  return renderLocalConf(input);
}

export interface NodeLocalConf {
  /** Where the job kept it, under the node's log folder: logs/local_conf.txt, or logs/old|new/local_conf.txt (grenade). */
  logPath: string;
  /** devstack_base_dir of this local.conf (where DevStack runs from). */
  baseDir: string;
  text: string;
  warnings: string[];
}

/**
 * Every local.conf the job's playbooks write on a node: one (DevStack, Tempest jobs), or two for
 * grenade, whose pre playbook runs the role with devstack_localrc =
 * grenade_devstack_localrc.shared|combine(grenade_devstack_localrc.<side>) and devstack_base_dir =
 * devstack_bases.<side>, for the old and the new side.
 */
export function gateLocalConfs(vars: Record<string, unknown>, options: GateLocalConfOptions = {}): NodeLocalConf[] {
  const grenade = mapping(vars.grenade_devstack_localrc);
  if (!grenade) {
    const baseDir = typeof vars.devstack_base_dir === 'string' ? vars.devstack_base_dir : '/opt/stack';
    return [{ logPath: 'logs/local_conf.txt', baseDir, ...gateLocalConfResult(vars, options) }];
  }
  const bases = mapping(vars.devstack_bases) ?? {};
  return (['old', 'new'] as const).map((side) => {
    const baseDir = typeof bases[side] === 'string' ? (bases[side] as string) : `/opt/stack/${side}`;
    const localrc = { ...(mapping(grenade.shared) ?? {}), ...(mapping(grenade[side]) ?? {}) };
    const result = gateLocalConfResult({ ...vars, devstack_localrc: localrc, devstack_base_dir: baseDir }, options);
    return { logPath: `logs/${side}/local_conf.txt`, baseDir, ...result };
  });
}

// ---------------------------------------------------------------------------------------------
// Comparing with the job's own local_conf.txt

/** What devcluster rewrites, so a difference there is expected. */
export interface LocalConfRewrites {
  /** localrc variables and meta-section options whose value devcluster sets (exact names or patterns). */
  keys: readonly (string | RegExp)[];
  /** Addresses of the gate's nodes: a job line holding one is rewritten. */
  gateAddresses: readonly string[];
}

/** The defaults: node addresses, passwords, MTUs of the gate's overlay (see the facts on Zuul builds). */
export const DEVCLUSTER_REWRITES: LocalConfRewrites = {
  keys: ['HOST_IP', 'HOST_IPV6', 'SERVICE_HOST', 'DATABASE_HOST', 'RABBIT_HOST', 'GLANCE_HOSTPORT', 'Q_HOST', 'PUBLIC_BRIDGE_MTU', /_PASSWORD$/, 'global_physnet_mtu'],
  gateAddresses: [],
};

/** The default rewrites plus every address of the build's nodes (private, public, the one Zuul reached). */
export function rewritesFor(build: GateBuild): LocalConfRewrites {
  const addresses = new Set<string>();
  for (const node of build.nodes) {
    const nodepool = isRecord(node.hostVars.nodepool) ? node.hostVars.nodepool : {};
    for (const v of [nodepool.private_ipv4, nodepool.public_ipv4, nodepool.public_ipv6, nodepool.private_ipv6, nodepool.interface_ip, node.hostVars.ansible_host]) {
      if (typeof v === 'string' && v !== '') addresses.add(v);
    }
  }
  return { ...DEVCLUSTER_REWRITES, gateAddresses: [...addresses] };
}

export interface LocalConfLine {
  /** `[[local|localrc]]` or the meta-section, plus `[section]` inside it when there is one. */
  section: string;
  /** The variable or option (`enable_service x` lines are their own key). */
  key: string;
  ours: string | undefined;
  theirs: string | undefined;
}

export interface LocalConfComparison {
  /** Lines that differ beyond the rewrites: what `reproduce` must show. */
  differences: LocalConfLine[];
  /** Lines that differ where devcluster rewrites them (expected). */
  rewritten: LocalConfLine[];
}

interface Entry {
  section: string;
  key: string;
  line: string;
  value: string;
}

function entries(text: string): Entry[] {
  const out: Entry[] = [];
  let meta = '';
  let section = '';
  for (const line of text.split('\n')) {
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    const m = /^\[\[([^|\]]+)\|([^\]]+)\]\]$/.exec(trimmed);
    if (m) {
      meta = trimmed;
      section = '';
      continue;
    }
    const where = meta === '[[local|localrc]]' || meta === '' ? 'localrc' : 'conf';
    if (where === 'conf' && /^\[[^\]]+\]$/.test(trimmed)) {
      section = trimmed;
      continue;
    }
    const name = section ? `${meta} ${section}` : meta;
    if (where === 'localrc') {
      const a = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(trimmed);
      if (a) out.push({ section: name, key: a[1] as string, line: trimmed, value: (a[2] as string).replace(/^"(.*)"$/, '$1') });
      else out.push({ section: name, key: trimmed, line: trimmed, value: trimmed });
    } else {
      const o = /^([^=]+?)\s*=\s*(.*)$/.exec(trimmed);
      out.push(o ? { section: name, key: o[1] as string, line: trimmed, value: o[2] as string } : { section: name, key: trimmed, line: trimmed, value: trimmed });
    }
  }
  return out;
}

function matchesKey(key: string, keys: readonly (string | RegExp)[]): boolean {
  return keys.some((k) => (typeof k === 'string' ? k === key : k.test(key)));
}

/**
 * The lines of `ours` and `theirs` (the job's local_conf.txt) that differ, each section compared by
 * key (a localrc variable, an option, or a whole line such as `enable_service x`), order aside: a
 * difference is `rewritten` when its key is one devcluster rewrites or the job's value holds a gate
 * address, else it is a `difference`.
 */
export function compareLocalConf(ours: string, theirs: string, rewrites: LocalConfRewrites = DEVCLUSTER_REWRITES): LocalConfComparison {
  const a = entries(ours);
  const b = entries(theirs);
  const id = (e: Entry): string => `${e.section}\u0000${e.key}`;
  const ourMap = new Map<string, Entry[]>();
  for (const e of a) ourMap.set(id(e), [...(ourMap.get(id(e)) ?? []), e]);
  const theirMap = new Map<string, Entry[]>();
  for (const e of b) theirMap.set(id(e), [...(theirMap.get(id(e)) ?? []), e]);

  const differences: LocalConfLine[] = [];
  const rewritten: LocalConfLine[] = [];
  const keys = [...new Set([...a.map(id), ...b.map(id)])];
  for (const k of keys) {
    const mine = ourMap.get(k) ?? [];
    const job = theirMap.get(k) ?? [];
    const n = Math.max(mine.length, job.length);
    for (let i = 0; i < n; i++) {
      const o = mine[i];
      const t = job[i];
      if (o && t && o.line === t.line) continue;
      const sample = (o ?? t) as Entry;
      const line: LocalConfLine = { section: sample.section, key: sample.key, ours: o?.line, theirs: t?.line };
      const isRewrite = matchesKey(sample.key, rewrites.keys) || (t !== undefined && rewrites.gateAddresses.some((addr) => addr !== '' && t.value.includes(addr)));
      (isRewrite ? rewritten : differences).push(line);
    }
  }
  return { differences, rewritten };
}
