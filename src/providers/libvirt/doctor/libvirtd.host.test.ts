/**
 * scripts/libvirtd.sh and `doctor --fix` for real, on this host's qemu:///system: the doctor sees the
 * daemon down, its fix starts it, the next round defines a storage pool (a throwaway one), `start`
 * again changes nothing, `stop` ends both daemons. Needs root and libvirt installed. A libvirtd that
 * ran before the test runs again after it; one with clients connected, or one this script did not
 * start, is left alone (the test is skipped).
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { run } from '../../../process/run.js';
import { checkLibvirt, libvirtdScript, runChecks, type CheckOptions } from '../../../doctor/checks.js';
import { applyFixes } from '../../../doctor/fix.js';

const SCRIPT = libvirtdScript();
const RUN_DIR = '/run/devcluster';
const DAEMONS = ['virtlogd', 'libvirtd'] as const;
type Daemon = (typeof DAEMONS)[number];

const onPath = (command: string) => (process.env.PATH ?? '').split(':').some((dir) => dir && existsSync(join(dir, command)));
const READY = process.getuid?.() === 0 && ['libvirtd', 'virtlogd', 'virsh', 'virt-admin'].every(onPath);

async function alive(pid: number): Promise<boolean> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  const state = /^State:\s*(\S)/m.exec(status)?.[1];
  return state !== undefined && state !== 'Z' && state !== 'X';
}

/** The pid in our pid file, if that process is alive. */
async function ourPid(name: Daemon): Promise<number | undefined> {
  const text = await readFile(join(RUN_DIR, `${name}.pid`), 'utf8').catch(() => undefined);
  const pid = Number(text?.trim());
  return Number.isInteger(pid) && pid > 0 && (await alive(pid)) ? pid : undefined;
}

async function pids(): Promise<Record<Daemon, number | undefined>> {
  return { virtlogd: await ourPid('virtlogd'), libvirtd: await ourPid('libvirtd') };
}

/** Live libvirtd or virtlogd processes that our pid files do not name. */
async function foreignDaemons(): Promise<number[]> {
  const ours = Object.values(await pids());
  const found: number[] = [];
  for (const entry of await readdir('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || ours.includes(pid)) continue;
    const comm = (await readFile(`/proc/${pid}/comm`, 'utf8').catch(() => '')).trim();
    if ((DAEMONS as readonly string[]).includes(comm) && (await alive(pid))) found.push(pid);
  }
  return found;
}

async function connectedClients(): Promise<number> {
  const { stdout } = await run('virt-admin', ['srv-clients-list', 'libvirtd']);
  return stdout.split('\n').filter((l) => /^\s*\d+\s/.test(l)).length;
}

const script = (command: 'start' | 'stop') => run('bash', [SCRIPT, command], { timeoutMs: 90_000 });

describe.skipIf(!READY)('scripts/libvirtd.sh and doctor --fix on qemu:///system', () => {
  it('start → reachable → start again changes nothing → stop → both pids gone', { timeout: 240_000 }, async (ctx) => {
    const before = await pids();
    const wasRunning = before.libvirtd !== undefined && before.virtlogd !== undefined;
    const foreign = await foreignDaemons();
    if (foreign.length > 0) ctx.skip(`libvirt daemons not started by scripts/libvirtd.sh run (pids ${foreign.join(' ')})`);
    if (wasRunning && (await connectedClients()) > 0) ctx.skip('libvirtd has clients connected; stopping it would cut them off');

    const pool = `dc-doctor-test-${process.pid}`;
    const poolTarget = join(await mkdtemp(join(tmpdir(), 'dc-doctor-pool-')), 'images');
    const root = await mkdtemp(join(tmpdir(), 'dc-doctor-root-'));
    await mkdir(join(root, 'proc/1'), { recursive: true });
    await writeFile(join(root, 'proc/1/comm'), 'tini\n');
    const options: CheckOptions = { provider: 'libvirt', uri: 'qemu:///system', pool, poolTarget, root, uid: 0, only: ['libvirt', 'pool'] };
    try {
      if (wasRunning) {
        // Running already: start is a no-op; then stop it, to start it through the doctor below.
        const again = await script('start');
        expect(again.stderr).toContain(`libvirtd already runs (pid ${before.libvirtd})`);
        expect(await pids()).toEqual(before);
        await script('stop');
        expect(await pids()).toEqual({ virtlogd: undefined, libvirtd: undefined });
        for (const pid of Object.values(before)) expect(await alive(pid ?? 0)).toBe(false);
      } else {
        await script('stop'); // half-started leftovers (one daemon only) would make the check below meaningless
      }

      // Down: the doctor says so and offers the script (no systemd) or systemctl (systemd).
      const down = await runChecks(options);
      expect(down.map((f) => [f.id, f.status])).toEqual([
        ['libvirt', 'fail'],
        ['pool', 'warn'],
      ]);
      expect(down[0]?.fix?.commands).toEqual([['bash', SCRIPT, 'start']]);
      await writeFile(join(root, 'proc/1/comm'), 'systemd\n');
      expect((await checkLibvirt(options)).fix?.commands).toEqual([['systemctl', 'enable', '--now', 'libvirtd']]);
      await writeFile(join(root, 'proc/1/comm'), 'tini\n');

      // --fix: round 1 starts the daemons, round 2 defines and starts the pool.
      const fixed = await applyFixes(down, { signal: new AbortController().signal, report: () => undefined, checks: options });
      const virsh = (...args: string[]) => ['virsh', '-c', 'qemu:///system', ...args];
      expect(fixed.applied.map((a) => [a.id, a.command, a.ok])).toEqual([
        ['libvirt', ['bash', SCRIPT, 'start'], true],
        ['pool', virsh('pool-define-as', pool, 'dir', '--target', poolTarget), true],
        ['pool', virsh('pool-build', pool), true],
        ['pool', virsh('pool-start', pool), true],
        ['pool', virsh('pool-autostart', pool), true],
      ]);
      expect(fixed.findings.map((f) => [f.id, f.status])).toEqual([
        ['libvirt', 'ok'],
        ['pool', 'ok'],
      ]);
      expect(fixed.findings[0]?.message).toMatch(/^reachable at qemu:\/\/\/system \(libvirt \d+\.\d+\.\d+, QEMU /);
      expect(existsSync(poolTarget)).toBe(true);

      const { stdout } = await run('virsh', ['-c', 'qemu:///system', 'version']);
      expect(stdout).toMatch(/Running hypervisor: QEMU/);
      const started = await pids();
      expect(started.libvirtd).toBeDefined();
      expect(started.virtlogd).toBeDefined();

      const again = await script('start');
      expect(again.stderr).toContain(`libvirtd already runs (pid ${started.libvirtd})`);
      expect(again.stderr).not.toContain('started');
      expect(await pids()).toEqual(started);

      if (!wasRunning) {
        await run('virsh', ['-c', 'qemu:///system', 'pool-destroy', pool]);
        await run('virsh', ['-c', 'qemu:///system', 'pool-undefine', pool]);
        const stopped = await script('stop');
        expect(stopped.stderr).toContain(`stopped libvirtd (pid ${started.libvirtd})`);
        expect(await pids()).toEqual({ virtlogd: undefined, libvirtd: undefined });
        for (const pid of Object.values(started)) expect(await alive(pid ?? 0)).toBe(false);
        expect(existsSync(join(RUN_DIR, 'libvirtd.pid'))).toBe(false);
      }
    } finally {
      // Leave the host as it was: the pool gone, the daemons running only if they ran before.
      const now = await pids();
      const running = now.libvirtd !== undefined;
      if (!running) await script('start').catch(() => undefined);
      await run('virsh', ['-c', 'qemu:///system', 'pool-destroy', pool]).catch(() => undefined);
      await run('virsh', ['-c', 'qemu:///system', 'pool-undefine', pool]).catch(() => undefined);
      if (!wasRunning) await script('stop').catch(() => undefined);
    }
  });
});
