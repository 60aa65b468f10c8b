/**
 * `provider: virtualbox` through the CLI, with the VBoxManage stand-in first on PATH (VirtualBox
 * cannot run here, so no guest ever answers SSH): `up` makes the VMs and then fails inside its boot
 * budget with the console's last lines; meanwhile a second `up` is refused naming the first's pid;
 * `status` reads the VMs back from VirtualBox; `down` leaves none.
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
  }, 180_000);
});
