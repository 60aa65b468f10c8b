/**
 * doctor's KVM check against fake host trees (a regular file stands in for /dev/kvm: access is decided
 * from its owner, group and mode, as for the device), with the functional probe replaced by a
 * function returning what the real probe returns (its real runs: test/integration/kvm-probe.host.test.ts).
 * Runs as any user; what needs root (a root-owned device, the probe on root:kvm 0660, `--fix`'s
 * chgrp): kvm.host.test.ts.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../../../config/template.js';
import { KVM_UDEV_RULE } from '../kvm-access.js';
import { checkKvm, udevRuleSource } from './kvm.js';
import { GROUP, PASSWD, PROBE_RAN, kvmCheckOptions, kvmRoot as fakeRoot } from '../../../../test/support/kvm-fixtures.js';

const ran = PROBE_RAN;

const opts = kvmCheckOptions;

describe('doctor kvm: /dev/kvm for libvirt\'s qemu user', () => {
  it('no /dev/kvm: a TCG warning with the firmware hint; a failure when kvm is forced', async () => {
    const root = await fakeRoot();
    const none = await checkKvm(opts(root));
    expect(none.status).toBe('warn');
    expect(none.message).toContain('no /dev/kvm: guests run under TCG emulation, 10–20× slower');
    expect(none.message).toContain('LIBVIRT_TYPE=qemu');
    expect(none.fix).toEqual({ description: expect.stringMatching(/VT-x/), commands: [] });
    const forced = await checkKvm(opts(root, { accelerator: 'kvm' }));
    expect(forced.status).toBe('fail');
    expect(forced.fix?.description).toContain('set libvirt.accelerator: auto or tcg');
  });

  it('the shipped rule file is the udev rule, and the qemu user must be in the group it names', async () => {
    expect(readFileSync(udevRuleSource(PACKAGE_ROOT), 'utf8').split('\n').filter((l) => l && !l.startsWith('#'))).toEqual([KVM_UDEV_RULE.trim()]);
    // qemu.conf names another user that is in no kvm group, and there is no kvm group at all.
    const root = await fakeRoot({
      'dev/kvm': '',
      'etc/passwd': `${PASSWD}qemu:x:500:500::/:/sbin/nologin\n`,
      'etc/group': 'root:x:0:\nqemu:x:500:\n',
      'etc/libvirt/qemu.conf': 'user = "qemu"\ngroup = "qemu"\n',
    });
    const f = await checkKvm(opts(root));
    expect(f.message).toContain('libvirt runs qemu as qemu (groups qemu)');
    expect(f.fix?.commands.slice(0, 2)).toEqual([
      ['groupadd', '--system', 'kvm'],
      ['usermod', '-aG', 'kvm', 'qemu'],
    ]);
  });

  it('qemu.conf user = "+0" (root) can open a 0600 root device: on to the probe', async () => {
    const root = await fakeRoot({ 'dev/kvm': '', 'etc/passwd': PASSWD, 'etc/group': GROUP, 'etc/libvirt/qemu.conf': 'user = "+0"\n' });
    expect((await checkKvm(opts(root, { probe: async () => ran }))).status).toBe('ok');
  });
});
