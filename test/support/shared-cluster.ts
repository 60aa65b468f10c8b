/**
 * One stacked cluster for every real-guest test that only needs a running cluster: a controller and
 * two computes of the test image on qemu:///system, `up` with the fake DevStack (tls-proxy, journal,
 * a local nova tree, post-stack images, keypairs and rules), made at most once per test run, by the
 * first test file that asks for it, and removed at the end of the run by shared-cluster-setup.ts
 * (the host tier's globalSetup, which also names the run's folder). Tests may read it and run
 * commands on it, but must leave it as they found it: whatever breaks, halts, re-keys or interrupts a
 * cluster (lifecycle, fault and interrupt tests) makes its own.
 *
 * The folder holds the cluster's devcluster.yaml and state, `made.json` (what `up` printed and what
 * the config pointed at) once the cluster is ready, and `lock` (src/fs/lock.ts) while it is made.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { inject } from 'vitest';
import { acquireLock } from '../../src/fs/lock.js';
import { clusterInDir, testImageSpec, type CliRun } from './cli-cluster.js';
import { fakeDevstackTree } from './fake-devstack-tree.js';
import { gitRepo } from './git-repo.js';
import { requireTestImage } from './test-image.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The run's folder for the shared cluster (shared-cluster-setup.ts). */
    sharedClusterDir: string;
  }
}

export const SHARED_CIDR = '192.168.168.0/24';
export const SHARED_NODES = { controller: '192.168.168.10', compute1: '192.168.168.11', compute2: '192.168.168.12' } as const;
/** Up to making the cluster: image, three boots under TCG, the fake DevStack on each node. */
const MAKE_BUDGET_MS = 40 * 60_000;

export interface SharedCluster {
  name: string;
  /** The cluster's folder (devcluster.yaml, .devcluster/NAME/). */
  work: string;
  /** The CLI run in that folder. */
  run: CliRun;
  /** What the making `up` printed, and its exit code. */
  up: { exitCode: number | undefined; stdout: string; stderr: string };
  /** The nova tree pushed to every node as DevStack's clone, and its commit. */
  nova: { path: string; head: string };
}

interface Made {
  name: string;
  up: SharedCluster['up'];
  nova: SharedCluster['nova'];
}

/** The config lines of the shared cluster. */
function config(name: string, images: string, devstack: string, nova: string): string[] {
  const { image, sums } = requireTestImage();
  return [
    `name: ${name}`,
    `image: ${testImageSpec(image, sums)}`,
    `network: { cidr: ${SHARED_CIDR} }`,
    'nodes:',
    '  - { name: controller, role: controller, cpus: 1, memory: 1GiB, disk: 8GiB }',
    '  - { name: compute1, role: compute, cpus: 1, memory: 1GiB, disk: 8GiB }',
    '  - { name: compute2, role: compute, cpus: 1, memory: 1GiB, disk: 8GiB }',
    `devstack: { repo: ${JSON.stringify(devstack)}, layer: 1, journal: true, services: { enable: [tls-proxy], disable: [n-novnc, horizon, c-sch, c-api, c-vol, etcd3, n-api-meta, ovn-northd, ovn-controller, ovs-vswitchd, ovsdb-server, q-ovn-agent] }, sources: { nova: ${JSON.stringify(nova)} } }`,
    'post_stack:',
    `  images: ["file://${images}/ubuntu-24.04-tiny.qcow2", "file://${images}/fedora-42-tiny.qcow2"]`,
    '  keypair: { name: default, users: [admin, demo] }',
    '  open_ports: [icmp, tcp/22]',
  ];
}

/** `made` when its `up` succeeded; else the failure, for every test that needs the cluster. */
function ready(made: Made): Made {
  if (made.up.exitCode !== 0) throw new Error(`the shared cluster's up failed (exit ${made.up.exitCode}):\n${made.up.stderr.slice(-4000)}`);
  return made;
}

/** The run's shared cluster, made by the first caller (the others wait for it). */
export async function sharedCluster(): Promise<SharedCluster> {
  const work = inject('sharedClusterDir');
  if (!work) throw new Error('no folder for the shared cluster: run this file in the host tier (vitest --project host), whose globalSetup names it');
  mkdirSync(work, { recursive: true });
  const signal = AbortSignal.timeout(MAKE_BUDGET_MS);
  const lock = await acquireLock(join(work, 'lock'), { what: 'the shared test cluster', waitMs: MAKE_BUDGET_MS, signal });
  try {
    const madeFile = join(work, 'made.json');
    if (existsSync(madeFile)) {
      // Made (or failed) earlier in this run: a failure is not tried again, it fails every user.
      const made = JSON.parse(readFileSync(madeFile, 'utf8')) as Made;
      return { ...ready(made), work, run: await clusterInDir(work, readFileSync(join(work, 'devcluster.yaml'), 'utf8').trimEnd().split('\n')) };
    }
    const name = `sc${randomBytes(2).toString('hex')}`;
    const images = join(work, 'images');
    mkdirSync(images, { recursive: true });
    for (const file of ['ubuntu-24.04-tiny.qcow2', 'fedora-42-tiny.qcow2']) execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', join(images, file), '64M']);
    const devstack = gitRepo(join(work, 'sources', 'devstack'), {}, fakeDevstackTree());
    const novaPath = gitRepo(join(work, 'sources', 'nova'), { 'patched.py': 'print("my patch")\n' });
    const nova = { path: novaPath, head: execFileSync('git', ['-C', novaPath, 'rev-parse', 'HEAD']).toString().trim() };
    const run = await clusterInDir(work, config(name, images, devstack, novaPath));
    const up = await run('up', '--boot-timeout', '900');
    const made: Made = { name, up: { exitCode: up.exitCode, stdout: up.stdout, stderr: up.stderr }, nova };
    writeFileSync(madeFile, `${JSON.stringify(made, null, 2)}\n`);
    return { ...ready(made), work, run };
  } finally {
    await lock.release();
  }
}
