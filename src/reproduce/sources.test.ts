/**
 * reproduce's sources against local git servers playing opendev.org and its Gerrit
 * (test/support/gerrit-forge.ts): exact and reconstructed trees, queue order, Depends-On in another
 * project, merge modes, a deleted change, a commit that is nowhere, a cached tree with edits.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { DevclusterError } from '../errors.js';
import { quietCtx, type ProgressEvent } from '../events.js';
import { GerritForge } from '../../test/support/gerrit-forge.js';
import { changeRef, configSources, repoUrl, resolveSources, type ResolvedSource, type SourceOptions, type SourceItem, type SourceProject } from './sources.js';

const git = (dir: string, ...args: string[]) => execFileSync('git', ['-C', dir, ...args], { encoding: 'utf8' }).trim();
/** Zuul's speculative merge commit: it existed only during the job. */
const SPECULATIVE = 'f00dfeedf00dfeedf00dfeedf00dfeedf00dfeed';

function project(name: string, commit: string | undefined, checkout = 'master'): SourceProject {
  return { name, shortName: name.split('/').at(-1) as string, checkout, commit, canonicalHostname: 'opendev.org', canonicalName: `opendev.org/${name}` };
}

function item(name: string, change: number, patchset: number, branch = 'master'): SourceItem {
  return { project: { name, shortName: name.split('/').at(-1) as string }, branch, change: String(change), patchset: String(patchset) };
}

async function rejection(promise: Promise<unknown>): Promise<DevclusterError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(DevclusterError);
  return error as DevclusterError;
}

let forge: GerritForge;
let options: SourceOptions;

beforeEach(async () => {
  const root = await mkdtemp(join(tmpdir(), 'dc-sources-'));
  forge = new GerritForge(join(root, 'servers'));
  options = { cacheDir: join(root, 'cache'), gitBase: forge.gitBase, gerritBase: forge.gerritBase };
  for (const name of ['openstack/nova', 'openstack/oslo.config', 'openstack/devstack']) forge.project(name);
});

const byName = (resolved: ResolvedSource[]) => Object.fromEntries(resolved.map((r) => [r.name, r]));

describe('changeRef', () => {
  it("is refs/changes/ with the change's last two digits, zero-padded", () => {
    expect(changeRef(956512, 3)).toBe('refs/changes/12/956512/3');
    expect(changeRef('7', '1')).toBe('refs/changes/07/7/1');
    expect(() => changeRef('I8a2b', 1)).toThrow(/not a Gerrit change/);
  });
});

describe('repoUrl', () => {
  it('joins a URL as it is and makes a local folder absolute', () => {
    expect(repoUrl('https://opendev.org/', 'openstack/nova')).toBe('https://opendev.org/openstack/nova');
    expect(repoUrl('mirror', 'openstack/nova', '/srv')).toBe('/srv/mirror/openstack/nova');
  });
});

describe('resolveSources', () => {
  it('checks out the commit of a project no change touches, even after its branch moved on, on a branch named like the checkout', async () => {
    const jobCommit = forge.commitOn('openstack/nova', 'master', { files: { 'nova.py': 'v1\n' } });
    forge.project('openstack/placement');
    const placementTip = forge.commitOn('openstack/placement', 'stable/2026.1', { files: { 'placement.py': 'stable\n' } });
    forge.commitOn('openstack/nova', 'master', { files: { 'nova.py': 'v2 (merged after the build)\n' } });

    const resolved = byName(await resolveSources({ 'opendev.org/openstack/nova': project('openstack/nova', jobCommit), 'opendev.org/openstack/placement': project('openstack/placement', placementTip, 'stable/2026.1') }, [], options, quietCtx()));

    const nova = resolved['openstack/nova'] as ResolvedSource;
    expect(nova).toMatchObject({ shortName: 'nova', branch: 'master', wanted: jobCommit, got: jobCommit, how: 'exact', changes: [] });
    expect(nova.path).toBe(join(options.cacheDir, 'openstack/nova'));
    expect(git(nova.path, 'symbolic-ref', 'HEAD')).toBe('refs/heads/master');
    expect(await readFile(join(nova.path, 'nova.py'), 'utf8')).toBe('v1\n');
    expect(resolved['openstack/placement']).toMatchObject({ branch: 'stable/2026.1', got: placementTip, how: 'exact' });
    expect(git((resolved['openstack/placement'] as ResolvedSource).path, 'rev-parse', 'stable/2026.1')).toBe(placementTip);
  });

  it('fails naming the project and the commit when the commit is on no branch, tag or id the server has', async () => {
    const error = await rejection(resolveSources([project('openstack/nova', SPECULATIVE)], [], options, quietCtx()));
    expect(error.code).toBe('SOURCE_COMMIT_MISSING');
    expect(error.message).toContain('openstack/nova');
    expect(error.message).toContain(SPECULATIVE);
  });

  it('is exact when the change sits on the branch tip: git fast-forwards as Zuul did, and the result is the patchset', async () => {
    const tip = forge.tip('openstack/nova', 'master') as string;
    const ps2 = forge.change('openstack/nova', 956512, 2, tip, { files: { 'nova.py': 'fixed\n' } });
    const events: ProgressEvent[] = [];

    const [nova] = await resolveSources([project('openstack/nova', ps2)], [item('openstack/nova', 956512, 2)], options, { signal: new AbortController().signal, report: (e) => events.push(e) });

    expect(nova).toMatchObject({ how: 'exact', got: ps2, wanted: ps2, base: tip, branch: 'master', mergeMode: 'merge-resolve' });
    expect(nova?.changes).toEqual([{ change: '956512', patchset: '2', ref: 'refs/changes/12/956512/2', commit: ps2 }]);
    expect(git(nova?.path as string, 'rev-parse', 'master')).toBe(ps2);
    expect(events).toContainEqual({ kind: 'phase', label: 'openstack/nova', message: 'master + 956512,2' });
  });

  it("is reconstructed when the branch moved under the change: a merge of the tip and the patchset, as Zuul's merge-resolve makes", async () => {
    const parent = forge.tip('openstack/nova', 'master') as string;
    const ps1 = forge.change('openstack/nova', 1001, 1, parent, { files: { 'feature.py': 'new\n' } });
    const tip = forge.commitOn('openstack/nova', 'master', { files: { 'other.py': 'merged meanwhile\n' } });

    const [nova] = await resolveSources([project('openstack/nova', SPECULATIVE)], [item('openstack/nova', 1001, 1)], options, quietCtx());

    expect(nova).toMatchObject({ how: 'reconstructed', wanted: SPECULATIVE, base: tip });
    expect(nova?.got).not.toBe(ps1);
    expect(git(nova?.path as string, 'rev-list', '--parents', '-1', 'HEAD').split(' ').slice(1)).toEqual([tip, ps1]);
    expect(await readFile(join(nova?.path as string, 'feature.py'), 'utf8')).toBe('new\n');
    expect(await readFile(join(nova?.path as string, 'other.py'), 'utf8')).toBe('merged meanwhile\n');
  });

  it('starts from the branch as it was at the build time when given one (asOf)', async () => {
    const before = forge.commitOn('openstack/nova', 'master', { files: { 'nova.py': 'at build time\n' }, date: 1_800_000_000 });
    const ps = forge.change('openstack/nova', 1002, 1, before, { files: { 'x.py': 'x\n' }, date: 1_800_000_100 });
    forge.commitOn('openstack/nova', 'master', { files: { 'nova.py': 'later\n' }, date: 1_800_086_400 });

    const [nova] = await resolveSources([project('openstack/nova', ps)], [item('openstack/nova', 1002, 1)], { ...options, asOf: new Date(1_800_000_200_000) }, quietCtx());

    expect(nova).toMatchObject({ base: before, got: ps, how: 'exact' });
  });

  it('applies two changes to one project in queue order, each merged onto the result of the one ahead', async () => {
    const tip = forge.tip('openstack/nova', 'master') as string;
    const ahead = forge.change('openstack/nova', 2001, 3, tip, { files: { 'a.py': 'a\n' } });
    const mine = forge.change('openstack/nova', 2002, 1, tip, { files: { 'b.py': 'b\n' } });

    const [nova] = await resolveSources([project('openstack/nova', SPECULATIVE)], [item('openstack/nova', 2001, 3), item('openstack/nova', 2002, 1)], options, quietCtx());

    expect(nova?.changes.map((c) => c.change)).toEqual(['2001', '2002']);
    // The first fast-forwards to its patchset; the second is merged on top of it.
    expect(git(nova?.path as string, 'rev-list', '--parents', '-1', 'HEAD').split(' ').slice(1)).toEqual([ahead, mine]);
    expect(nova?.how).toBe('reconstructed');
  });

  it('fast-forwards through a stack of changes (the second on top of the first): exact', async () => {
    const tip = forge.tip('openstack/nova', 'master') as string;
    const first = forge.change('openstack/nova', 3001, 1, tip, { files: { 'a.py': 'a\n' } });
    const second = forge.change('openstack/nova', 3002, 4, first, { files: { 'a.py': 'a2\n' } });

    const [nova] = await resolveSources([project('openstack/nova', second)], [item('openstack/nova', 3001, 1), item('openstack/nova', 3002, 4)], options, quietCtx());

    expect(nova).toMatchObject({ how: 'exact', got: second });
  });

  it('the order matters: changes that touch the same line apply in queue order or fail naming the change that does not apply', async () => {
    const tip = forge.tip('openstack/nova', 'master') as string;
    forge.change('openstack/nova', 4001, 1, tip, { files: { 'README.rst': 'one\n' } });
    forge.change('openstack/nova', 4002, 1, tip, { files: { 'README.rst': 'two\n' } });

    const error = await rejection(resolveSources([project('openstack/nova', SPECULATIVE)], [item('openstack/nova', 4002, 1), item('openstack/nova', 4001, 1)], options, quietCtx()));

    expect(error.code).toBe('CHANGE_MERGE_FAILED');
    expect(error.message).toContain('change 4001 patchset 1 of openstack/nova');
    expect(error.message).toContain('with 4002');
    // The cached tree is left clean (the merge aborted), so a second run can use it.
    const path = join(options.cacheDir, 'openstack/nova');
    expect(git(path, 'status', '--porcelain')).toBe('');
  });

  it('cherry-picks for a project whose merge mode says so: one commit on the tip with the change', async () => {
    const parent = forge.tip('openstack/nova', 'master') as string;
    forge.change('openstack/nova', 5001, 2, parent, { files: { 'c.py': 'picked\n' }, message: 'Pick me' });
    const tip = forge.commitOn('openstack/nova', 'master', { files: { 'other.py': 'o\n' } });

    const [nova] = await resolveSources([project('openstack/nova', SPECULATIVE)], [item('openstack/nova', 5001, 2)], { ...options, mergeModes: { 'openstack/nova': 'cherry-pick' } }, quietCtx());

    expect(nova?.mergeMode).toBe('cherry-pick');
    expect(git(nova?.path as string, 'rev-list', '--parents', '-1', 'HEAD').split(' ').slice(1)).toEqual([tip]);
    expect(git(nova?.path as string, 'log', '-1', '--format=%s')).toBe('Pick me');
    expect(await readFile(join(nova?.path as string, 'c.py'), 'utf8')).toBe('picked\n');
  });

  it('fails naming the change and patchset when its ref no longer exists on Gerrit', async () => {
    const tip = forge.tip('openstack/nova', 'master') as string;
    forge.change('openstack/nova', 6001, 1, tip, { files: { 'd.py': 'd\n' } });
    forge.deleteChange('openstack/nova', 6001, 1);

    const error = await rejection(resolveSources([project('openstack/nova', SPECULATIVE)], [item('openstack/nova', 6001, 1)], options, quietCtx()));

    expect(error.code).toBe('CHANGE_REF_MISSING');
    expect(error.message).toContain('change 6001 patchset 1 of openstack/nova');
    expect(error.message).toContain('refs/changes/01/6001/1');
  });

  it('fetches change refs from Gerrit, not the git server (which has none): a missing Gerrit is SOURCE_FETCH_FAILED', async () => {
    const tip = forge.tip('openstack/nova', 'master') as string;
    forge.change('openstack/nova', 6002, 1, tip, { files: { 'd.py': 'd\n' } });

    const error = await rejection(resolveSources([project('openstack/nova', SPECULATIVE)], [item('openstack/nova', 6002, 1)], { ...options, gerritBase: join(forge.root, 'nowhere') }, quietCtx()));
    expect(error.code).toBe('SOURCE_FETCH_FAILED');
    expect(error.message).toContain(join(forge.root, 'nowhere', 'openstack/nova'));

    const viaGitServer = await rejection(resolveSources([project('openstack/nova', SPECULATIVE)], [item('openstack/nova', 6002, 1)], { ...options, gerritBase: forge.gitBase }, quietCtx()));
    expect(viaGitServer.code).toBe('CHANGE_REF_MISSING');
  });

  it('rebuilds a Depends-On change in another project, leaving the untouched projects at their commits', async () => {
    const libTip = forge.tip('openstack/oslo.config', 'master') as string;
    const lib = forge.change('openstack/oslo.config', 7001, 5, libTip, { files: { 'cfg.py': 'new option\n' } });
    const novaParent = forge.tip('openstack/nova', 'master') as string;
    const nova = forge.change('openstack/nova', 7002, 1, novaParent, { files: { 'nova.py': 'uses new option\n' } });
    forge.commitOn('openstack/nova', 'master', { files: { 'later.py': 'l\n' } });
    const devstack = forge.tip('openstack/devstack', 'master') as string;
    const projects = {
      'opendev.org/openstack/devstack': project('openstack/devstack', devstack),
      'opendev.org/openstack/nova': project('openstack/nova', SPECULATIVE),
      'opendev.org/openstack/oslo.config': project('openstack/oslo.config', lib),
    };

    const resolved = byName(await resolveSources(projects, [item('openstack/oslo.config', 7001, 5), item('openstack/nova', 7002, 1)], { ...options, concurrency: 2 }, quietCtx()));

    expect(resolved['openstack/oslo.config']).toMatchObject({ how: 'exact', got: lib, changes: [{ change: '7001', patchset: '5', commit: lib }] });
    expect(resolved['openstack/nova']).toMatchObject({ how: 'reconstructed', changes: [{ change: '7002', commit: nova }] });
    expect(resolved['openstack/devstack']).toMatchObject({ how: 'exact', got: devstack, changes: [] });
    expect(configSources(Object.values(resolved))).toEqual({
      repo: join(options.cacheDir, 'openstack/devstack'),
      sources: { 'nova': join(options.cacheDir, 'openstack/nova'), 'oslo.config': join(options.cacheDir, 'openstack/oslo.config') },
      others: [],
    });
  });

  it('reuses its cache: a second run needs no server for a commit it already has', async () => {
    const tip = forge.tip('openstack/nova', 'master') as string;
    await resolveSources([project('openstack/nova', tip)], [], options, quietCtx());

    const [again] = await resolveSources([project('openstack/nova', tip)], [], { ...options, gitBase: join(forge.root, 'offline') }, quietCtx());

    expect(again).toMatchObject({ how: 'exact', got: tip });
  });

  it('takes file:// URLs as well as folders', async () => {
    const tip = forge.tip('openstack/nova', 'master') as string;
    const ps = forge.change('openstack/nova', 8001, 1, tip, { files: { 'u.py': 'u\n' } });

    const [nova] = await resolveSources([project('openstack/nova', ps)], [item('openstack/nova', 8001, 1)], { ...options, gitBase: `file://${forge.gitBase}`, gerritBase: `file://${forge.gerritBase}/` }, quietCtx());

    expect(nova).toMatchObject({ how: 'exact', got: ps });
  });

  it('refuses to overwrite a cached tree that has uncommitted edits', async () => {
    const tip = forge.tip('openstack/nova', 'master') as string;
    const [first] = await resolveSources([project('openstack/nova', tip)], [], options, quietCtx());
    await writeFile(join(first?.path as string, 'README.rst'), 'my debugging edit\n');

    const error = await rejection(resolveSources([project('openstack/nova', tip)], [], options, quietCtx()));

    expect(error.code).toBe('SOURCE_TREE_DIRTY');
    expect(await readFile(join(first?.path as string, 'README.rst'), 'utf8')).toBe('my debugging edit\n');
  });

  it('takes the branch tip, reconstructed, for a project an old Zuul recorded no commit for; an item without a change changes nothing', async () => {
    const tip = forge.commitOn('openstack/nova', 'master', { files: { 'nova.py': 'tip\n' } });
    const events: ProgressEvent[] = [];

    const [nova] = await resolveSources([project('openstack/nova', undefined)], [{ project: { name: 'openstack/nova' }, branch: 'master', change: undefined, patchset: undefined }], options, { signal: new AbortController().signal, report: (e) => events.push(e) });

    expect(nova).toMatchObject({ how: 'reconstructed', wanted: undefined, got: tip, base: tip, changes: [] });
    expect(events).toContainEqual({ kind: 'phase', label: 'openstack/nova', message: 'master tip (no commit recorded)' });
  });

  it('leaves out, with a note, a change to a branch the job did not check out', async () => {
    const tip = forge.tip('openstack/nova', 'master') as string;
    forge.commitOn('openstack/nova', 'stable/2026.1', { files: { 's.py': 's\n' } });
    const stableTip = forge.tip('openstack/nova', 'stable/2026.1') as string;
    forge.change('openstack/nova', 9001, 1, stableTip, { files: { 'backport.py': 'b\n' } });
    const events: ProgressEvent[] = [];

    const [nova] = await resolveSources([project('openstack/nova', tip)], [item('openstack/nova', 9001, 1, 'stable/2026.1')], options, { signal: new AbortController().signal, report: (e) => events.push(e) });

    expect(nova).toMatchObject({ how: 'exact', got: tip, changes: [] });
    expect(events).toContainEqual({ kind: 'note', message: 'openstack/nova: change 9001,1 targets stable/2026.1, not the master the job checked out: left out' });
  });

  it('stops when cancelled', async () => {
    const tip = forge.tip('openstack/nova', 'master') as string;
    const controller = new AbortController();
    controller.abort();
    const error = await rejection(resolveSources([project('openstack/nova', tip)], [], options, quietCtx(controller.signal)));
    expect(error.code).toBe('CANCELLED');
  });
});

describe('resolveSources on the fixture builds', () => {
  interface RawProject {
    name: string;
    short_name: string;
    checkout: string;
    commit: string;
    canonical_hostname: string;
  }
  /** zuul.projects and zuul.items of a fixture's inventory (all.vars.zuul in both layouts), camelCased. */
  async function zuulOf(job: string): Promise<{ projects: Record<string, SourceProject>; items: SourceItem[] }> {
    const text = await readFile(join(import.meta.dirname, '..', '..', 'test', 'fixtures', 'zuul', job, 'zuul-info', 'inventory.yaml'), 'utf8');
    type Raw = { projects: Record<string, RawProject>; items: { project: RawProject; branch: string; change: string; patchset: string }[] };
    const zuul = (parseYaml(text) as { all: { vars: { zuul: Raw } } }).all.vars.zuul;
    const camel = (p: RawProject) => ({ name: p.name, shortName: p.short_name, canonicalHostname: p.canonical_hostname });
    return {
      projects: Object.fromEntries(Object.entries(zuul.projects).map(([key, p]) => [key, { ...camel(p), checkout: p.checkout, commit: p.commit }])),
      items: zuul.items.map((i) => ({ project: camel(i.project), branch: i.branch, change: i.change, patchset: i.patchset })),
    };
  }

  it.each(['devstack-multinode', 'tempest-multinode-full-py3', 'grenade-multinode'])('%s: every project at its commit, the changes under test rebuilt from Gerrit', async (job) => {
    const { projects, items } = await zuulOf(job);
    const github = new GerritForge(join(forge.root, 'github'));
    // The fixture's commits are placeholders: the stand-in servers get one commit per project, and
    // the inventory names those; the items' projects keep the job's (speculative) commits.
    const changed = new Set(items.map((i) => i.project.name));
    const patchsets = new Map<string, string>();
    const rewritten: Record<string, SourceProject> = {};
    for (const [key, p] of Object.entries(projects)) {
      const server = p.canonicalHostname === 'github.com' ? github : forge;
      const initial = server.tip(p.name, p.checkout) ?? server.project(p.name);
      rewritten[key] = changed.has(p.name) ? p : { ...p, commit: initial };
    }
    for (const i of items) {
      const tip = forge.tip(i.project.name, i.branch as string) as string;
      patchsets.set(`${i.change},${i.patchset}`, forge.change(i.project.name, Number(i.change), Number(i.patchset), tip, { files: { [`change-${i.change}.txt`]: `${i.change}\n` } }));
    }

    const resolved = await resolveSources(rewritten, items, { ...options, hostBases: { 'github.com': github.gitBase } }, quietCtx());

    expect(resolved.map((r) => [r.name, r.shortName, r.branch])).toEqual(Object.values(projects).map((p) => [p.name, p.shortName, p.checkout]));
    for (const source of resolved) {
      const p = Object.values(rewritten).find((q) => q.name === source.name) as SourceProject;
      expect(source.path).toBe(join(options.cacheDir, p.name));
      expect(git(source.path, 'rev-parse', 'HEAD')).toBe(source.got);
      if (!changed.has(p.name)) expect(source, p.name).toMatchObject({ how: 'exact', got: p.commit, changes: [] });
      else {
        const mine = items.filter((i) => i.project.name === p.name);
        // The fixture's commit is a speculative merge that never left the job: rebuilt, not the same id.
        expect(source, p.name).toMatchObject({ how: 'reconstructed', wanted: p.commit });
        expect(source.changes.map((c) => [c.change, c.patchset, c.commit])).toEqual(mine.map((i) => [String(i.change), String(i.patchset), patchsets.get(`${i.change},${i.patchset}`)]));
        for (const i of mine) expect(await readFile(join(source.path, `change-${i.change}.txt`), 'utf8')).toBe(`${i.change}\n`);
      }
    }
    const config = configSources(resolved);
    expect(config.repo).toBe(join(options.cacheDir, 'openstack/devstack'));
    // grenade is no DevStack project: devcluster.yaml could not name it under devstack.sources.
    expect(config.others.map((o) => o.name)).toEqual(job === 'grenade-multinode' ? ['openstack/grenade'] : []);
    expect(Object.keys(config.sources).sort()).toEqual(
      Object.values(projects)
        .filter((p) => p.name !== 'openstack/devstack' && p.name !== 'openstack/grenade')
        .map((p) => p.shortName)
        .sort(),
    );
  });
});

describe('configSources', () => {
  const source = (name: string): ResolvedSource => ({ name, shortName: name.split('/').at(-1) as string, path: `/cache/${name}`, branch: 'master', wanted: undefined, how: 'exact', got: 'x', changes: [] });

  it('keeps as sources what DevStack or an enabled plugin reads, and hands back the rest', () => {
    const { repo, sources, others } = configSources([source('openstack/devstack'), source('openstack/nova'), source('openstack/heat'), source('openstack/grenade'), source('x/mytool')], ['heat']);
    expect(repo).toBe('/cache/openstack/devstack');
    expect(sources).toEqual({ nova: '/cache/openstack/nova', heat: '/cache/openstack/heat' });
    expect(others.map((o) => o.name)).toEqual(['openstack/grenade', 'x/mytool']);
  });
});
