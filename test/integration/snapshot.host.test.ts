/**
 * Cluster snapshots on real guests: the run's shared stacked cluster (test/support/shared-cluster.ts,
 * three nodes on qemu:///system, the fake DevStack), whose `up` saved `stacked` (snapshots.after_up).
 *
 * - A TCP connection from compute1 to the controller, held by a process started before `snapshot
 *   save`, is still open and carries data after `snapshot restore` (twice in a row); the processes at
 *   both ends run; a file written after the save is gone; every node's clock is within 2 s of the
 *   host's, though the snapshot is older than that.
 * - `snapshot list` shows sizes read from the pool and the method; delete then list; the pool holds
 *   none of a deleted snapshot's files.
 * - Restore after `halt` (`reset`, to `stacked`, minutes old): the nodes run again from the snapshot,
 *   and `reset` returns only once nova counts every nova-compute up again (the fake DevStack's service
 *   list ages heartbeats as nova does, so a stepped clock makes them look down until the next report).
 * The cluster is left as it was found: running, at a state it had (`stacked`), nothing added.
 */
import { execFileSync } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import { sharedCluster, SHARED_NODES, type SharedCluster } from '../support/shared-cluster.js';

const NODES = ['controller', 'compute1', 'compute2'] as const;
const PORT = 7741;

/** An echo server (controller) and a client holding one connection (compute1), fed through a FIFO. */
const SERVER = `import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('0.0.0.0', ${PORT})); s.listen(1)
c, _ = s.accept()
f = c.makefile('rwb', buffering=0)
for line in f:
    f.write(b'echo:' + line)
`;
const CLIENT = `import os, socket
c = socket.create_connection(('${SHARED_NODES.controller}', ${PORT}))
f = c.makefile('rwb', buffering=0)
fifo = open(os.open('/tmp/snapcli.in', os.O_RDWR), 'rb', buffering=0)
out = open('/tmp/snapcli.out', 'ab', buffering=0)
for line in fifo:
    f.write(line)
    out.write(f.readline())
`;

interface ListJson {
  method: { id: string; description: string };
  snapshots: Array<{ name: string; bytes: number; nodes: string[]; problems: string[]; stacked?: boolean }>;
}

describe('cluster snapshots on the shared cluster (libvirt, real guests)', () => {
  let cluster: SharedCluster;
  const ssh = async (node: string, command: string) => {
    const r = await cluster.run('ssh', node, '--', command);
    return { ...r, stdout: r.stdout.trim() };
  };
  /** Guest time minus host time, in seconds, over one ssh round trip (its middle). */
  const offset = async (node: string) => {
    const before = Date.now();
    const r = await ssh(node, 'date +%s.%N');
    const after = Date.now();
    return Number(r.stdout) - (before + after) / 2000;
  };
  const send = async (word: string) => {
    await ssh('compute1', `echo ${word} > /tmp/snapcli.in`);
    for (let i = 0; i < 40; i++) {
      if ((await ssh('compute1', 'cat /tmp/snapcli.out')).stdout.split('\n').includes(`echo:${word}`)) return true;
      await sleep(500);
    }
    return false;
  };
  const list = async () => {
    const r = await cluster.run('snapshot', 'list', '--json');
    expect(r.exitCode, r.stderr).toBe(0);
    return JSON.parse(r.stdout) as ListJson;
  };
  const poolFiles = (snapshot: string) =>
    execFileSync('virsh', ['-q', '-c', 'qemu:///system', 'vol-list', 'default']).toString().split('\n').map((l) => l.trim().split(/\s+/)[0] ?? '').filter((v) => v.startsWith(`dc-${cluster.name}-`) && v.includes(`-snap-${snapshot}.`));

  beforeAll(async () => {
    cluster = await sharedCluster();
  }, 45 * 60_000);

  it('up saved `stacked`: listed with its size, restorable, and the method this host uses', async () => {
    expect(cluster.up.stdout).toMatch(/snapshot stacked saved: 3 nodes, [\d.]+ \w+ on disk/);
    const listed = await list();
    expect(listed.method.id).toBe('external+restore');
    expect(listed.method.description).toMatch(/virsh restore/);
    const stacked = listed.snapshots.find((s) => s.name === 'stacked');
    expect(stacked?.problems).toEqual([]);
    expect(stacked?.stacked).toBe(true);
    expect(stacked?.nodes.sort()).toEqual([...NODES].sort());
    // At least the memory the guests use: more than 100 MiB for three booted nodes.
    expect(stacked?.bytes).toBeGreaterThan(100 * 1024 ** 2);
    expect(poolFiles('stacked')).toHaveLength(3);
  });

  it('a connection, processes, files and clocks across save and two restores', async () => {
    await ssh('controller', `cat > /tmp/snapsrv.py <<'EOF'\n${SERVER}EOF\nsetsid nohup python3 /tmp/snapsrv.py >/dev/null 2>&1 < /dev/null & echo $! > /tmp/snapsrv.pid`);
    await sleep(1000);
    await ssh('compute1', `rm -f /tmp/snapcli.in /tmp/snapcli.out; mkfifo /tmp/snapcli.in; cat > /tmp/snapcli.py <<'EOF'\n${CLIENT}EOF\nsetsid nohup python3 /tmp/snapcli.py >/dev/null 2>&1 < /dev/null & echo $! > /tmp/snapcli.pid`);
    try {
      expect(await send('before')).toBe(true);
      const clientPid = (await ssh('compute1', 'cat /tmp/snapcli.pid')).stdout;
      const serverPid = (await ssh('controller', 'cat /tmp/snapsrv.pid')).stdout;

      const save = await cluster.run('snapshot', 'save', 't1');
      expect(save.exitCode, save.stderr).toBe(0);
      expect(save.stdout).toMatch(/snapshot t1 saved: 3 nodes/);
      const savedAt = Date.now();
      // A second save under the same name is refused, and changes nothing.
      const again = await cluster.run('snapshot', 'save', 't1');
      expect(again.exitCode).toBe(1);
      expect(again.stderr).toContain('SNAPSHOT_EXISTS');

      for (const node of NODES) await ssh(node, 'echo after > /home/stack/after-save.txt');
      expect(await send('between')).toBe(true);
      // The snapshot is older than the clock tolerance when it comes back.
      await sleep(Math.max(0, 8000 - (Date.now() - savedAt)));

      for (const round of ['first', 'second']) {
        const restore = await cluster.run('snapshot', 'restore', 't1');
        expect(restore.exitCode, `${round} restore: ${restore.stderr}`).toBe(0);
        expect(restore.stdout).toMatch(/every node back and running/);
        expect(restore.stdout).toMatch(/ready: SSH answers on 3 nodes \(clocks stepped in [\d.]+ s\); \d+ nova services up/);
        for (const node of NODES) {
          expect((await ssh(node, 'test -e /home/stack/after-save.txt; echo $?')).stdout, `${node} after the ${round} restore`).toBe('1');
          expect(Math.abs(await offset(node)), `${node}'s clock after the ${round} restore`).toBeLessThan(2);
        }
        expect((await ssh('compute1', `kill -0 ${clientPid} && echo alive`)).stdout).toBe('alive');
        expect((await ssh('controller', `kill -0 ${serverPid} && echo alive`)).stdout).toBe('alive');
        // The connection opened before the save carries data again; what went through after the save is forgotten.
        expect(await send(`after-${round}`)).toBe(true);
        expect((await ssh('compute1', 'cat /tmp/snapcli.out')).stdout.split('\n')).toEqual(['echo:before', `echo:after-${round}`]);
      }

      const del = await cluster.run('snapshot', 'delete', 't1');
      expect(del.exitCode, del.stderr).toBe(0);
      expect((await list()).snapshots.map((s) => s.name)).toEqual(['stacked']);
      expect(poolFiles('t1')).toEqual([]);
      const gone = await cluster.run('snapshot', 'restore', 't1');
      expect(gone.exitCode).toBe(1);
      expect(gone.stderr).toContain('SNAPSHOT_NOT_FOUND');
    } finally {
      await ssh('compute1', 'pkill -f /tmp/snapcli.py; rm -f /tmp/snapcli.*');
      await ssh('controller', 'pkill -f /tmp/snapsrv.py; rm -f /tmp/snapsrv.*');
    }
  }, 20 * 60_000);

  it('restore after halt: `reset` brings the halted cluster back to `stacked`, running', async () => {
    await ssh('controller', 'echo x > /home/stack/before-halt.txt');
    const halt = await cluster.run('halt', '--timeout', '60');
    expect(halt.exitCode, halt.stderr).toBe(0);
    const reset = await cluster.run('reset');
    expect(reset.exitCode, reset.stderr).toBe(0);
    expect(reset.stdout).toMatch(/snapshot stacked .* restored/);
    const status = JSON.parse((await cluster.run('status', '--json')).stdout) as { nodes: Array<{ node: string; state: string }> };
    expect(status.nodes.map((n) => n.state)).toEqual(['running', 'running', 'running']);
    expect((await ssh('controller', 'test -e /home/stack/before-halt.txt; echo $?')).stdout).toBe('1');
    for (const node of NODES) expect(Math.abs(await offset(node))).toBeLessThan(2);
    // `stacked` is minutes old: with the clocks stepped, nova-compute's last heartbeat looked older than
    // service_down_time until it reported again, which `reset` waited for. Right after it, nova agrees.
    expect(reset.stdout).toMatch(/ready: SSH answers on 3 nodes \(clocks stepped in [\d.]+ s\); \d+ nova services up/);
    // Every node runs n-cpu here (the controller too, DevStack's default).
    const services = await ssh('controller', 'openstack --os-cloud devstack-admin compute service list --service nova-compute -f value -c Host -c State');
    expect(services.stdout.split('\n').sort()).toEqual(['compute1 up', 'compute2 up', 'controller up']);
  }, 20 * 60_000);
});
