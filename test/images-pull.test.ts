/**
 * Pulling images through the real download path against a loopback HTTP server: verification,
 * resume after a cut, the cache, the lock between two processes, and the proxy settings.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createServer, request as httpRequest } from 'node:http';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cacheLayout } from '../src/images/cache.js';
import { pullImage, pruneCache } from '../src/images/pull.js';
import { imageSource } from '../src/images/source.js';
import { quietCtx, type ProgressEvent } from '../src/events.js';
import { startFileServer, type FileServer } from './support/file-server.js';

const IMAGE = randomBytes(6 * 1024 * 1024 + 123);
const SHA256 = createHash('sha256').update(IMAGE).digest('hex');
let server: FileServer;

beforeAll(async () => {
  server = await startFileServer({
    '/images/disk.img': IMAGE,
    '/images/SHA256SUMS': Buffer.from(`${'0'.repeat(64)} *other.img\n${SHA256} *disk.img\n`),
    '/images/BROKEN-SUMS': Buffer.from(`${'f'.repeat(64)} *disk.img\n`),
    '/mirror/disk.img': IMAGE,
    '/mirror/SHA256SUMS': Buffer.from(`${SHA256} *disk.img\n`),
  });
  server.corrupt('/mirror/disk.img'); // a mirror that serves damaged bytes under the right list
});
afterAll(() => server.close());

async function freshCache() {
  return cacheLayout({ XDG_CACHE_HOME: await mkdtemp(join(tmpdir(), 'dc-cache-')) });
}
const ctx = quietCtx();
const where = { baseDir: tmpdir(), home: tmpdir() };

describe('image pull', () => {
  it('good checksum → verified and cached; a second pull fetches 0 bytes', async () => {
    const layout = await freshCache();
    const source = imageSource({ url: `${server.base}/images/disk.img`, checksums_url: `${server.base}/images/SHA256SUMS` }, where);
    server.reset();
    const first = await pullImage(source, { ctx, layout });
    expect(first.fromCache).toBe(false);
    expect(first.bytesDownloaded).toBe(IMAGE.length);
    expect(first.image.path).toBe(join(layout.images, `sha256-${SHA256}.raw`));
    expect(first.image).toMatchObject({ hash: SHA256, size: IMAGE.length, format: 'raw' });
    server.reset();
    const second = await pullImage(source, { ctx, layout });
    expect(second).toMatchObject({ fromCache: true, bytesDownloaded: 0 });
    expect(server.requests.map((r) => r.path)).toEqual(['/images/SHA256SUMS']);
  });

  it('a corrupted file is refused with expected vs actual, and nothing enters the cache', async () => {
    const layout = await freshCache();
    const source = imageSource({ url: `${server.base}/mirror/disk.img`, checksums_url: `${server.base}/mirror/SHA256SUMS` }, where);
    const error = await pullImage(source, { ctx, layout }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'IMAGE_CHECKSUM_MISMATCH' });
    const damaged = Buffer.from(IMAGE);
    damaged[0] = (damaged[0] ?? 0) ^ 0xff;
    const actual = createHash('sha256').update(damaged).digest('hex');
    expect((error as { details: string[] }).details).toEqual([`expected sha256 ${SHA256}`, `actual   sha256 ${actual}`]);
    expect(await readdir(layout.images).catch(() => [])).toEqual(expect.not.arrayContaining([expect.stringMatching(/\.(raw|json)$/)]));
    expect(await readdir(layout.partial)).toEqual([]);
  });

  it('a download cut halfway is resumed with a Range request: fewer bytes fetched than the file', async () => {
    const layout = await freshCache();
    const source = imageSource({ url: `${server.base}/images/disk.img`, sha256: SHA256 }, where);
    server.reset();
    server.cutNext('/images/disk.img', IMAGE.length / 2);
    const events: ProgressEvent[] = [];
    const result = await pullImage(source, { ctx: { signal: ctx.signal, report: (e) => events.push(e) }, layout });
    expect(result.image.hash).toBe(SHA256);
    expect(server.requests.filter((r) => r.path === '/images/disk.img').map((r) => r.range ?? 'whole')).toEqual(['whole', expect.stringMatching(/^bytes=\d+-$/)]);
    // The resumed request fetched only what was missing: fewer bytes than the file.
    const resumedFrom = Number(/bytes=(\d+)-/.exec(server.requests[1]?.range ?? '')?.[1]);
    expect(resumedFrom).toBeGreaterThan(IMAGE.length / 4);
    expect(server.requests[1]?.sent).toBe(IMAGE.length - resumedFrom);
    expect(server.requests[1]?.sent).toBeLessThan(IMAGE.length);
    expect(events.some((e) => e.kind === 'download' && e.resumedFrom === resumedFrom)).toBe(true);
  });

  it('a partial file left by an earlier run is continued, not fetched again', async () => {
    const layout = await freshCache();
    const source = imageSource({ url: `${server.base}/images/disk.img`, sha256: SHA256 }, where);
    const half = Math.floor(IMAGE.length / 2);
    await mkdir(layout.partial, { recursive: true });
    await writeFile(join(layout.partial, `sha256-${SHA256}.part`), IMAGE.subarray(0, half));
    server.reset();
    const result = await pullImage(source, { ctx, layout });
    expect(result.image.hash).toBe(SHA256);
    expect(result.bytesDownloaded).toBe(IMAGE.length - half);
    expect(server.requests.map((r) => r.range)).toEqual([`bytes=${half}-`]);
    expect(await readdir(layout.partial)).toEqual([]);
  });

  it('a checksum list that disagrees with the file refuses it too', async () => {
    const layout = await freshCache();
    const source = imageSource({ url: `${server.base}/images/disk.img`, checksums_url: `${server.base}/images/BROKEN-SUMS` }, where);
    await expect(pullImage(source, { ctx, layout })).rejects.toMatchObject({ code: 'IMAGE_CHECKSUM_MISMATCH', details: [`expected sha256 ${'f'.repeat(64)}`, `actual   sha256 ${SHA256}`] });
    expect(await readdir(layout.partial)).toEqual([]);
  });

  it('a checksum list that does not name the file is IMAGE_CHECKSUM_MISSING', async () => {
    const layout = await freshCache();
    const source = imageSource({ url: `${server.base}/images/other-name.img`, checksums_url: `${server.base}/images/SHA256SUMS` }, where);
    await expect(pullImage(source, { ctx, layout })).rejects.toMatchObject({ code: 'IMAGE_CHECKSUM_MISSING' });
  });

  it('a missing image is an error naming the HTTP status', async () => {
    const layout = await freshCache();
    const source = imageSource({ url: `${server.base}/images/gone.img`, sha256: SHA256 }, where);
    await expect(pullImage(source, { ctx, layout })).rejects.toMatchObject({ code: 'IMAGE_DOWNLOAD_FAILED', message: expect.stringContaining('HTTP 404') });
  });

  it('local paths and file:// URLs are verified and cached like downloads', async () => {
    const layout = await freshCache();
    const dir = await mkdtemp(join(tmpdir(), 'dc-local-'));
    await writeFile(join(dir, 'disk.img'), IMAGE);
    const byPath = await pullImage(imageSource({ url: join(dir, 'disk.img'), sha256: SHA256 }, where), { ctx, layout });
    expect(byPath).toMatchObject({ fromCache: false, bytesDownloaded: 0 });
    const byUrl = await pullImage(imageSource({ url: `file://${join(dir, 'disk.img')}`, sha256: SHA256 }, where), { ctx, layout });
    expect(byUrl.fromCache).toBe(true);
    await expect(pullImage(imageSource({ url: join(dir, 'nope.img'), sha256: 'e'.repeat(64) }, where), { ctx, layout })).rejects.toMatchObject({ code: 'IMAGE_NOT_FOUND' });
  });

  it('redirects are followed (to another origin, relative or absolute), five at most', async () => {
    let hops = 0;
    const redirector = createServer((req, res) => {
      hops++;
      const n = Number(/^\/r(\d+)$/.exec(req.url ?? '')?.[1] ?? 0);
      res.writeHead(n > 0 ? 302 : 301, { location: n > 0 ? `/r${n - 1}` : `${server.base}/images/disk.img` }).end();
    });
    await new Promise<void>((done) => redirector.listen(0, '127.0.0.1', done));
    const base = `http://127.0.0.1:${(redirector.address() as AddressInfo).port}`;
    try {
      const result = await pullImage(imageSource({ url: `${base}/r3`, sha256: SHA256 }, where), { ctx, layout: await freshCache() });
      expect(result.image.hash).toBe(SHA256);
      expect(hops).toBe(4);
      const error = await pullImage(imageSource({ url: `${base}/r9`, sha256: SHA256 }, where), { ctx, layout: await freshCache() }).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'IMAGE_DOWNLOAD_FAILED', message: expect.stringContaining('more than 5 redirects') });
    } finally {
      redirector.closeAllConnections();
      redirector.close();
    }
  });

  it('HTTP_PROXY is honoured', async () => {
    const seen: string[] = [];
    const proxy = createServer((req, res) => {
      seen.push(req.url ?? '');
      const upstream = httpRequest(req.url ?? '', { method: req.method, headers: req.headers }, (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      });
      req.pipe(upstream);
    });
    await new Promise<void>((done) => proxy.listen(0, '127.0.0.1', done));
    const saved = { ...process.env };
    try {
      process.env.HTTP_PROXY = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
      delete process.env.NO_PROXY;
      delete process.env.no_proxy;
      const layout = await freshCache();
      await pullImage(imageSource({ url: `${server.base}/images/disk.img`, sha256: SHA256 }, where), { ctx, layout });
      expect(seen).toEqual([`${server.base}/images/disk.img`]);
      // NO_PROXY exempts a host: a dead proxy is then never asked.
      process.env.HTTP_PROXY = 'http://127.0.0.1:1';
      process.env.NO_PROXY = '127.0.0.1';
      const direct = await pullImage(imageSource({ url: `${server.base}/images/disk.img`, sha256: SHA256 }, where), { ctx, layout: await freshCache() });
      expect(direct.image.hash).toBe(SHA256);
      expect(seen).toHaveLength(1);
    } finally {
      process.env = saved;
      proxy.closeAllConnections();
      proxy.close();
    }
  });

  it('HTTPS_PROXY tunnels https:// with CONNECT to the host and port', async () => {
    const seen: string[] = [];
    const proxy = createServer();
    proxy.on('connect', (req, socket) => {
      seen.push(`CONNECT ${req.url ?? ''}`);
      socket.end('HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n\r\n');
    });
    await new Promise<void>((done) => proxy.listen(0, '127.0.0.1', done));
    const saved = { ...process.env };
    try {
      process.env.HTTPS_PROXY = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
      delete process.env.NO_PROXY;
      delete process.env.no_proxy;
      delete process.env.https_proxy;
      const error = await pullImage(imageSource({ url: 'https://images.example.org:8443/disk.img', sha256: SHA256 }, where), { ctx, layout: await freshCache() }).catch((e: unknown) => e);
      // The proxy's refusal is what the user reads.
      expect(error).toMatchObject({ code: 'IMAGE_DOWNLOAD_FAILED', message: expect.stringContaining('HTTP 403') });
      expect(seen[0]).toBe('CONNECT images.example.org:8443');
    } finally {
      process.env = saved;
      proxy.closeAllConnections();
      proxy.close();
    }
  });

  it('prune removes partial downloads and superseded copies, and --all everything', async () => {
    const layout = await freshCache();
    const dir = await mkdtemp(join(tmpdir(), 'dc-local-'));
    const older = randomBytes(1000);
    await writeFile(join(dir, 'old.img'), older);
    await pullImage(imageSource({ url: join(dir, 'old.img'), sha256: createHash('sha256').update(older).digest('hex') }, where), { ctx, layout });
    const result = await pullImage(imageSource({ url: `${server.base}/images/disk.img`, sha256: SHA256 }, where), { ctx, layout });
    await writeFile(join(layout.partial, 'sha256-abc.part'), 'x');
    const pruned = await pruneCache({ layout });
    expect(pruned.removed).toEqual([join(layout.partial, 'sha256-abc.part')]);
    expect(existsSync(result.image.path)).toBe(true);
    const all = await pruneCache({ layout, all: true });
    expect(all.removed).toHaveLength(2);
    expect(existsSync(result.image.path)).toBe(false);
  });
});

describe('image pull, two at once', () => {
  it('two pulls of the same image download it once; the second waits and finds it cached', async () => {
    const layout = await freshCache();
    const source = imageSource({ url: `${server.base}/images/disk.img`, sha256: SHA256 }, where);
    server.reset();
    const [a, b] = await Promise.all([pullImage(source, { ctx, layout }), pullImage(source, { ctx, layout })]);
    expect([a.fromCache, b.fromCache].sort()).toEqual([false, true]);
    expect(server.requests.filter((r) => r.path === '/images/disk.img')).toHaveLength(1);
  });
});
