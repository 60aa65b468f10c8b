import { execFile } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { acquireLock } from './lock.js';

const lockModule = fileURLToPath(new URL('../../dist/fs/lock.js', import.meta.url));

describe('lock files', () => {
  it('a second process is refused with the holder pid; after release it gets the lock', async () => {
    const path = join(await mkdtemp(join(tmpdir(), 'dc-lock-')), 'x.lock');
    const lock = await acquireLock(path, { what: 'cluster dev', waitMs: 0 });
    const other = `import { acquireLock } from ${JSON.stringify(lockModule)};
      try { const l = await acquireLock(${JSON.stringify(path)}, { what: 'cluster dev', waitMs: 0 }); await l.release(); console.log('GOT'); }
      catch (e) { console.log(e.code, e.message); }`;
    const run = () => promisify(execFile)('node', ['--input-type=module', '-e', other]).then((r) => r.stdout.trim());
    expect(await run()).toBe(`STATE_LOCKED cluster dev is locked by pid ${process.pid} on ${hostname()} (since ${JSON.parse(await readFile(path, 'utf8')).since})`);
    await lock.release();
    expect(await run()).toBe('GOT');
  });

  it('a lock left by a dead process is taken over', async () => {
    const path = join(await mkdtemp(join(tmpdir(), 'dc-lock-')), 'x.lock');
    const dead = await promisify(execFile)('node', ['-e', 'console.log(process.pid)']).then((r) => Number(r.stdout));
    await writeFile(path, JSON.stringify({ pid: dead, host: hostname(), since: 'then', what: 'x' }));
    const lock = await acquireLock(path, { what: 'x', waitMs: 0 });
    expect(JSON.parse(await readFile(path, 'utf8')).pid).toBe(process.pid);
    await lock.release();
  });

  it('waiting has a budget and says whom it waited for', async () => {
    const path = join(await mkdtemp(join(tmpdir(), 'dc-lock-')), 'x.lock');
    const lock = await acquireLock(path, { what: 'image u', waitMs: 0 });
    const waitedFor: number[] = [];
    await expect(acquireLock(path, { what: 'image u', waitMs: 300, onWait: (h) => waitedFor.push(h.pid) })).rejects.toMatchObject({
      code: 'LOCK_TIMEOUT',
      message: expect.stringContaining(`still held by pid ${process.pid}`),
    });
    expect(waitedFor).toEqual([process.pid]);
    await lock.release();
  });
});
