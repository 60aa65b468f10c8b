/**
 * `provider: virtualbox` through the CLI, with the VBoxManage stand-in first on PATH (VirtualBox
 * cannot run here, so no guest ever answers SSH): `up` makes the VMs and then fails inside its boot
 * budget with the console's last lines; meanwhile a second `up` is refused naming the first's pid;
 * `status` reads the VMs back from VirtualBox; `down` leaves none. `down` right after `up --no-wait`
 * (the stand-in keeps a powered-off VM locked for a while, as VirtualBox does until the VM process has
 * gone) removes every VM and the host-only interface; an address VirtualBox refuses leaves nothing.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '..');
const BIN = join(ROOT, 'bin', 'devcluster.js');

describe('devcluster with provider: virtualbox (VBoxManage stand-in)', () => {
  it('up makes the VMs and fails in its budget with the console tail; a second up is refused; status; down', async () => {
    const work = mkdtempSync(join(tmpdir(), 'dc-cli-vbox-'));
    const bin = join(work, 'bin');
    execFileSync('mkdir', ['-p', bin]);
    symlinkSync(join(ROOT, 'test', 'fixtures', 'vbox', 'VBoxManage'), join(bin, 'VBoxManage'));
    writeFileSync(join(work, 'networks.conf'), '* 192.168.0.0/16\n');
    const image = join(work, 'tiny.qcow2');
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', image, '64M']);
    const sha = execFileSync('sha256sum', [image]).toString().split(' ')[0];
    writeFileSync(
      join(work, 'devcluster.yaml'),
      [
        'name: vb',
        'provider: virtualbox',
        `image: { url: "file://${image}", sha256: ${sha} }`,
        'network: { cidr: 192.168.161.0/24 }',
        'nodes:',
        '  - { name: controller, role: controller, cpus: 1, memory: 512MiB, disk: 2GiB }',
        '  - { name: compute1, role: compute, cpus: 1, memory: 512MiB, disk: 2GiB }',
        '',
      ].join('\n'),
    );
    const env = {
      HOME: work,
      XDG_CACHE_HOME: join(work, 'cache'),
      PATH: `${bin}:${process.env.PATH ?? ''}`,
      VBOX_STANDIN_HOME: work,
      VBOX_STANDIN_NETWORKS_CONF: join(work, 'networks.conf'),
      VBOX_STANDIN_ACPI_IGNORE: '1',
    };
    const cli = (...args: string[]) => execa('node', [BIN, ...args], { cwd: work, env, reject: false });

    const first = cli('up', '--no-provision', '--boot-timeout', '25');
    // Wait until the first up holds the lock and has made its VMs, then try a second one.
    for (let i = 0; i < 120; i++) {
      const listed = await execa('VBoxManage', ['list', 'runningvms'], { env: { ...process.env, ...env }, reject: false });
      if (String(listed.stdout).split('\n').filter((l) => l.startsWith('"dc-vb-')).length === 2) break;
      await sleep(500);
    }
    const second = await cli('up', '--no-provision');
    expect(second.exitCode).toBe(1);
    expect(second.stderr).toContain(`error STATE_LOCKED: cluster vb is locked by pid ${first.pid}`);

    const status = JSON.parse(String((await cli('status', '--json')).stdout)) as { provider: string; nodes: Array<{ node: string; state: string; ip: string }> };
    expect(status.provider).toBe('virtualbox');
    expect(status.nodes.map((n) => `${n.node} ${n.state} ${n.ip}`)).toEqual(['compute1 running 192.168.161.11', 'controller running 192.168.161.10']);

    const failed = await first;
    expect(failed.exitCode).toBe(1);
    expect(failed.stderr).toMatch(/error NODE_BOOT_FAILED: node (controller|compute1) did not answer SSH within its budget of 0:25/);
    expect(failed.stderr).toContain('last lines of its console:');
    expect(failed.stderr).toContain('VBox stand-in');

    const down = await cli('down');
    expect(down.exitCode, down.stderr).toBe(0);
    expect(down.stdout).toContain('removed vm dc-vb-controller');
    expect(down.stdout).toContain('removed vm dc-vb-compute1');
    expect(String((await cli('status')).stdout)).toContain('cluster vb: no nodes');
    expect(down.stdout).toContain('removed host-only interface vboxnet0');
    expect(String((await execa('VBoxManage', ['list', 'hostonlyifs'], { env: { ...process.env, ...env } })).stdout)).toBe('');
  }, 180_000);

  /** A cluster folder with the stand-in first on PATH; `cidr` and the stand-in's environment vary. */
  function folder(name: string, cidr: string, extraEnv: Record<string, string>) {
    const work = mkdtempSync(join(tmpdir(), 'dc-cli-vbox-'));
    const bin = join(work, 'bin');
    execFileSync('mkdir', ['-p', bin]);
    symlinkSync(join(ROOT, 'test', 'fixtures', 'vbox', 'VBoxManage'), join(bin, 'VBoxManage'));
    const image = join(work, 'tiny.qcow2');
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', image, '64M']);
    const sha = execFileSync('sha256sum', [image]).toString().split(' ')[0];
    writeFileSync(
      join(work, 'devcluster.yaml'),
      [
        `name: ${name}`,
        'provider: virtualbox',
        `image: { url: "file://${image}", sha256: ${sha} }`,
        `network: { cidr: ${cidr} }`,
        'nodes:',
        '  - { name: controller, role: controller, cpus: 1, memory: 512MiB, disk: 2GiB }',
        '  - { name: compute1, role: compute, cpus: 1, memory: 512MiB, disk: 2GiB }',
        '',
      ].join('\n'),
    );
    const env = { HOME: work, XDG_CACHE_HOME: join(work, 'cache'), PATH: `${bin}:${process.env.PATH ?? ''}`, VBOX_STANDIN_HOME: work, ...extraEnv };
    const cli = (...args: string[]) => execa('node', [BIN, ...args], { cwd: work, env, reject: false });
    const vbox = (...args: string[]) => execFileSync(join(bin, 'VBoxManage'), args, { env: { ...process.env, ...env } }).toString();
    return { work, cli, vbox };
  }

  it('down right after up --no-wait removes every VM (waiting for VirtualBox to release them) and the host-only interface', async () => {
    const probe = mkdtempSync(join(tmpdir(), 'dc-cli-vbox-conf-'));
    writeFileSync(join(probe, 'networks.conf'), '* 192.168.0.0/16\n');
    const { cli, vbox } = folder('vbnw', '192.168.162.0/24', { VBOX_STANDIN_NETWORKS_CONF: join(probe, 'networks.conf'), VBOX_STANDIN_SESSION_RELEASE: '2' });
    const up = await cli('up', '--no-wait');
    expect(up.exitCode, up.stderr).toBe(0);
    expect(vbox('list', 'runningvms')).toMatch(/"dc-vbnw-controller"[\s\S]*"dc-vbnw-compute1"|"dc-vbnw-compute1"[\s\S]*"dc-vbnw-controller"/);
    expect(vbox('list', 'hostonlyifs')).toMatch(/^Name:\s+vboxnet0$/m);

    const down = await cli('down');
    expect(down.exitCode, down.stderr).toBe(0);
    expect(down.stdout).toContain('removed vm dc-vbnw-controller');
    expect(down.stdout).toContain('removed vm dc-vbnw-compute1');
    expect(down.stdout).toContain('removed host-only interface vboxnet0');
    expect(vbox('list', 'vms')).not.toContain('dc-vbnw-');
    expect(vbox('list', 'hostonlyifs')).toBe('');
    expect(vbox('getextradata', 'global', 'enumerate')).not.toContain('devcluster/');
  }, 180_000);

  it('an address VirtualBox refuses (no networks.conf, outside 192.168.56.0/21): up fails with the fix and leaves no interface; down leaves none either', async () => {
    const { cli, vbox } = folder('vbref', '10.163.0.0/24', { VBOX_STANDIN_NETWORKS_CONF: '/nonexistent/networks.conf' });
    const up = await cli('up', '--no-wait');
    expect(up.exitCode).toBe(1);
    expect(up.stderr).toContain('error VBOX_FAILED: host-only interface vboxnet0 refused 10.163.0.1/24');
    expect(up.stderr).toContain('hint: VirtualBox allows host-only addresses only inside 192.168.56.0/21 unless /etc/vbox/networks.conf lists more');
    expect(vbox('list', 'hostonlyifs')).toBe('');
    expect(vbox('list', 'vms')).not.toContain('dc-vbref-');
    const down = await cli('down');
    expect(down.exitCode, down.stderr).toBe(0);
    expect(vbox('list', 'hostonlyifs')).toBe('');
  }, 120_000);
});
