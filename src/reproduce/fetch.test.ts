/**
 * Reading a build's logs from a loopback log server that answers as opendev's does (gzip-encoded
 * objects, some files only as NAME.gz, redirects, Zuul's build API, a proxy), and from a folder.
 */
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { quietCtx } from '../events.js';
import { DevclusterError } from '../errors.js';
import { startZuulLogServer, type ZuulLogServer } from '../../test/support/zuul-log-server.js';
import { jobStart, openBuild, readBuildFile, readNodeFile, type BuildSource, type SourceOptions } from './fetch.js';

const INVENTORY = 'all:\n  hosts:\n    controller:\n      ansible_host: 203.0.113.10\n    compute1:\n      ansible_host: 203.0.113.11\n';
const CONTROLLER_CONF = '[[local|localrc]]\nHOST_IP=203.0.113.10\nSERVICE_HOST=203.0.113.10\n';
const COMPUTE_CONF = '[[local|localrc]]\nHOST_IP=203.0.113.11\nSERVICE_HOST=203.0.113.10\n';
const UUID = '0123456789abcdef0123456789abcdef';

let folder: string;
let home: string;

async function put(root: string, name: string, text: string | Buffer): Promise<void> {
  await mkdir(join(root, name, '..'), { recursive: true });
  await writeFile(join(root, name), text);
}

function options(env: NodeJS.ProcessEnv = {}, signal?: AbortSignal): SourceOptions {
  return { ctx: quietCtx(signal), cwd: folder, home, env };
}

async function localConfs(build: BuildSource, nodes: string[]) {
  return new Map(await Promise.all(nodes.map(async (node) => [node, await readNodeFile(build, node, 'logs/local_conf.txt', options())] as const)));
}

async function failure(promise: Promise<unknown>): Promise<DevclusterError> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(DevclusterError);
  return error as DevclusterError;
}

beforeAll(async () => {
  folder = await mkdtemp(join(tmpdir(), 'dc-fetch-'));
  home = join(folder, 'home');
  await put(folder, 'build/zuul-info/inventory.yaml', INVENTORY);
  await put(folder, 'build/controller/logs/local_conf.txt', CONTROLLER_CONF);
  await put(folder, 'build/compute1/logs/local_conf.txt', COMPUTE_CONF);
  await put(folder, 'build/job-output.txt', `2026-07-20 09:10:02.118034 | Job console starting\n${'2026-07-20 09:10:03.000000 | more\n'.repeat(5000)}`);
  // A copy saved from a log server, files kept as the .gz it served.
  await put(folder, 'saved/zuul-info/inventory.yaml.gz', gzipSync(INVENTORY));
  await put(folder, 'saved/controller/logs/local_conf.txt.gz', gzipSync(CONTROLLER_CONF));
  await put(folder, 'saved/job-output.txt.gz', gzipSync('2026-07-21 23:59:59.5 | Job console starting\n'));
  await put(folder, 'home/builds/b1/zuul-info/inventory.yaml', INVENTORY);
  await put(folder, 'not-a-build/job-output.txt', 'ok\n');
});

afterAll(async () => {
  await rm(folder, { recursive: true, force: true });
});

describe('a build over HTTP, as a log server serves it', () => {
  let server: ZuulLogServer;
  beforeAll(async () => {
    server = await startZuulLogServer(join(folder, 'build'), {
      onlyGz: ['compute1/logs/local_conf.txt'],
      status: { '/broken/zuul-info/inventory.yaml': 500 },
      build: { tenant: 'openstack', uuid: UUID, logUrl: null },
    });
  });
  afterAll(async () => server.close());

  it('reads the inventory and each local.conf, gzip-encoded or only as NAME.gz', async () => {
    const opened = await openBuild(server.logs, options());
    expect(opened.source).toEqual({ kind: 'http', root: server.logs });
    expect(opened.inventory.text).toBe(INVENTORY);
    expect(opened.inventory.from).toBe(`${server.logs}zuul-info/inventory.yaml`);
    const confs = await localConfs(opened.source, ['controller', 'compute1', 'compute2']);
    expect(confs.get('controller')?.text).toBe(CONTROLLER_CONF);
    expect(confs.get('compute1')?.text).toBe(COMPUTE_CONF);
    expect(confs.get('compute1')?.from).toBe(`${server.logs}compute1/logs/local_conf.txt.gz`);
    expect(confs.get('compute2')).toBeUndefined();
  });

  it("reads when the job started from job-output.txt's first line", async () => {
    expect(await jobStart({ kind: 'http', root: server.logs }, options())).toEqual(new Date('2026-07-20T09:10:02.118Z'));
    expect(await jobStart({ kind: 'http', root: `${server.logs}controller/` }, options())).toBeUndefined();
  });

  it('takes the root without its trailing slash, or the link to the inventory itself', async () => {
    for (const given of [server.logs.slice(0, -1), `${server.logs}zuul-info/inventory.yaml`]) {
      const opened = await openBuild(given, options());
      expect(opened.source.root).toBe(server.logs);
      expect(opened.inventory.text).toBe(INVENTORY);
    }
  });

  it('follows redirects', async () => {
    const opened = await openBuild(server.redirect, options());
    expect(opened.inventory.text).toBe(INVENTORY);
    expect(server.requests).toContain('/short/zuul-info/inventory.yaml');
  });

  it('says a URL is not a build log root, and what it tried', async () => {
    const error = await failure(openBuild(`${server.logs}controller/`, options()));
    expect(error.code).toBe('REPRODUCE_SOURCE_INVALID');
    expect(error.message).toContain(`${server.logs}controller/ is not the log root of a Zuul build`);
    expect(error.details).toEqual([
      `tried ${server.logs}controller/zuul-info/inventory.yaml`,
      `tried ${server.logs}controller/zuul-info/inventory.yaml.gz`,
    ]);
  });

  it('reports an HTTP error with its status', async () => {
    const error = await failure(openBuild(`${server.base}/broken/`, options()));
    expect(error.code).toBe('REPRODUCE_SOURCE_INVALID');
    expect(error.message).toBe(`${server.base}/broken/zuul-info/inventory.yaml answered HTTP 500`);
  });

  it('reads a Zuul build page through the API; a build without logs is an error', async () => {
    const other = await startZuulLogServer(join(folder, 'build'), { build: { tenant: 'openstack', uuid: UUID, logUrl: '/logs/' } });
    try {
      const opened = await openBuild(`${other.base}/t/openstack/build/${UUID}`, options());
      expect(opened.source).toEqual({ kind: 'http', root: other.logs, buildPage: `${other.base}/t/openstack/build/${UUID}` });
      expect(opened.inventory.text).toBe(INVENTORY);
    } finally {
      await other.close();
    }
    const error = await failure(openBuild(`${server.base}/t/openstack/build/${UUID}`, options()));
    expect(error.message).toContain('has no logs');
    const unknown = await failure(openBuild(`${server.base}/t/openstack/build/${'f'.repeat(32)}`, options()));
    expect(unknown.message).toContain(`Zuul knows no build ${'f'.repeat(32)}`);
  });

  it('goes through the proxy the environment names', async () => {
    // Only the proxy (our server) can answer for a host that does not exist.
    const opened = await openBuild('http://logs.example.invalid/logs/', options({ http_proxy: server.base }));
    expect(opened.inventory.text).toBe(INVENTORY);
    expect(server.requests.at(-1)).toBe('/logs/zuul-info/inventory.yaml');
  });

  it('stops when the caller aborts', async () => {
    const controller = new AbortController();
    controller.abort(new Error('interrupted by SIGINT'));
    await expect(openBuild(server.logs, options({}, controller.signal))).rejects.toThrow('interrupted by SIGINT');
  });

  it('refuses a node name that would leave the root', async () => {
    const error = await failure(readNodeFile({ kind: 'http', root: server.logs }, '../etc', 'logs/local_conf.txt', options()));
    expect(error.message).toContain('"../etc"');
  });
});

describe('a build from a folder', () => {
  it('reads the same files', async () => {
    const opened = await openBuild('build', options());
    expect(opened.source).toEqual({ kind: 'folder', root: join(folder, 'build') });
    expect(opened.inventory.text).toBe(INVENTORY);
    const confs = await localConfs(opened.source, ['controller', 'compute1']);
    expect(confs.get('controller')?.text).toBe(CONTROLLER_CONF);
    expect(confs.get('compute1')?.text).toBe(COMPUTE_CONF);
  });

  it('reads files kept as NAME.gz', async () => {
    const opened = await openBuild(join(folder, 'saved'), options());
    expect(opened.inventory.text).toBe(INVENTORY);
    expect(opened.inventory.from).toBe(join(folder, 'saved/zuul-info/inventory.yaml.gz'));
    expect((await readBuildFile(opened.source, 'controller/logs/local_conf.txt', options()))?.text).toBe(CONTROLLER_CONF);
  });

  it("reads when the job started, from job-output.txt or job-output.txt.gz", async () => {
    expect(await jobStart({ kind: 'folder', root: join(folder, 'build') }, options())).toEqual(new Date('2026-07-20T09:10:02.118Z'));
    expect(await jobStart({ kind: 'folder', root: join(folder, 'saved') }, options())).toEqual(new Date('2026-07-21T23:59:59.500Z'));
    expect(await jobStart({ kind: 'folder', root: join(folder, 'home') }, options())).toBeUndefined();
  });

  it('takes ~ and file:// URLs', async () => {
    expect((await openBuild('~/builds/b1', options())).source.root).toBe(join(home, 'builds/b1'));
    expect((await openBuild(`file://${join(folder, 'build')}/`, options())).source.root).toBe(join(folder, 'build'));
  });

  it('says when the folder has no inventory, and when there is no such folder', async () => {
    const missing = await failure(openBuild('not-a-build', options()));
    expect(missing.code).toBe('REPRODUCE_SOURCE_INVALID');
    expect(missing.message).toBe(`${join(folder, 'not-a-build')} holds no Zuul inventory: no zuul-info/inventory.yaml there`);
    expect(missing.details).toEqual([`tried ${join(folder, 'not-a-build/zuul-info/inventory.yaml')}`, `tried ${join(folder, 'not-a-build/zuul-info/inventory.yaml.gz')}`]);
    const nowhere = await failure(openBuild('no-such-folder', options()));
    expect(nowhere.message).toContain('is neither an http(s) URL nor a folder');
  });
});
