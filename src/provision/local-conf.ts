/**
 * Each node's DevStack local.conf, from the plan: the controller and compute variants of DevStack's
 * multinode guide and the gate, the layer's services, plugins (per role, ref defaulting to the
 * branch), sources (through the variables stackrc reads, src/devstack/tables.ts), every value
 * stack.sh would prompt for, journal, LIBVIRT_TYPE and what goes with qemu, the LVM backing file
 * sized to the node; then the user's own local.conf text for the node's role, merged per
 * meta-section (their localrc lines come after ours, so an assignment of theirs wins). Pure.
 * src/provision/fidelity.test.ts runs DevStack's own code on what this writes.
 */
import type { ClusterPlan, NodePlan } from '../plan/plan.js';
import { isLocalPath } from '../config/load.js';
import { shellQuote as bashValue } from '../process/quote.js';
import { DEVSTACK_PROJECTS } from '../devstack/tables.js';
import { gerritUrl } from '../devstack/upstream.js';

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

/** The repository and branch DevStack should take a source from, given the project's default URL. */
export function sourceRepo(project: string, value: string, defaultUrl: string, branch: string): { repo: string; branch: string } {
  const source = classifySource(value);
  // A local tree is already in DEST/<project> on LOCAL_BRANCH; DevStack keeps an existing clone.
  if (source.kind === 'local') return { repo: `${DEST}/${project}`, branch: LOCAL_BRANCH };
  if (source.kind === 'change') {
    const repo = gerritUrl(defaultUrl);
    // config/rules.ts refuses a change of a project not on opendev's Gerrit before it gets here.
    if (repo === undefined) throw new TypeError(`${project} (${defaultUrl}) is not on review.opendev.org`);
    return { repo, branch: source.ref };
  }
  return { repo: source.url, branch };
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

/**
 * The scheme of the controller's noVNC proxy. tls-proxy does not front it (lib/tls start_tls_proxy is
 * called for keystone, swift, … never for n-novnc); nova-novncproxy serves TLS on 6080 only when
 * NOVA_CONSOLE_PROXY_COMPUTE_TLS=True gives it a key and cert (master lib/nova:737-761), which also
 * needs tls-proxy (lib/nova:92). So https exactly when the controller's local.conf turns that on.
 */
export function novncScheme(controllerLocalConf: string): 'http' | 'https' {
  const localrc = parseMetaSections(controllerLocalConf).find((s) => s.header === LOCALRC)?.lines ?? [];
  let tls = false;
  for (const line of localrc) {
    const m = /^\s*NOVA_CONSOLE_PROXY_COMPUTE_TLS=["']?([A-Za-z]*)["']?\s*(#.*)?$/.exec(line);
    if (m) tls = m[1] === 'True';
  }
  return tls ? 'https' : 'http';
}

const GIB = 1024 ** 3;

/**
 * Cinder's LVM backing file for a node of `diskBytes`: half the disk in whole GiB, at most stackrc's
 * default 30G, at least 1G — truncate(1)'s G is GiB.
 */
export function volumeBackingFileSize(diskBytes: number): string {
  return `${Math.max(1, Math.min(30, Math.floor(diskBytes / GIB / 2)))}G`;
}

/** The user's local.conf text for `node`: its own (devstack.local_conf.nodes) when it has one, else its role's. */
export function nodeExtraLocalConf(ds: ClusterPlan['devstack'], node: Pick<NodePlan, 'name' | 'role'>): string {
  return ds.localConf.nodes[node.name] ?? (node.role === 'controller' ? ds.localConf.controller : ds.localConf.compute);
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
    // Every other value stack.sh would prompt for (read_password, master stack.sh:748-763), on every
    // node and whatever the services: a user can enable s-* or ldap through local_conf text, and a
    // prompt means exit 1 with stdin closed or a hang with it open. Unused ones are harmless.
    `SWIFT_HASH=${bashValue(p.swift_hash)}`,
    `SWIFT_TEMPURL_KEY=${bashValue(p.swift_tempurl_key)}`,
    `LDAP_PASSWORD=${bashValue(p.ldap)}`,
    `LIBVIRT_TYPE=${options.libvirtType}`,
    // Sparse, but a volume written past the disk fills the node (stackrc: 30G; lib/lvm truncate -s).
    `VOLUME_BACKING_FILE_SIZE=${volumeBackingFileSize(node.diskBytes)}`,
    `IP_VERSION=${ds.ipVersion}`,
    `USE_JOURNAL=${ds.journal ? 'True' : 'False'}`,
    `DEST=${options.dest ?? DEST}`,
    `LOGFILE=${options.dest ?? DEST}/logs/stack.sh.log`,
    'LOG_COLOR=False',
  ];
  if (options.libvirtType === 'qemu') {
    // As the gate does (devstack .zuul.yaml NOVA_LIBVIRT_TB_CACHE_SIZE: 128): TCG's translation cache
    // otherwise takes 1 GiB per guest; lib/nova sets [libvirt] tb_cache_size when it is > 0.
    lines.push('NOVA_LIBVIRT_TB_CACHE_SIZE=128');
  }
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
      `NOVNCPROXY_URL=${novncScheme(nodeExtraLocalConf(ds, controller))}://${controller.ip}:6080/vnc_lite.html`,
      'ENABLE_CHASSIS_AS_GW=False',
      `ENABLED_SERVICES=${ds.services.compute.join(',')}`,
    );
  }
  // The branch other trees follow: DevStack's own, unless that is a Gerrit change of DevStack
  // (refs/changes/…), which names nothing in another repository: then master.
  const target = ds.branch.startsWith('refs/') ? 'master' : ds.branch;
  // Each source through the variables DevStack reads for it (stackrc, via src/devstack/tables.ts);
  // a library only from git when named in LIBS_FROM_GIT (inc/python use_library_from_git).
  // A source named like a plugin changes that plugin's enable_plugin line instead (below).
  const libs: string[] = [];
  const plugins = new Map(ds.services.plugins.map((p) => [p.name, { ...p }]));
  for (const [project, value] of Object.entries(ds.sources)) {
    const plugin = plugins.get(project);
    if (plugin) {
      const { repo, branch } = sourceRepo(project, value, plugin.url, plugin.ref ?? target);
      plugins.set(project, { ...plugin, url: repo, ref: branch });
      continue;
    }
    const known = DEVSTACK_PROJECTS[project];
    // config/rules.ts refuses a project DevStack has no variables for.
    if (known === undefined) throw new TypeError(`DevStack has no variables for project ${project}`);
    const { repo, branch } = sourceRepo(project, value, known.url, target);
    lines.push(`${known.repoVar}=${bashValue(repo)}`, `${known.branchVar}=${bashValue(branch)}`);
    if (known.library) libs.push(project);
  }
  if (libs.length > 0) lines.push(`LIBS_FROM_GIT=${libs.join(',')}`);
  // Before the plugins: their settings read these with ${VAR:-default}.
  if (node.role === 'compute') lines.push(...ds.services.computeLocalrc);
  // enable_plugin's REF defaults to master, not the branch being stacked (functions-common
  // enable_plugin: `local branch=${3:-master}`), so the ref is always written.
  for (const plugin of plugins.values()) {
    if (!plugin.roles.includes(node.role)) continue;
    lines.push(['enable_plugin', plugin.name, bashValue(plugin.url), bashValue(plugin.ref ?? target)].join(' '));
  }
  if (node.role === 'compute' && ds.services.computeDisabled.length > 0) {
    // After the plugins: their settings' enable_service skips what DISABLED_SERVICES names.
    lines.push(`disable_service ${ds.services.computeDisabled.join(' ')}`);
  }
  const extra = nodeExtraLocalConf(ds, node);
  return mergeLocalConf([{ header: LOCALRC, lines }], parseMetaSections(extra));
}
