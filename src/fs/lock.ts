/**
 * A lock file per resource (an image being fetched, a cluster being changed), so two devcluster
 * processes never do the same work at once. The file holds the owner's pid; a lock whose owner is
 * gone is taken over. Waiting has a budget, takes a signal, and says whom it waits for.
 */
import { hostname } from 'node:os';
import { mkdir, open, readFile, rm, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { DevclusterError } from '../errors.js';

export interface LockHolder {
  pid: number;
  host: string;
  since: string;
  what: string;
}

export interface Lock {
  path: string;
  release(): Promise<void>;
}

export interface LockOptions {
  /** What the lock protects, for messages ("image ubuntu-24.04"). */
  what: string;
  /** How long to wait for another holder; 0 = refuse at once with STATE_LOCKED. */
  waitMs: number;
  signal?: AbortSignal;
  /** Called once when the lock is held by another process and we start waiting. */
  onWait?: (holder: LockHolder) => void;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export async function readHolder(path: string): Promise<LockHolder | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as LockHolder;
  } catch {
    return undefined;
  }
}

async function tryCreate(path: string, what: string): Promise<boolean> {
  try {
    const handle = await open(path, 'wx', 0o600);
    const holder: LockHolder = { pid: process.pid, host: hostname(), since: new Date().toISOString(), what };
    await handle.writeFile(JSON.stringify(holder));
    await handle.close();
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
}

export async function acquireLock(path: string, options: LockOptions): Promise<Lock> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const deadline = Date.now() + options.waitMs;
  let told = false;
  for (;;) {
    options.signal?.throwIfAborted();
    if (await tryCreate(path, options.what)) {
      return {
        path,
        release: async () => {
          const holder = await readHolder(path);
          if (holder?.pid === process.pid) await rm(path, { force: true });
        },
      };
    }
    const holder = await readHolder(path);
    if (holder === undefined || (holder.host === hostname() && !alive(holder.pid))) {
      // Its owner died (or the file is half-written garbage from a crash): take it over.
      if (holder !== undefined || Date.now() - (await mtimeMs(path)) > 5000) await rm(path, { force: true });
      else await sleep(50, undefined, { signal: options.signal });
      continue;
    }
    if (options.waitMs === 0) {
      throw new DevclusterError('STATE_LOCKED', `${options.what} is locked by pid ${holder.pid} on ${holder.host} (since ${holder.since})`, {
        hint: `wait for that devcluster to finish, or stop it (kill ${holder.pid}); the lock file is ${path}`,
      });
    }
    if (!told) {
      options.onWait?.(holder);
      told = true;
    }
    if (Date.now() > deadline) {
      throw new DevclusterError('LOCK_TIMEOUT', `waited ${Math.round(options.waitMs / 1000)} s for ${options.what}, still held by pid ${holder.pid}`, {
        hint: `check what pid ${holder.pid} is doing; remove ${path} only if it is not devcluster`,
      });
    }
    await sleep(250, undefined, { signal: options.signal });
  }
}

async function mtimeMs(path: string): Promise<number> {
  return stat(path).then((s) => s.mtimeMs, () => 0);
}
