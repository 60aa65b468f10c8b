/**
 * DevStack across the nodes, as stages for the engine, in the gate's order (orchestrate-devstack):
 *   prepare, devstack, local-conf          every node, in parallel
 *   stack                                  the controller
 *   tls-ca                                 the computes (only with tls-proxy): the controller's CA first
 *   stack                                  the computes, in parallel
 *   discover                               the controller: tools/discover_hosts.sh, output checked
 *   images, keypairs, security-groups      the controller: post-stack, each idempotent
 *   grenade                                the controller (grenade mode: src/provision/grenade.ts; the
 *                                          steps above then stack the from-branch in /opt/stack/old)
 * Scripts come from provision/ (uploaded once per run); secrets only ever travel as files over SFTP.
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { DevclusterError } from '../errors.js';
import type { Ctx } from '../events.js';
import { resolveLocal } from '../config/load.js';
import { PACKAGE_ROOT } from '../config/template.js';
import type { CacheLayout } from '../images/cache.js';
import { pullImage } from '../images/pull.js';
import { imageSource } from '../images/source.js';
import type { ClusterPlan, NodePlan } from '../plan/plan.js';
import { run as runHost } from '../process/run.js';
import { shellQuote as shq } from '../process/quote.js';
import type { NodeSession, RunResult } from '../ssh/session.js';
import { StepCommandError, type Stage, type StepRun } from './engine.js';
import { grenadeActions, stackLayout, stackLocalConf } from './grenade.js';
import { classifySource, DEST, LOCAL_BRANCH } from './local-conf.js';

export const STEPS = ['prepare', 'devstack', 'local-conf', 'stack', 'tls-ca', 'discover', 'images', 'keypairs', 'security-groups', 'grenade'] as const;
export type StepName = (typeof STEPS)[number];

export const SCRIPTS_DIR = `${DEST}/devcluster/provision`;
const WORK_DIR = `${DEST}/devcluster`;
/**
 * DevStack's DATA_DIR: stackrc sets it from its own DEST=/opt/stack before it sources localrc
 * (stackrc `DATA_DIR=${DEST}/data`, 2025.2 line 32), so it stays /opt/stack/data also where local.conf
 * moves DEST (grenade's /opt/stack/old; the gate's devstack_data_base_dir is devstack_bases.shared).
 */
const DATA_DIR = `${DEST}/data`;
const PROVISION_SOURCE = join(PACKAGE_ROOT, 'provision');

export interface HostContext {
  /** Folder of devcluster.yaml: relative local paths start here. */
  baseDir: string;
  home: string;
  cacheLayout?: CacheLayout;
  /**
   * Whether the nodes run on hardware virtualisation with nesting (KVM with nested=Y). Only then can a
   * node's own /dev/kvm be trusted: a guest of TCG may show /dev/kvm on emulated SVM, unusably slow.
   */
  nestedVirt: boolean;
  /** Budgets (ms). */
  stackTimeoutMs: number;
  cloneTimeoutMs: number;
}

export type ProvisionNode = NodePlan & { id: string };

/** Run a command and turn a non-zero exit into a StepCommandError the engine reports with its tail. */
async function check(r: StepRun<ProvisionNode>, command: string, what: string, timeoutMs?: number): Promise<RunResult> {
  const result = await r.session.run(command, {
    signal: r.ctx.signal,
    what,
    logFile: r.logFile,
    onLine: r.onLine,
    ...(timeoutMs === undefined ? {} : { timeoutMs }),
  });
  if (result.code !== 0) throw new StepCommandError(result.code, result.tail, `${what} exited with ${result.code}`);
  return result;
}

/** Things prepared once per run and shared by every node: the provision scripts, git bundles. */
class RunCache {
  private readonly scripts = new WeakMap<NodeSession, Promise<void>>();
  private readonly bundles = new Map<string, Promise<string>>();
  private tempDir: Promise<string> | undefined;

  scriptsOn(session: NodeSession, signal: AbortSignal): Promise<void> {
    let pending = this.scripts.get(session);
    if (!pending) {
      pending = (async () => {
        const mkdir = await session.run(`mkdir -p ${shq(SCRIPTS_DIR)}`, { signal, what: 'make the scripts folder' });
        if (mkdir.code !== 0) throw new DevclusterError('SSH_COMMAND_FAILED', `could not make ${SCRIPTS_DIR} on ${session.node}: ${mkdir.tail.join(' ')}`);
        for (const file of (await readdir(PROVISION_SOURCE)).filter((f) => f.endsWith('.sh'))) {
          await session.upload({ data: await readFile(join(PROVISION_SOURCE, file)) }, `${SCRIPTS_DIR}/${file}`, { mode: 0o755, signal });
        }
      })();
      this.scripts.set(session, pending);
      pending.catch(() => this.scripts.delete(session));
    }
    return pending;
  }

  /** A bundle of the committed HEAD of a local git tree (one per tree per run). */
  bundle(tree: string, ctx: Ctx): Promise<string> {
    let pending = this.bundles.get(tree);
    if (!pending) {
      pending = (async () => {
        this.tempDir ??= mkdtemp(join(tmpdir(), 'devcluster-bundles-'));
        const file = join(await this.tempDir, `${this.bundles.size}-${basename(tree).replace(/[^\w.-]/g, '_')}.bundle`);
        const dirty = await runHost('git', ['-C', tree, 'status', '--porcelain', '--untracked-files=no'], { signal: ctx.signal });
        if (dirty.stdout.trim() !== '') {
          ctx.report({ kind: 'note', message: `${tree} has uncommitted changes: only its last commit is pushed to the nodes (commit to include them)` });
        }
        await runHost('git', ['-C', tree, 'bundle', 'create', file, 'HEAD'], { signal: ctx.signal, timeoutMs: 600_000 });
        return file;
      })();
      this.bundles.set(tree, pending);
    }
    return pending;
  }

  async dispose(): Promise<void> {
    if (this.tempDir) await rm(await this.tempDir, { recursive: true, force: true });
  }
}

/** Glance's name for a post_stack image: the catalog name, or the URL's file name without extension. */
export function glanceName(image: string): string {
  if (!/^[a-z]+:\/\//.test(image)) return image;
  const file = basename(new URL(image).pathname);
  return file.replace(/\.(qcow2|img|raw|vmdk|vdi|iso)$/i, '') || 'image';
}

/** post_stack.open_ports to post-stack.sh's RULE form: icmp, tcp:22, tcp:1000:2000. */
export function ruleArg(port: string): string {
  if (port === 'icmp') return 'icmp';
  const [protocol, range] = port.split('/') as [string, string];
  return `${protocol}:${range.replace('-', ':')}`;
}

/** post-stack.sh's arguments for each user's keypair (the keypairs step), the public key in `keyFile`. */
export function keypairArgs(plan: ClusterPlan, keyFile: string): string[][] {
  return plan.postStack.keypair.users.map((user) => ['keypair', user, plan.postStack.keypair.name, keyFile]);
}

/**
 * post-stack.sh's arguments for each project's rules (the security-groups step): the users' projects
 * (DevStack names each user's project after it), IPv6 rules too when DevStack's IP_VERSION has 6.
 */
export function rulesArgs(plan: ClusterPlan): string[][] {
  if (plan.postStack.open_ports.length === 0) return [];
  return plan.postStack.keypair.users.map((project) => ['rules', '--ip-version', String(plan.devstack.ipVersion), project, ...plan.postStack.open_ports.map(ruleArg)]);
}

async function pushTree(r: StepRun<ProvisionNode>, cache: RunCache, tree: string, dest: string): Promise<void> {
  const bundle = await cache.bundle(tree, r.ctx);
  const remote = `${WORK_DIR}/${basename(dest)}.bundle`;
  await r.session.upload({ file: bundle }, remote, { mode: 0o644, signal: r.ctx.signal });
  await check(r, `bash ${SCRIPTS_DIR}/fetch-git.sh --dest ${shq(dest)} --bundle ${shq(remote)} --branch ${LOCAL_BRANCH}`, `push ${tree} to ${dest}`);
}

export interface DevstackStages {
  stages: Stage<ProvisionNode>[];
  dispose: () => Promise<void>;
}

export function devstackStages(plan: ClusterPlan, host: HostContext, sessionFor: (node: string, ctx: Ctx) => Promise<NodeSession>): DevstackStages {
  const cache = new RunCache();
  const nodes: ProvisionNode[] = plan.nodes.map((n) => ({ ...n, id: n.hostKey.fingerprint }));
  const controller = nodes.find((n) => n.name === plan.controller) as ProvisionNode;
  const computes = nodes.filter((n) => n.role === 'compute');
  const ds = plan.devstack;
  const layout = stackLayout(plan);
  const devstackDir = layout.devstackDir;
  /** post-stack.sh finds openrc through DEVSTACK_DIR. */
  const postStack = `DEVSTACK_DIR=${shq(devstackDir)} bash ${SCRIPTS_DIR}/post-stack.sh`;
  const libvirtType = async (r: StepRun<ProvisionNode>): Promise<'kvm' | 'qemu'> =>
    host.nestedVirt && (await r.session.run('test -c /dev/kvm', { signal: r.ctx.signal, what: 'look for /dev/kvm', logFile: r.logFile })).code === 0 ? 'kvm' : 'qemu';

  /** Every step first makes sure the scripts are on the node. */
  const step = (name: StepName, targets: ProvisionNode[], parallel: boolean, body: (r: StepRun<ProvisionNode>) => Promise<void>): Stage<ProvisionNode> => ({
    step: name,
    nodes: targets,
    parallel,
    run: async (r) => {
      await cache.scriptsOn(r.session, r.ctx.signal);
      await body(r);
    },
  });

  const stages: Stage<ProvisionNode>[] = [
    step('prepare', nodes, true, async (r) => {
      const args: string[] = [];
      if (plan.proxy.http) args.push('--http-proxy', plan.proxy.http);
      if (plan.proxy.https) args.push('--https-proxy', plan.proxy.https);
      if (plan.proxy.no_proxy) args.push('--no-proxy', plan.proxy.no_proxy);
      await check(r, `bash ${SCRIPTS_DIR}/prepare.sh ${args.map(shq).join(' ')}`, 'prepare the node', 30 * 60_000);
    }),
    step('devstack', nodes, true, async (r) => {
      const repo = classifySource(ds.repo);
      if (repo.kind === 'local') await pushTree(r, cache, resolveLocal(repo.path, host), devstackDir);
      else {
        const url = repo.kind === 'url' ? repo.url : ds.repo;
        await check(r, `bash ${SCRIPTS_DIR}/fetch-git.sh --dest ${shq(devstackDir)} --url ${shq(url)} --ref ${shq(layout.branch)} --timeout ${Math.round(host.cloneTimeoutMs / 1000)}`, `clone DevStack ${layout.branch} from ${url}`);
      }
      for (const [project, value] of Object.entries(ds.sources)) {
        const source = classifySource(value);
        if (source.kind === 'local') await pushTree(r, cache, resolveLocal(source.path, host), `${DEST}/${project}`);
      }
    }),
    step('local-conf', nodes, true, async (r) => {
      const text = stackLocalConf(plan, r.node, { libvirtType: await libvirtType(r) });
      await r.session.upload({ data: text }, `${devstackDir}/local.conf`, { mode: 0o600, signal: r.ctx.signal });
    }),
    step('stack', [controller], false, async (r) => {
      await check(r, `cd ${shq(devstackDir)} && ./stack.sh`, 'stack.sh', host.stackTimeoutMs);
    }),
  ];

  if (ds.services.controller.includes('tls-proxy')) {
    stages.push(
      step('tls-ca', computes, true, async (r) => {
        const source = await sessionFor(controller.name, r.ctx);
        const tar = await source.run(`tar -C ${DATA_DIR} -cf - ca-bundle.pem CA`, { signal: r.ctx.signal, what: "pack the controller's CA", binaryStdout: true, logFile: r.logFile });
        if (tar.code !== 0 || !tar.stdoutBytes) throw new StepCommandError(tar.code, tar.tail, `could not read ${DATA_DIR}/ca-bundle.pem and CA/ on ${controller.name}`);
        await r.session.upload({ data: tar.stdoutBytes }, `${WORK_DIR}/ca.tar`, { mode: 0o600, signal: r.ctx.signal });
        await check(r, `mkdir -p ${DATA_DIR} && tar -C ${DATA_DIR} -xf ${WORK_DIR}/ca.tar && rm -f ${WORK_DIR}/ca.tar`, "install the controller's CA");
      }),
    );
  }

  stages.push(
    step('stack', computes, true, async (r) => {
      await check(r, `cd ${shq(devstackDir)} && ./stack.sh`, 'stack.sh', host.stackTimeoutMs);
    }),
    step('discover', [controller], false, async (r) => {
      const wanted = computes;
      let missing: ProvisionNode[] = wanted;
      for (let attempt = 1; attempt <= 6 && missing.length > 0; attempt++) {
        if (attempt > 1) await new Promise((done) => setTimeout(done, 10_000));
        const out = await check(r, `cd ${shq(devstackDir)} && ./tools/discover_hosts.sh`, 'tools/discover_hosts.sh');
        if (out.stdout.trim() === '') {
          throw new DevclusterError('PROVISION_CHECK_FAILED', 'tools/discover_hosts.sh printed nothing: nova-manage is not installed on the controller, so no compute was mapped', {
            hint: "check that n-api and n-cond are enabled on the controller and that stack.sh installed nova",
          });
        }
        const hosts = await check(r, 'nova-manage cell_v2 list_hosts', 'nova-manage cell_v2 list_hosts');
        const listed = hosts.stdout;
        missing = wanted.filter((n) => !new RegExp(`\\|\\s*(${n.shortHostname}|${n.hostname.replace(/\./g, '\\.')})\\s*\\|`).test(listed));
      }
      if (missing.length > 0) {
        throw new DevclusterError('PROVISION_CHECK_FAILED', `after discover_hosts.sh, nova still has no host mapping for ${missing.map((n) => n.name).join(', ')}`, {
          hint: 'their nova-compute did not register: look at `journalctl -u devstack@n-cpu` on them',
        });
      }
    }),
    step('images', [controller], false, async (r) => {
      for (const image of plan.postStack.images) {
        const name = glanceName(image);
        const present = await r.session.run(`${postStack} image-present ${shq(name)}`, { signal: r.ctx.signal, what: `look for image ${name}`, logFile: r.logFile, onLine: r.onLine });
        if (present.code === 0) continue;
        if (present.code !== 3) throw new StepCommandError(present.code, present.tail, `looking for image ${name} in Glance failed`);
        const pulled = await pullImage(imageSource(image, host), { ctx: r.ctx, ...(host.cacheLayout ? { layout: host.cacheLayout } : {}) });
        const remote = `${WORK_DIR}/images/${name}.${pulled.image.format}`;
        await check(r, `mkdir -p ${WORK_DIR}/images`, 'make the image folder');
        r.ctx.report({ kind: 'phase', label: r.node.name, message: `uploading ${name} (${Math.round(pulled.image.size / 1048576)} MiB)` });
        await r.session.upload({ file: pulled.image.path }, remote, { mode: 0o644, signal: r.ctx.signal });
        await check(r, `${postStack} image ${shq(name)} ${shq(pulled.image.format)} ${shq(remote)}; rc=$?; rm -f ${shq(remote)}; exit $rc`, `create image ${name}`);
      }
    }),
    step('keypairs', [controller], false, async (r) => {
      const key = plan.stackUser.authorizedKeys[0] as string;
      await r.session.upload({ data: `${key}\n` }, `${WORK_DIR}/keypair.pub`, { mode: 0o644, signal: r.ctx.signal });
      for (const args of keypairArgs(plan, `${WORK_DIR}/keypair.pub`)) {
        await check(r, `${postStack} ${args.map(shq).join(' ')}`, `keypair for ${args[1]}`);
      }
    }),
    step('security-groups', [controller], false, async (r) => {
      for (const args of rulesArgs(plan)) {
        await check(r, `${postStack} ${args.map(shq).join(' ')}`, `security group rules of ${args[3]}`);
      }
    }),
  );

  if (ds.mode === 'grenade') {
    stages.push(
      step('grenade', [controller], false, async (r) => {
        for (const action of grenadeActions(plan, r.node, { libvirtType: await libvirtType(r) })) {
          if (action.kind === 'clone') {
            await check(r, `bash ${SCRIPTS_DIR}/fetch-git.sh --dest ${shq(action.dest)} --url ${shq(action.url)} --ref ${shq(action.ref)} --timeout ${Math.round(host.cloneTimeoutMs / 1000)}`, action.what);
          } else if (action.kind === 'upload') {
            await r.session.upload({ data: action.data }, action.path, { mode: action.mode, signal: r.ctx.signal });
          } else await check(r, action.command, action.what, action.long ? host.stackTimeoutMs : undefined);
        }
      }),
    );
  }
  return { stages, dispose: () => cache.dispose() };
}
