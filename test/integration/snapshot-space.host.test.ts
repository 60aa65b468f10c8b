/**
 * `snapshot save` with too little space: a one-node cluster whose libvirt pool is a 700 MiB tmpfs made
 * for this test (a transient `dir` pool), the node given 2 GiB of memory, so its memory image cannot
 * fit. The save is refused before anything is paused, with SNAPSHOT_NO_SPACE naming the pool and both
 * figures; the node runs on; no snapshot file is made; `down` leaves nothing in the pool but the shared
 * base image (which `down` never removes). Its own cluster: it needs its own pool.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clusterInDir, testImageSpec, type CliRun } from '../support/cli-cluster.js';
import { libvirtLeftovers } from '../support/leftovers.js';
import { requireTestImage } from '../support/test-image.js';

const virsh = async (...args: string[]) => (await execa('virsh', ['-q', '-c', 'qemu:///system', ...args], { reject: false })).stdout.trim();

describe('snapshot save with too little space (a 700 MiB pool)', () => {
  const name = `sp${randomBytes(2).toString('hex')}`;
  const pool = `dc-test-small-${name}`;
  let dir: string;
  let run: CliRun;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dc-smallpool-'));
    await execa('mount', ['-t', 'tmpfs', '-o', 'size=700m,mode=0711', 'tmpfs', dir]);
    await execa('virsh', ['-c', 'qemu:///system', 'pool-create-as', pool, 'dir', '--target', dir]);
    const { image, sums } = requireTestImage();
    const work = await mkdtemp(join(tmpdir(), `dc-${name}-`));
    run = await clusterInDir(work, [
      `name: ${name}`,
      `image: ${testImageSpec(image, sums)}`,
      `libvirt: { pool: ${pool} }`,
      'network: { cidr: 192.168.171.0/24 }',
      'nodes:',
      '  - { name: controller, role: controller, cpus: 1, memory: 2GiB, disk: 4GiB }',
    ]);
  }, 120_000);

  afterAll(async () => {
    await run('down');
    await virsh('pool-destroy', pool);
    await execa('umount', [dir], { reject: false });
    await rm(dir, { recursive: true, force: true });
  }, 120_000);

  it('is refused before any pause, names the pool and the figures; the node runs on; down leaves nothing', async () => {
    const up = await run('up', '--no-wait');
    expect(up.exitCode, up.stderr).toBe(0);
    const save = await run('snapshot', 'save', 'full');
    expect(save.exitCode).toBe(1);
    expect(save.stderr).toContain('error SNAPSHOT_NO_SPACE');
    expect(save.stderr).toMatch(new RegExp(`snapshot full needs about 2\\.5 GiB .* and libvirt pool ${pool} \\(${dir}\\) has [\\d.]+ MiB free`));
    expect(save.stderr).toContain('hint:');
    expect(await virsh('domstate', `dc-${name}-controller`)).toBe('running');
    const volumes = (await virsh('vol-list', pool)).split('\n').map((l) => l.trim().split(/\s+/)[0]);
    expect(volumes.filter((v) => v?.includes('-snap-') || /-disk-[0-9a-f]{8}\.qcow2$/.test(v ?? ''))).toEqual([]);
    const listed = await run('snapshot', 'list');
    expect(listed.stdout).toContain('no snapshots');

    const down = await run('down');
    expect(down.exitCode, down.stderr).toBe(0);
    const left = (await virsh('vol-list', pool)).split('\n').map((l) => l.trim().split(/\s+/)[0] ?? '').filter(Boolean);
    expect(left.every((v) => v.startsWith('dc-base-'))).toBe(true);
    expect(libvirtLeftovers(name)).toEqual([]);
  }, 10 * 60_000);
});
