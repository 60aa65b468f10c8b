/**
 * From a Zuul build's logs to the devcluster.yaml that rebuilds its cluster (what `devcluster
 * reproduce` does before `--up`): read the inventory (fetch.ts), parse it and resolve each node's
 * variables with devcluster's addresses in place of the gate's (build.ts), render each node's
 * local.conf as DevStack's write-devstack-local-conf role does (local-conf.ts), compare it with the
 * local_conf.txt the job published, and write the config (generate.ts). Reports nothing itself: the
 * comparison and the warnings come back for the CLI to show.
 */
import { IMAGE_NAMES } from '../config/catalog-names.js';
import { DevclusterError } from '../errors.js';
import { assertDevstackJob, imageForLabel, nodeVars, parseInventory, type GateBuild } from './build.js';
import { jobStart, openBuild, readNodeFile, type BuildSource, type SourceOptions } from './fetch.js';
import { clusterAddresses, generateConfig, nodeRoles, type Generated, type HostSize } from './generate.js';
import { compareLocalConf, gateLocalConfs, rewritesFor, type LocalConfComparison } from './local-conf.js';
import { pyStr } from './python-str.js';
import { readOverlay } from './overlay.js';
import { configSources, resolveSources, type ResolvedSource } from './sources.js';

/**
 * external_bridge_mtu on devcluster's network: the gate computes it for its VXLAN overlay (devstack
 * playbooks/pre.yaml: smallest MTU − 30 − 40); devcluster's nodes share one network of MTU 1500
 * with no overlay, so the bridge keeps that. generate.ts leaves the MTU lines to DevStack's defaults.
 */
const CLUSTER_MTU = 1500;

export interface ReproduceOptions extends SourceOptions {
  /** --image: the image for every node instead of the one the nodepool label names. */
  image?: string;
  /** --with FILE: settings of the user's laid over the generated config (overlay.ts). */
  withFile?: string;
  host: HostSize;
  /**
   * --sources: rebuild every project of the build into `cacheDir` (sources.ts: exact at the job's
   * commit, or the branch plus the changes under test) and point the config at those trees.
   */
  sources?: { cacheDir: string; gitBase?: string; gerritBase?: string; hostBases?: Record<string, string> };
}

/** One local.conf of a node (grenade has two: old and new side) against the one the job published. */
export interface LocalConfCheck {
  node: string;
  /** Where the job keeps it under the node's folder: logs/local_conf.txt, logs/old|new/local_conf.txt. */
  logPath: string;
  /** Where the published one was read from; undefined when the build has none. */
  publishedFrom: string | undefined;
  /** Ours (rendered from the job's variables, devcluster's addresses) against the job's. */
  comparison: LocalConfComparison | undefined;
}

export interface Reproduction {
  source: BuildSource;
  build: GateBuild;
  generated: Generated;
  checks: LocalConfCheck[];
  /** Templates in the job's variables that could not be rendered, per node. */
  unresolved: Array<{ node: string; template: string }>;
  /** Each project of the build as rebuilt here (with --sources). */
  sources?: ResolvedSource[];
}

/** The branch before `branch` in OpenStack's series (YYYY.1 → (YYYY−1).2, YYYY.2 → YYYY.1). */
function previousSeries(branch: string): string | undefined {
  const m = /^stable\/(\d{4})\.([12])$/.exec(branch);
  if (!m) return undefined;
  const year = Number(m[1]);
  return m[2] === '2' ? `stable/${year}.1` : `stable/${year - 1}.2`;
}

/**
 * Grenade's branches: the job's grenade_from_branch / grenade_to_branch when it sets them, else the
 * defaults of grenade's roles/configure-grenade-branches (master: from stable/2025.2 at 0a5e3bf; a
 * stable branch: from the series before it), with a warning since those come from grenade's tree.
 */
function grenadeBranches(vars: Record<string, unknown>, build: GateBuild, warnings: string[]): { fromBranch: string; toBranch: string } {
  const toBranch = typeof vars.grenade_to_branch === 'string' ? vars.grenade_to_branch : (build.zuul.branch ?? 'master');
  if (typeof vars.grenade_from_branch === 'string') return { fromBranch: vars.grenade_from_branch, toBranch };
  const fromBranch = toBranch === 'master' ? 'stable/2025.2' : previousSeries(toBranch);
  if (fromBranch === undefined) {
    throw new DevclusterError('REPRODUCE_NOT_DEVSTACK', `grenade job ${build.zuul.job} on ${toBranch}: its inventory does not say which branch it upgraded from (grenade_from_branch)`, {
      hint: 'write the config with --out, then set devstack.grenade.from_branch from the job-output.txt of the build',
    });
  }
  warnings.push(`grenade from_branch ${fromBranch} is grenade's default for ${toBranch} (the inventory does not carry grenade_from_branch): check it against the build's job-output.txt`);
  return { fromBranch, toBranch };
}

/** One rebuilt project, for the config's header and the CLI: how it was made and whether it is the job's commit. */
export function describeSource(source: ResolvedSource): string {
  const got = source.got.slice(0, 12);
  const changes = source.changes.map((c) => `${c.change},${c.patchset}`).join(' + ');
  const how = changes === '' ? `${source.branch} at ${got}` : `${source.branch} + ${changes} (${source.mergeMode ?? 'merge'}) = ${got}`;
  const wanted = source.wanted === undefined ? 'the job recorded no commit' : source.how === 'exact' ? "the job's commit" : `the job had ${source.wanted.slice(0, 12)}`;
  return `${source.name}: ${source.how}, ${how}, ${wanted}`;
}

function checkImage(name: string): string {
  if (!(IMAGE_NAMES as readonly string[]).includes(name)) {
    throw new DevclusterError('USAGE_INVALID', `--image ${name} is not an image devcluster knows`, { hint: `use one of ${IMAGE_NAMES.join(', ')}` });
  }
  return name;
}

export async function reproduceBuild(sourceArg: string, options: ReproduceOptions): Promise<Reproduction> {
  const image = options.image === undefined ? undefined : checkImage(options.image);
  const overlay = options.withFile === undefined ? undefined : { file: options.withFile, value: await readOverlay(options.withFile) };
  const opened = await openBuild(sourceArg, options);
  const build = parseInventory(opened.inventory.text);
  assertDevstackJob(build);
  const { controller, computes } = nodeRoles(build.nodes);
  // A network --with sets decides the addresses, which local.conf lines (MY_PEER=…) carry too.
  const network = overlay?.value.network;
  const cidr = typeof network === 'object' && network !== null && 'cidr' in network && typeof network.cidr === 'string' ? network.cidr : undefined;
  const addresses = Object.fromEntries(clusterAddresses(build.nodes, cidr));
  const rewrites = rewritesFor(build);

  const checks: LocalConfCheck[] = [];
  const unresolved: Array<{ node: string; template: string }> = [];
  const gateConfs = new Map<string, string>();
  const warnings: string[] = [];
  let grenade: { fromBranch: string; toBranch: string; localrc: Record<string, string> } | undefined;
  for (const node of [controller, ...computes]) {
    options.ctx.signal.throwIfAborted();
    const resolved = nodeVars(build, node.name, { addresses, facts: { external_bridge_mtu: CLUSTER_MTU } });
    for (const template of resolved.unresolved) unresolved.push({ node: node.name, template });
    const confs = gateLocalConfs(resolved.vars, { projects: build.zuul.projects, ...(build.zuul.project ? { project: build.zuul.project } : {}), pluginRequires: {} });
    // The first is what the node stacks first: the only one, or grenade's old side (every node).
    if (confs[0]) gateConfs.set(node.name, confs[0].text);
    for (const conf of confs) {
      const published = await readNodeFile(opened.source, node.name, conf.logPath, options);
      checks.push({
        node: node.name,
        logPath: conf.logPath,
        publishedFrom: published?.from,
        comparison: published === undefined ? undefined : compareLocalConf(conf.text, published.text, rewrites),
      });
    }
    if (node === controller && resolved.vars.grenade_devstack_localrc !== undefined) {
      const localrc = resolved.vars.grenade_localrc;
      grenade = {
        ...grenadeBranches(resolved.vars, build, warnings),
        localrc:
          typeof localrc === 'object' && localrc !== null && !Array.isArray(localrc)
            ? Object.fromEntries(Object.entries(localrc).map(([k, v]) => [k, pyStr(v)]))
            : {},
      };
    }
  }

  const labelImage = image ?? imageForLabel(controller.label);
  let resolvedSources: ResolvedSource[] | undefined;
  let sourceInput: { sources: Record<string, string>; devstackRepo?: string; sourcesLeftOut: string[]; sourceLines: string[] } | undefined;
  if (options.sources !== undefined) {
    if (grenade !== undefined) {
      throw new DevclusterError('USAGE_INVALID', `--sources does not take grenade jobs yet (${build.zuul.job}): grenade stacks the old side from ${grenade.fromBranch}, whose trees the build does not record`, {
        hint: 'leave out --sources: stack.sh then clones each project from its branch',
      });
    }
    // A changed project starts from its branch as it was when the job ran, not as it is today.
    const asOf = await jobStart(opened.source, options);
    resolvedSources = await resolveSources(build.zuul.projects, build.zuul.items, { cwd: options.cwd, ...options.sources, ...(asOf === undefined ? {} : { asOf }) }, options.ctx);
    const controllerVars = nodeVars(build, controller.name, { addresses }).vars;
    const plugins = typeof controllerVars.devstack_plugins === 'object' && controllerVars.devstack_plugins !== null ? Object.keys(controllerVars.devstack_plugins) : [];
    const { repo, sources, others } = configSources(resolvedSources, plugins);
    const base = asOf === undefined
      ? "changed projects start from their branch's tip of today (job-output.txt gives no start time)"
      : `changed projects start from their branch as it was at ${asOf.toISOString()}, when the job started (job-output.txt)`;
    sourceInput = { sources, ...(repo === undefined ? {} : { devstackRepo: repo }), sourcesLeftOut: others.map((o) => o.name), sourceLines: [base, ...resolvedSources.map(describeSource)] };
  }
  const generated = generateConfig({
    build,
    source: opened.source.buildPage ?? opened.source.root,
    image: labelImage,
    imageReason: image !== undefined ? '(--image)' : `(from nodepool label ${controller.label})`,
    gateLocalConfs: gateConfs,
    host: options.host,
    ...(grenade === undefined ? {} : { grenade }),
    ...(sourceInput ?? {}),
    ...(overlay === undefined ? {} : { overlay }),
    ...(cidr === undefined ? {} : { cidr }),
  });
  generated.warnings.unshift(...warnings);
  for (const { node, template } of unresolved) generated.warnings.push(`${node}: the job's variables hold ${template}, which only the gate could fill`);
  return { source: opened.source, build, generated, checks, unresolved, ...(resolvedSources === undefined ? {} : { sources: resolvedSources }) };
}
