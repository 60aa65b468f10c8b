#!/usr/bin/env node
// devcluster benchmarks: every figure is a ratio against a baseline measured in the same run, on the
// same machine. `npm run bench -- --quick` runs 3-5 (part of CI); the full set (1, 2 and 6: against
// Vagrant + vagrant-libvirt, bare qemu, and memory) is not built yet. Raw figures go to
// bench/results/<time>.json. Needs `npm run build` first (it uses dist/), qemu-img, sshd and ssh.
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createServer as createHttpServer } from 'node:http';
import { createServer } from 'node:net';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { hostname, cpus, totalmem, tmpdir, userInfo } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
const { SessionPool } = await import(join(ROOT, 'dist/ssh/session.js'));
const { generateKeyPair } = await import(join(ROOT, 'dist/state/secrets.js'));
const { pullImage } = await import(join(ROOT, 'dist/images/pull.js'));
const { imageSource } = await import(join(ROOT, 'dist/images/source.js'));

const quick = process.argv.includes('--quick');
const work = mkdtempSync(join(tmpdir(), 'dc-bench-'));
const rows = [];
const raw = { machine: { host: hostname(), cpus: cpus().length, memGiB: Math.round(totalmem() / 2 ** 30), node: process.version }, startedAt: new Date().toISOString(), results: {} };
const seconds = async (fn) => {
  const t = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t) / 1e9;
};
const allocated = (file) => statSync(file).blocks * 512;

// 3. Node disks: 10 copy-on-write overlays versus 1 (what libvirt's vol-create-as --backing-vol makes).
{
  const base = join(work, 'base.qcow2');
  execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', base, '8G']);
  execFileSync('qemu-img', ['resize', '-q', base, '8G']);
  const make = (n, tag) => {
    for (let i = 0; i < n; i++) execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', base, '-F', 'qcow2', join(work, `${tag}-${i}.qcow2`), '20G']);
  };
  const one = await seconds(() => make(1, 'one'));
  const ten = await seconds(() => make(10, 'ten'));
  const perNode = Array.from({ length: 10 }, (_, i) => allocated(join(work, `ten-${i}.qcow2`))).reduce((a, b) => a + b, 0) / 10;
  raw.results.disks = { oneNodeS: one, tenNodesS: ten, bytesPerNode: perNode };
  rows.push(['3. disks: 10 nodes vs 1 (time)', `${ten.toFixed(3)} s / ${one.toFixed(3)} s`, (ten / one).toFixed(2), '<= 2 (10 nodes in at most twice the time of 1)', ten / one <= 2]);
  rows.push(['3. disks: bytes written per node', `${(perNode / 1024).toFixed(0)} KiB`, '-', '<= 1 MiB', perNode <= 1048576]);
}

// 4. 100 remote commands: one pooled ssh2 connection versus a new `ssh` process per command.
{
  const hostKey = generateKeyPair('bench host');
  const clientKey = generateKeyPair('bench client');
  const dir = join(work, 'sshd');
  mkdirSync(dir);
  mkdirSync('/run/sshd', { recursive: true });
  writeFileSync(join(dir, 'host_key'), hostKey.private, { mode: 0o600 });
  writeFileSync(join(dir, 'authorized_keys'), `${clientKey.public}\n`, { mode: 0o600 });
  writeFileSync(join(dir, 'id'), clientKey.private, { mode: 0o600 });
  const port = await new Promise((done) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = s.address().port;
      s.close(() => done(p));
    });
  });
  writeFileSync(join(dir, 'known_hosts'), `[127.0.0.1]:${port} ${hostKey.public}\n`);
  writeFileSync(
    join(dir, 'sshd_config'),
    [`Port ${port}`, 'ListenAddress 127.0.0.1', `HostKey ${join(dir, 'host_key')}`, `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`, 'PasswordAuthentication no', 'StrictModes no', 'UsePAM no', 'MaxStartups 200', `PidFile ${join(dir, 'pid')}`].join('\n') + '\n',
  );
  const sshd = spawn('/usr/sbin/sshd', ['-D', '-e', '-f', join(dir, 'sshd_config')], { stdio: 'ignore' });
  await sleep(1000);
  const user = userInfo().username;
  const N = 100;
  const fresh = await seconds(async () => {
    for (let i = 0; i < N; i++) {
      execFileSync('ssh', ['-q', '-p', String(port), '-i', join(dir, 'id'), '-o', `UserKnownHostsFile=${join(dir, 'known_hosts')}`, '-o', 'StrictHostKeyChecking=yes', '-o', 'BatchMode=yes', `${user}@127.0.0.1`, 'true']);
    }
  });
  const pool = new SessionPool([]);
  const signal = new AbortController().signal;
  const pooled = await seconds(async () => {
    const target = { node: 'bench', label: 'bench', host: '127.0.0.1', port, username: user, privateKey: clientKey.private, hostKey: hostKey.public };
    for (let i = 0; i < N; i++) {
      const session = await pool.get(target, { signal, budgetMs: 10_000 });
      const r = await session.run('true', { signal, what: 'bench' });
      if (r.code !== 0) throw new Error('remote command failed');
    }
  });
  await pool.closeAll();
  sshd.kill();
  raw.results.ssh = { commands: N, freshSshS: fresh, pooledS: pooled, connections: pool.connections };
  rows.push([`4. ${N} commands: pooled ssh2 vs a new ssh each`, `${pooled.toFixed(2)} s / ${fresh.toFixed(2)} s`, (pooled / fresh).toFixed(2), '<= 0.2', pooled / fresh <= 0.2]);
}

// 5. The image on a second `up` after `down`: `down` keeps the verified cache, so nothing is fetched.
{
  const image = Buffer.alloc(32 * 1024 * 1024, 1);
  const sha = createHash('sha256').update(image).digest('hex');
  const files = { '/img.raw': image, '/SHA256SUMS': `${sha}  img.raw\n` };
  let sent = 0;
  const server = createHttpServer((req, res) => {
    const body = files[req.url];
    if (!body) return void res.writeHead(404).end();
    sent += typeof body === 'string' ? Buffer.byteLength(body) : body.length;
    res.writeHead(200, { 'content-length': String(typeof body === 'string' ? Buffer.byteLength(body) : body.length) }).end(body);
  });
  await new Promise((done) => server.listen(0, '127.0.0.1', done));
  const base = `http://127.0.0.1:${server.address().port}`;
  const { cacheLayout } = await import(join(ROOT, 'dist/images/cache.js'));
  const layout = cacheLayout({ XDG_CACHE_HOME: join(work, 'cache') });
  const ctx = { signal: new AbortController().signal, report: () => undefined };
  const source = imageSource({ url: `${base}/img.raw`, checksums_url: `${base}/SHA256SUMS` }, { baseDir: work, home: work });
  const first = await pullImage(source, { ctx, layout });
  const sentFirst = sent;
  const second = await pullImage(source, { ctx, layout });
  server.close();
  raw.results.redownload = { firstBytes: first.bytesDownloaded, secondBytes: second.bytesDownloaded, httpBytesSecond: sent - sentFirst };
  rows.push(['5. image bytes on a second up', `${second.bytesDownloaded} B (first: ${first.bytesDownloaded} B)`, '-', '0', second.bytesDownloaded === 0]);
}

if (!quick) rows.push(['1, 2, 6 (Vagrant, bare qemu, memory)', 'not built yet', '-', '-', false]);
rmSync(work, { recursive: true, force: true });
const header = ['benchmark', 'measured', 'ratio', 'goal', 'met'];
const table = [header, ...rows.map((r) => [r[0], r[1], r[2], r[3], r[4] ? 'yes' : 'NO'])];
const widths = header.map((_, i) => Math.max(...table.map((r) => String(r[i]).length)));
for (const r of table) console.log(r.map((c, i) => String(c).padEnd(widths[i])).join('  '));
mkdirSync(join(ROOT, 'bench', 'results'), { recursive: true });
const out = join(ROOT, 'bench', 'results', `${raw.startedAt.replace(/[:.]/g, '-')}${quick ? '-quick' : ''}.json`);
writeFileSync(out, `${JSON.stringify(raw, null, 2)}\n`);
console.log(`machine: ${raw.machine.host}, ${raw.machine.cpus} cores, ${raw.machine.memGiB} GiB, Node ${raw.machine.node}; raw figures: ${out}`);
