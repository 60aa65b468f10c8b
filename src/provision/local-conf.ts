/**
 * Each node's DevStack local.conf, from the plan: the controller and compute variants of DevStack's
 * multinode guide and the gate, the layer's services, plugins, sources, passwords, journal and
 * LIBVIRT_TYPE; then the user's own local.conf text for the node's role, merged per meta-section
 * (their localrc lines come after ours, so an assignment of theirs wins). Pure.
 */
import type { ClusterPlan, NodePlan } from '../plan/plan.js';
import { isLocalPath } from '../config/load.js';
import { shellQuote as bashValue } from '../process/quote.js';

/** Where DevStack and the pushed trees live on a node (the stack user's home, DevStack's DEST). */
export const DEST = '/opt/stack';
export const DEVSTACK_DIR = `${DEST}/devstack`;
/** The branch name under which a local tree is pushed to the nodes. */
export const LOCAL_BRANCH = 'devcluster-local';

export interface LocalConfOptions {
  /** `kvm` only where the node itself has /dev/kvm (nested virtualisation); otherwise `qemu`. */
  libvirtType: 'kvm' | 'qemu';
  /** DevStack's DEST (and its logs) when not DEST: grenade's old and new trees (src/provision/grenade.ts). */
  dest?: string;
}

/** A source as DevStack sees it: the tree pushed from the host, a Gerrit change, or another git URL. */
export type SourceKind = { kind: 'local'; path: string } | { kind: 'change'; ref: string } | { kind: 'url'; url: string };

export function classifySource(value: string): SourceKind {
  if (value.startsWith('refs/')) return { kind: 'change', ref: value };
  if (isLocalPath(value)) return { kind: 'local', path: value };
  return { kind: 'url', url: value };
}

/** DevStack's variable prefix for a project: nova → NOVA, python-novaclient → PYTHON_NOVACLIENT. */
export function projectVar(project: string): string {
  return project.toUpperCase().replace(/[^A-Z0-9]/g, '_');
}

/** Libraries are installed from git through LIBS_FROM_GIT rather than a *_REPO of a service. */
function isLibrary(project: string): boolean {
  return /^(oslo\.|python-|os-|osc-|keystoneauth|keystonemiddleware|castellan|tooz|taskflow|stevedore|futurist|cliff|debtcollector|automaton|glance_store|ovsdbapp|pycadf)/.test(project);
}

interface Section {
  header: string;
  lines: string[];
}

const LOCALRC = '[[local|localrc]]';

/** Split local.conf text into meta-sections; text before any header belongs to localrc. */
export function parseMetaSections(text: string): Section[] {
  const sections: Section[] = [];
  let current: Section | undefined;
  for (const line of text.split('\n')) {
    const header = /^\s*(\[\[\s*[^|\]]+\s*\|\s*[^\]]+\]\])\s*$/.exec(line);
    if (header) {
      const normalised = (header[1] as string).replace(/\s+/g, '');
      current = sections.find((s) => s.header === normalised);
      if (!current) {
        current = { header: normalised, lines: [] };
        sections.push(current);
      }
      continue;
    }
    if (!current) {
      if (line.trim() === '') continue;
      current = { header: LOCALRC, lines: [] };
      sections.push(current);
    }
    current.lines.push(line);
  }
  for (const section of sections) {
    while (section.lines.length > 0 && (section.lines.at(-1) as string).trim() === '') section.lines.pop();
  }
  return sections;
}

/** Ours first, then the user's: localrc lines appended (theirs win), other sections in their order. */
export function mergeLocalConf(ours: Section[], theirs: Section[]): string {
  const merged: Section[] = ours.map((s) => ({ header: s.header, lines: [...s.lines] }));
  for (const section of theirs) {
    const target = merged.find((s) => s.header === section.header);
    if (target) {
      target.lines.push('', '# --- from devstack.local_conf ---', ...section.lines);
    } else merged.push({ header: section.header, lines: [...section.lines] });
  }
  return `${merged.map((s) => [s.header, ...s.lines].join('\n')).join('\n\n')}\n`;
}

export function renderLocalConf(plan: ClusterPlan, node: NodePlan, options: LocalConfOptions): string {
  const controller = plan.nodes.find((n) => n.name === plan.controller) as NodePlan;
  const ds = plan.devstack;
  const p = ds.passwords;
  const lines: string[] = [
    `# local.conf for ${node.name} (${node.role}) of cluster ${plan.name}, written by devcluster.`,
    '# Add to it through devstack.local_conf in devcluster.yaml; `devcluster render` shows it.',
    `HOST_IP=${node.ip}`,
    `SERVICE_HOST=${controller.ip}`,
    `ADMIN_PASSWORD=${bashValue(p.admin)}`,
    `DATABASE_PASSWORD=${bashValue(p.database)}`,
    `RABBIT_PASSWORD=${bashValue(p.rabbit)}`,
    `SERVICE_PASSWORD=${bashValue(p.service)}`,
    `LIBVIRT_TYPE=${options.libvirtType}`,
    `IP_VERSION=${ds.ipVersion}`,
    `USE_JOURNAL=${ds.journal ? 'True' : 'False'}`,
    `DEST=${options.dest ?? DEST}`,
    `LOGFILE=${options.dest ?? DEST}/logs/stack.sh.log`,
    'LOG_COLOR=False',
  ];
  if (node.role === 'controller') {
    lines.push(
      'FIXED_RANGE=10.1.0.0/20',
      'IPV4_ADDRS_SAFE_TO_USE=10.1.0.0/20',
      'NETWORK_GATEWAY=10.1.0.1',
      'FLOATING_RANGE=172.24.5.0/24',
      'PUBLIC_NETWORK_GATEWAY=172.24.5.1',
      // Images are uploaded after stack.sh by devcluster (through the host's cache), not by stack.sh.
      'DOWNLOAD_DEFAULT_IMAGES=False',
      'IMAGE_URLS=',
      `ENABLED_SERVICES=${ds.services.controller.join(',')}`,
    );
  } else {
    lines.push(
      'DATABASE_TYPE=mysql',
      `MYSQL_HOST=${controller.ip}`,
      `DATABASE_HOST=${controller.ip}`,
      `RABBIT_HOST=${controller.ip}`,
      `GLANCE_HOSTPORT=${controller.ip}:9292`,
      `Q_HOST=${controller.ip}`,
      'NOVA_VNC_ENABLED=True',
      'VNCSERVER_LISTEN=$HOST_IP',
      'VNCSERVER_PROXYCLIENT_ADDRESS=$HOST_IP',
      `NOVNCPROXY_URL=http://${controller.ip}:6080/vnc_lite.html`,
      'ENABLE_CHASSIS_AS_GW=False',
      `ENABLED_SERVICES=${ds.services.compute.join(',')}`,
    );
  }
  const libs: string[] = [];
  for (const [project, value] of Object.entries(ds.sources)) {
    const source = classifySource(value);
    const name = projectVar(project);
    if (isLibrary(project)) libs.push(project);
    if (source.kind === 'local') {
      // The tree is already in DEST/<project> on the branch below; DevStack keeps an existing clone.
      lines.push(`${name}_REPO=${DEST}/${project}`, `${name}_BRANCH=${LOCAL_BRANCH}`);
    } else if (source.kind === 'change') {
      lines.push(`${name}_REPO=https://review.opendev.org/openstack/${project}`, `${name}_BRANCH=${bashValue(source.ref)}`);
    } else {
      lines.push(`${name}_REPO=${bashValue(source.url)}`, `${name}_BRANCH=${bashValue(ds.branch)}`);
    }
  }
  if (libs.length > 0) lines.push(`LIBS_FROM_GIT=${libs.join(',')}`);
  if (node.role === 'controller') {
    for (const plugin of ds.services.plugins) {
      lines.push(['enable_plugin', plugin.name, bashValue(plugin.url), ...(plugin.ref ? [bashValue(plugin.ref)] : [])].join(' '));
    }
  }
  const extra = node.role === 'controller' ? ds.localConf.controller : ds.localConf.compute;
  return mergeLocalConf([{ header: LOCALRC, lines }], parseMetaSections(extra));
}
