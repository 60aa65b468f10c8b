/**
 * `devcluster snapshot` with `provider: virtualbox`, through the CLI with the VBoxManage stand-in first
 * on PATH (no guest runs, so restores use --no-wait: no clock step or SSH check): save, list (sizes
 * read back from VirtualBox, the method and why), restore of the running cluster, again, after `halt`,
 * delete then list, and `down` leaving no snapshot file. The stand-in refuses what VirtualBox refuses
 * (a restore of a running VM, --live on a paused one), so each step passing means the driver did it
 * VirtualBox's way.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '..');
const BIN = join(ROOT, 'bin', 'devcluster.js');
const MiB = 1048576;

interface Listing {
  provider: string;
  method: { id: string; description: string };
  snapshots: Array<{ name: string; bytes: number; nodes: string[]; problems: string[] }>;
}

describe('devcluster snapshot with provider: virtualbox (VBoxManage stand-in)', () => {
  it('save, list, restore (running, again, after halt), delete then list, down leaves no snapshot file', async () => {
    const work = mkdtempSync(join(tmpdir(), 'dc-cli-vbox-snap-'));
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
        'name: vbs',
        'provider: virtualbox',
        `image: { url: "file://${image}", sha256: ${sha} }`,
        'network: { cidr: 192.168.165.0/24 }',
        'nodes:',
        '  - { name: controller, role: controller, cpus: 1, memory: 512MiB, disk: 2GiB }',
        '  - { name: compute1, role: compute, cpus: 1, memory: 256MiB, disk: 2GiB }',
        '',
      ].join('\n'),
    );
    const env = {
      HOME: work,
      XDG_CACHE_HOME: join(work, 'cache'),
      PATH: `${bin}:${process.env.PATH ?? ''}`,
      VBOX_STANDIN_HOME: work,
      VBOX_STANDIN_NETWORKS_CONF: join(work, 'networks.conf'),
      VBOX_STANDIN_SESSION_RELEASE: '0.5',
      VBOX_STANDIN_GUEST_WRITES_MB: '2',
    };
    const cli = (...args: string[]) => execa('node', [BIN, ...args], { cwd: work, env, reject: false });
    const vbox = (...args: string[]) => execFileSync(join(bin, 'VBoxManage'), args, { env: { ...process.env, ...env } }).toString();
    const states = async () => (JSON.parse(String((await cli('status', '--json')).stdout)) as { nodes: Array<{ node: string; state: string }> }).nodes.map((n) => `${n.node} ${n.state}`);
    const listing = async () => JSON.parse(String((await cli('snapshot', 'list', '--json')).stdout)) as Listing;
    const vmFiles = (suffix: string) => readdirSync(join(work, 'VirtualBox VMs'), { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith(suffix) && !f.includes('dc-base-'));

    const up = await cli('up', '--no-wait');
    expect(up.exitCode, up.stderr).toBe(0);

    const saved = await cli('snapshot', 'save', 's1');
    expect(saved.exitCode, saved.stderr).toBe(0);
    // 2 MB the guests wrote since they started, and each node's memory (512 + 256 MiB).
    expect(saved.stdout).toContain('snapshot s1 saved: 2 nodes, 772 MiB on disk');
    expect(await states()).toEqual(['compute1 running', 'controller running']);
    expect(vmFiles('.sav')).toHaveLength(2);

    const list = await listing();
    expect(list.provider).toBe('virtualbox');
    expect(list.method.id).toBe('virtualbox-live');
    expect(list.snapshots.map((s) => ({ name: s.name, bytes: s.bytes, nodes: s.nodes.sort(), problems: s.problems }))).toEqual([
      { name: 's1', bytes: 2 * 2 * MiB + 768 * MiB, nodes: ['compute1', 'controller'], problems: [] },
    ]);
    const table = await cli('snapshot', 'list');
    expect(table.stdout).toContain('method (virtualbox): VirtualBox snapshots with memory');
    expect(table.stdout).toContain('back to back (poweroff, snapshot restore, startvm)');
    expect(table.stdout).toMatch(/^s1\s+\S+\s+772 MiB\s+no\s+yes$/m);

    // The disk layer each running node writes to after the save is discarded by the restore.
    const written = vbox('showvminfo', 'dc-vbs-controller', '--machinereadable').match(/^"SATA-0-0"="(.+)"$/m)?.[1] as string;
    expect(existsSync(written)).toBe(true);
    const restored = await cli('snapshot', 'restore', 's1', '--no-wait');
    expect(restored.exitCode, restored.stderr).toBe(0);
    expect(restored.stdout).toContain('snapshot s1 (saved ');
    expect(restored.stdout).toContain('restored: every node back and running');
    expect(existsSync(written)).toBe(false);
    expect(await states()).toEqual(['compute1 running', 'controller running']);

    const again = await cli('snapshot', 'restore', 's1', '--no-wait');
    expect(again.exitCode, again.stderr).toBe(0);
    expect(await states()).toEqual(['compute1 running', 'controller running']);

    const halted = await cli('halt', '--timeout', '10');
    expect(halted.exitCode, halted.stderr).toBe(0);
    expect(await states()).toEqual(['compute1 stopped', 'controller stopped']);
    const afterHalt = await cli('snapshot', 'restore', 's1', '--no-wait');
    expect(afterHalt.exitCode, afterHalt.stderr).toBe(0);
    expect(await states()).toEqual(['compute1 running', 'controller running']);

    expect((await cli('snapshot', 'save', 's2')).exitCode).toBe(0);
    expect((await listing()).snapshots.map((s) => s.name)).toEqual(['s1', 's2']);
    const deleted = await cli('snapshot', 'delete', 's2');
    expect(deleted.exitCode, deleted.stderr).toBe(0);
    expect(deleted.stdout).toMatch(/^snapshot s2 deleted \(77\d MiB freed\)$/m);
    expect((await listing()).snapshots.map((s) => s.name)).toEqual(['s1']);
    expect(vbox('snapshot', 'dc-vbs-controller', 'list', '--machinereadable')).not.toContain('devcluster-s2');

    const down = await cli('down');
    expect(down.exitCode, down.stderr).toBe(0);
    expect(vbox('list', 'vms')).not.toContain('dc-vbs-');
    expect(vmFiles('.sav')).toEqual([]);
    expect(vmFiles('.vdi')).toEqual([]);
    expect(vmFiles('.vbox')).toEqual([]);
  }, 240_000);
});
