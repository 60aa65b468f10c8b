/**
 * 2. One node from start to SSH answering with its pinned host key: `devcluster up` versus bare
 * qemu-system-x86_64 booting the same image with the very same seed (the floor). Both wait with
 * devcluster's own connect-and-retry, so polling costs both sides the same. Warm start on both sides:
 * the image is in devcluster's cache and its base volume in the pool (an `up --no-wait` + `down` first).
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { closeClient, connectPinned } from '../src/ssh/connect.js';
import type { Secrets } from '../src/state/secrets.js';
import { clusterFolder, devcluster, finished, freePort, requireTestImage, sh, virsh, whenPrinted } from './lib.js';
import type { Shared } from './lib.js';

export async function benchBoot({ ROOT, work }: Shared): Promise<{ devclusterS: number; bareQemuS: number; tbCacheMiB: number | undefined }> {
  const { image, sums } = requireTestImage();
  const dir = join(work, 'boot');
  mkdirSync(dir);
  const name = `bb${process.pid % 10000}`;
  const net = '192.168.164';
  const must = await clusterFolder(dir, { name, image, sums, cidr: `${net}.0/24`, nodes: ['controller'] });
  await must('up', '--no-wait');
  await must('down');

  const t0 = process.hrtime.bigint();
  const up = devcluster(ROOT, dir, ['up', '--no-provision']);
  const done = finished(up);
  const devclusterS = await whenPrinted(up, /^controller: SSH up after/m, t0);
  const upResult = await done;
  if (upResult.code !== 0) throw new Error(`devcluster up failed:\n${upResult.out.slice(-3000)}`);
  const seed = join(dir, 'seed.iso');
  virsh('vol-download', '--pool', 'default', `dc-${name}-controller-seed.iso`, seed);
  const xml = virsh('dumpxml', `dc-${name}-controller`);
  const mac = /<mac address='([^']+)'/.exec(xml)?.[1];
  if (!mac) throw new Error(`no MAC address in the domain XML of dc-${name}-controller`);
  const tbMatch = /<tb-cache unit='(KiB|MiB)'>(\d+)</.exec(xml); // libvirt reports it in KiB
  const tb = tbMatch ? String(Number(tbMatch[2]) / (tbMatch[1] === 'KiB' ? 1024 : 1)) : undefined;
  const secrets = JSON.parse(readFileSync(join(dir, '.devcluster', name, 'secrets.json'), 'utf8')) as Secrets;
  const hostKey = secrets.host_keys.controller;
  if (!hostKey) throw new Error('no host key for controller in the cluster secrets');
  await must('down');

  const overlay = join(dir, 'overlay.qcow2');
  sh('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', image, '-F', 'qcow2', overlay, '8G']);
  const port = await freePort();
  const t1 = process.hrtime.bigint();
  const qemu = spawn('qemu-system-x86_64', [
    '-machine', 'q35', '-accel', tb ? `tcg,tb-size=${tb}` : 'tcg', '-cpu', 'max', '-smp', '1', '-m', '1024',
    '-display', 'none', '-serial', `file:${join(dir, 'console.log')}`, '-monitor', 'none',
    '-drive', `file=${overlay},if=virtio`, '-drive', `file=${seed},format=raw,if=virtio,readonly=on`,
    '-netdev', `user,id=n0,net=${net}.0/24,host=${net}.1,hostfwd=tcp:127.0.0.1:${port}-${net}.10:22`,
    '-device', `virtio-net-pci,netdev=n0,mac=${mac}`,
  ], { stdio: 'ignore' });
  try {
    const client = await connectPinned(
      { label: 'bare qemu', host: '127.0.0.1', port, username: 'stack', privateKey: secrets.cluster_key.private, hostKey: hostKey.public },
      { signal: new AbortController().signal, budgetMs: 900_000 },
    );
    const bareQemuS = Number(process.hrtime.bigint() - t1) / 1e9;
    await closeClient(client);
    return { devclusterS, bareQemuS, tbCacheMiB: tb ? Number(tb) : undefined };
  } finally {
    qemu.kill('SIGKILL');
  }
}
