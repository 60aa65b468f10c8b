/**
 * devcluster benchmarks: every figure is a ratio against a baseline measured in the same run, on the
 * same machine. `npm run bench` runs all eight (6, 7 and 8 share one cluster); `npm run bench -- --quick` runs 3-5 (part of CI);
 * `--only 2,6` picks some. Raw figures go to bench/results/<time>.json. Run by tsx, importing the
 * sources and test/support (bench/lib.ts); the benchmarks that time the CLI run the built one
 * (`npm run bench` builds first).
 * Needs root, libvirtd with pool `default` (`devcluster doctor --fix`), qemu-img, sshd and ssh; 1, 2
 * and 6 need the test image (test/setup-host.sh) and take ~25 min under TCG; 1 also needs Debian's
 * vagrant and vagrant-libvirt (installed here when missing).
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { cpus, hostname, totalmem, tmpdir, userInfo } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createNodes } from '../src/cluster/up.js';
import { parseConfigText } from '../src/config/load.js';
import { quietCtx } from '../src/events.js';
import { cacheLayout } from '../src/images/cache.js';
import { pullImage } from '../src/images/pull.js';
import { imageSource } from '../src/images/source.js';
import { buildPlan } from '../src/plan/plan.js';
import { LibvirtProvider } from '../src/providers/libvirt/provider.js';
import { SessionPool } from '../src/ssh/session.js';
import { completeSecrets, generateKeyPair } from '../src/state/secrets.js';
import { freePort, sh, timed, virsh, type Shared } from './lib.js';
import { benchVagrant } from './vagrant.js';
import { benchBoot } from './boot.js';
import { benchMemory } from './memory.js';
import { benchLogsCollect, type LogsCollectBench } from './logs-collect.js';

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));

const argv = process.argv.slice(2);
const quick = argv.includes('--quick');
const onlyArg = argv.indexOf('--only');
const only = onlyArg >= 0 ? new Set((argv[onlyArg + 1] ?? '').split(',')) : new Set(quick ? ['3', '4', '5'] : ['1', '2', '3', '4', '5', '6', '7', '8']);
const work = mkdtempSync(join(tmpdir(), 'dc-bench-'));
type Row = [label: string, measured: string, ratio: string, goal: string, met: boolean];
const rows: Row[] = [];
const raw = {
  machine: { host: hostname(), cpus: cpus().length, cpuModel: cpus()[0]?.model, memGiB: Math.round(totalmem() / 2 ** 30), node: process.version, kvm: existsSync('/dev/kvm') },
  startedAt: new Date().toISOString(),
  results: {} as Record<string, unknown>,
};
const allocated = (file: string): number => statSync(file).blocks * 512;
const ratioRow = (label: string, measured: string, ratio: number, goal: string, limit: number) => rows.push([label, measured, ratio.toFixed(2), goal, ratio <= limit]);
const shared: Shared = { ROOT, work };

if (only.has('1')) {
  const r = await benchVagrant(shared);
  raw.results.vagrant = r;
  ratioRow('1. two nodes ready + trivial provisioner: devcluster vs Vagrant+vagrant-libvirt', `${r.devclusterS.toFixed(0)} s / ${r.vagrantS.toFixed(0)} s`, r.devclusterS / r.vagrantS, '<= 0.5', 0.5);
}

if (only.has('2')) {
  const r = await benchBoot(shared);
  raw.results.boot = r;
  ratioRow('2. one node, start to SSH: devcluster vs bare qemu-system-x86_64', `${r.devclusterS.toFixed(1)} s / ${r.bareQemuS.toFixed(1)} s`, r.devclusterS / r.bareQemuS, '<= 1.15', 1.15);
}

// 3. Node disks: what `up` does for 10 nodes versus 1 (createNodes: each node's copy-on-write disk
// over the shared base volume, its seed volume and its domain), on libvirt's qemu:///system.
if (only.has('3')) {
  const base = join(work, 'base.qcow2');
  sh('qemu-img', ['create', '-q', '-f', 'qcow2', base, '3G']);
  const hash = createHash('sha256').update(readFileSync(base)).digest('hex');
  const image = { url: `file://${base}`, algorithm: 'sha256' as const, hash, size: statSync(base).size, format: 'qcow2' as const, fetchedAt: new Date().toISOString(), path: base };
  const provider = new LibvirtProvider({ uri: 'qemu:///system', pool: 'default' });
  const ctx = quietCtx();
  const baseVolume = await provider.ensureBaseVolume(image, ctx);
  const clusterOf = async (n: number, cidr: string, tag = 'x') => {
    const name = `bd${n}${tag}${process.pid % 1000}`;
    const nodes = Array.from({ length: n }, (_, i) => (i === 0 ? '  - { name: controller, role: controller }' : `  - { name: compute${i}, role: compute }`));
    const loaded = await parseConfigText(`name: ${name}\nnetwork: { cidr: ${cidr} }\nnodes:\n${nodes.join('\n')}\n`, { file: 'bench', baseDir: work, home: work, agentSocket: undefined });
    return buildPlan(loaded.config, [], completeSecrets(name, loaded.config.nodes.map((x) => x.name)));
  };
  const one = await clusterOf(1, '192.168.162.0/24');
  const ten = await clusterOf(10, '192.168.163.0/24');
  // Warm the provider first (its connection and the host's accelerator probe, a few seconds on the
  // first call), so that the 1-node figure is the node's own cost, not the provider's start-up.
  const warm = await clusterOf(1, '192.168.164.0/24', 'w');
  await createNodes(provider, warm, image, ctx);
  await provider.deleteCluster(warm.name, warm.nodes.map((n) => n.name), ctx);
  const oneS = await timed(() => createNodes(provider, one, image, ctx));
  const tenS = await timed(() => createNodes(provider, ten, image, ctx));
  const bytes = ten.nodes.map((n) => ['disk.qcow2', 'seed.iso'].reduce((sum, suffix) => sum + allocated(virsh('vol-path', '--pool', 'default', `${n.resourcePrefix}-${suffix}`).trim()), 0));
  const perNode = bytes.reduce((a, b) => a + b, 0) / bytes.length;
  for (const plan of [one, ten]) await provider.deleteCluster(plan.name, plan.nodes.map((n) => n.name), ctx);
  virsh('vol-delete', '--pool', 'default', baseVolume);
  await provider.close();
  raw.results.disks = { oneNodeS: oneS, tenNodesS: tenS, bytesPerNode: perNode };
  ratioRow('3. node disks+seeds+domains: 10 nodes vs 1 (time)', `${tenS.toFixed(2)} s / ${oneS.toFixed(2)} s`, tenS / oneS, '<= 2', 2);
  rows.push(['3. bytes written per node (disk + seed)', `${(perNode / 1024).toFixed(0)} KiB`, '-', '<= 1 MiB', perNode <= 1048576]);
}

// 4. 100 remote commands: one pooled ssh2 connection versus a new `ssh` process per command, against
// one sshd, as a user with a stock shell setup (root's ~/.bashrc here runs pyenv on every session,
// which would weigh on both sides alike and hide the difference).
if (only.has('4')) {
  const hostKey = generateKeyPair('bench host');
  const clientKey = generateKeyPair('bench client');
  const dir = join(work, 'sshd');
  mkdirSync(dir, { mode: 0o755 });
  chmodSync(work, 0o711); // sshd reads authorized_keys as the user
  mkdirSync('/run/sshd', { recursive: true });
  let user = userInfo().username;
  if (process.getuid?.() === 0) {
    user = 'dcbench';
    try {
      sh('id', [user]);
    } catch {
      sh('useradd', ['--create-home', '--home-dir', '/var/tmp/dcbench', '--shell', '/bin/bash', user]);
    }
    sh('usermod', ['--password', '*', user]); // no password, but not locked: sshd lets a locked account in by no means
  }
  writeFileSync(join(dir, 'host_key'), hostKey.private, { mode: 0o600 });
  writeFileSync(join(dir, 'authorized_keys'), `${clientKey.public}\n`, { mode: 0o644 });
  writeFileSync(join(dir, 'id'), clientKey.private, { mode: 0o600 });
  const port = await freePort();
  writeFileSync(join(dir, 'known_hosts'), `[127.0.0.1]:${port} ${hostKey.public}\n`);
  writeFileSync(
    join(dir, 'sshd_config'),
    [`Port ${port}`, 'ListenAddress 127.0.0.1', `HostKey ${join(dir, 'host_key')}`, `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`, 'PasswordAuthentication no', 'StrictModes no', 'UsePAM no', 'MaxStartups 200', `PidFile ${join(dir, 'pid')}`].join('\n') + '\n',
  );
  const sshd = spawn('/usr/sbin/sshd', ['-D', '-e', '-f', join(dir, 'sshd_config')], { stdio: 'ignore' });
  const target = { node: 'bench', label: 'bench', host: '127.0.0.1', port, username: user, privateKey: clientKey.private, hostKey: hostKey.public };
  const pool = new SessionPool([]);
  const signal = new AbortController().signal;
  await (await pool.get({ ...target }, { signal, budgetMs: 10_000 })).run('true', { signal, what: 'warm-up' });
  await pool.closeAll();
  const N = 100;
  const ssh = ['-q', '-p', String(port), '-i', join(dir, 'id'), '-o', `UserKnownHostsFile=${join(dir, 'known_hosts')}`, '-o', 'StrictHostKeyChecking=yes', '-o', 'BatchMode=yes', `${user}@127.0.0.1`];
  sh('ssh', [...ssh, 'true']);
  const fresh = await timed(async () => {
    for (let i = 0; i < N; i++) sh('ssh', [...ssh, 'true']);
  });
  const pooled = await timed(async () => {
    for (let i = 0; i < N; i++) {
      const session = await pool.get(target, { signal, budgetMs: 10_000 });
      const r = await session.run('true', { signal, what: 'bench' });
      if (r.code !== 0) throw new Error('remote command failed');
    }
  });
  await pool.closeAll();
  sshd.kill();
  raw.results.ssh = { commands: N, user, freshSshS: fresh, pooledS: pooled, connections: pool.connections };
  ratioRow(`4. ${N} commands: pooled ssh2 vs a new ssh each`, `${pooled.toFixed(2)} s / ${fresh.toFixed(2)} s`, pooled / fresh, '<= 0.2', 0.2);
}

// 5. The image on a second `up` after `down`: `down` keeps the verified cache, so nothing is fetched.
if (only.has('5')) {
  const image = Buffer.alloc(32 * 1024 * 1024, 1);
  const sha = createHash('sha256').update(image).digest('hex');
  const files: Record<string, Buffer> = { '/img.raw': image, '/SHA256SUMS': Buffer.from(`${sha}  img.raw\n`) };
  let sent = 0;
  const server = createHttpServer((req, res) => {
    const body = files[req.url ?? ''];
    if (!body) return void res.writeHead(404).end();
    sent += body.length;
    res.writeHead(200, { 'content-length': String(body.length) }).end(body);
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const layout = cacheLayout({ XDG_CACHE_HOME: join(work, 'cache') });
  const ctx = quietCtx();
  const source = imageSource({ url: `${url}/img.raw`, checksums_url: `${url}/SHA256SUMS` }, { baseDir: work, home: work });
  const first = await pullImage(source, { ctx, layout });
  const sentFirst = sent;
  const second = await pullImage(source, { ctx, layout });
  server.close();
  raw.results.redownload = { firstBytes: first.bytesDownloaded, secondBytes: second.bytesDownloaded, httpBytesSecond: sent - sentFirst };
  // The checksum list is fetched again on purpose: it tells whether upstream published a new image.
  rows.push(['5. image bytes on a second up', `${second.bytesDownloaded} B (first: ${first.bytesDownloaded} B; checksum list again: ${sent - sentFirst} B)`, '-', '0', second.bytesDownloaded === 0]);
}

// 8. `logs collect` of 3 nodes vs plain ssh fetching the journal export and the stack's files (bench/logs-collect.ts).
const MiB = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;
const logsRow = (r: LogsCollectBench) => {
  raw.results.logsCollect = r;
  ratioRow(
    `8. logs collect, ${r.nodes} nodes: devcluster vs plain ssh of local.conf + /opt/stack/logs + journal export`,
    `${r.collectS.toFixed(1)} s / ${r.baselineS.toFixed(1)} s; received ${MiB(r.bytesReceived)} (plain ${MiB(r.baselineBytes)}), written ${MiB(r.bytesOnDisk)}`,
    r.collectS / r.baselineS,
    '<= 2',
    2,
  );
};
const logsOn = process.env.DC_BENCH_CLUSTER_DIR;
if (only.has('8') && logsOn) logsRow(await benchLogsCollect(logsOn));

if (only.has('6') || only.has('7') || (only.has('8') && !logsOn)) {
  const r = await benchMemory(shared, only.has('8') && !logsOn ? async (dir) => logsRow(await benchLogsCollect(dir)) : undefined);
  raw.results.memory = r;
  rows.push(['6. peak RSS of devcluster, 3-node up with provisioning', `${r.peakRssMiB.toFixed(0)} MiB`, '-', '<= 150 MiB', r.peakRssMiB <= 150]);
  rows.push(['6. host memory per guest beyond guest RAM (max)', `${r.overheadMiB.toFixed(0)} MiB`, '-', '<= 300 MiB', r.overheadMiB <= 300]);
  ratioRow('7. 3 stacked nodes: snapshot restore (to ready) vs up from nothing', `${r.restoreS.toFixed(1)} s / ${r.upS.toFixed(0)} s (save ${r.saveS.toFixed(1)} s)`, r.restoreS / r.upS, '<= 0.1', 0.1);
}

rmSync(work, { recursive: true, force: true });
const header = ['benchmark', 'measured', 'ratio', 'goal', 'met'];
const table = [header, ...rows.map((r) => [r[0], r[1], r[2], r[3], r[4] ? 'yes' : 'NO'])];
const widths = header.map((_, i) => Math.max(...table.map((r) => String(r[i]).length)));
for (const r of table) console.log(r.map((c, i) => String(c).padEnd(widths[i] ?? 0)).join('  '));
mkdirSync(join(ROOT, 'bench', 'results'), { recursive: true });
const out = join(ROOT, 'bench', 'results', `${raw.startedAt.replace(/[:.]/g, '-')}${quick ? '-quick' : ''}.json`);
writeFileSync(out, `${JSON.stringify(raw, null, 2)}\n`);
console.log(`machine: ${raw.machine.host}, ${raw.machine.cpus} × ${raw.machine.cpuModel}, ${raw.machine.memGiB} GiB, ${raw.machine.kvm ? 'KVM' : 'no KVM (TCG)'}, Node ${raw.machine.node}; raw figures: ${out}`);
