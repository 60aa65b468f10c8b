/**
 * The OpenStack API stand-in (test/doubles/openstack-api/server.py) for tests: started here, in a
 * network namespace of the test's own (`startOpenstackApiLocal`), or on a real guest over SSH
 * (`startOpenstackApiOverSsh`, through any way to run a command there, e.g. `devcluster ssh`). Either way the test reads the stand-in's state
 * (images, keypairs, security groups and their rules) and the requests it served, to assert on what
 * the real client did rather than on what our scripts printed.
 */
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { shellQuote } from '../../src/process/quote.js';

export const STANDIN_DIR = resolve(import.meta.dirname, '..', 'doubles', 'openstack-api');
export const STANDIN_SERVER = join(STANDIN_DIR, 'server.py');
const READY_BUDGET_MS = 15_000;

export interface StandinRule {
  id: string;
  project_id: string;
  security_group_id: string;
  direction: string;
  ethertype: string;
  protocol: string | null;
  port_range_min: number | null;
  port_range_max: number | null;
  remote_ip_prefix: string | null;
  remote_group_id: string | null;
}

export interface StandinState {
  projects: Record<string, string>;
  users: Record<string, string>;
  images: Array<{ id: string; name: string; status: string; visibility: string; disk_format: string; container_format: string; size: number | null; owner: string; data_sha256: string }>;
  keypairs: Array<{ name: string; user: string; user_id: string; public_key: string; fingerprint: string }>;
  security_groups: Array<{ id: string; name: string; project: string; project_id: string; security_group_rules: StandinRule[] }>;
}

export interface StandinRequest {
  method: string;
  path: string;
  status: number;
}

export interface OpenstackApi {
  /** What the catalog and DevStack's SERVICE_HOST name: `host` or `host:port`. */
  publicHost: string;
  state(): Promise<StandinState>;
  requests(): Promise<StandinRequest[]>;
  stop(): Promise<void>;
}

export interface LocalOptions {
  /** Run inside this network namespace (`ip netns exec`); else in the test's own. */
  netns?: string;
  /** Address to listen on (and to name in the catalog). */
  address: string;
  /** Default 80, where DevStack's Apache serves every API. */
  port?: number;
  /** Every user's password (DevStack's ADMIN_PASSWORD). */
  password: string;
}

/** GET a stand-in path from inside the namespace (python3, as on a guest: no curl needed). */
function fetchScript(url: string): string[] {
  return ['python3', '-c', 'import sys, urllib.request; sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=10).read().decode())', url];
}

function execCapture(argv: string[]): Promise<string> {
  return new Promise((done, fail) => {
    const child = spawn(argv[0] as string, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.once('error', fail);
    child.once('close', (code) => (code === 0 ? done(out) : fail(new Error(`${argv.join(' ')} exited ${code}: ${err.trim()}`))));
  });
}

export async function startOpenstackApiLocal(opts: LocalOptions): Promise<OpenstackApi> {
  const port = opts.port ?? 80;
  const publicHost = port === 80 ? opts.address : `${opts.address}:${port}`;
  const inNs = (argv: string[]) => (opts.netns ? ['ip', 'netns', 'exec', opts.netns, ...argv] : argv);
  const argv = inNs(['python3', STANDIN_SERVER, '--listen', opts.address, '--port', String(port), '--public-host', publicHost, '--password', opts.password]);
  const child = spawn(argv[0] as string, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout.on('data', (d: Buffer) => (log += d.toString()));
  child.stderr.on('data', (d: Buffer) => (log += d.toString()));
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  const get = async (path: string) => JSON.parse(await execCapture(inNs(fetchScript(`http://${publicHost}${path}`)))) as unknown;
  const deadline = Date.now() + READY_BUDGET_MS;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`openstack-api stand-in exited (${child.exitCode ?? child.signalCode}) before it listened:\n${log}`);
    if (log.includes('listening on')) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`openstack-api stand-in not listening on ${publicHost} after ${READY_BUDGET_MS / 1000} s:\n${log}`);
    }
    await sleep(50);
  }
  return {
    publicHost,
    state: async () => (await get('/__standin__/state')) as StandinState,
    requests: async () => ((await get('/__standin__/requests')) as { requests: StandinRequest[] }).requests,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await Promise.race([exited, sleep(3_000).then(() => child.kill('SIGKILL'))]);
      }
    },
  };
}

/**
 * A way to run a shell command on the guest and get its exit code and output: e.g. `devcluster ssh
 * NODE -- COMMAND` (what a user has), or a NodeSession's run. It must not outlive `budgetMs`.
 */
export interface Remote {
  /** The node's name, for messages. */
  node: string;
  run(command: string, what: string, budgetMs: number): Promise<{ code: number | undefined; stdout: string; stderr: string }>;
}

export interface OverSshOptions {
  /** Where the server script goes on the guest. */
  dir: string;
  /** Address on the guest to listen on and to name in the catalog (the controller's HOST_IP). */
  address: string;
  /** Default 80; needs passwordless sudo to bind (the stack user has it). */
  port?: number;
  password: string;
}

/** Budget of one command on the guest (upload, start, one GET). */
const COMMAND_BUDGET_MS = 60_000;

/**
 * Upload the stand-in to a guest and start it there in the background (sudo for port 80), then
 * wait until it answers. The guest needs python3 (Debian and Ubuntu cloud images have it). The script
 * travels inside the command (base64), so a remote without stdin or SFTP will do.
 */
export async function startOpenstackApiOverSsh(remote: Remote, opts: OverSshOptions): Promise<OpenstackApi> {
  const port = opts.port ?? 80;
  const publicHost = port === 80 ? opts.address : `${opts.address}:${port}`;
  const q = shellQuote;
  const run = async (command: string, what: string) => {
    const r = await remote.run(command, what, COMMAND_BUDGET_MS);
    if (r.code !== 0) throw new Error(`${what} on ${remote.node} exited ${r.code}: ${r.stderr.trim().split('\n').slice(-10).join('\n')}`);
    return r.stdout;
  };
  const script = `${opts.dir}/server.py`;
  const pidFile = `${opts.dir}/server.pid`;
  const logFile = `${opts.dir}/server.log`;
  const code = (await readFile(STANDIN_SERVER)).toString('base64');
  await run(`mkdir -p ${q(opts.dir)} && echo ${code} | base64 -d >${q(script)}`, 'upload the openstack-api stand-in');
  // The password reaches the guest's process list as an argument: it is a throw-away test password.
  await run(
    `sudo -n sh -c ${q(`nohup setsid python3 ${script} --listen ${opts.address} --port ${port} --public-host ${publicHost} --password ${q(opts.password)} >${logFile} 2>&1 </dev/null & echo $! >${pidFile}`)}`,
    'start the openstack-api stand-in',
  );
  const get = async (path: string) => JSON.parse(await run(fetchScript(`http://${publicHost}${path}`).map(q).join(' '), `GET ${path} from the stand-in`)) as unknown;
  const deadline = Date.now() + READY_BUDGET_MS;
  for (;;) {
    const r = await remote.run(`grep -q 'listening on' ${q(logFile)}`, 'wait for the stand-in to listen', COMMAND_BUDGET_MS);
    if (r.code === 0) break;
    if (Date.now() > deadline) throw new Error(`openstack-api stand-in on ${remote.node} not listening after ${READY_BUDGET_MS / 1000} s: ${await run(`cat ${q(logFile)}`, 'read the stand-in log')}`);
    await sleep(200);
  }
  return {
    publicHost,
    state: async () => (await get('/__standin__/state')) as StandinState,
    requests: async () => ((await get('/__standin__/requests')) as { requests: StandinRequest[] }).requests,
    stop: async () => {
      await run(`sudo -n sh -c ${q(`if test -e ${pidFile}; then kill $(cat ${pidFile}); rm -f ${pidFile}; fi`)}`, 'stop the stand-in');
    },
  };
}
