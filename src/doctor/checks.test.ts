/**
 * The command-based checks, for real: virsh against libvirt's built-in test driver (test:///default,
 * no daemon) and an unreachable socket, dpkg-query against this host's package database, the Node
 * binding loaded in a child node. Hosts without these tools skip the tests that need them. The
 * binding's real rebuild (a compiler, libvirt-dev, Node's headers): binding-rebuild.host.test.ts.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, symlink, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../config/template.js';
import {
  CHECK_IDS,
  checkBinding,
  checkIsoTool,
  checkLibvirt,
  checkPackages,
  checkPool,
  libvirtdScript,
  runChecks,
  type CheckOptions,
} from './checks.js';

const onPath = (command: string) => (process.env.PATH ?? '').split(':').some((dir) => dir && existsSync(join(dir, command)));
const HAS_VIRSH = onPath('virsh');
const IS_DEBIAN = existsSync('/etc/debian_version') && onPath('dpkg-query');
const TEST_URI = 'test:///default';
const BINDING_VERSION = await readFile(join(PACKAGE_ROOT, 'node_modules/@unraid/libvirt/package.json'), 'utf8').then(
  (t) => (JSON.parse(t) as { version: string }).version,
  () => undefined,
);
const UNREACHABLE = 'qemu+unix:///system?socket=/nonexistent/libvirt-sock';

async function emptyDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'dc-doctor-'));
}

const base = (extra: Partial<CheckOptions> = {}): CheckOptions => ({ provider: 'libvirt', uid: 0, ...extra });

describe.skipIf(!HAS_VIRSH)('libvirt', () => {
  it('is reachable at test:///default, with the library and hypervisor versions', async () => {
    const finding = await checkLibvirt(base({ uri: TEST_URI }));
    expect(finding.status).toBe('ok');
    expect(finding.message).toMatch(/^reachable at test:\/\/\/default \(libvirt \d+\.\d+\.\d+, TEST \d/);
    expect(finding.fix).toBeUndefined();
  });

  it('an unreachable URI fails with virsh\'s reason, and no daemon fix for a socket of its own', async () => {
    const finding = await checkLibvirt(base({ uri: UNREACHABLE, root: await emptyDir() }));
    expect(finding.status).toBe('fail');
    expect(finding.message).toContain(`not reachable at ${UNREACHABLE}`);
    expect(finding.message).toContain("Failed to connect socket to '/nonexistent/libvirt-sock'");
    expect(finding.fix?.commands).toEqual([]);
  });

  it('virsh missing from PATH fails and names the package', async () => {
    const finding = await checkLibvirt(base({ uri: TEST_URI, env: { PATH: await emptyDir() } }));
    expect(finding).toMatchObject({ status: 'fail', message: expect.stringContaining('libvirt-clients') });
  });

  it('pool: an active pool is ok; a missing one fails with define, build, start, autostart', async () => {
    const ok = await checkPool(base({ uri: TEST_URI, pool: 'default-pool' }), true);
    expect(ok.status).toBe('ok');
    expect(ok.message).toMatch(/^storage pool "default-pool" is active \(.+ available/);

    const missing = await checkPool(base({ uri: TEST_URI, pool: 'default' }), true);
    expect(missing).toMatchObject({ id: 'pool', status: 'fail', message: 'storage pool "default" is not defined at test:///default' });
    expect(missing.fix?.commands).toEqual([
      ['virsh', '-c', TEST_URI, 'pool-define-as', 'default', 'dir', '--target', '/var/lib/libvirt/images'],
      ['virsh', '-c', TEST_URI, 'pool-build', 'default'],
      ['virsh', '-c', TEST_URI, 'pool-start', 'default'],
      ['virsh', '-c', TEST_URI, 'pool-autostart', 'default'],
    ]);
    // sudo is for the system daemon only; a non-default pool gets its own folder.
    const asUser = await checkPool(base({ uri: TEST_URI, pool: 'dc-doctor-no-such-pool', uid: 1000 }), true);
    expect(asUser.fix?.commands[0]).toEqual(['virsh', '-c', TEST_URI, 'pool-define-as', 'dc-doctor-no-such-pool', 'dir', '--target', '/var/lib/libvirt/images/dc-doctor-no-such-pool']);
  });

  it('pool: not checked (a warning, no fix) while libvirt is unreachable', async () => {
    const finding = await checkPool(base({ uri: UNREACHABLE }), false);
    expect(finding).toEqual({ id: 'pool', status: 'warn', message: `storage pool "default" not checked: libvirt is not reachable at ${UNREACHABLE}` });
  });
});

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

describe('the Node binding', () => {
  it('@unraid/libvirt: the check agrees with loading it and opening test:///default in this process', async () => {
    const usable = await import('@unraid/libvirt').then(
      async (m) => {
        const h = new m.Hypervisor({ uri: 'test:///default' });
        await h.connectOpen();
        await h.connectClose();
        return true;
      },
      () => false,
    ).catch(() => false);
    const finding = await checkBinding(base());
    expect(finding.status).toBe(usable ? 'ok' : 'fail');
    if (usable) expect(finding.message).toBe(`the Node binding @unraid/libvirt ${BINDING_VERSION} loads and opens libvirt's test driver`);
  });

  it('not installed: npm install into the package root', async () => {
    const finding = await checkBinding(base({ bindingModule: '@devcluster/no-such-binding' }));
    expect(finding.status).toBe('fail');
    expect(finding.message).toContain('is not installed');
    expect(finding.fix?.commands).toEqual([['npm', 'install', '--prefix', PACKAGE_ROOT, '--no-save', '--no-audit', '--no-fund', '@devcluster/no-such-binding']]);
  });

  it('installed but failing to load: npm rebuild in the package root, with the load error', async () => {
    const root = await emptyDir();
    const dir = join(root, 'node_modules', 'fake-binding');
    await mkdir(dir, { recursive: true });
    await writeFile(join(root, 'package.json'), JSON.stringify({ name: 'x', optionalDependencies: { 'fake-binding': '^1.0.0' } }));
    await writeFile(join(dir, 'package.json'), JSON.stringify({ name: 'fake-binding', version: '1.0.0', type: 'module', exports: './index.js' }));
    await writeFile(join(dir, 'index.js'), "throw new Error('libvirt.so.0: cannot open shared object file: No such file or directory');\n");
    const finding = await checkBinding(base({ bindingModule: 'fake-binding', packageRoot: root }));
    expect(finding.status).toBe('fail');
    expect(finding.message).toContain('does not load: Error: libvirt.so.0: cannot open shared object file');
    expect(finding.fix?.commands).toEqual([['npm', 'rebuild', '--prefix', root, 'fake-binding']]);

    // And once it loads, it is ok (checked in a fresh node: no stale module cache).
    await writeFile(join(dir, 'index.js'), 'export const ok = true;\n');
    expect(await checkBinding(base({ bindingModule: 'fake-binding', packageRoot: root }))).toEqual({
      id: 'binding',
      status: 'ok',
      message: "the Node binding fake-binding 1.0.0 loads and opens libvirt's test driver",
    });
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
