/**
 * 6. Memory during a three-node `up` with provisioning (the fake DevStack of the tests,
 * test/support/fake-devstack-tree.ts, pushed from a local checkout): the devcluster process's peak RSS
 * (getrusage, written at exit by maxrss.mjs), and for every qemu process of the cluster, sampled every
 * 5 s, its resident memory beyond the guest's RAM — everything but the guest-RAM mapping (translation
 * cache, qemu's own heap, device buffers).
 * 7. Then, on that stacked cluster: `snapshot save` and `snapshot restore` (every node back, clocks stepped,
 * nova's services up), the restore's time against the `up` from nothing.
 */
import { mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { setInterval, clearInterval } from 'node:timers';
import { pathToFileURL } from 'node:url';
import { fakeDevstackTree } from '../test/support/fake-devstack-tree.js';
import { gitRepo } from '../test/support/git-repo.js';
import { clusterFolder, devcluster, finished, requireTestImage, timed } from './lib.js';
import type { Shared } from './lib.js';

const GUEST_RAM_KIB = 1024 * 1024;

/** Resident KiB of a qemu process: total, and outside the guest-RAM mapping(s). */
function qemuResident(pid: string): { total: number; beyond: number } {
  let total = 0;
  let guest = 0;
  let size = 0;
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const m = /^(Size|Rss):\s+(\d+) kB/.exec(line);
    if (!m) continue;
    if (m[1] === 'Size') size = Number(m[2]);
    else {
      total += Number(m[2]);
      if (size >= GUEST_RAM_KIB * 0.9) guest += Number(m[2]);
    }
  }
  return { total, beyond: total - guest };
}

function qemuPids(name: string): string[] {
  return readdirSync('/proc').filter((p) => /^\d+$/.test(p)).filter((pid) => {
    try {
      const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      return args.includes('qemu-system') && args.includes(`guest=dc-${name}-`);
    } catch {
      return false;
    }
  });
}

/** `onStacked`: more measurements on the stacked cluster (its folder), before it is taken down (8). */
export async function benchMemory({ ROOT, work }: Shared, onStacked?: (dir: string) => Promise<void>): Promise<{ upS: number; saveS: number; restoreS: number; peakRssMiB: number; overheadMiB: number; qemuMaxRssMiB: number }> {
  const { image, sums } = requireTestImage();
  const dir = join(work, 'memory');
  mkdirSync(dir);
  const repo = gitRepo(join(dir, 'devstack'), {}, fakeDevstackTree());
  const name = `bm${process.pid % 10000}`;
  await clusterFolder(dir, {
    name, image, sums, cidr: '192.168.165.0/24', nodes: ['controller', 'compute1', 'compute2'],
    // No automatic snapshot: `up` is timed from nothing to stacked, the snapshot separately (7).
    extra: [`devstack: { repo: ${JSON.stringify(repo)}, layer: 1 }`, 'post_stack: { images: [] }', 'snapshots: { after_up: false }'],
  });
  const rssFile = join(dir, 'maxrss');
  let overheadKiB = 0;
  let qemuMaxKiB = 0;
  const sampler = setInterval(() => {
    for (const pid of qemuPids(name)) {
      try {
        const r = qemuResident(pid);
        overheadKiB = Math.max(overheadKiB, r.beyond);
        qemuMaxKiB = Math.max(qemuMaxKiB, r.total);
      } catch {
        // the process went away between listing and reading
      }
    }
  }, 5000);
  let result: Awaited<ReturnType<typeof finished>> | undefined;
  const upS = await timed(async () => {
    result = await finished(devcluster(ROOT, dir, ['up'], { NODE_OPTIONS: `--import=${pathToFileURL(join(ROOT, 'bench', 'maxrss.mjs')).href}`, DC_BENCH_RSS_FILE: rssFile }));
  });
  clearInterval(sampler);
  let snapshot: { saveS: number; restoreS: number } | undefined;
  if (result?.code === 0) {
    // 7. The stacked cluster saved, then brought back: every node restored, clocks stepped, nova's services up.
    const must = async (...args: string[]) => {
      const r = await finished(devcluster(ROOT, dir, args));
      if (r.code !== 0) throw new Error(`devcluster ${args.join(' ')} failed:\n${r.out.slice(-3000)}`);
    };
    const saveS = await timed(() => must('snapshot', 'save', 'bench'));
    const restoreS = await timed(() => must('snapshot', 'restore', 'bench'));
    snapshot = { saveS, restoreS };
    await onStacked?.(dir);
  }
  const down = await finished(devcluster(ROOT, dir, ['down']));
  if (!result || result.code !== 0) throw new Error(`devcluster up failed:\n${result?.out.slice(-3000)}`);
  if (down.code !== 0) throw new Error(`devcluster down failed:\n${down.out.slice(-3000)}`);
  if (!snapshot) throw new Error('no snapshot figures');
  return { upS, ...snapshot, peakRssMiB: Number(readFileSync(rssFile, 'utf8')) / 1024, overheadMiB: overheadKiB / 1024, qemuMaxRssMiB: qemuMaxKiB / 1024 };
}
