/**
 * doctor's binding fix for real: the Node binding's compiled part removed from a copy of the installed
 * tree, then `npm rebuild` (the fix doctor offers) compiles it again and the check passes. Needs what
 * test/setup-host.sh installs: g++, make, pkg-config, libvirt-dev and Node's headers (node-gyp's cache).
 */
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../../../config/template.js';
import { quietCtx } from '../../../events.js';
import { checkBinding, type CheckOptions } from '../../../doctor/checks.js';
import { applyFixes } from '../../../doctor/fix.js';

const base = (extra: Partial<CheckOptions> = {}): CheckOptions => ({ provider: 'libvirt', uid: 0, ...extra });
const emptyDir = (): Promise<string> => mkdtemp(join(tmpdir(), 'dc-doctor-'));

describe('the Node binding', () => {
  it(
    'compiled part missing (as when libvirt-dev was missing at npm ci): the fix, npm rebuild, really repairs it',
    { timeout: 600_000 },
    async () => {
      // A copy of the installed tree, so this repository's own binding is never touched.
      const root = await emptyDir();
      await cp(join(PACKAGE_ROOT, 'package.json'), join(root, 'package.json'));
      await cp(join(PACKAGE_ROOT, 'node_modules'), join(root, 'node_modules'), { recursive: true, verbatimSymlinks: true });
      await rm(join(root, 'node_modules/@unraid/libvirt/build'), { recursive: true, force: true });
      const broken = await checkBinding(base({ packageRoot: root }));
      expect(broken.status).toBe('fail');
      expect(broken.message).toContain("does not load: Error: Cannot find module '../build/Release/libvirt'");
      expect(broken.fix?.commands).toEqual([['npm', 'rebuild', '--prefix', root, '@unraid/libvirt']]);
      const fixed = await applyFixes([broken], { ...quietCtx(), checks: base({ packageRoot: root, only: ['binding'] }) });
      expect(fixed.applied).toEqual([{ id: 'binding', command: ['npm', 'rebuild', '--prefix', root, '@unraid/libvirt'], ok: true }]);
      expect(fixed.findings).toEqual([expect.objectContaining({ id: 'binding', status: 'ok' })]);
      await rm(root, { recursive: true, force: true });
    },
  );
});
