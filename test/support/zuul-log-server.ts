/**
 * A loopback log server for tests of `reproduce`: serves a folder shaped like a Zuul build's log root
 * the way opendev's Swift-backed log servers do. Objects are stored gzip-compressed and answered with
 * `Content-Encoding: gzip` whatever the client asked (zuul-jobs upload-logs-swift uploads them so);
 * files listed in `onlyGz` exist only as NAME.gz (a gzip file, no Content-Encoding); anything else is
 * 404. Also: a prefix that redirects to the logs (as a log URL behind a short link does), paths forced
 * to a status, and Zuul's REST API answer for one build (GET /api/tenant/T/build/UUID → log_url).
 */
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, normalize } from 'node:path';
import { gzipSync } from 'node:zlib';

export interface ZuulLogServerOptions {
  /** Paths under the root (e.g. `zuul-info/inventory.yaml`) served only as PATH.gz. */
  onlyGz?: readonly string[];
  /** Paths (from the server's root, e.g. `/logs/zuul-info/inventory.yaml`) answered with this status. */
  status?: Record<string, number>;
  /** A Zuul build known to the API: tenant, uuid, and its log_url (`/…`: on this server; null: a build without logs). */
  build?: { tenant: string; uuid: string; logUrl: string | null };
}

export interface ZuulLogServer {
  base: string;
  /** The log root URL: `${base}/logs/`. */
  logs: string;
  /** `${base}/short/`: every path under it redirects (302) to the same path under /logs/. */
  redirect: string;
  /** Every path asked for, in order. */
  requests: string[];
  close(): Promise<void>;
}

export async function startZuulLogServer(folder: string, options: ZuulLogServerOptions = {}): Promise<ZuulLogServer> {
  const onlyGz = new Set(options.onlyGz ?? []);
  const requests: string[] = [];
  let base = '';
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    requests.push(path);
    const forced = options.status?.[path];
    if (forced !== undefined) {
      res.writeHead(forced).end(`status ${forced}`);
      return;
    }
    if (path.startsWith('/short/')) {
      res.writeHead(302, { location: `/logs/${path.slice('/short/'.length)}` }).end();
      return;
    }
    const build = options.build;
    if (build && path === `/api/tenant/${build.tenant}/build/${build.uuid}`) {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ uuid: build.uuid, job_name: 'x', result: 'FAILURE', log_url: build.logUrl?.startsWith('/') ? `${base}${build.logUrl}` : build.logUrl }));
      return;
    }
    if (!path.startsWith('/logs/')) {
      res.writeHead(404).end('not found');
      return;
    }
    let name = normalize(path.slice('/logs/'.length));
    if (name.startsWith('..')) {
      res.writeHead(403).end();
      return;
    }
    const asGz = name.endsWith('.gz') && onlyGz.has(name.slice(0, -3));
    if (asGz) name = name.slice(0, -3);
    else if (onlyGz.has(name)) {
      res.writeHead(404).end('not found');
      return;
    }
    readFile(join(folder, name)).then(
      (content) => {
        const body = gzipSync(content);
        if (asGz) res.writeHead(200, { 'content-type': 'application/gzip', 'content-length': body.length }).end(body);
        else res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'content-encoding': 'gzip', 'content-length': body.length }).end(body);
      },
      () => res.writeHead(404).end('not found'),
    );
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as AddressInfo;
  base = `http://127.0.0.1:${port}`;
  return {
    base,
    logs: `${base}/logs/`,
    redirect: `${base}/short/`,
    requests,
    close: () =>
      new Promise<void>((done) => {
        server.closeAllConnections();
        server.close(() => done());
      }),
  };
}
