/**
 * VirtualBox cluster snapshots against the VBoxManage stand-in (test/fixtures/vbox/VBoxManage), which
 * refuses what VirtualBox refuses (a restore of a running VM, `--live` on a paused one, an unknown
 * snapshot, a delete VirtualBox cannot merge): the save order (pause all, take each, resume all), a
 * restore of running nodes (poweroff, restore, start) and a second one, delete then list, the sizes
 * read back from VirtualBox, and `down` leaving no snapshot file behind.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderSeed } from '../../cloudinit/seed.js';
import { parseConfigText } from '../../config/load.js';
import { quietCtx } from '../../events.js';
import type { CachedImage } from '../../images/cache.js';
import { buildPlan, type ClusterPlan } from '../../plan/plan.js';
import { completeSecrets } from '../../state/secrets.js';
import { VirtualBoxProvider } from './provider.js';
import { sizeOnDisk, snapshotFiles, snapshotTree } from './snapshots.js';
import { parseMachineReadable } from './vboxmanage.js';

const ROOT = resolve(import.meta.dirname, '..', '..', '..');
const STANDIN = join(ROOT, 'test', 'fixtures', 'vbox', 'VBoxManage');
const MB = 1048576;
const NODES = 'nodes:\n  - { name: controller, role: controller, cpus: 1, memory: 512MiB, disk: 2GiB }\n  - { name: compute1, role: compute, cpus: 1, memory: 256MiB, disk: 2GiB }\n';

async function cluster(cidr: string) {
  const work = mkdtempSync(join(tmpdir(), 'dc-vbox-snap-'));
  writeFileSync(join(work, 'networks.conf'), '* 192.168.0.0/16\n');
  const env = {
    VBOX_STANDIN_HOME: work,
    VBOX_STANDIN_STATE: join(work, 'state.json'),
    VBOX_STANDIN_LOG: join(work, 'calls.log'),
    VBOX_STANDIN_NETWORKS_CONF: join(work, 'networks.conf'),
    VBOX_STANDIN_HOST_IFS: 'eth0',
    VBOX_STANDIN_SESSION_RELEASE: '0.3',
    VBOX_STANDIN_GUEST_WRITES_MB: '3',
  };
  const path = join(work, 'tiny.qcow2');
  execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', path, '64M']);
  const image: CachedImage = { url: `file://${path}`, algorithm: 'sha256', hash: 'cd'.repeat(32), size: statSync(path).size, format: 'qcow2', fetchedAt: '2026-01-01T00:00:00Z', path };
  const loaded = await parseConfigText(`name: snap\nprovider: virtualbox\nnetwork: { cidr: ${cidr} }\n${NODES}`, { file: 'x', baseDir: work, home: work, agentSocket: undefined });
  const plan = buildPlan(loaded.config, [], completeSecrets('snap', loaded.config.nodes.map((n) => n.name)));
  const provider = new VirtualBoxProvider({ command: STANDIN, env });
  const ctx = quietCtx();
  await provider.ensureNetwork(plan, ctx);
  for (const node of plan.nodes) await provider.createNode(plan, node, image, renderSeed(plan, node), ctx);
  for (const node of plan.nodes) await provider.startNode(plan, node, ctx);
  const vbox = (...args: string[]) => spawnSync(STANDIN, args, { env: { ...process.env, ...env }, encoding: 'utf8' });
  const info = (vm: string) => parseMachineReadable(vbox('showvminfo', vm, '--machinereadable').stdout);
  /** The calls since `mark`, without the read-only ones. */
  const log = () => readFileSync(join(work, 'calls.log'), 'utf8').trim().split('\n');
  const changes = (from: number) =>
    log()
      .slice(from)
      .map((line) => JSON.parse(line) as string[])
      .filter((args) => !['showvminfo', 'list', 'getextradata', 'showmediuminfo'].includes(args[0] as string))
      .map((args) => args.slice(0, 4).join(' '));
  return { work, env, plan, provider, snaps: provider.snapshots, ctx, vbox, info, log, changes };
}

/** The cluster flow's save: pause every node, capture each, resume all. */
async function save(c: Awaited<ReturnType<typeof cluster>>, name: string) {
  await c.snaps.pause(c.plan, c.plan.nodes, c.ctx);
  for (const node of c.plan.nodes) await c.snaps.capture(c.plan, node, name, c.ctx);
  await c.snaps.resume(c.plan, c.plan.nodes, c.ctx);
}

/** The cluster flow's restore: each node back to the snapshot, then all started. */
async function restore(c: Awaited<ReturnType<typeof cluster>>, name: string) {
  for (const node of c.plan.nodes) await c.snaps.restore(c.plan, node, name, c.ctx);
  await c.snaps.resume(c.plan, c.plan.nodes, c.ctx);
}

function files(dir: string, suffix: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith(suffix));
}

const state = (plan: ClusterPlan, c: { info: (vm: string) => Map<string, string> }) => plan.nodes.map((n) => c.info(n.resourcePrefix).get('VMState'));

describe('VirtualBox snapshots through the stand-in', () => {
  it('save: every node paused back to back, each taken while all are paused (no --live), all resumed; memory and disks kept', async () => {
    const c = await cluster('192.168.160.0/24');
    const from = c.log().length;
    await save(c, 's1');
    expect(c.changes(from)).toEqual([
      'controlvm dc-snap-controller pause',
      'controlvm dc-snap-compute1 pause',
      'snapshot dc-snap-controller take devcluster-s1',
      'snapshot dc-snap-compute1 take devcluster-s1',
      'controlvm dc-snap-controller resume',
      'controlvm dc-snap-compute1 resume',
    ]);
    expect(c.log().slice(from).join('\n')).not.toContain('--live');
    expect(state(c.plan, c)).toEqual(['running', 'running']);
    for (const node of c.plan.nodes) expect(snapshotTree(c.info(node.resourcePrefix)).map((s) => s.name)).toEqual(['devcluster-s1']);
    expect(files(c.work, '.sav')).toHaveLength(2);
    expect((await c.snaps.method()).id).toBe('virtualbox-live');
    const space = await c.snaps.space(c.plan, c.ctx);
    expect(space.availableBytes).toBeGreaterThan(0);
    expect(space.where).toMatch(/VirtualBox VMs\/devcluster\/snap\/dc-snap-(controller|compute1)$/);
    // A second save of the same name is refused before anything is taken.
    await c.snaps.pause(c.plan, c.plan.nodes, c.ctx);
    await expect(c.snaps.capture(c.plan, c.plan.nodes[0] as ClusterPlan['nodes'][0], 's1', c.ctx)).rejects.toMatchObject({ code: 'SNAPSHOT_EXISTS' });
    await c.snaps.resume(c.plan, c.plan.nodes, c.ctx);
    await c.provider.deleteCluster('snap', ['controller', 'compute1'], c.ctx);
  }, 120_000);

  it('the stand-in refuses what VirtualBox refuses: a restore of a running VM, --live on a paused one, an unknown snapshot', async () => {
    const c = await cluster('192.168.161.0/24');
    await save(c, 's1');
    const running = c.vbox('snapshot', 'dc-snap-controller', 'restore', 'devcluster-s1');
    expect(running.status).toBe(1);
    expect(running.stderr).toContain('VBoxManage: error: Cannot delete the current state of the running machine (machine state: Running)');
    c.vbox('controlvm', 'dc-snap-controller', 'pause');
    const live = c.vbox('snapshot', 'dc-snap-controller', 'take', 'devcluster-x', '--live');
    expect(live.status).toBe(1);
    expect(live.stderr).toContain('Cannot take a live snapshot of a virtual machine unless it is running.');
    const unknown = c.vbox('snapshot', 'dc-snap-controller', 'delete', 'devcluster-nope');
    expect(unknown.status).toBe(1);
    expect(unknown.stderr).toContain("Could not find a snapshot named 'devcluster-nope'");
    expect(c.vbox('snapshot', 'dc-gone', 'take', 'x').stderr).toContain("Could not find a registered machine named 'dc-gone'");
    // The driver restores the same paused/running nodes: it powers them off first.
    const node = c.plan.nodes[0] as ClusterPlan['nodes'][0];
    await expect(c.snaps.restore(c.plan, node, 'nope', c.ctx)).rejects.toMatchObject({ code: 'SNAPSHOT_NOT_FOUND' });
    await restore(c, 's1');
    expect(state(c.plan, c)).toEqual(['running', 'running']);
    await c.provider.deleteCluster('snap', ['controller', 'compute1'], c.ctx);
  }, 120_000);

  it('restore of running nodes: poweroff, restore (VM Saved), start; what was written after the save is gone; a second restore works the same', async () => {
    const c = await cluster('192.168.162.0/24');
    await save(c, 's1');
    const diskAfterSave = c.info('dc-snap-controller').get('SATA-0-0') as string;
    expect(statSync(diskAfterSave).size).toBeGreaterThanOrEqual(3 * MB); // the guest wrote after the save
    const from = c.log().length;
    await restore(c, 's1');
    expect(c.changes(from)).toEqual([
      'controlvm dc-snap-controller poweroff',
      'snapshot dc-snap-controller restore devcluster-s1',
      'controlvm dc-snap-compute1 poweroff',
      'snapshot dc-snap-compute1 restore devcluster-s1',
      'startvm dc-snap-controller --type headless',
      'startvm dc-snap-compute1 --type headless',
    ]);
    expect(existsSync(diskAfterSave)).toBe(false);
    expect(state(c.plan, c)).toEqual(['running', 'running']);
    // The snapshot's state file stays (it is the snapshot's), so it restores again.
    expect(files(c.work, '.sav')).toHaveLength(2);
    await restore(c, 's1');
    expect(state(c.plan, c)).toEqual(['running', 'running']);
    // From a halted cluster too: powered off, restored, started.
    for (const node of c.plan.nodes) await c.provider.stopNode(c.plan, node, 2000, c.ctx);
    await restore(c, 's1');
    expect(state(c.plan, c)).toEqual(['running', 'running']);
    await c.provider.deleteCluster('snap', ['controller', 'compute1'], c.ctx);
  }, 180_000);

  it('list: each node part with its size (frozen disk layer + memory state); delete then list; what VirtualBox cannot delete is refused with the reason', async () => {
    const c = await cluster('192.168.163.0/24');
    await save(c, 's1');
    await save(c, 's2');
    const list = async () => (await Promise.all(c.plan.nodes.map((n) => c.snaps.list(c.plan, n, c.ctx)))).flat();
    // 3 MB written by the guest before each save, plus the node's memory (512 MiB, 256 MiB).
    expect(await list()).toEqual([
      { node: 'controller', snapshot: 's1', bytes: 3 * MB + 512 * MB },
      { node: 'controller', snapshot: 's2', bytes: 3 * MB + 512 * MB },
      { node: 'compute1', snapshot: 's1', bytes: 3 * MB + 256 * MB },
      { node: 'compute1', snapshot: 's2', bytes: 3 * MB + 256 * MB },
    ]);
    for (const node of c.plan.nodes) await c.snaps.remove(c.plan, node, 's1', c.ctx);
    expect((await list()).map((s) => `${s.node} ${s.snapshot}`)).toEqual(['controller s2', 'compute1 s2']);
    expect(files(c.work, '.sav')).toHaveLength(2);
    // Nothing to remove is nothing to do.
    await c.snaps.remove(c.plan, c.plan.nodes[0] as ClusterPlan['nodes'][0], 'never-saved', c.ctx);

    // Restored to s2, then s3 taken: s2 is the current snapshot with a child, which VirtualBox will not delete.
    await restore(c, 's2');
    await save(c, 's3');
    await restore(c, 's2');
    const node = c.plan.nodes[0] as ClusterPlan['nodes'][0];
    const refused = c.vbox('snapshot', node.resourcePrefix, 'delete', 'devcluster-s2');
    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain("Snapshot 'devcluster-s2' of the machine 'dc-snap-controller' cannot be deleted, because it is the current snapshot and has one child snapshot");
    await expect(c.snaps.remove(c.plan, node, 's2', c.ctx)).rejects.toMatchObject({ code: 'SNAPSHOT_FAILED', message: expect.stringContaining('s3 was taken from it'), hint: expect.stringContaining('delete s3 first') });
    await c.snaps.remove(c.plan, node, 's3', c.ctx);
    await c.snaps.remove(c.plan, node, 's2', c.ctx);
    expect((await c.snaps.list(c.plan, node, c.ctx)).map((s) => s.snapshot)).toEqual([]);
    await c.provider.deleteCluster('snap', ['controller', 'compute1'], c.ctx);
  }, 180_000);

  it('down removes the VMs with every snapshot: no state file, disk layer or VM folder is left', async () => {
    const c = await cluster('192.168.164.0/24');
    await save(c, 's1');
    await save(c, 's2');
    await restore(c, 's1');
    await c.snaps.pause(c.plan, c.plan.nodes, c.ctx); // even paused
    const folders = c.plan.nodes.map((n) => join(c.work, 'VirtualBox VMs', 'devcluster', 'snap', n.resourcePrefix));
    expect(folders.every((f) => existsSync(f))).toBe(true);
    const removed = await c.provider.deleteCluster('snap', ['controller', 'compute1'], c.ctx);
    expect(removed).toContain('vm dc-snap-controller');
    expect(folders.some((f) => existsSync(f))).toBe(false);
    expect(files(c.work, '.sav')).toEqual([]);
    // Only the shared base image's disk is left (the base VM is not the cluster's).
    expect(files(c.work, '.vdi').every((f) => f.includes('dc-base-'))).toBe(true);
    const state = JSON.parse(readFileSync(c.env.VBOX_STANDIN_STATE, 'utf8')) as { media: Record<string, unknown> };
    expect(Object.keys(state.media).filter((p) => p.endsWith('.vdi') && !p.includes('dc-base-'))).toEqual([]);
  }, 120_000);
});

describe('VirtualBox snapshot parsing', () => {
  it('reads the snapshot tree, the settings file (both storage layouts, relative state files) and Size on disk', () => {
    const info = new Map([
      ['SnapshotName', 'devcluster-a'],
      ['SnapshotUUID', 'u1'],
      ['SnapshotName-1', 'devcluster-b'],
      ['SnapshotUUID-1', 'u2'],
      ['CurrentSnapshotName', 'devcluster-b'],
    ]);
    expect(snapshotTree(info)).toEqual([
      { name: 'devcluster-a', uuid: 'u1', node: '' },
      { name: 'devcluster-b', uuid: 'u2', node: '-1' },
    ]);
    const xml = `<?xml version="1.0"?><VirtualBox version="1.16-linux"><Machine uuid="{m}" name="vm">
      <Snapshot uuid="{u1}" name="a" stateFile="Snapshots/one.sav"><Hardware/>
        <StorageControllers><StorageController name="SATA"><AttachedDevice type="HardDisk" port="0" device="0"><Image uuid="{i1}"/></AttachedDevice>
        <AttachedDevice type="DVD" port="1" device="0"><Image uuid="{dvd}"/></AttachedDevice></StorageController></StorageControllers>
        <Snapshots><Snapshot uuid="{u2}" name="b"><Hardware><StorageControllers><StorageController name="SATA">
          <AttachedDevice type="HardDisk" port="0" device="0"><Image uuid="{i2}"/></AttachedDevice></StorageController></StorageControllers></Hardware></Snapshot></Snapshots>
      </Snapshot></Machine></VirtualBox>`;
    const parsed = snapshotFiles(xml, '/vms/vm/vm.vbox');
    expect(parsed.get('u1')).toEqual({ images: ['i1'], stateFile: '/vms/vm/Snapshots/one.sav' });
    expect(parsed.get('u2')).toEqual({ images: ['i2'] });
    expect(sizeOnDisk('Capacity:       2048 MBytes\nSize on disk:   17 MBytes\n')).toBe(17 * MB);
  });
});
