/**
 * libvirt's command-based checks, for real: virsh against libvirt's built-in test driver
 * (test:///default, no daemon) and an unreachable socket, the Node binding loaded in a child node.
 * Hosts without virsh skip the tests that need it. The binding's real rebuild (a compiler,
 * libvirt-dev, Node's headers): binding-rebuild.host.test.ts.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../../../config/template.js';
import type { CheckOptions } from '../../../doctor/options.js';
import { checkBinding } from './binding.js';
import { checkLibvirt, checkPool } from './libvirt.js';

const onPath = (command: string) => (process.env.PATH ?? '').split(':').some((dir) => dir && existsSync(join(dir, command)));
const HAS_VIRSH = onPath('virsh');
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
