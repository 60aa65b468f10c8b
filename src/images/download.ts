/**
 * Fetching a file over HTTP(S) into a partial file: streamed, hashed as it arrives, resumed with an
 * HTTP Range request after an interruption (in this run, or a later one that finds the partial file),
 * through the proxy that HTTPS_PROXY / HTTP_PROXY / NO_PROXY name (undici's EnvHttpProxyAgent).
 */
import { createHash, type Hash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rm, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { EnvHttpProxyAgent, interceptors, request, type Dispatcher } from 'undici';
import { DevclusterError } from '../errors.js';
import type { Ctx } from '../events.js';
import type { HashAlgorithm } from './catalog.js';

/** A stalled connection (no byte for this long) is an interruption, retried with a Range request. */
export const STALL_MS = 60_000;
const ATTEMPTS = 4;
const REPORT_EVERY_MS = 250;

export function httpDispatcher(): Dispatcher {
  // proxyTunnel false: plain http:// goes to the proxy as an absolute-URI request, as apt and curl
  // send it (Squid, for one, allows CONNECT only to port 443); https:// still tunnels with CONNECT.
  const options = { headersTimeout: 30_000, bodyTimeout: STALL_MS, proxyTunnel: false } as EnvHttpProxyAgent.Options;
  return new EnvHttpProxyAgent(options).compose(interceptors.redirect({ maxRedirections: 5 }));
}

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
export async function fetchText(url: string, ctx: Ctx, dispatcher: Dispatcher = httpDispatcher()): Promise<string> {
  const signal = AbortSignal.any([ctx.signal, AbortSignal.timeout(60_000)]);
  let res: Dispatcher.ResponseData;
  try {
    res = await request(url, { dispatcher, signal });
  } catch (error) {
    ctx.signal.throwIfAborted();
    throw new DevclusterError('IMAGE_DOWNLOAD_FAILED', `cannot fetch ${url}: ${(error as Error).message}`, {
      cause: error,
      hint: 'check the network, or the proxy in HTTPS_PROXY/HTTP_PROXY/NO_PROXY',
    });
  }
  if (res.statusCode !== 200) {
    await res.body.dump();
    throw new DevclusterError('IMAGE_DOWNLOAD_FAILED', `${url} answered HTTP ${res.statusCode}`, {
      hint: 'check the URL; for a custom image give checksums_url of a list that exists, or sha256',
    });
  }
  const length = Number(res.headers['content-length'] ?? 0);
  if (length > 4 * 1024 * 1024) {
    await res.body.dump();
    throw new DevclusterError('IMAGE_DOWNLOAD_FAILED', `${url} is ${length} bytes: too large for a checksum list`, { hint: 'give the URL of the checksum list itself' });
  }
  return res.body.text();
}

/**
 * Fetch `url` into `partPath`, continuing from what `partPath` already holds. Returns the digest of
 * the whole file; the caller verifies it before the file enters the cache.
 */
export async function fetchToFile(
  url: string,
  partPath: string,
  options: { ctx: Ctx; label: string; algorithm: HashAlgorithm; dispatcher?: Dispatcher },
): Promise<FetchResult> {
  const { ctx, label, algorithm } = options;
  const dispatcher = options.dispatcher ?? httpDispatcher();
  await mkdir(dirname(partPath), { recursive: true, mode: 0o700 });
  let bytesFetched = 0;
  let lastError: unknown;
  for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
    ctx.signal.throwIfAborted();
    let offset = await sizeOf(partPath);
    const headers: Record<string, string> = offset > 0 ? { range: `bytes=${offset}-` } : {};
    let res: Dispatcher.ResponseData;
    try {
      res = await request(url, { dispatcher, headers, signal: ctx.signal });
    } catch (error) {
      ctx.signal.throwIfAborted();
      lastError = error;
      continue;
    }
    if (res.statusCode === 416 && offset > 0) {
      // The partial file is not a prefix the server can continue: start over.
      await res.body.dump();
      await rm(partPath, { force: true });
      continue;
    }
    if (res.statusCode !== 200 && res.statusCode !== 206) {
      await res.body.dump();
      throw new DevclusterError('IMAGE_DOWNLOAD_FAILED', `${url} answered HTTP ${res.statusCode}`, {
        hint: res.statusCode === 404 ? 'the image is not at that URL (any more): check it, or the catalog entry' : 'try again later, or check the proxy settings',
      });
    }
    const range = /^bytes (\d+)-/.exec(String(res.headers['content-range'] ?? ''));
    if (res.statusCode === 200 || range === null || Number(range[1]) !== offset) {
      offset = 0; // the server sent the whole file: replace what we had
    }
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
