/**
 * doctor's KVM check where it needs root: a fake /dev/kvm owned by root (as the device is before any
 * udev rule), root:kvm 0660 for the functional probe (replaced by a function returning what the real
 * probe returns; its real runs: test/integration/kvm-probe.host.test.ts), and `--fix` running its real
 * commands (chgrp to this host's kvm group, chmod, install) on the fake tree. The rest of the check, as
 * any user: kvm.test.ts.
 */
import { readFileSync } from 'node:fs';
import { chmod, chown, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../../../config/template.js';
import { quietCtx } from '../../../events.js';
import { KVM_UDEV_RULE, KVM_UDEV_RULE_PATH } from '../kvm-access.js';
import { runChecks } from '../../../doctor/checks.js';
import { applyFixes } from '../../../doctor/fix.js';
import { checkKvm, udevRuleSource } from './kvm.js';
import { GROUP, PASSWD, PROBE_RAN, kvmCheckOptions, kvmRoot as fakeRoot, PROBE_STOPPED } from '../../../../test/support/kvm-fixtures.js';

const ran = PROBE_RAN;
const stopped = PROBE_STOPPED;

const opts = kvmCheckOptions;

describe('doctor kvm: a root-owned /dev/kvm (as root)', () => {
  it('root:root 0600 (no udev rule): fails naming the device, the qemu user and its groups, with the udev rule\'s fix', async () => {
    const root = await fakeRoot({ 'dev/kvm': '', 'etc/passwd': PASSWD, 'etc/group': GROUP, 'etc/libvirt/qemu.conf': '#user = "libvirt-qemu"\n#group = "libvirt-qemu"\n' });
    const f = await checkKvm(opts(root));
    expect(f.status).toBe('fail');
    expect(f.message).toMatch(/^\/dev\/kvm is root:root 0600: libvirt runs qemu as libvirt-qemu \(groups libvirt-qemu, kvm\), which cannot open it/);
    expect(f.message).toContain('Could not access KVM kernel module: Permission denied');
    expect(f.fix?.commands).toEqual([
      ['chgrp', 'kvm', join(root, 'dev/kvm')],
      ['chmod', '0660', join(root, 'dev/kvm')],
      ['install', '-D', '-m', '0644', udevRuleSource(PACKAGE_ROOT), join(root, KVM_UDEV_RULE_PATH)],
    ]);
    expect(f.fix?.description).toContain('KERNEL=="kvm", GROUP="kvm", MODE="0660"');
    // As a user the same commands go through sudo.
    expect((await checkKvm(opts(root, { uid: 1000 }))).fix?.commands.every((c) => c[0] === 'sudo')).toBe(true);
  });
});

describe('doctor kvm: the functional probe', () => {
  async function usableRoot(): Promise<string> {
    const root = await fakeRoot({ 'dev/kvm': '', 'etc/passwd': PASSWD, 'etc/group': GROUP });
    // root:kvm 0660, as the udev rule (or the fix) leaves it; the fake tree's kvm group is 107.
    await chown(join(root, 'dev/kvm'), 0, 107);
    await chmod(join(root, 'dev/kvm'), 0o660);
    return root;
  }

  it('a guest that ran: ok; one that stopped: a warning with qemu\'s words and TCG; kvm forced: a failure; tcg: not probed', async () => {
    const root = await usableRoot();
    let asked: unknown;
    const ok = await checkKvm(opts(root, { probe: async (o) => ((asked = o), ran) }));
    expect(ok).toMatchObject({ id: 'kvm', status: 'ok', message: expect.stringMatching(/^KVM runs guests here \(a test guest ran under KVM as libvirt's qemu user in 0\.7 s\)/) });
    expect(asked).toMatchObject({ uri: 'qemu:///system', root });
    const warn = await checkKvm(opts(root, { probe: async () => stopped }));
    expect(warn.status).toBe('warn');
    expect(warn.message).toContain('KVM cannot run a guest here: a test guest stopped under KVM at an IRET in protected mode (paused (unknown)): KVM internal error. Suberror: 1 / emulation failure');
    expect(warn.message).toContain('Guests will use TCG emulation (libvirt.accelerator: auto)');
    const forced = await checkKvm(opts(root, { accelerator: 'kvm', probe: async () => stopped }));
    expect(forced.status).toBe('fail');
    expect(forced.fix?.description).toContain('set libvirt.accelerator: auto');
    expect(await checkKvm(opts(root, { accelerator: 'tcg' }))).toMatchObject({ status: 'ok', message: expect.stringContaining('accelerator is tcg') });
  });
});

// chgrp to kvm needs root and the group on this host (libvirt's packages create it).
const REAL_KVM_GID = (() => {
  const line = readFileSync('/etc/group', 'utf8').split('\n').find((l) => l.startsWith('kvm:'));
  return line ? Number(line.split(':')[2]) : undefined;
})();

describe('doctor --fix kvm', () => {
  it('does what the udev rule does (group kvm, 0660) and writes the rule; the re-check then probes', async () => {
    if (REAL_KVM_GID === undefined) throw new Error('no kvm group on this host: libvirt\'s packages make it (test/setup-host.sh installs them)');
    const group = `root:x:0:\nkvm:x:${REAL_KVM_GID}:\nlibvirt-qemu:x:64055:libvirt-qemu\n`;
    const passwd = `root:x:0:0:root:/root:/bin/bash\nlibvirt-qemu:x:64055:${REAL_KVM_GID}:Libvirt Qemu,,,:/var/lib/libvirt:/usr/sbin/nologin\n`;
    const root = await fakeRoot({ 'dev/kvm': '', 'etc/passwd': passwd, 'etc/group': group });
    const before = await stat(join(root, 'dev/kvm'));
    expect([before.uid, before.gid, before.mode & 0o777]).toEqual([0, 0, 0o600]);
    let probed = 0;
    const checks = { provider: 'libvirt' as const, uid: 0, root, only: ['kvm'] as const, kvmProbe: async () => (probed++, stopped) };
    const first = await runChecks(checks);
    expect(first).toEqual([expect.objectContaining({ id: 'kvm', status: 'fail' })]);
    expect(probed).toBe(0);
    const result = await applyFixes(first, { ...quietCtx(), checks });
    expect(result.applied.map((a) => [a.command[0], a.ok])).toEqual([
      ['chgrp', true],
      ['chmod', true],
      ['install', true],
    ]);
    const after = await stat(join(root, 'dev/kvm'));
    expect([after.gid, after.mode & 0o777]).toEqual([REAL_KVM_GID, 0o660]);
    expect(await readFile(join(root, KVM_UDEV_RULE_PATH), 'utf8')).toContain(KVM_UDEV_RULE);
    // Now the qemu user can open it, so the check goes on to the probe, which here says KVM cannot run a guest.
    expect(probed).toBe(1);
    expect(result.findings).toEqual([expect.objectContaining({ id: 'kvm', status: 'warn', message: expect.stringContaining('emulation failure') })]);
  });
});
