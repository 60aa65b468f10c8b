/**
 * The runner and the generic checks, for real: dpkg-query against this host's package database, the
 * tools on PATH, every provider's checks through runChecks (virsh against libvirt's test driver,
 * test:///default; the VBoxManage stand-in). Hosts without these tools skip the tests that need them.
 * libvirt's own checks are tested beside them (providers/libvirt/doctor/).
 */
import { existsSync } from 'node:fs';
import { mkdtemp, symlink, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CHECK_IDS, checkIsoTool, checkPackages, libvirtdScript, runChecks, type CheckOptions } from './checks.js';

const onPath = (command: string) => (process.env.PATH ?? '').split(':').some((dir) => dir && existsSync(join(dir, command)));
const HAS_VIRSH = onPath('virsh');
const IS_DEBIAN = existsSync('/etc/debian_version') && onPath('dpkg-query');
const TEST_URI = 'test:///default';
const UNREACHABLE = 'qemu+unix:///system?socket=/nonexistent/libvirt-sock';

async function emptyDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'dc-doctor-'));
}

const base = (extra: Partial<CheckOptions> = {}): CheckOptions => ({ provider: 'libvirt', uid: 0, ...extra });


describe.skipIf(!IS_DEBIAN)('Debian packages', () => {
  it('an installed package and an installed alternative are ok; a missing one fails with apt-get', async () => {
    const ok = await checkPackages(['dpkg', ['devcluster-no-such-package-a', 'coreutils']], base());
    expect(ok).toMatchObject({ id: 'packages', status: 'ok' });

    const missing = await checkPackages(['dpkg', 'devcluster-no-such-package', ['devcluster-no-such-b', 'devcluster-no-such-c']], base({ uid: 1000 }));
    expect(missing.status).toBe('fail');
    expect(missing.message).toContain('missing Debian packages: devcluster-no-such-package devcluster-no-such-b ');
    expect(missing.fix?.commands).toEqual([
      ['sudo', 'apt-get', 'update'],
      ['sudo', 'apt-get', 'install', '-y', '--no-install-recommends', 'devcluster-no-such-package', 'devcluster-no-such-b'],
    ]);
  });
});

describe('packages on a host that is not Debian', () => {
  it('says what to install, with no command', async () => {
    const finding = await checkPackages(['libvirt-dev', ['xorriso', 'genisoimage']], base({ root: await emptyDir() }));
    expect(finding.status).toBe('warn');
    expect(finding.message).toContain('libvirt-dev, xorriso or genisoimage');
    expect(finding.fix?.commands).toEqual([]);
  });
});


describe('tools', () => {
  it('the ISO tool is found on PATH, or fails without one', async () => {
    const none = await checkIsoTool(base({ env: { PATH: await emptyDir() } }));
    expect(none).toMatchObject({ id: 'iso', status: 'fail' });
    const bin = await emptyDir();
    await writeFile(join(bin, 'genisoimage'), '#!/bin/sh\n', { mode: 0o755 });
    expect(await checkIsoTool(base({ env: { PATH: bin } }))).toEqual({ id: 'iso', status: 'ok', message: 'genisoimage makes the cloud-init seed ISOs' });
  });

  it.skipIf(!onPath('qemu-system-x86_64') || !onPath('qemu-img'))('qemu and qemu-img report their versions', async () => {
    const findings = await runChecks(base({ only: ['qemu', 'qemu-img'] }));
    expect(findings.map((f) => [f.id, f.status])).toEqual([
      ['qemu', 'ok'],
      ['qemu-img', 'ok'],
    ]);
    expect(findings[0]?.message).toMatch(/^qemu-system-x86_64 \d+\.\d+/);
    expect(findings[1]?.message).toMatch(/^qemu-img \d+\.\d+/);
  });

  it('qemu missing from PATH fails and names the package', async () => {
    const findings = await runChecks(base({ only: ['qemu', 'qemu-img'], env: { PATH: await emptyDir() } }));
    expect(findings).toEqual([
      expect.objectContaining({ id: 'qemu', status: 'fail', message: 'qemu-system-x86_64 is not installed (Debian package qemu-system-x86)' }),
      expect.objectContaining({ id: 'qemu-img', status: 'fail', message: 'qemu-img is not installed (Debian package qemu-utils)' }),
    ]);
  });
});

describe('runChecks', () => {
  it('libvirt provider: every check in order, bridge only when one is configured', async () => {
    const root = await emptyDir();
    const plain = await runChecks(base({ uri: TEST_URI, pool: 'default-pool', root }));
    expect(plain.map((f) => f.id)).toEqual(['packages', 'binding', 'libvirt', 'pool', 'qemu', 'qemu-img', 'iso', 'kvm', 'vboxdrv']);
    if (HAS_VIRSH) expect(plain.find((f) => f.id === 'pool')?.status).toBe('ok');
    const bridged = await runChecks(base({ uri: TEST_URI, root, bridgeInterface: 'br0', only: ['bridge', 'kvm'] }));
    expect(bridged.map((f) => [f.id, f.status])).toEqual([
      ['kvm', 'warn'],
      ['bridge', 'fail'],
    ]);
  });

  it('pool is reported as not checked when libvirt is unreachable, even when only the pool is asked for', async () => {
    const findings = await runChecks(base({ uri: UNREACHABLE, only: ['pool'] }));
    expect(findings).toEqual([expect.objectContaining({ id: 'pool', status: 'warn' })]);
  });

  it('virtualbox provider: no libvirt checks; VBoxManage and vboxdrv instead', async () => {
    const findings = await runChecks({ provider: 'virtualbox', uid: 0, root: await emptyDir(), env: { PATH: await emptyDir() } });
    expect(findings.map((f) => [f.id, f.status])).toEqual([
      ['packages', 'warn'],
      ['qemu-img', 'fail'],
      ['vboxmanage', 'fail'],
      ['iso', 'fail'],
      ['vboxdrv', 'fail'],
    ]);
    expect(findings.find((f) => f.id === 'vboxmanage')?.fix?.description).toContain('virtualbox.org');
  });

  it('virtualbox provider: reports the version VBoxManage gives, and refuses one older than 6.1', async () => {
    // The VBoxManage stand-in (test/fixtures/vbox) prints versions as the real one does.
    const bin = await emptyDir();
    await symlink(fileURLToPath(new URL('../../test/fixtures/vbox/VBoxManage', import.meta.url)), join(bin, 'VBoxManage'));
    const env = (version: string) => ({ PATH: `${bin}:/usr/bin:/bin`, VBOX_STANDIN_VERSION: version, VBOX_STANDIN_HOME: bin });
    const now = await runChecks({ provider: 'virtualbox', uid: 0, root: await emptyDir(), env: env('7.0.20r163906'), only: ['vboxmanage'] });
    expect(now).toEqual([expect.objectContaining({ id: 'vboxmanage', status: 'ok', message: 'VBoxManage 7.0.20r163906' })]);
    const old = await runChecks({ provider: 'virtualbox', uid: 0, root: await emptyDir(), env: env('6.0.24r139119'), only: ['vboxmanage'] });
    expect(old).toEqual([expect.objectContaining({ id: 'vboxmanage', status: 'fail', message: expect.stringContaining('6.1 or later') })]);
  });

  it('knows every check id it can report', () => {
    expect(new Set(CHECK_IDS).size).toBe(CHECK_IDS.length);
    expect(libvirtdScript('/opt/dc/')).toBe('/opt/dc/scripts/libvirtd.sh');
  });
});
