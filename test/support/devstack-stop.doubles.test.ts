/**
 * The harness of test/integration/devstack-real.host.test.ts, against the real DevStack trees (no guest):
 * where each branch's ERROR_ON_CLONE stop is; that the readers understand what DevStack's own code
 * prints — the real git_clone refusing a clone, the real read_password prompting with stdin closed,
 * the real PS4 trace; and where the DevStack repository comes from, with a clear failure when none answers.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { cloneDevstack, devstackRepoCandidates, DEVSTACK_URL } from './devstack-repo.js';
import { CLONE_REFUSED, errorsIn, mainTrace, parseStackenv, promptsIn, stopOf } from './devstack-stop.js';

const BRANCHES = ['master', 'stable/2026.1', 'stable/2025.2'] as const;

/** bash SCRIPT with stdin closed; never rejects. */
async function bash(script: string, cwd: string, env: NodeJS.ProcessEnv = {}): Promise<{ code: number; out: string }> {
  return new Promise((done) => {
    const child = execFile('bash', ['-c', script], { cwd, timeout: 60_000, env: { PATH: process.env.PATH, HOME: cwd, ...env } }, (error, stdout, stderr) => {
      done({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, out: `${stdout}${stderr}` });
    });
    child.stdin?.end();
  });
}

const trees = new Map<string, string>();
beforeAll(async () => {
  const base = mkdtempSync(join(tmpdir(), 'dc-devstack-stop-'));
  for (const branch of BRANCHES) {
    const dir = join(base, branch.replace('/', '_'));
    await cloneDevstack(branch, dir);
    trees.set(branch, dir);
  }
}, 120_000);

describe.each(BRANCHES)('DevStack %s', (branch) => {
  const tree = () => trees.get(branch) as string;

  it('has its ERROR_ON_CLONE stop right after the prompts and save_stackenv, bookworm supported', () => {
    const stop = stopOf(tree());
    expect(stop.supportedDistros.split('|')).toContain('bookworm');
    expect(stop.prompts.map((p) => p.variable)).toEqual(expect.arrayContaining(['DATABASE_PASSWORD', 'RABBIT_PASSWORD', 'SERVICE_PASSWORD', 'ADMIN_PASSWORD', 'SWIFT_HASH']));
    expect(stop.saveStackenvLine).toBeLessThan(stop.requirementsCloneLine);
  });

  it("its git_clone with ERROR_ON_CLONE=True refuses at once, in the words errorsIn reads", async () => {
    const dest = join(mkdtempSync(join(tmpdir(), 'dc-clone-')), 'requirements');
    const r = await bash(`source ./functions-common; ERROR_ON_CLONE=True; git_clone https://opendev.org/openstack/requirements.git ${dest} ${branch}`, tree());
    expect(r.code, r.out).not.toBe(0);
    const errors = errorsIn(r.out);
    expect(errors).toHaveLength(1);
    expect(errors[0]?.message).toBe(CLONE_REFUSED);
    expect(stopOf(tree()).cloneDieLines).toContain(errors[0]?.line);
    expect(r.out).toContain(`The ${dest} project was not found`);
  });

  it('its read_password, stdin closed and SWIFT_HASH unset, exits at once with the banner promptsIn reads', async () => {
    // The function exactly as stack.sh defines it, run as stack.sh does: after `set -o errexit`.
    const stack = readFileSync(join(tree(), 'stack.sh'), 'utf8');
    const fn = /^function read_password \{\n[\s\S]*?\n\}\n/m.exec(stack)?.[0];
    expect(fn).toBeDefined();
    const dir = mkdtempSync(join(tmpdir(), 'dc-prompt-'));
    writeFileSync(join(dir, 'run.sh'), `RC_DIR=${dir}; TOP_DIR=${dir}\n${fn}\nset -o errexit\nread_password SWIFT_HASH "ENTER A RANDOM SWIFT HASH."\necho reached-after\n`);
    const r = await bash('bash run.sh </dev/null', dir);
    expect(r.code).toBe(1);
    expect(r.out).not.toContain('reached-after');
    expect(promptsIn(r.out)).toEqual(['ENTER A RANDOM SWIFT HASH.']);
    expect(promptsIn('2026-11-30 19:00:00.000 | HOST_IP=1.2.3.4\n')).toEqual([]);
  });

  it("its PS4 (stackrc, LOG_COLOR=False) traces stack.sh's body as mainTrace reads it", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dc-ps4-'));
    writeFileSync(join(tree(), '.localrc.auto'), 'LOG_COLOR=False\n');
    writeFileSync(join(dir, 'stack.sh'), `TOP_DIR=${tree()}\nsource $TOP_DIR/functions\nsource $TOP_DIR/stackrc\nset -o xtrace\n[[ ! bookworm =~ $SUPPORTED ]]\nGIT_DEPTH=0 true x /opt/stack/requirements master\n`);
    const r = await bash('bash ./stack.sh', dir, { SUPPORTED: 'trixie|bookworm' });
    // A command's own variable assignment is traced on a line of its own, before the command.
    expect(mainTrace(r.out)).toEqual([
      { line: 5, command: '[[ ! bookworm =~ trixie|bookworm ]]' },
      { line: 6, command: 'GIT_DEPTH=0' },
      { line: 6, command: 'true x /opt/stack/requirements master' },
    ]);
  });
});

describe('parseStackenv', () => {
  it('reads the tag (the caller line) and the variables as save_stackenv writes them', () => {
    expect(parseStackenv('# 2026-11-30-190102 768\nHOST_IP=192.168.1.10\nBASE_SQL_CONN=mysql+pymysql://root:x@h\nTLS_IP=\n')).toEqual({
      tag: '768',
      vars: { HOST_IP: '192.168.1.10', BASE_SQL_CONN: 'mysql+pymysql://root:x@h', TLS_IP: '' },
    });
  });
});

describe('where the DevStack repository comes from', () => {
  it('DEVCLUSTER_DEVSTACK_REPO wins; else the shared bundle when it exists, then opendev', () => {
    expect(devstackRepoCandidates({ DEVCLUSTER_DEVSTACK_REPO: '/src/devstack' })).toEqual(['/src/devstack']);
    expect(devstackRepoCandidates({}, '/no/such.bundle')).toEqual([DEVSTACK_URL]);
    expect(devstackRepoCandidates({}, '/')).toEqual(['/', DEVSTACK_URL]);
  });

  it('none reachable: a failure naming each repository, the reason and the variable to set', async () => {
    const dest = join(mkdtempSync(join(tmpdir(), 'dc-none-')), 'devstack');
    const error = await cloneDevstack('master', dest, { env: { DEVCLUSTER_DEVSTACK_REPO: '/no/such/devstack' } }).catch((e: unknown) => e as Error);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toMatch(/^openstack\/devstack branch master is not reachable from any of: \/no\/such\/devstack: .+\. Set DEVCLUSTER_DEVSTACK_REPO to /);
  });

  it('a branch the repository lacks is named as such', async () => {
    const dest = join(mkdtempSync(join(tmpdir(), 'dc-none-')), 'devstack');
    const repo = trees.get('master') as string;
    const error = await cloneDevstack('stable/1999.1', dest, { env: { DEVCLUSTER_DEVSTACK_REPO: repo } }).catch((e: unknown) => e as Error);
    expect((error as Error).message).toContain(`${repo}: no such branch`);
  });
});
