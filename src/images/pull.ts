/**
 * Getting an image into the cache: learn the checksum it must have, return the cached copy if one
 * has it, else fetch (resuming), verify, and only then rename it into the cache. One process at a
 * time per image; the others wait for it and then find it cached.
 */
import { readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DevclusterError } from '../errors.js';
import type { Ctx } from '../events.js';
import { atomicWrite } from '../fs/atomic-write.js';
import { acquireLock } from '../fs/lock.js';
import { run } from '../process/run.js';
import { cacheLayout, entryKey, findCached, imagePath, listCached, sidecarPath, type CacheLayout, type CachedImage } from './cache.js';
import { findChecksum, type Checksum } from './checksums.js';
import { copyToFile, fetchText, fetchToFile } from './download.js';
import type { ImageSource } from './source.js';

export interface PullResult {
  image: CachedImage;
  /** Image bytes that crossed the network in this pull (0 when it was cached). */
  bytesDownloaded: number;
  fromCache: boolean;
}

export interface PullOptions {
  ctx: Ctx;
  layout?: CacheLayout;
  /** How long to wait for another process fetching the same image (default 60 min). */
  lockWaitMs?: number;
}

async function expectedChecksum(source: ImageSource, ctx: Ctx): Promise<Checksum | undefined> {
  const v = source.verification;
  if (v.kind === 'checksum') return v.checksum;
  if (v.kind === 'none') return undefined;
  const text = v.checksumsUrl.startsWith('file://') ? await readFile(fileURLToPath(v.checksumsUrl), 'utf8') : await fetchText(v.checksumsUrl, ctx);
  const found = findChecksum(text, v.fileName);
  if (found === undefined) {
    throw new DevclusterError('IMAGE_CHECKSUM_MISSING', `${v.checksumsUrl} lists no checksum for ${v.fileName}`, {
      hint: 'check that the image URL and the checksum list belong together, or give sha256 instead',
    });
  }
  return found;
}

async function diskFormat(path: string, signal: AbortSignal): Promise<string> {
  const { stdout } = await run('qemu-img', ['info', '--output=json', path], { signal, debianPackage: 'qemu-utils', timeoutMs: 60_000 });
  return (JSON.parse(stdout) as { format: string }).format;
}

export async function pullImage(source: ImageSource, options: PullOptions): Promise<PullResult> {
  const { ctx } = options;
  const layout = options.layout ?? cacheLayout();
  const expected = await expectedChecksum(source, ctx);

  if (expected === undefined) {
    const previous = (await listCached(layout)).find((c) => c.url === (source.url ?? source.localPath) && c.name === undefined);
    if (previous) return { image: previous, bytesDownloaded: 0, fromCache: true };
  } else {
    const cached = await findCached(layout, expected);
    if (cached) return { image: cached, bytesDownloaded: 0, fromCache: true };
  }

  const key = expected ? entryKey(expected) : `url-${Buffer.from(source.url ?? source.localPath ?? '').toString('base64url').slice(0, 80)}`;
  const lock = await acquireLock(join(layout.locks, `${key}.lock`), {
    what: `image ${source.label}`,
    waitMs: options.lockWaitMs ?? 60 * 60_000,
    signal: ctx.signal,
    onWait: (holder) => ctx.report({ kind: 'note', message: `waiting for pid ${holder.pid}, which is fetching ${source.label}` }),
  });
  try {
    if (expected) {
      const cached = await findCached(layout, expected);
      if (cached) return { image: cached, bytesDownloaded: 0, fromCache: true };
    }
    const part = join(layout.partial, `${key}.part`);
    const algorithm = expected?.algorithm ?? 'sha256';
    const fetched = source.url
      ? await fetchToFile(source.url, part, { ctx, label: source.label, algorithm })
      : await copyToFile(source.localPath as string, part, algorithm);
    if (expected && fetched.hash !== expected.hash) {
      await rm(part, { force: true });
      throw new DevclusterError('IMAGE_CHECKSUM_MISMATCH', `${source.label} does not match its checksum; the download was deleted`, {
        details: [`expected ${expected.algorithm} ${expected.hash}`, `actual   ${expected.algorithm} ${fetched.hash}`],
        hint: 'run the pull again; if it keeps failing, the mirror or a proxy is serving a broken or different file',
      });
    }
    const checksum: Checksum = expected ?? { algorithm, hash: fetched.hash };
    const format = await diskFormat(part, ctx.signal);
    const final = imagePath(layout, checksum, format);
    await rename(part, final);
    const entry: CachedImage = {
      ...(source.name ? { name: source.name } : {}),
      url: source.url ?? source.localPath ?? '',
      algorithm: checksum.algorithm,
      hash: checksum.hash,
      size: fetched.size,
      format,
      fetchedAt: new Date().toISOString(),
      path: final,
    };
    const { path: _path, ...sidecar } = entry;
    await atomicWrite(sidecarPath(layout, checksum), `${JSON.stringify(sidecar, null, 2)}\n`, 0o644);
    return { image: entry, bytesDownloaded: fetched.bytesFetched, fromCache: false };
  } finally {
    await lock.release();
  }
}

export interface PruneResult {
  removed: string[];
  freedBytes: number;
}

/**
 * Remove partial downloads nobody is fetching and images a newer copy of the same name replaced;
 * with `all`, every cached image. Entries locked by a running pull are left alone.
 */
export async function pruneCache(options: { layout?: CacheLayout; all?: boolean; signal?: AbortSignal } = {}): Promise<PruneResult> {
  const layout = options.layout ?? cacheLayout();
  const removed: string[] = [];
  let freedBytes = 0;
  const tryLock = async (key: string) =>
    acquireLock(join(layout.locks, `${key}.lock`), { what: `cache entry ${key}`, waitMs: 0, ...(options.signal ? { signal: options.signal } : {}) }).catch(() => undefined);

  for (const file of await readdir(layout.partial).catch(() => [] as string[])) {
    const lock = await tryLock(file.replace(/\.part$/, ''));
    if (!lock) continue;
    const path = join(layout.partial, file);
    freedBytes += await stat(path).then((s) => s.size, () => 0);
    await rm(path, { force: true });
    removed.push(path);
    await lock.release();
  }
  const cached = await listCached(layout);
  const newest = new Map<string, CachedImage>();
  for (const entry of cached) if (entry.name) newest.set(entry.name, entry); // sorted oldest first
  for (const entry of cached) {
    if (!options.all && (!entry.name || newest.get(entry.name) === entry)) continue;
    const lock = await tryLock(entryKey(entry));
    if (!lock) continue;
    await rm(sidecarPath(layout, entry), { force: true });
    await rm(entry.path, { force: true });
    freedBytes += entry.size;
    removed.push(entry.path);
    await lock.release();
  }
  return { removed, freedBytes };
}
