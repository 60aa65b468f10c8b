/**
 * The committed tables (src/devstack/tables.ts) against real DevStack: each branch's stackrc and
 * stack.sh, read from the repository test/support/devstack-repo.ts finds (DEVCLUSTER_DEVSTACK_REPO,
 * else the shared bundle, else opendev). Fails — never skips — when none is reachable.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cloneDevstack } from '../../test/support/devstack-repo.js';
import { DEVSTACK_PROJECTS, SUPPORTED_DISTROS } from './tables.js';
import { distroSupported, parseStackrcProjects, parseSupportedDistros } from './upstream.js';

const BRANCHES = Object.keys(SUPPORTED_DISTROS);
const REGENERATE = 'regenerate it: npm run build && node scripts/dev/gen-devstack-tables.mjs';
let work: string;
const trees: Record<string, string> = {};

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'dc-ds-tables-'));
  for (const branch of BRANCHES) {
    const dest = join(work, branch.replace(/\//g, '_'));
    await cloneDevstack(branch, dest);
    trees[branch] = dest;
  }
}, 900_000);
afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

describe('DevStack tables, read from DevStack itself', () => {
  for (const branch of ['master', 'stable/2026.1', 'stable/2025.2']) {
    it(`${branch}: stackrc's variables for each project are the committed table's`, async () => {
      const upstream = parseStackrcProjects(await readFile(join(trees[branch] as string, 'stackrc'), 'utf8'));
      const comparable = (table: typeof upstream) =>
        Object.fromEntries(Object.entries(table).map(([name, p]) => [name, { repoVar: p.repoVar, branchVar: p.branchVar, url: p.url, library: p.library }]));
      expect(comparable(DEVSTACK_PROJECTS), `src/devstack/tables.ts differs from ${branch} stackrc: ${REGENERATE}`).toEqual(comparable(upstream));
      if (branch === 'master') {
        expect(Object.fromEntries(Object.entries(upstream).map(([n, p]) => [n, p.line]))).toEqual(
          Object.fromEntries(Object.entries(DEVSTACK_PROJECTS).map(([n, p]) => [n, p.line])),
        );
      }
    });

    it(`${branch}: stack.sh's SUPPORTED_DISTROS is the committed one`, async () => {
      const upstream = parseSupportedDistros(await readFile(join(trees[branch] as string, 'stack.sh'), 'utf8'));
      expect(upstream, `src/devstack/tables.ts differs from ${branch} stack.sh: ${REGENERATE}`).toEqual(SUPPORTED_DISTROS[branch]);
    });
  }

  it('the table is what the issue counted: 59 GITREPO projects (libraries), of which many names do not follow <PROJECT>_REPO', () => {
    const libraries = Object.entries(DEVSTACK_PROJECTS).filter(([, p]) => p.library);
    expect(libraries).toHaveLength(59);
    const derived = (name: string) => `${name.toUpperCase().replace(/[^A-Z0-9]/g, '_')}_REPO`;
    const differing = libraries.filter(([name, p]) => derived(name) !== p.repoVar).map(([name]) => name);
    expect(differing).toHaveLength(30);
    expect(DEVSTACK_PROJECTS['oslo.config']?.repoVar).toBe('OSLOCFG_REPO');
    expect(DEVSTACK_PROJECTS['diskimage-builder']?.repoVar).toBe('DIB_REPO');
    expect(DEVSTACK_PROJECTS['python-novaclient']?.branchVar).toBe('NOVACLIENT_BRANCH');
  });

  it('the distro test matches as bash does: an unanchored =~', () => {
    expect(distroSupported('trixie|bookworm|noble', 'noble')).toBe(true);
    expect(distroSupported('trixie|bookworm|noble', 'jammy')).toBe(false);
    expect(distroSupported('rhel9|rhel10', 'rhel10')).toBe(true);
  });
});
