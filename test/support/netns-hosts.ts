/**
 * Several "hosts" without VMs for fast integration tests: one network namespace per host on a bridge
 * of its own in the root namespace, each running a real OpenSSH server with the host key of the
 * test's choosing and its own hostname (`unshare --uts`), logging in as a non-root user with
 * passwordless sudo. The hosts share the machine's filesystem, users and processes; only the network
 * and the hostname are their own. Inside, /etc/hosts names every host and DNS fails at once (there is
 * no NAT: the hosts reach each other and the root namespace, nothing beyond). Needs root, `ip`
 * (iproute2), `unshare` and `/usr/sbin/sshd`.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { access, chmod, mkdir, mkdtemp, readFile, rm, rmdir, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';

const run = promisify(execFile);

const SSHD = '/usr/sbin/sshd';
const READY_BUDGET_MS = 15_000;
/** `ip netns exec NS` bind-mounts /etc/netns/NS/FILE over /etc/FILE (for sshd and its sessions). */
const ETC_NETNS = '/etc/netns';

export interface NetnsHost {
  /** The name asked for, e.g. `compute1`. */
  name: string;
  /** What `hostname` prints inside the host (the name). */
  hostname: string;
  /** The host's address on the bridge, reachable from the root namespace and the other hosts. */
  address: string;
  /** sshd's port on `address`: 22. */
  port: number;
  /** The network namespace, `dct-<rand>-<name>` (for `ip netns exec`). */
  netns: string;
}

export interface NetnsHosts {
  hosts: NetnsHost[];
  /** The login user (non-root, passwordless sudo). */
  user: string;
  /** That user's home directory (shared by all hosts). */
  home: string;
  /** The bridge in the root namespace, `dct<rand>`; its veths are `dct<rand>v<i>`, the namespaces `dct-<rand>-<name>`. */
  bridge: string;
  /** The bridge's address, the hosts' default gateway. */
  gateway: string;
  /** Stops every sshd and removes namespaces, links and temporary files. Idempotent. */
  stop(): Promise<void>;
}

export interface NetnsHostsOptions {
  /** Host names, e.g. `['controller', 'compute1', 'compute2']`; letters, digits and `-` only. */
  names: string[];
  /** Each host's OpenSSH host key pair (ed25519), by name. */
  hostKeys: Record<string, { private: string; public: string }>;
  /** authorized_keys lines accepted for the user on every host. */
  authorizedKeys: string[];
  /** Login user, created (`useradd -m -s /bin/bash`) if missing; default `dcstack`. */
  user?: string;
  /**
   * Absolute paths each host sees as its own empty folder, owned by the user (a bind mount in the
   * host's mount namespace), e.g. `/opt/stack`: the hosts then share the filesystem except these.
   * A path missing on the machine is made (and removed again by stop() if still empty).
   */
  privateDirs?: string[];
}

interface Started {
  host: NetnsHost;
  child: ChildProcess;
  /** sshd exited (its sessions may live on and hold stderr). */
  exited: Promise<void>;
  /** sshd exited and its stderr is read to the end, or 1 s passed. */
  drained: () => Promise<void>;
  log: () => string;
}

async function ipCmd(...args: string[]): Promise<string> {
  try {
    return (await run('ip', args)).stdout;
  } catch (error) {
    const e = error as { stderr?: string; message: string };
    throw new Error(`ip ${args.join(' ')} failed: ${(e.stderr ?? e.message).trim()}`, { cause: error });
  }
}

async function requireTools(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('netns hosts need root (ip netns, useradd, sshd)');
  for (const [tool, pkg] of [['ip', 'iproute2'], ['unshare', 'util-linux'], ['useradd', 'passwd']] as const) {
    try {
      await run('sh', ['-c', `command -v ${tool}`]);
    } catch {
      throw new Error(`netns hosts need \`${tool}\` on PATH (apt-get install -y ${pkg})`);
    }
  }
  try {
    await access(SSHD);
  } catch {
    throw new Error(`netns hosts need ${SSHD} (apt-get install -y openssh-server)`);
  }
}

/** Subnets picked by starts in this process whose bridge may not carry its address yet. */
const reserved = new Set<string>();

/**
 * A /24 in 10.251.0.0/16 that no address or route on this machine uses yet, as its first 3 octets,
 * picked at random so that starts in other processes are unlikely to race for the same one.
 */
async function freeSubnet(): Promise<string> {
  const used = `${await ipCmd('-4', 'addr')}\n${await ipCmd('-4', 'route', 'show', 'table', 'all')}`;
  const candidates: string[] = [];
  for (let n = 0; n < 256; n++) {
    const prefix = `10.251.${n}`;
    if (!used.includes(`${prefix}.`) && !reserved.has(prefix)) candidates.push(prefix);
  }
  const pick = candidates[randomBytes(2).readUInt16BE() % Math.max(candidates.length, 1)];
  if (!pick) throw new Error('netns hosts: no free /24 left in 10.251.0.0/16');
  reserved.add(pick);
  return pick;
}

/** The user (created if missing, account usable for key login, passwordless sudo) and its home. */
async function ensureUser(user: string): Promise<string> {
  if (!/^[a-z_][a-z0-9_-]*$/.test(user)) throw new Error(`netns hosts: bad user name ${JSON.stringify(user)}`);
  const lookup = async () => (await run('getent', ['passwd', user]).catch(() => ({ stdout: '' }))).stdout.trim();
  if (!(await lookup())) {
    // `-p '*'`: no password, but not locked. sshd without PAM refuses keys for a locked account ('!').
    await run('useradd', ['-m', '-s', '/bin/bash', '-p', '*', user]).catch(async (error: unknown) => {
      if (!(await lookup())) throw error; // a concurrent start created it: fine
    });
  }
  const entry = await lookup();
  const home = entry.split(':')[5];
  if (!home) throw new Error(`netns hosts: no home for ${user} in ${JSON.stringify(entry)}`);
  const shadow = (await readFile('/etc/shadow', 'utf8')).split('\n').find((line) => line.startsWith(`${user}:`));
  const password = shadow?.split(':')[1] ?? '';
  if (password.startsWith('!')) {
    // Locked without a password (plain `useradd`): unlocking to '*' still allows no password login.
    if (['!', '!!', '!*'].includes(password)) await run('usermod', ['-p', '*', user]);
    else throw new Error(`netns hosts: user ${user} is locked (its password starts with '!'); sshd would refuse it`);
  }
  await mkdir(home, { recursive: true });
  const { stdout: owner } = await run('stat', ['-c', '%U', home]);
  if (owner.trim() !== user) await run('chown', [`${user}:`, home]);
  const sudoers = `/etc/sudoers.d/${user}`;
  const rule = `${user} ALL=(ALL:ALL) NOPASSWD:ALL\n`;
  const current = await readFile(sudoers, 'utf8').catch(() => '');
  if (current !== rule) {
    const draft = `${sudoers}.tmp-${randomBytes(4).toString('hex')}`;
    await writeFile(draft, rule, { mode: 0o440 });
    await run('visudo', ['-cqf', draft]).catch(async (error: unknown) => {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return; // no sudo installed: the rule is inert
      await rm(draft, { force: true });
      throw new Error(`netns hosts: visudo rejects ${rule.trim()}`, { cause: error });
    });
    await run('mv', ['-f', draft, sudoers]);
  }
  await chmod(sudoers, 0o440);
  return home;
}

function waitForPort(address: string, port: number): Promise<boolean> {
  return new Promise((done) => {
    const socket = connect({ host: address, port, timeout: 1_000 });
    const finish = (up: boolean) => {
      socket.destroy();
      done(up);
    };
    socket.once('connect', () => finish(true));
    socket.once('timeout', () => finish(false));
    socket.once('error', () => finish(false));
  });
}

export async function startNetnsHosts(opts: NetnsHostsOptions): Promise<NetnsHosts> {
  const user = opts.user ?? 'dcstack';
  if (opts.names.length === 0) throw new Error('netns hosts: no names');
  if (opts.names.length > 200) throw new Error('netns hosts: at most 200 hosts');
  for (const name of opts.names) {
    if (!/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/i.test(name) || name.length > 63) throw new Error(`netns hosts: bad host name ${JSON.stringify(name)}`);
    if (!opts.hostKeys[name]) throw new Error(`netns hosts: no host key for ${name}`);
  }
  if (new Set(opts.names).size !== opts.names.length) throw new Error('netns hosts: duplicate names');
  await requireTools();

  const id = randomBytes(3).toString('hex');
  const bridge = `dct${id}`;
  const namespaces: string[] = [];
  const links: string[] = [];
  const dirs: string[] = [];
  const etcDirs: string[] = [];
  /** privateDirs targets this run made on the machine (removed again when empty). */
  const madeTargets: string[] = [];
  const started: Started[] = [];
  let bridgeMade = false;
  let stopped: Promise<void> | undefined;

  const teardown = async (): Promise<void> => {
    const problems: string[] = [];
    const attempt = async (what: string, action: () => Promise<unknown>) => {
      try {
        await action();
      } catch (error) {
        problems.push(`${what}: ${(error as Error).message}`);
      }
    };
    await Promise.all(
      started.map(async ({ child, exited }) => {
        if (child.exitCode === null && child.signalCode === null) {
          child.kill('SIGTERM');
          const timedOut = await Promise.race([exited.then(() => false), sleep(3_000).then(() => true)]);
          if (timedOut) {
            child.kill('SIGKILL');
            await exited;
          }
        }
      }),
    );
    // Sessions sshd forked outlive it: kill whatever still runs inside each namespace.
    for (const ns of namespaces) {
      await attempt(`processes in ${ns}`, async () => {
        for (let round = 0; round < 20; round++) {
          const pids = (await ipCmd('netns', 'pids', ns).catch(() => ''))
            .split(/\s+/)
            .filter(Boolean)
            .map(Number);
          if (pids.length === 0) return;
          for (const pid of pids) {
            try {
              process.kill(pid, 'SIGKILL');
            } catch {
              // already gone
            }
          }
          await sleep(50);
        }
        throw new Error('processes left inside');
      });
    }
    for (const dir of etcDirs) await attempt(`dir ${dir}`, () => rm(dir, { recursive: true, force: true }));
    if (etcDirs.length > 0) await rmdir(ETC_NETNS).catch(() => undefined); // only if empty: others may use it
    for (const link of links) await attempt(`link ${link}`, () => ipCmd('link', 'del', link).catch(ignoreMissing));
    for (const ns of namespaces) await attempt(`netns ${ns}`, () => ipCmd('netns', 'del', ns).catch(ignoreMissing));
    if (bridgeMade) await attempt(`bridge ${bridge}`, () => ipCmd('link', 'del', bridge).catch(ignoreMissing));
    for (const dir of dirs) await attempt(`dir ${dir}`, () => rm(dir, { recursive: true, force: true }));
    for (const target of madeTargets) await rmdir(target).catch(() => undefined); // only if empty
    if (problems.length > 0) throw new Error(`netns hosts: cleanup left things behind:\n${problems.join('\n')}`);
  };
  const stop = () => (stopped ??= teardown());

  try {
    const home = await ensureUser(user);
    for (const target of opts.privateDirs ?? []) {
      if (!/^(\/[\w.-]+)+$/.test(target)) throw new Error(`netns hosts: privateDirs needs absolute plain paths, not ${JSON.stringify(target)}`);
      const made = await mkdir(target, { recursive: true });
      // Deepest first, up to the first folder mkdir made.
      for (let p = target; made !== undefined && p.length >= made.length; p = dirname(p)) madeTargets.push(p);
    }
    await mkdir('/run/sshd', { recursive: true, mode: 0o755 });
    const subnet = await freeSubnet();
    const gateway = `${subnet}.1`;

    try {
      await ipCmd('link', 'add', bridge, 'type', 'bridge');
      bridgeMade = true;
      await ipCmd('addr', 'add', `${gateway}/24`, 'dev', bridge);
    } finally {
      reserved.delete(subnet); // on the bridge now (or never will be)
    }
    await ipCmd('link', 'set', bridge, 'up');

    // The keys sshd reads as the user: outside the root-only config dirs.
    const shared = await mkdtemp(join(tmpdir(), `dct-${id}-`));
    dirs.push(shared);
    await chmod(shared, 0o755);
    const authorizedKeys = join(shared, 'authorized_keys');
    await writeFile(authorizedKeys, `${opts.authorizedKeys.join('\n')}\n`, { mode: 0o644 });
    await chmod(authorizedKeys, 0o644);

    const hosts: NetnsHost[] = [];
    for (const [i, name] of opts.names.entries()) {
      const host: NetnsHost = { name, hostname: name, address: `${subnet}.${10 + i}`, port: 22, netns: `dct-${id}-${name}` };
      const veth = `${bridge}v${i}`;
      namespaces.push(host.netns);
      await ipCmd('netns', 'add', host.netns);
      links.push(veth);
      await ipCmd('link', 'add', veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', host.netns);
      await ipCmd('link', 'set', veth, 'master', bridge);
      await ipCmd('link', 'set', veth, 'up');
      const inside = (...args: string[]) => ipCmd('-n', host.netns, ...args);
      await inside('link', 'set', 'lo', 'up');
      await inside('addr', 'add', `${host.address}/24`, 'dev', 'eth0');
      await inside('link', 'set', 'eth0', 'up');
      await inside('route', 'add', 'default', 'via', gateway);
      hosts.push(host);
    }

    // Name resolution inside the hosts: every host's name from /etc/hosts, and DNS failing at once
    // (nothing answers from here; without this sudo spends 20 s looking up the hostname).
    const hostsFile = [
      '127.0.0.1 localhost',
      '::1 localhost ip6-localhost ip6-loopback',
      ...hosts.map((h) => `${h.address} ${h.hostname}`),
      '',
    ].join('\n');
    for (const host of hosts) {
      const etc = join(ETC_NETNS, host.netns);
      etcDirs.push(etc);
      await mkdirRacing(etc);
      await writeFile(join(etc, 'hosts'), hostsFile, { mode: 0o644 });
      await writeFile(join(etc, 'resolv.conf'), 'nameserver 127.0.0.1\noptions timeout:1 attempts:1\n', { mode: 0o644 });
    }

    for (const host of hosts) {
      const dir = await mkdtemp(join(tmpdir(), `dct-${id}-${host.name}-`));
      dirs.push(dir);
      await chmod(dir, 0o700);
      const key = opts.hostKeys[host.name]!;
      await writeFile(join(dir, 'host_key'), key.private.endsWith('\n') ? key.private : `${key.private}\n`, { mode: 0o600 });
      await writeFile(join(dir, 'host_key.pub'), `${key.public.trim()}\n`, { mode: 0o644 });
      const config = [
        'Port 22',
        `ListenAddress ${host.address}`,
        `HostKey ${join(dir, 'host_key')}`,
        `AuthorizedKeysFile ${authorizedKeys}`,
        `AllowUsers ${user}`,
        'PubkeyAuthentication yes',
        'PasswordAuthentication no',
        'KbdInteractiveAuthentication no',
        'PermitRootLogin no',
        'StrictModes no',
        'UsePAM no',
        'UseDNS no',
        'PrintMotd no',
        'Subsystem sftp internal-sftp',
        `PidFile ${join(dir, 'sshd.pid')}`,
      ].join('\n');
      await writeFile(join(dir, 'sshd_config'), `${config}\n`, { mode: 0o600 });
      // `ip netns exec` runs in a mount namespace of its own: bind mounts made there stay there.
      const binds: string[] = [];
      for (const [k, target] of (opts.privateDirs ?? []).entries()) {
        const source = join(dir, `private-${k}`);
        await mkdir(source, { mode: 0o755 });
        await run('chown', [user, source]);
        binds.push(`mount --bind ${source} ${target} && `);
      }
      const script = `hostname "$1" && mount --make-rprivate / && ${binds.join('')}exec ${SSHD} -D -e -f "$2"`;
      const child = spawn('ip', ['netns', 'exec', host.netns, 'unshare', '--uts', 'sh', '-c', script, 'sh', host.hostname, join(dir, 'sshd_config')], {
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let log = '';
      child.stderr?.on('data', (d: Buffer) => {
        if (log.length < 20_000) log += d.toString();
      });
      const exited = new Promise<void>((done) => child.once('exit', () => done()));
      const closed = new Promise<void>((done) => child.once('close', () => done()));
      const drained = () => Promise.race([closed, exited.then(() => sleep(1_000))]);
      child.once('error', (error) => (log += `\n${error.message}`));
      started.push({ host, child, exited, drained, log: () => log });
    }

    await Promise.all(
      started.map(async ({ host, child, drained, log }) => {
        const deadline = Date.now() + READY_BUDGET_MS;
        for (;;) {
          if (child.exitCode !== null || child.signalCode !== null) {
            await drained();
            throw new Error(`netns host ${host.name}: sshd exited (${child.exitCode ?? child.signalCode}) before listening on ${host.address}:22:\n${log().trim()}`);
          }
          if (await waitForPort(host.address, host.port)) return;
          if (Date.now() > deadline) {
            throw new Error(`netns host ${host.name}: sshd not reachable on ${host.address}:22 after ${READY_BUDGET_MS / 1000} s:\n${log().trim()}`);
          }
          await sleep(100);
        }
      }),
    );

    return { hosts, user, home, bridge, gateway, stop };
  } catch (error) {
    await stop().catch((cleanup: unknown) => {
      (error as Error).message += `\n(and ${(cleanup as Error).message})`;
    });
    throw error;
  }
}

/** `mkdir -p` that survives another start's teardown removing an empty /etc/netns meanwhile. */
async function mkdirRacing(dir: string): Promise<void> {
  for (let i = 0; ; i++) {
    try {
      await mkdir(dir, { recursive: true, mode: 0o755 });
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT' || i >= 5) throw error;
    }
  }
}

function ignoreMissing(error: unknown): void {
  const message = (error as Error).message;
  if (/Cannot find device|No such file|does not exist|Cannot remove namespace file/.test(message)) return;
  throw error;
}
