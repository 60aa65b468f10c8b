/**
 * Reading a Zuul build's published logs: SOURCE is the build's log URL (http or https, as the Zuul
 * web page's "Logs" link gives it), the Zuul web page of the build itself (its log URL is read from
 * Zuul's REST API, /api/tenant/T/build/UUID), or a local folder holding the same files. What
 * `reproduce` needs from it: zuul-info/inventory.yaml and each node's <node>/logs/local_conf.txt.
 *
 * Log servers store logs compressed: opendev's Swift-backed ones answer with `Content-Encoding:
 * gzip` whatever was asked, and some files exist only as NAME.gz. So each file is asked for as NAME,
 * then NAME.gz, and decoded either way; a folder copied from a log server is read the same way.
 * Requests go through src/images/http-get.ts (redirects, the user's proxy), each within a budget and
 * the caller's AbortSignal.
 */
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Readable } from 'node:stream';
import { createGunzip, gunzipSync } from 'node:zlib';
import { DevclusterError } from '../errors.js';
import type { Ctx } from '../events.js';
import { expandHome } from '../fs/paths.js';
import { httpGet, type HttpResponse } from '../images/http-get.js';

/** Where the inventory sits under a build's log root (zuul-jobs roles/log-inventory). */
export const INVENTORY_PATH = 'zuul-info/inventory.yaml';

/** Budgets for one request: the whole request, the answer's headers, a silent connection. */
const REQUEST_BUDGET_MS = 60_000;
const HEADERS_TIMEOUT_MS = 30_000;
const STALL_MS = 30_000;
/** The files read here are small text; anything bigger is not what we asked for. */
const MAX_BYTES = 32 * 1024 * 1024;

const SOURCE_HINT = "give the build's log URL (the \"Logs\" link of its Zuul page, the folder holding zuul-info/), or a folder with the same files";

export interface BuildSource {
  kind: 'http' | 'folder';
  /** The log root, normalised: a URL ending in `/`, or the folder's absolute path. */
  root: string;
  /** Set when SOURCE was a Zuul build page: that page's URL. */
  buildPage?: string;
}

export interface SourceOptions {
  ctx: Ctx;
  /** Relative folders and `~` are resolved against these. */
  cwd: string;
  home: string;
  /** Proxy variables (http_proxy, https_proxy, no_proxy); default process.env. */
  env?: NodeJS.ProcessEnv;
}

/** One file read from a build: its text, and the name it was found under (NAME or NAME.gz). */
export interface BuildFile {
  text: string;
  /** Full URL or path it was read from. */
  from: string;
}

function sourceError(message: string, options: { hint?: string; cause?: unknown; details?: string[] } = {}): DevclusterError {
  return new DevclusterError('REPRODUCE_SOURCE_INVALID', message, { hint: options.hint ?? SOURCE_HINT, cause: options.cause, details: options.details ?? [] });
}

const NODE_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]*(\.[A-Za-z0-9_-]+)*$/;
const ZUUL_BUILD_PAGE = /^(.*?)\/t\/([^/]+)\/build\/([0-9a-f]{32})\/?(?:[?#].*)?$/i;
const INVENTORY_SUFFIX = /zuul-info\/inventory\.yaml(\.gz)?$/;

/** Where SOURCE points, without reading anything yet (a Zuul build page is resolved by openBuild). */
export function classifySource(source: string, options: { cwd: string; home: string }): BuildSource {
  if (/^https?:\/\//i.test(source)) {
    let url: URL;
    try {
      url = new URL(source);
    } catch (error) {
      throw sourceError(`${source} is not a valid URL`, { cause: error });
    }
    url.hash = '';
    url.search = '';
    // A link to the inventory itself names its build's root.
    let href = url.href.replace(INVENTORY_SUFFIX, '');
    if (!href.endsWith('/')) href += '/';
    return { kind: 'http', root: href };
  }
  const path = source.startsWith('file://') ? fileURLToPath(source) : expandHome(source, options.home);
  const folder = isAbsolute(path) ? path : resolve(options.cwd, path);
  return { kind: 'folder', root: folder.replace(INVENTORY_SUFFIX, '').replace(/(.)\/+$/, '$1') };
}

function decode(body: Buffer, encoding: string | undefined, name: string, from: string): string {
  let bytes = body;
  try {
    if (encoding !== undefined && /gzip/i.test(encoding)) bytes = gunzipSync(bytes, { maxOutputLength: MAX_BYTES });
    // NAME.gz is a gzip file in itself, whether or not the server also said Content-Encoding.
    if (name.endsWith('.gz') && bytes[0] === 0x1f && bytes[1] === 0x8b) bytes = gunzipSync(bytes, { maxOutputLength: MAX_BYTES });
  } catch (error) {
    throw sourceError(`${from}: cannot decompress it: ${(error as Error).message}`, { cause: error, hint: 'the log server sent a damaged file: try again, or download the logs and give the folder' });
  }
  return bytes.toString('utf8');
}

async function readBody(res: HttpResponse, url: string, signal: AbortSignal): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of res.body) {
    signal.throwIfAborted();
    size += (chunk as Buffer).length;
    if (size > MAX_BYTES) {
      res.body.destroy();
      throw sourceError(`${url} is larger than ${MAX_BYTES / 1024 / 1024} MiB: not a file of a build's logs`, { hint: 'check the URL' });
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** GET one URL within its budget: the body, or undefined on 404/403/410 (not there). */
async function getOnce(url: string, options: SourceOptions, accept?: string): Promise<{ body: Buffer; encoding: string | undefined } | undefined> {
  const { ctx } = options;
  const signal = AbortSignal.any([ctx.signal, AbortSignal.timeout(REQUEST_BUDGET_MS)]);
  const headers: Record<string, string> = { 'accept-encoding': 'gzip', ...(accept === undefined ? {} : { accept }) };
  try {
    const res = await httpGet(url, { signal, headers, headersTimeoutMs: HEADERS_TIMEOUT_MS, stallMs: STALL_MS, ...(options.env === undefined ? {} : { env: options.env }) });
    if (res.statusCode === 404 || res.statusCode === 403 || res.statusCode === 410) {
      res.body.destroy();
      return undefined;
    }
    if (res.statusCode !== 200) {
      res.body.destroy();
      throw sourceError(`${url} answered HTTP ${res.statusCode}`, {
        hint: res.statusCode >= 500 ? 'the log server failed: try again later' : 'check the URL, or download the logs and give the folder',
      });
    }
    const encoding = res.headers['content-encoding'];
    return { body: await readBody(res, url, signal), encoding: typeof encoding === 'string' ? encoding : undefined };
  } catch (error) {
    ctx.signal.throwIfAborted();
    if (error instanceof DevclusterError) throw error;
    const timedOut = signal.aborted;
    throw sourceError(`cannot fetch ${url}: ${timedOut ? `no complete answer within ${REQUEST_BUDGET_MS / 1000} s` : (error as Error).message}`, {
      cause: error,
      hint: 'check the network, or the proxy in HTTPS_PROXY/HTTP_PROXY/NO_PROXY; or download the logs and give the folder',
    });
  }
}

async function readLocal(path: string): Promise<Buffer | undefined> {
  try {
    if ((await stat(path)).size > MAX_BYTES) throw sourceError(`${path} is larger than ${MAX_BYTES / 1024 / 1024} MiB: not a file of a build's logs`);
    return await readFile(path);
  } catch (error) {
    if (error instanceof DevclusterError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw sourceError(`cannot read ${path}: ${(error as Error).message}`, { cause: error, hint: 'check the permissions of the folder' });
  }
}

/**
 * One file under the build's root, NAME then NAME.gz, decompressed; undefined when neither exists.
 * `tried` collects every URL or path asked for (for the error that names them).
 */
export async function readBuildFile(build: BuildSource, name: string, options: SourceOptions, tried: string[] = []): Promise<BuildFile | undefined> {
  for (const candidate of [name, `${name}.gz`]) {
    options.ctx.signal.throwIfAborted();
    if (build.kind === 'http') {
      const url = new URL(candidate, build.root).href;
      tried.push(url);
      const got = await getOnce(url, options);
      if (got !== undefined) return { text: decode(got.body, got.encoding, candidate, url), from: url };
    } else {
      const path = join(build.root, candidate);
      tried.push(path);
      const got = await readLocal(path);
      if (got !== undefined) return { text: decode(got, undefined, candidate, path), from: path };
    }
  }
  return undefined;
}

/** A Zuul build page's log URL, from Zuul's REST API (GET /api/tenant/TENANT/build/UUID → log_url). */
async function logUrlOfBuildPage(page: string, options: SourceOptions): Promise<string> {
  const [, base, tenant, uuid] = ZUUL_BUILD_PAGE.exec(page) as RegExpExecArray;
  const api = `${base}/api/tenant/${tenant}/build/${uuid}`;
  const got = await getOnce(api, options, 'application/json');
  if (got === undefined) throw sourceError(`${page}: Zuul knows no build ${uuid} (${api} answered not found)`, { hint: 'check the build URL, or give its log URL' });
  let record: { log_url?: unknown };
  try {
    record = JSON.parse(decode(got.body, got.encoding, 'build.json', api)) as { log_url?: unknown };
  } catch (error) {
    throw sourceError(`${api} did not answer with a Zuul build record (JSON)`, { cause: error, hint: "give the build's log URL instead" });
  }
  if (typeof record.log_url !== 'string' || record.log_url === '') {
    throw sourceError(`build ${uuid} has no logs (its record has no log_url): it may still be running, or its logs expired`, { hint: 'wait until the build has finished, or pick another build' });
  }
  return record.log_url;
}

export interface OpenedBuild {
  source: BuildSource;
  inventory: BuildFile;
}

/**
 * Open SOURCE and read its inventory. A URL or folder without zuul-info/inventory.yaml (nor .gz) is
 * not a build's log root: the error lists what was tried.
 */
export async function openBuild(source: string, options: SourceOptions): Promise<OpenedBuild> {
  let build = classifySource(source, options);
  if (build.kind === 'http' && ZUUL_BUILD_PAGE.test(source)) {
    const logUrl = await logUrlOfBuildPage(source, options);
    build = { ...classifySource(logUrl, options), buildPage: source };
  }
  if (build.kind === 'folder') {
    const isFolder = await stat(build.root).then((s) => s.isDirectory(), () => false);
    if (!isFolder) throw sourceError(`${source} is neither an http(s) URL nor a folder (${build.root} does not exist or is a file)`);
  }
  const tried: string[] = [];
  const inventory = await readBuildFile(build, INVENTORY_PATH, options, tried);
  if (inventory === undefined) {
    const what = build.kind === 'http' ? `${build.root} is not the log root of a Zuul build` : `${build.root} holds no Zuul inventory`;
    throw sourceError(`${what}: no ${INVENTORY_PATH} there`, {
      details: tried.map((t) => `tried ${t}`),
      hint:
        build.kind === 'http'
          ? 'give the URL of the folder that holds zuul-info/ and job-output.txt (the build page\'s "Logs" link); builds whose logs expired cannot be reproduced'
          : 'give the folder that holds zuul-info/inventory.yaml (a copy of the build\'s log root)',
    });
  }
  return { source: build, inventory };
}

/**
 * A file a node published, under `<node>/` of the build (`logs/local_conf.txt`, grenade's
 * `logs/old/local_conf.txt`…): undefined when the build has none. The node's name comes from the
 * inventory and becomes a path: nothing that could climb out of the root is taken.
 */
export async function readNodeFile(build: BuildSource, node: string, path: string, options: SourceOptions): Promise<BuildFile | undefined> {
  if (!NODE_NAME.test(node)) throw sourceError(`the inventory names a node "${node}", which is not a host name`, { hint: 'check that SOURCE is a Zuul build' });
  return readBuildFile(build, `${node}/${path}`, options);
}

/** At most this much of a file is read for its first line (job-output.txt runs to tens of MB). */
const FIRST_LINE_LIMIT = 64 * 1024;

/** The first line of `stream` (gunzipped when `gzip`), reading no further than needed; the stream is closed. */
async function firstLineOf(stream: Readable, gzip: boolean, signal: AbortSignal): Promise<string> {
  const text = gzip ? stream.pipe(createGunzip()) : stream;
  let got = '';
  try {
    for await (const chunk of text) {
      signal.throwIfAborted();
      got += (chunk as Buffer).toString('utf8');
      const end = got.indexOf('\n');
      if (end >= 0) return got.slice(0, end);
      if (got.length > FIRST_LINE_LIMIT) break;
    }
    return got.slice(0, FIRST_LINE_LIMIT);
  } finally {
    stream.destroy();
    text.destroy();
  }
}

/**
 * The first line of a file of the build (NAME, then NAME.gz), without reading the rest: undefined
 * when neither exists. For job-output.txt, whose first line carries the time the job started.
 */
export async function readFirstLine(build: BuildSource, name: string, options: SourceOptions): Promise<string | undefined> {
  for (const candidate of [name, `${name}.gz`]) {
    options.ctx.signal.throwIfAborted();
    const gzName = candidate.endsWith('.gz');
    if (build.kind === 'folder') {
      const path = join(build.root, candidate);
      if (!(await stat(path).then((s) => s.isFile(), () => false))) continue;
      return firstLineOf(createReadStream(path), gzName, options.ctx.signal).catch((error: unknown) => {
        throw sourceError(`cannot read ${path}: ${(error as Error).message}`, { cause: error, hint: 'check the file' });
      });
    }
    const url = new URL(candidate, build.root).href;
    const signal = AbortSignal.any([options.ctx.signal, AbortSignal.timeout(REQUEST_BUDGET_MS)]);
    try {
      const res = await httpGet(url, { signal, headers: { 'accept-encoding': 'gzip' }, headersTimeoutMs: HEADERS_TIMEOUT_MS, stallMs: STALL_MS, ...(options.env === undefined ? {} : { env: options.env }) });
      if (res.statusCode === 404 || res.statusCode === 403 || res.statusCode === 410) {
        res.body.destroy();
        continue;
      }
      if (res.statusCode !== 200) {
        res.body.destroy();
        throw sourceError(`${url} answered HTTP ${res.statusCode}`, { hint: res.statusCode >= 500 ? 'the log server failed: try again later' : 'check the URL' });
      }
      const encoded = /gzip/i.test(String(res.headers['content-encoding'] ?? ''));
      // A .gz object served with Content-Encoding: gzip would be gzip twice; log servers send one or the other.
      return await firstLineOf(res.body, encoded || gzName, signal);
    } catch (error) {
      options.ctx.signal.throwIfAborted();
      if (error instanceof DevclusterError) throw error;
      throw sourceError(`cannot fetch ${url}: ${(error as Error).message}`, { cause: error, hint: 'check the network, or the proxy in HTTPS_PROXY/HTTP_PROXY/NO_PROXY' });
    }
  }
  return undefined;
}

/** When the job started: the timestamp opening job-output.txt (`2026-07-20 09:10:02.118034 | …`, UTC); undefined when unknown. */
export async function jobStart(build: BuildSource, options: SourceOptions): Promise<Date | undefined> {
  const line = await readFirstLine(build, 'job-output.txt', options);
  const m = line === undefined ? null : /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2})(\.\d+)? \|/.exec(line);
  if (!m) return undefined;
  const date = new Date(`${m[1]}T${m[2]}${(m[3] ?? '').slice(0, 4)}Z`);
  return Number.isNaN(date.getTime()) ? undefined : date;
}
