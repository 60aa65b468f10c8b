/**
 * doctor's KVM check against fake host trees (a regular file stands in for /dev/kvm: access is decided
 * from its owner, group and mode, as for the device), with the functional probe replaced by a
 * function returning what the real probe returns (its real runs: test/integration/kvm-probe.host.test.ts).
 * Runs as any user; what needs root (a root-owned device, the probe on root:kvm 0660, `--fix`'s
 * chgrp): kvm.host.test.ts.
 */
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../../../config/template.js';
import { KVM_UDEV_RULE } from '../kvm-access.js';
import type { KvmProbeResult } from '../kvm-probe.js';
import { checkKvm, udevRuleSource, type KvmCheckOptions } from './kvm.js';

// Debian's accounts as libvirt-daemon-system and qemu create them (libvirt-qemu's primary group is kvm).
const PASSWD = 'root:x:0:0:root:/root:/bin/bash\nlibvirt-qemu:x:64055:107:Libvirt Qemu,,,:/var/lib/libvirt:/usr/sbin/nologin\n';
const GROUP = 'root:x:0:\nkvm:x:107:\nlibvirt-qemu:x:64055:libvirt-qemu\n';

async function fakeRoot(files: Record<string, string> = {}): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'dc-kvm-root-'));
  for (const [path, content] of Object.entries(files)) {
    await mkdir(dirname(join(root, path)), { recursive: true });
    await writeFile(join(root, path), content, { mode: 0o600 });
  }
  return root;
}

const ran: KvmProbeResult = { usable: true, outcome: 'ok', reason: 'a test guest ran under KVM', serial: 'RDPILOK', errors: [], ms: 700 };
const mustNotProbe = async (): Promise<KvmProbeResult> => {
  throw new Error('the probe must not run here');
};

const opts = (root: string, extra: Partial<KvmCheckOptions> = {}): KvmCheckOptions => ({
  root,
  uri: 'qemu:///system',
  uid: 0,
  accelerator: 'auto',
  packageRoot: PACKAGE_ROOT,
  probe: mustNotProbe,
  ...extra,
});

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
