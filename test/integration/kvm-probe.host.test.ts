/**
 * The KVM probe against reality, on whatever host runs the tests: without /dev/kvm it says "no KVM";
 * with /dev/kvm its verdict must be the one a plain `qemu-system-x86_64 -accel kvm` boot of the same
 * image gives when run as libvirt's qemu user (setpriv with that user's ids and groups) — on a host
 * with a working KVM both run to the end, on one whose KVM cannot run a guest both stop, with qemu's
 * same error. The same guest under TCG (plain qemu, and the probe's own
 * libvirt plumbing) always runs to the end, so a KVM failure is KVM's, not the image's.
 * Needs libvirtd (qemu:///system) and qemu-system-x86; light (32 MiB, a second or two per guest).
 */
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { qemuIdentity } from '../../src/providers/libvirt/kvm-access.js';
import { probeKvm } from '../../src/providers/libvirt/kvm-probe.js';
import { probeBootSector, PROBE_SUCCESS } from '../../src/providers/libvirt/probe-image.js';

const HAS_KVM = existsSync('/dev/kvm');
const URI = 'qemu:///system';

/** Boot the probe image with plain qemu, as libvirt's qemu user; what its serial port said and qemu's stderr. */
type PlainEnd = 'ran' | 'kvm-error' | 'denied' | 'exited' | 'timeout';

async function plainQemu(accel: 'kvm' | 'tcg', budgetMs: number): Promise<{ serial: string; stderr: string; ended: PlainEnd }> {
  const dir = await mkdtemp(join(tmpdir(), 'dc-plain-qemu-'));
  try {
    await chmod(dir, 0o755);
    const image = join(dir, 'boot.img');
    await writeFile(image, probeBootSector());
    await truncate(image, 1 << 20);
    await chmod(image, 0o666); // qemu opens its disk read-write
    const serial = join(dir, 'serial.out');
    await writeFile(serial, '', { mode: 0o666 });
    await chmod(serial, 0o666);
    const id = await qemuIdentity('/');
    const asQemuUser = id.uid !== undefined && id.gid !== undefined ? ['setpriv', `--reuid=${id.uid}`, `--regid=${id.gid}`, '--init-groups'] : [];
    const argv = [
      ...asQemuUser,
      'qemu-system-x86_64',
      '-accel', accel,
      '-machine', 'q35',
      '-cpu', accel === 'kvm' ? 'host' : 'max',
      '-m', '32',
      '-display', 'none',
      '-monitor', 'none',
      '-no-reboot',
      '-serial', `file:${serial}`,
      '-drive', `file=${image},format=raw`,
    ];
    const run = execa(argv[0] as string, argv.slice(1), { reject: false, timeout: budgetMs + 5000, killSignal: 'SIGKILL' });
    let stderr = '';
    run.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    // qemu keeps running after the guest halts (or pauses on a KVM error): stop it once the answer is in.
    const deadline = Date.now() + budgetMs;
    let ended: PlainEnd = 'timeout';
    while (Date.now() < deadline) {
      if ((await readFile(serial, 'utf8')).includes(PROBE_SUCCESS)) {
        ended = 'ran';
        break;
      }
      if (/KVM internal error/.test(stderr)) {
        ended = 'kvm-error';
        break;
      }
      if (/Permission denied/.test(stderr)) {
        ended = 'denied';
        break;
      }
      if (run.exitCode !== null) {
        ended = 'exited';
        break;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    run.kill('SIGKILL');
    await run;
    return { serial: await readFile(serial, 'utf8'), stderr, ended };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

describe('KVM probe', () => {
  it('without /dev/kvm it says there is no KVM, and starts nothing', async () => {
    // On a host without /dev/kvm: the host itself; on one with it: a host root that has none.
    const root = HAS_KVM ? await mkdtemp(join(tmpdir(), 'dc-nokvm-')) : '/';
    const result = await probeKvm({ uri: URI, root });
    expect(result).toMatchObject({ usable: false, outcome: 'absent', serial: '' });
    expect(result.reason).toBe(`no ${join(root, 'dev/kvm')}: this host offers no KVM`);
    expect(result.ms).toBeLessThan(1000);
  });

  it('the same guest under TCG runs to the end, in plain qemu and through the probe\'s libvirt domain', async () => {
    const plain = await plainQemu('tcg', 60_000);
    expect(plain.serial, plain.stderr).toContain(PROBE_SUCCESS);
    const viaLibvirt = await probeKvm({ uri: URI, domainType: 'qemu', budgetMs: 60_000 });
    expect(viaLibvirt, JSON.stringify(viaLibvirt)).toMatchObject({ usable: true, outcome: 'ok', serial: expect.stringContaining(PROBE_SUCCESS) });
  }, 180_000);

  it.skipIf(!HAS_KVM)('with /dev/kvm its verdict is that of a plain qemu -accel kvm boot of the same image as libvirt\'s qemu user', async () => {
    const probe = await probeKvm({ uri: URI });
    const plain = await plainQemu('kvm', 15_000);
    const context = `probe: ${JSON.stringify(probe)}\nplain qemu (${plain.ended}) serial: ${JSON.stringify(plain.serial)}\nplain qemu stderr: ${plain.stderr}`;
    expect(probe.usable, context).toBe(plain.ended === 'ran');
    switch (plain.ended) {
      case 'ran':
        expect(probe.serial, context).toContain(PROBE_SUCCESS);
        break;
      case 'kvm-error':
        // A KVM that stops the guest: the probe saw it stop with qemu's own words. (Where it stops is not
        // fixed: on this kind of host sometimes already in SeaBIOS, mostly at the boot sector's IRET.)
        expect(probe.outcome, context).toBe('stopped');
        expect(probe.errors, context).toContain('KVM internal error. Suberror: 1');
        expect(PROBE_SUCCESS.startsWith(probe.serial), context).toBe(true);
        expect(probe.reason).toMatch(/^a test guest stopped under KVM /);
        break;
      case 'denied':
        expect(probe.outcome, context).toBe('refused');
        expect(probe.reason, context).toMatch(/cannot open it|Permission denied/);
        break;
      case 'timeout':
        expect(probe.outcome, context).toBe('hung');
        break;
      default:
        throw new Error(`plain qemu ended without an answer: ${context}`);
    }
  }, 120_000);
});
