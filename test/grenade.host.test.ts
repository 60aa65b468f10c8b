/**
 * Grenade mode end to end without VMs: devcluster's own steps (src/provision/steps/, over real SSH)
 * against two sshd "hosts" in network namespaces, each with its own /opt/stack, with the real
 * openstack/devstack (stable/2025.2 and master) and openstack/grenade (master) trees
 * (test/support/upstream-repo.ts: DEVCLUSTER_DEVSTACK_REPO / DEVCLUSTER_GRENADE_REPO, the shared
 * bundles, or opendev).
 *
 * Real here: fetch-git.sh cloning each branch on the nodes, the local.conf and grenade localrc
 * devcluster uploads, DevStack's own stackrc reading that local.conf, and the real grenade.sh run
 * with GRENADE_USE_EXTERNAL_DEVSTACK=True as the grenade step runs it, up to grenade's own stop:
 * `stop $STOP image-cache 20` (grenade.sh, after init_grenade_db and the image cache; `-s LABEL`
 * sets STOP, and grenaderc sources localrc first, so STOP=image-cache in localrc, through the
 * config's devstack.grenade.localrc, stops it the same way: "STOP called for image-cache", exit 1).
 *
 * Stand-in (stack.sh cannot run on this machine: it rewrites /etc/sudoers, /etc/hosts and apt): the
 * stack step's `./stack.sh` is replaced by a script that does what real stack.sh does first with the
 * tree it is run in — source its functions, extract_localrc_section (inc/meta-config) and stackrc —
 * and records the directory, its branch and commit, and the DEST, DATA_DIR and LOGFILE DevStack's own
 * code derived. Needs root (network namespaces).
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfigText } from '../src/config/load.js';
import type { Ctx } from '../src/events.js';
import { buildPlan, type ClusterPlan } from '../src/plan/plan.js';
import { StepCommandError, type Stage } from '../src/provision/engine.js';
import { secretsOf } from '../src/provision/provision.js';
import { devstackStages, type ProvisionNode } from '../src/provision/steps/index.js';
import { completeSecrets, type Secrets } from '../src/state/secrets.js';
import { SessionPool, type NodeSession } from '../src/ssh/session.js';
import { startNetnsHosts, type NetnsHosts } from './support/netns-hosts.js';
import { upstreamMirror } from './support/upstream-repo.js';

const FROM = 'stable/2025.2';
const TO = 'master';
const work = mkdtempSync(join(tmpdir(), 'dc-grenade-'));
chmodSync(work, 0o755); // the hosts' user clones the mirrors from here
let net: NetnsHosts;
let plan: ClusterPlan;
let secrets: Secrets;
let devstackUrl: string;
let grenadeUrl: string;
/** Each mirrored branch's commit, by `project branch`. */
const heads: Record<string, string> = {};
let pool: SessionPool;
const ctx: Ctx = { signal: AbortSignal.timeout(15 * 60_000), report: () => undefined };

/** TEST STAND-IN for ./stack.sh: real stack.sh's first reading of its config (stack.sh: `source functions`, `extract_localrc_section`, `source stackrc`), then a record. */
const STACK_STANDIN = `#!/bin/bash
set -e
TOP_DIR=$(pwd)
source "$TOP_DIR/functions"
source "$TOP_DIR/inc/meta-config"
extract_localrc_section "$TOP_DIR/local.conf" "$TOP_DIR/localrc" "$TOP_DIR/.localrc.auto"
source "$TOP_DIR/stackrc"
printf 'host=%s dir=%s branch=%s commit=%s DEST=%s DATA_DIR=%s LOGFILE=%s\\n' "$(hostname)" "$TOP_DIR" \\
  "$(git -C "$TOP_DIR" rev-parse --abbrev-ref HEAD)" "$(git -C "$TOP_DIR" rev-parse HEAD)" "$DEST" "$DATA_DIR" "$LOGFILE" >>/opt/stack/stacked
`;

beforeAll(async () => {
  [{ url: devstackUrl }, { url: grenadeUrl }] = await Promise.all([
    upstreamMirror('devstack', [FROM, TO], join(work, 'devstack.git'), ctx.signal),
    upstreamMirror('grenade', [TO], join(work, 'grenade.git'), ctx.signal),
  ]);
  const config = [
    'name: grenadet',
    'nodes:',
    '  - { name: controller, role: controller }',
    '  - { name: compute1, role: compute }',
    'devstack:',
    '  mode: grenade',
    `  repo: ${devstackUrl}`,
    `  branch: ${TO}`,
    '  grenade:',
    `    from_branch: ${FROM}`,
    `    repo: ${grenadeUrl}`,
    '    localrc: { STOP: image-cache }',
    '',
  ].join('\n');
  const loaded = await parseConfigText(config, { file: 'devcluster.yaml', baseDir: work, home: work, agentSocket: undefined });
  secrets = completeSecrets(loaded.config.name, loaded.config.nodes.map((n) => n.name));
  plan = buildPlan(loaded.config, loaded.userKeys, secrets);
  pool = new SessionPool(secretsOf(plan));
  net = await startNetnsHosts({
    names: plan.nodes.map((n) => n.name),
    hostKeys: Object.fromEntries(plan.nodes.map((n) => [n.name, secrets.host_keys[n.name] as { private: string; public: string }])),
    authorizedKeys: [secrets.cluster_key.public],
    privateDirs: ['/opt/stack'],
  });
  for (const [repo, branch] of [['devstack', FROM], ['devstack', TO], ['grenade', TO]] as const) {
    heads[`${repo} ${branch}`] = execFileSync('git', ['-C', join(work, `${repo}.git`), 'rev-parse', `refs/heads/${branch}`], { encoding: 'utf8' }).trim();
  }
  // git serves a local repository only to its owner (safe.directory): the hosts' user clones them.
  execFileSync('chown', ['-R', net.user, join(work, 'devstack.git'), join(work, 'grenade.git')]);
}, 300_000);

afterAll(async () => {
  await pool?.closeAll();
  await net?.stop();
  rmSync(work, { recursive: true, force: true });
});

function sessionFor(name: string, c: Ctx): Promise<NodeSession> {
  const host = net.hosts.find((h) => h.name === name);
  if (!host) throw new Error(`no netns host ${name}`);
  const hostKey = (secrets.host_keys[name] as { public: string }).public;
  return pool.get({ node: name, label: name, host: host.address, port: 22, username: net.user, privateKey: secrets.cluster_key.private, hostKey }, { signal: c.signal, budgetMs: 15_000 });
}

/** The session as the stack step sees it: `./stack.sh` runs the stand-in above instead. */
async function standInSession(name: string): Promise<NodeSession> {
  const session = await sessionFor(name, ctx);
  await session.upload({ data: STACK_STANDIN }, '/opt/stack/stack-standin.sh', { mode: 0o755, signal: ctx.signal });
  const wrapped = Object.create(session) as NodeSession;
  wrapped.run = (command, options) => session.run(command.replace(/&& \.\/stack\.sh$/, '&& bash /opt/stack/stack-standin.sh'), options);
  return wrapped;
}

async function runStage(stage: Stage<ProvisionNode>, session: (name: string) => Promise<NodeSession>): Promise<void> {
  const one = async (node: ProvisionNode) =>
    stage.run({ node, step: stage.step, session: await session(node.name), logFile: join(work, `${node.name}-${stage.step}.log`), ctx });
  if (stage.parallel) await Promise.all(stage.nodes.map(one));
  else for (const node of stage.nodes) await one(node);
}

const onNode = async (name: string, command: string) => (await sessionFor(name, ctx)).run(command, { signal: ctx.signal, what: command });

describe('grenade mode over SSH with the real DevStack and grenade trees', () => {
  it('stacks the from-branch in /opt/stack/old on every node, then runs the real grenade.sh with both branches and GRENADE_USE_EXTERNAL_DEVSTACK=True', async () => {
    const host = { baseDir: work, home: work, nestedVirt: false, stackTimeoutMs: 600_000, cloneTimeoutMs: 600_000 };
    const { stages, dispose } = devstackStages(plan, host, sessionFor);
    try {
      const wanted = ['devstack', 'local-conf', 'stack', 'grenade'];
      const chosen = stages.filter((s) => wanted.includes(s.step));
      // Real order: clone + local.conf everywhere, stack on the controller, then the computes, then grenade.
      expect(chosen.map((s) => `${s.step}:${s.nodes.map((n) => n.name).join('+')}`)).toEqual(['devstack:controller+compute1', 'local-conf:controller+compute1', 'stack:controller', 'stack:compute1', 'grenade:controller']);
      for (const stage of chosen.filter((s) => s.step !== 'grenade')) await runStage(stage, stage.step === 'stack' ? standInSession : (n) => sessionFor(n, ctx));

      // Every node: the from-branch's tree in /opt/stack/old/devstack, and DevStack's own stackrc
      // reading devcluster's local.conf there into DEST=/opt/stack/old (DATA_DIR stays shared).
      const fromHead = heads[`devstack ${FROM}`];
      for (const name of ['controller', 'compute1']) {
        const stacked = await onNode(name, 'cat /opt/stack/stacked; test -e /opt/stack/devstack && echo "/opt/stack/devstack exists" || true');
        expect(stacked.code).toBe(0);
        expect(stacked.stdout.trim().split('\n')).toEqual([
          `host=${name} dir=/opt/stack/old/devstack branch=${FROM} commit=${fromHead} DEST=/opt/stack/old DATA_DIR=/opt/stack/data LOGFILE=/opt/stack/old/logs/stack.sh.log`,
        ]);
      }

      const grenade = chosen.find((s) => s.step === 'grenade') as Stage<ProvisionNode>;
      const failure = await runStage(grenade, (n) => sessionFor(n, ctx)).then(
        () => undefined,
        (error: unknown) => error,
      );
      // grenade's own stop: exit 1 after "STOP called for image-cache" (grenade.sh stop()).
      expect(failure).toBeInstanceOf(StepCommandError);
      expect((failure as StepCommandError).exitCode).toBe(1);
      expect((failure as Error).message).toBe('grenade.sh exited with 1');

      const log = (await onNode('controller', 'cat /opt/stack/logs/grenade.sh.log')).stdout;
      expect(log).toContain('STOP called for image-cache');
      // GRENADE_USE_EXTERNAL_DEVSTACK=True: grenade.sh takes devstacks_setup_environment, not fetch_devstacks
      // (which would clone and rewrite both local.conf files through dsconf).
      // (xtrace with the default PS4 there: grenade.sh sets its own at line 184).
      expect(log).toMatch(/\| \+ '\[' True '!=' True '\]'\n.*\| \+ devstacks_setup_environment\n.*\| \+ source \/opt\/stack\/new\/devstack\/functions-common\n/);
      expect(log).not.toMatch(/fetch_devstacks|dsconf merge_lc|local\.conf\.orig/);
      // The services it will upgrade come from the OLD tree's stackrc reading devcluster's local.conf.
      const services = /grenade\.sh:main:209 +: +ENABLED_SERVICES=(\S+)/.exec(log)?.[1];
      expect(services?.split(',')).toEqual(plan.devstack.services.controller);

      // grenade's localrc as grenade itself reads it (its grenaderc sources localrc).
      const read = await onNode('controller', 'cd /opt/stack/new/grenade && bash -c \'source ./grenaderc && echo "$BASE_DEVSTACK_DIR $BASE_DEVSTACK_BRANCH $TARGET_DEVSTACK_DIR $TARGET_DEVSTACK_BRANCH $SAVE_DIR"\'');
      expect(read.stdout.trim()).toBe(`/opt/stack/old/devstack ${FROM} /opt/stack/new/devstack ${TO} /opt/stack/save`);
      // ... and the same as the gate's own template renders it (roles/write-grenade-conf/templates/localrc.j2
      // through Jinja2, with the role's defaults and the grenade-base job's grenade_localrc plus ours):
      // every variable grenaderc ends up with is the same.
      const vars = "cd /opt/stack/new/grenade && bash -c 'source ./grenaderc >/dev/null && set -o posix && set' | grep -vE '^(BASH|PPID|SHELLOPTS|OLDPWD|_|CURRENT_LOG_TIME|RANDOM|SECONDS|EPOCH|SRANDOM)'";
      const render = [
        'import jinja2, sys',
        "t = jinja2.Template(open('roles/write-grenade-conf/templates/localrc.j2').read())",
        `sys.stdout.write(t.render(base_dir='/opt/stack', grenade_from_branch='${FROM}', grenade_to_branch='${TO}', grenade_tempest_concurrency=2, grenade_test_timeout=1200, grenade_localrc={'SAVE_DIR': '/opt/stack/save', 'STOP': 'image-cache'}))`,
      ].join('\n');
      const ours = await onNode('controller', vars);
      const gate = await onNode('controller', `cd /opt/stack/new/grenade && cp localrc /opt/stack/localrc.devcluster && python3 -c "${render}" > localrc && ${vars}; rc=$?; mv /opt/stack/localrc.devcluster localrc; exit $rc`);
      expect(gate.code).toBe(0);
      expect(ours.stdout).toContain(`BASE_DEVSTACK_BRANCH=${FROM}\n`);
      expect(ours.stdout).toBe(gate.stdout);
      // The target tree (to-branch) and grenade (to-branch), and the target local.conf with DEST=/opt/stack/new.
      const trees = await onNode('controller', 'for d in /opt/stack/new/devstack /opt/stack/new/grenade; do echo "$d $(git -C $d rev-parse --abbrev-ref HEAD) $(git -C $d rev-parse HEAD)"; done; grep -E "^(DEST|LOGFILE)=" /opt/stack/new/devstack/local.conf');
      expect(trees.stdout.trim().split('\n')).toEqual([
        `/opt/stack/new/devstack ${TO} ${heads[`devstack ${TO}`]}`,
        `/opt/stack/new/grenade ${TO} ${heads[`grenade ${TO}`]}`,
        'DEST=/opt/stack/new',
        'LOGFILE=/opt/stack/new/logs/stack.sh.log',
      ]);
      // The computes stay on the old side: nothing under /opt/stack/new there.
      expect((await onNode('compute1', 'ls /opt/stack')).stdout.trim().split('\n').sort()).toEqual(['devcluster', 'old', 'stack-standin.sh', 'stacked']);
    } finally {
      await dispose();
    }
  }, 600_000);
});
