/**
 * The whole seed path on a real guest: the test image pulled through the real download path from a
 * loopback HTTP server, a seed rendered from a plan, qemu (TCG, user networking shaped like the
 * cluster network) booting from its own disk, and a pinned SSH connection reading back what
 * cloud-init did. A host showing any other key is refused.
 */
import { spawn, type ChildProcess, execFileSync } from 'node:child_process';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseConfigText } from '../../src/config/load.js';
import { completeSecrets, generateKeyPair } from '../../src/state/secrets.js';
import { buildPlan } from '../../src/plan/plan.js';
import { renderSeed } from '../../src/cloudinit/seed.js';
import { writeSeedIso } from '../../src/cloudinit/seed-iso.js';
import { cacheLayout } from '../../src/images/cache.js';
import { pullImage } from '../../src/images/pull.js';
import { imageSource } from '../../src/images/source.js';
import { quietCtx } from '../../src/events.js';
import { closeClient, connectPinned, execCommand } from '../../src/ssh/connect.js';
import { startFileServer, type FileServer } from '../support/file-server.js';
import { freePort } from '../support/sshd.js';
import { requireTestImage, TEST_IMAGE_NAME } from '../support/test-image.js';

let qemu: ChildProcess | undefined;
let server: FileServer | undefined;
afterAll(async () => {
  qemu?.kill('SIGKILL');
  await server?.close();
});

describe('a node booted from the test image with a rendered seed', () => {
  it('has the planned hostname, password hash, authorized key and host key; another pin is refused', async () => {
    const { image, sums } = requireTestImage();
    server = await startFileServer({ [`/${TEST_IMAGE_NAME}`]: image, '/SHA256SUMS': sums });
    const work = await mkdtemp(join(tmpdir(), 'dc-boot-'));
    const hash = execFileSync('openssl', ['passwd', '-6', '-stdin'], { input: 'stack-secret\n' }).toString().trim();
    const userKey = generateKeyPair('user@workstation');
    const config = [
      'name: boot',
      `image: { url: "${server.base}/${TEST_IMAGE_NAME}", checksums_url: "${server.base}/SHA256SUMS" }`,
      'nodes: [{ name: controller, role: controller, hostname: controller.devstack.site, cpus: 1, memory: 1GiB, disk: 8GiB }]',
      `stack_user: { password_hash: "${hash}", ssh_public_keys: ["${userKey.public}"] }`,
    ].join('\n');
    const loaded = await parseConfigText(config, { file: 'devcluster.yaml', baseDir: work, home: work, agentSocket: undefined });
    const plan = buildPlan(loaded.config, loaded.userKeys, completeSecrets('boot', ['controller']));
    const node = plan.nodes[0]!;

    const pulled = await pullImage(imageSource(loaded.config.image, { baseDir: work, home: work }), {
      ctx: quietCtx(),
      layout: cacheLayout({ XDG_CACHE_HOME: join(work, 'cache') }),
    });
    expect(pulled.bytesDownloaded).toBe(pulled.image.size);

    const seedIso = join(work, 'seed.iso');
    await writeSeedIso(renderSeed(plan, node), seedIso);
    const overlay = join(work, 'controller.qcow2');
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', pulled.image.path, '-F', pulled.image.format, overlay, '8G']);

    const port = await freePort();
    const consoleLog = join(work, 'console.log');
    const started = Date.now();
    qemu = spawn('qemu-system-x86_64', [
      '-machine', 'q35', '-accel', 'tcg,tb-size=256', '-cpu', 'max', '-smp', '1', '-m', '1024',
      '-display', 'none', '-serial', `file:${consoleLog}`, '-monitor', 'none',
      '-drive', `file=${overlay},if=virtio,format=qcow2`,
      '-drive', `file=${seedIso},if=virtio,format=raw,readonly=on`,
      // User networking shaped like the plan's network: the node's static address and gateway work
      // (qemu wants its DNS on another address than the gateway; nothing here needs DNS).
      '-netdev', `user,id=n0,net=${plan.network.cidr},host=${plan.network.gateway},dns=${plan.network.gateway.replace(/\.1$/, '.3')},hostfwd=tcp:127.0.0.1:${port}-${node.ip}:22`,
      '-device', `virtio-net-pci,netdev=n0,mac=${node.nics[0]!.mac}`,
    ], { stdio: ['ignore', 'ignore', 'pipe'] });
    let qemuError = '';
    qemu.stderr?.on('data', (d: Buffer) => (qemuError += d.toString()));
    const qemuExited = new AbortController();
    qemu.once('exit', (code) => qemuExited.abort(new Error(`qemu exited with ${code}: ${qemuError}`)));

    const signal = AbortSignal.any([AbortSignal.timeout(600_000), qemuExited.signal]);
    const target = { label: node.name, host: '127.0.0.1', port, username: plan.stackUser.name, privateKey: userKey.private, hostKey: node.hostKey.public };
    const client = await connectPinned(target, { signal, budgetMs: 480_000 }).catch(async (error: unknown) => {
      throw new Error(`${qemuExited.signal.aborted ? (qemuExited.signal.reason as Error).message : (error as Error).message}\n--- console tail ---\n${(await readFile(consoleLog, 'utf8').catch(() => '')).slice(-3000)}`);
    });
    const sshSeconds = (Date.now() - started) / 1000;
    const run = async (command: string) => {
      const result = await execCommand(client, command, signal);
      expect(result.code, `${command}: ${result.stderr}`).toBe(0);
      return result.stdout.trim();
    };
    expect(await run('cloud-init status --wait')).toContain('done');
    const doneSeconds = (Date.now() - started) / 1000;
    expect(await run('hostname')).toBe('controller');
    expect(await run('hostname -f')).toBe('controller.devstack.site');
    expect(await run('sudo -n getent shadow stack | cut -d: -f2')).toBe(hash);
    expect((await run('cat ~/.ssh/authorized_keys')).split('\n')).toEqual(expect.arrayContaining([userKey.public, plan.clusterKey.public]));
    expect(await run('ls /etc/ssh/ | grep "^ssh_host_.*_key$"')).toBe('ssh_host_ed25519_key');
    expect((await run('sudo -n ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub')).split(' ')[1]).toBe(node.hostKey.fingerprint);
    expect(await run('ip -4 -o addr show | grep -c " inet ' + node.ip + '/24"')).toBe('1');
    expect(await run('getent hosts controller.devstack.site')).toMatch(new RegExp(`^${node.ip.replace(/\./g, '\\.')}\\s+controller\\.devstack\\.site controller$`));
    expect(await run('sudo -n grep -E "^(PasswordAuthentication|KbdInteractiveAuthentication)" /etc/ssh/sshd_config /etc/ssh/sshd_config.d/*.conf || true')).toMatch(/PasswordAuthentication no/);
    await closeClient(client);

    // The same node, pinned to any other key, is refused.
    const wrong = await connectPinned({ ...target, hostKey: generateKeyPair('impostor').public }, { signal, budgetMs: 30_000 }).catch((e: unknown) => e);
    expect(wrong).toMatchObject({ code: 'SSH_HOST_KEY_MISMATCH' });
    console.log(`boot: SSH after ${sshSeconds.toFixed(0)} s, cloud-init done after ${doneSeconds.toFixed(0)} s (TCG, 1 vCPU)`);
  }, 900_000);
});
