/**
 * The fake DevStack as the tests deploy it: the real openstack/devstack tree (master, from
 * test/support/upstream-repo.ts: DEVCLUSTER_DEVSTACK_REPO, the shared bundle or opendev) with the
 * stand-in's files laid over it (test/fixtures/fake-devstack: stack.sh, unstack.sh,
 * tools/discover_hosts.sh, fake/). Everything the stand-in does not replace is DevStack's own —
 * openrc, stackrc, functions, functions-common, inc/, lib/ — so `source openrc` behaves as on a real
 * node, strict mode included.
 */
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { cloneUpstreamSync } from './upstream-repo.js';

export const FAKE_FIXTURE = resolve(import.meta.dirname, '..', 'fixtures', 'fake-devstack');
export const FAKE_DEVSTACK_BRANCH = 'master';

/** A new folder holding the composed tree, without .git (callers commit it where they need it). */
export function fakeDevstackTree(dest: string = join(mkdtempSync(join(tmpdir(), 'dc-fakeds-')), 'devstack')): string {
  cloneUpstreamSync('devstack', FAKE_DEVSTACK_BRANCH, dest);
  rmSync(join(dest, '.git'), { recursive: true, force: true });
  cpSync(FAKE_FIXTURE, dest, { recursive: true });
  return dest;
}
