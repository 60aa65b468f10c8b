/**
 * Grenade mode as the gate runs it (openstack/grenade, read at 0a5e3bf):
 *   - .zuul.yaml `devstack_bases`: shared /opt/stack, old /opt/stack/old, new /opt/stack/new; the old
 *     side's local.conf gets DEST=/opt/stack/old (grenade_devstack_localrc.old), the new side's
 *     DEST=/opt/stack/new (grenade_devstack_localrc.new);
 *   - playbooks/grenade.yaml: orchestrate-devstack with devstack_base_dir /opt/stack/old on every node
 *     (the from-branch: playbooks/pre.yaml setup-devstack-source-dirs with grenade_from_branch), then on
 *     the controller write-grenade-conf and run-grenade with grenade_base_dir /opt/stack/new;
 *   - roles/write-grenade-conf/templates/localrc.j2 (grenade's localrc, with BASE_DEVSTACK_BRANCH and
 *     TARGET_DEVSTACK_BRANCH) and templates/pluginrc.j2 (`enable_grenade_plugin NAME URL`);
 *   - roles/run-grenade/tasks/main.yaml: `./grenade.sh` in /opt/stack/new/grenade as stack with
 *     GRENADE_USE_EXTERNAL_DEVSTACK=True, so grenade neither clones nor rewrites the DevStack trees
 *     (grenade.sh `fetch_devstacks` is skipped, inc/bootstrap `devstacks_setup_environment` only).
 * Pure: the layout and the files; src/provision/steps/grenade.ts runs the actions.
 */
import type { ClusterPlan, NodePlan } from '../plan/plan.js';
import { shellQuote as shq } from '../process/quote.js';
import { DEST, DEVSTACK_DIR, renderLocalConf, type LocalConfOptions } from './local-conf.js';

/** grenade .zuul.yaml `devstack_bases`. */
export const GRENADE_BASES = { shared: DEST, old: `${DEST}/old`, new: `${DEST}/new` } as const;
/** grenade_base_dir (devstack_bases.new) + /grenade: where run-grenade runs grenade.sh. */
export const GRENADE_DIR = `${GRENADE_BASES.new}/grenade`;
/** The command roles/run-grenade runs (its `environment:` as a prefix), in GRENADE_DIR. */
export const GRENADE_COMMAND = `cd ${GRENADE_DIR} && GRENADE_USE_EXTERNAL_DEVSTACK=True ./grenade.sh`;

/** Where a node's DevStack is stacked and from which branch. */
export interface StackLayout {
  /** DevStack's DEST. */
  dest: string;
  devstackDir: string;
  branch: string;
}

type GrenadePlan = NonNullable<ClusterPlan['devstack']['grenade']>;

/** DevStack mode: /opt/stack at devstack.branch. Grenade mode: the from-branch in /opt/stack/old, on every node. */
export function stackLayout(plan: ClusterPlan): StackLayout {
  const g = plan.devstack.grenade;
  if (plan.devstack.mode !== 'grenade' || !g) return { dest: DEST, devstackDir: DEVSTACK_DIR, branch: plan.devstack.branch };
  return { dest: GRENADE_BASES.old, devstackDir: `${GRENADE_BASES.old}/devstack`, branch: g.from };
}

/** The plan as one side of the upgrade sees it: its branch is what url sources and plugin refs follow. */
function onBranch(plan: ClusterPlan, branch: string): ClusterPlan {
  return { ...plan, devstack: { ...plan.devstack, branch } };
}

/** A node's local.conf for the side it is stacked on (the old side in grenade mode). */
export function stackLocalConf(plan: ClusterPlan, node: NodePlan, options: Omit<LocalConfOptions, 'dest'>): string {
  const layout = stackLayout(plan);
  if (layout.dest === DEST) return renderLocalConf(plan, node, options);
  return renderLocalConf(onBranch(plan, layout.branch), node, { ...options, dest: layout.dest });
}

/**
 * grenade's localrc: roles/write-grenade-conf/templates/localrc.j2 with base_dir = devstack_bases.shared,
 * grenade_from_branch / grenade_to_branch, the role's defaults (grenade_tempest_concurrency 2,
 * grenade_test_timeout 1200), then the additional variables: the grenade-base job's grenade_localrc
 * (SAVE_DIR=/opt/stack/save) and the user's devstack.grenade.localrc (later lines win when sourced).
 */
export function grenadeLocalrc(g: GrenadePlan): string {
  const base = GRENADE_BASES.shared;
  const extra: Record<string, string> = { SAVE_DIR: `${base}/save`, ...g.localrc };
  return [
    '# grenade localrc, written by devcluster as the gate writes it (grenade roles/write-grenade-conf/templates/localrc.j2).',
    'BASE_RELEASE=old',
    `BASE_RELEASE_DIR=${base}/$BASE_RELEASE`,
    'BASE_DEVSTACK_DIR=$BASE_RELEASE_DIR/devstack',
    `BASE_DEVSTACK_BRANCH=${shq(g.from)}`,
    'TARGET_RELEASE=new',
    `TARGET_RELEASE_DIR=${base}/$TARGET_RELEASE`,
    'TARGET_DEVSTACK_DIR=$TARGET_RELEASE_DIR/devstack',
    `TARGET_DEVSTACK_BRANCH=${shq(g.to)}`,
    'TARGET_RUN_SMOKE=False',
    'SAVE_DIR=$BASE_RELEASE_DIR/save',
    'TEMPEST_CONCURRENCY=2',
    'export OS_TEST_TIMEOUT=1200',
    'VERBOSE=False',
    'PLUGIN_DIR=$TARGET_RELEASE_DIR',
    '# Additional variables',
    ...Object.entries(extra).map(([key, value]) => `${key}=${shq(value)}`),
    '',
  ].join('\n');
}

/** grenade's pluginrc: roles/write-grenade-conf/templates/pluginrc.j2 over the DevStack plugins (grenade_plugins: devstack_plugins). */
export function grenadePluginrc(plan: ClusterPlan): string {
  return plan.devstack.services.plugins.map((p) => `enable_grenade_plugin ${shq(p.name)} ${shq(p.url)}\n`).join('');
}

/** One thing the grenade step does on the controller, in order. */
export type GrenadeAction =
  | { kind: 'clone'; dest: string; url: string; ref: string; what: string }
  | { kind: 'upload'; path: string; data: string; mode: number; what: string }
  | { kind: 'run'; command: string; what: string; long: boolean };

/**
 * The grenade step on the controller, after the old side is stacked everywhere: the target DevStack
 * at the to-branch in /opt/stack/new/devstack with its local.conf (DEST=/opt/stack/new), grenade at the
 * to-branch in /opt/stack/new/grenade with its localrc and pluginrc, then grenade.sh.
 */
export function grenadeActions(plan: ClusterPlan, controller: NodePlan, options: Omit<LocalConfOptions, 'dest'>): GrenadeAction[] {
  const g = plan.devstack.grenade;
  if (plan.devstack.mode !== 'grenade' || !g) return [];
  const newDevstack = `${GRENADE_BASES.new}/devstack`;
  return [
    { kind: 'clone', dest: newDevstack, url: plan.devstack.repo, ref: g.to, what: `clone DevStack ${g.to} into ${newDevstack}` },
    {
      kind: 'upload',
      path: `${newDevstack}/local.conf`,
      data: renderLocalConf(onBranch(plan, g.to), controller, { ...options, dest: GRENADE_BASES.new }),
      mode: 0o600,
      what: 'the target local.conf',
    },
    { kind: 'clone', dest: GRENADE_DIR, url: g.repo, ref: g.to, what: `clone grenade ${g.to} into ${GRENADE_DIR}` },
    { kind: 'upload', path: `${GRENADE_DIR}/localrc`, data: grenadeLocalrc(g), mode: 0o644, what: "grenade's localrc" },
    { kind: 'upload', path: `${GRENADE_DIR}/pluginrc`, data: grenadePluginrc(plan), mode: 0o644, what: "grenade's pluginrc" },
    { kind: 'run', command: GRENADE_COMMAND, what: 'grenade.sh', long: true },
  ];
}
