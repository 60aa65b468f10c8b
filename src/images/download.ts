/**
 * Fetching a file over HTTP(S) into a partial file: streamed, hashed as it arrives, resumed with an
 * HTTP Range request after an interruption (in this run, or a later one that finds the partial file),
 * through the proxy that HTTPS_PROXY / HTTP_PROXY / NO_PROXY name (http-get.ts, proxy.ts). Whatever
 * an attempt hits, what reached the disk stays a prefix of the file, which the next attempt (or the
 * next pull) continues; only a checksum mismatch deletes it (pull.ts).
 */
import { createHash, type Hash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rm, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { DevclusterError } from '../errors.js';
import type { Ctx } from '../events.js';
import type { HashAlgorithm } from './catalog.js';
import { httpGet, type HttpResponse } from './http-get.js';

/** A stalled connection (no byte for this long) is an interruption, retried with a Range request. */
export const STALL_MS = 60_000;
const ATTEMPTS = 4;
const HEADERS_TIMEOUT_MS = 30_000;
const REPORT_EVERY_MS = 250;
const TEXT_LIMIT = 4 * 1024 * 1024;

export interface FetchResult {
  hash: string;
  size: number;
  /** Bytes that crossed the network in this run (less than size after a resume). */
  bytesFetched: number;
}

async function sizeOf(path: string): Promise<number> {
  return stat(path).then((s) => s.size, () => 0);
}

async function hashFile(path: string, hasher: Hash): Promise<void> {
  for await (const chunk of createReadStream(path)) hasher.update(chunk as Buffer);
}

function counting(hasher: Hash, onBytes: (n: number) => void): Transform {
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      hasher.update(chunk);
      onBytes(chunk.length);
      done(null, chunk);
    },
  });
}

/** Small text files (checksum lists): at most 4 MiB, within 60 s. */
export async function fetchText(url: string, ctx: Ctx): Promise<string> {
  const signal = AbortSignal.any([ctx.signal, AbortSignal.timeout(60_000)]);
  let res: HttpResponse;
  try {
    res = await httpGet(url, { signal, headersTimeoutMs: HEADERS_TIMEOUT_MS, stallMs: STALL_MS });
  } catch (error) {
    ctx.signal.throwIfAborted();
    throw new DevclusterError('IMAGE_DOWNLOAD_FAILED', `cannot fetch ${url}: ${(error as Error).message}`, {
      cause: error,
      hint: 'check the network, or the proxy in HTTPS_PROXY/HTTP_PROXY/NO_PROXY',
    });
  }
  if (res.statusCode !== 200) {
    res.body.destroy();
    throw new DevclusterError('IMAGE_DOWNLOAD_FAILED', `${url} answered HTTP ${res.statusCode}`, {
      hint: 'check the URL; for a custom image give checksums_url of a list that exists, or sha256',
    });
  }
  const tooLarge = (size: number) =>
    new DevclusterError('IMAGE_DOWNLOAD_FAILED', `${url} is ${size} bytes or more: too large for a checksum list`, { hint: 'give the URL of the checksum list itself' });
  const length = Number(res.headers['content-length'] ?? 0);
  if (length > TEXT_LIMIT) {
    res.body.destroy();
    throw tooLarge(length);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of res.body) {
      size += (chunk as Buffer).length;
      if (size > TEXT_LIMIT) {
        res.body.destroy();
        throw tooLarge(size);
      }
      chunks.push(chunk as Buffer);
    }
  } catch (error) {
    if (error instanceof DevclusterError) throw error;
    ctx.signal.throwIfAborted();
    throw new DevclusterError('IMAGE_DOWNLOAD_FAILED', `cannot fetch ${url}: ${(error as Error).message}`, { cause: error, hint: 'try again; check the proxy settings' });
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * Fetch `url` into `partPath`, continuing from what `partPath` already holds. Returns the digest of
 * the whole file; the caller verifies it before the file enters the cache.
 */
export async function fetchToFile(
  url: string,
  partPath: string,
  options: { ctx: Ctx; label: string; algorithm: HashAlgorithm },
): Promise<FetchResult> {
  const { ctx, label, algorithm } = options;
  await mkdir(dirname(partPath), { recursive: true, mode: 0o700 });
  let bytesFetched = 0;
  let lastError: unknown;
  for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
    ctx.signal.throwIfAborted();
    let offset = await sizeOf(partPath);
    const headers: Record<string, string> = offset > 0 ? { range: `bytes=${offset}-` } : {};
    let res: HttpResponse;
    try {
      res = await httpGet(url, { headers, signal: ctx.signal, headersTimeoutMs: HEADERS_TIMEOUT_MS, stallMs: STALL_MS });
    } catch (error) {
      ctx.signal.throwIfAborted();
      lastError = error;
      continue;
    }
    if (res.statusCode === 416 && offset > 0) {
      // The partial file is not a prefix the server can continue: start over.
      res.body.destroy();
      await rm(partPath, { force: true });
      continue;
    }
    if (res.statusCode !== 200 && res.statusCode !== 206) {
      res.body.destroy();
      throw new DevclusterError('IMAGE_DOWNLOAD_FAILED', `${url} answered HTTP ${res.statusCode}`, {
        hint: res.statusCode === 404 ? 'the image is not at that URL (any more): check it, or the catalog entry' : 'try again later, or check the proxy settings',
      });
    }
    const range = /^bytes (\d+)-/.exec(String(res.headers['content-range'] ?? ''));
    if (res.statusCode === 206 && (range === null || Number(range[1]) !== offset)) {
      // A part that does not start where ours ends cannot be appended: start over without Range.
      res.body.destroy();
      await rm(partPath, { force: true });
      lastError = new Error(`asked for bytes from ${offset}, got ${String(res.headers['content-range'] ?? 'no Content-Range')}`);
      continue;
    }
    if (res.statusCode === 200) offset = 0; // the server sent the whole file (it ignores Range): replace what we had
    const length = Number(res.headers['content-length'] ?? NaN);
    const total = Number.isFinite(length) ? offset + length : undefined;
    const hasher = createHash(algorithm);
    if (offset > 0) await hashFile(partPath, hasher);
    let received = offset;
    let lastReport = 0;
    const report = (force = false) => {
      const now = Date.now();
      if (!force && now - lastReport < REPORT_EVERY_MS) return;
      lastReport = now;
      ctx.report({ kind: 'download', label, bytes: received, total, resumedFrom: offset });
    };
    try {
      await pipeline(
        res.body,
        counting(hasher, (n) => {
          received += n;
          bytesFetched += n;
          report();
        }),
        createWriteStream(partPath, { flags: offset > 0 ? 'a' : 'w', mode: 0o600 }),
        { signal: ctx.signal },
      );
    } catch (error) {
      ctx.signal.throwIfAborted();
      lastError = error;
      continue; // interrupted: the next attempt resumes from what reached the disk
    }
    report(true);
    if (total !== undefined && received !== total) {
      lastError = new Error(`connection closed after ${received} of ${total} bytes`);
      continue;
    }
    return { hash: hasher.digest('hex'), size: received, bytesFetched };
  }
  throw new DevclusterError('IMAGE_DOWNLOAD_FAILED', `could not fetch ${url} after ${ATTEMPTS} attempts: ${(lastError as Error)?.message ?? 'unknown error'}`, {
    cause: lastError,
    hint: 'run the same command again: it resumes from what was fetched so far',
  });
}

/** Copy a local file into `partPath`, hashing it on the way (file:// URLs and plain paths). */
export async function copyToFile(source: string, partPath: string, algorithm: HashAlgorithm): Promise<FetchResult> {
  await mkdir(dirname(partPath), { recursive: true, mode: 0o700 });
  const hasher = createHash(algorithm);
  let size = 0;
  try {
    await pipeline(createReadStream(source), counting(hasher, (n) => (size += n)), createWriteStream(partPath, { mode: 0o600 }));
  } catch (error) {
    await rm(partPath, { force: true });
    throw new DevclusterError('IMAGE_NOT_FOUND', `cannot read ${source}: ${(error as Error).message}`, { cause: error, hint: 'check the image path' });
  }
  return { hash: hasher.digest('hex'), size, bytesFetched: 0 };
}
