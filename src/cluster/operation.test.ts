/**
 * The operation scope every command goes through: what 'look' and 'change' write to the state folder,
 * the cluster lock, and that the provider, the lock and the SSH sessions are closed however the
 * operation ends. The hypervisor is a double (createProvider is replaced); the files are real.
 */
import { mkdtemp, readdir, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { parseConfigText, type LoadedConfig } from '../config/load.js';
import { quietCtx } from '../events.js';
import { SessionPool } from '../ssh/session.js';
import { stateDirFor, stateLayout } from '../state/layout.js';
import { withCluster } from './operation.js';

const made: Array<{ closed: number }> = [];
vi.mock('../providers/index.js', () => ({
  createProvider: () => {
    const record = { closed: 0 };
    made.push(record);
    return {
      name: 'libvirt',
      listNodes: async () => [],
      sshEndpoint: () => ({ host: '127.0.0.1', port: 1 }),
      close: async () => {
        record.closed += 1;
      },
    };
  },
}));

let loaded: LoadedConfig;
beforeEach(async () => {
  made.length = 0;
  const baseDir = await mkdtemp(join(tmpdir(), 'dc-operation-'));
  loaded = await parseConfigText('name: opx\nnodes: [{ name: controller, role: controller }, { name: compute1, role: compute }]\n', {
    file: join(baseDir, 'devcluster.yaml'),
    baseDir,
    home: baseDir,
    agentSocket: undefined,
  });
});
afterEach(() => vi.restoreAllMocks());

describe('withCluster', () => {
  it("'look' writes nothing and makes no provider it is not asked for; the keys are made up for the run", async () => {
    const first = await withCluster(loaded, { mode: 'look', lock: false }, quietCtx(), async (op) => ({ key: op.plan.clusterKey.public, madeUp: op.secretsMadeUp, nodes: op.plan.nodes.map((n) => n.name) }));
    const second = await withCluster(loaded, { mode: 'look', lock: false }, quietCtx(), async (op) => op.plan.clusterKey.public);
    expect(first.madeUp).toBe(true);
    expect(first.nodes).toEqual(['controller', 'compute1']);
    expect(second).not.toBe(first.key);
    expect(await readdir(loaded.baseDir)).toEqual([]);
    expect(made).toHaveLength(0);
  });

  it("'change' keeps the keys (0600) and later operations, 'look' ones too, use the same", async () => {
    const key = await withCluster(loaded, { mode: 'change', lock: false }, quietCtx(), async (op) => op.plan.clusterKey.public);
    const layout = stateLayout(stateDirFor(loaded.baseDir, 'opx'));
    expect((await stat(layout.secrets)).mode & 0o777).toBe(0o600);
    expect((await stat(layout.dir)).mode & 0o777).toBe(0o700);
    const again = await withCluster(loaded, { mode: 'change', lock: false }, quietCtx(), async (op) => op.plan.clusterKey.public);
    const looked = await withCluster(loaded, { mode: 'look', lock: false }, quietCtx(), async (op) => ({ key: op.plan.clusterKey.public, madeUp: op.secretsMadeUp }));
    expect(again).toBe(key);
    expect(looked).toEqual({ key, madeUp: false });
  });

  it('holds the lock while it runs: a second locked operation is refused with the holder, an unlocked one is not', async () => {
    const lockFile = stateLayout(stateDirFor(loaded.baseDir, 'opx')).lock;
    await withCluster(loaded, { mode: 'change', lock: true }, quietCtx(), async () => {
      await expect(stat(lockFile)).resolves.toBeTruthy();
      const refused = await withCluster(loaded, { mode: 'look', lock: true }, quietCtx(), async () => 'ran').catch((e: unknown) => e);
      expect(refused).toMatchObject({ code: 'STATE_LOCKED', message: expect.stringContaining(`pid ${process.pid}`) });
      expect(await withCluster(loaded, { mode: 'look', lock: false }, quietCtx(), async () => 'ran')).toBe('ran');
    });
    await expect(stat(lockFile)).rejects.toThrow();
  });

  it('closes the sessions, releases the lock and closes the provider when the work fails', async () => {
    const closeAll = vi.spyOn(SessionPool.prototype, 'closeAll');
    const error = await withCluster(loaded, { mode: 'change', lock: true }, quietCtx(), async (op) => {
      await op.provider.listNodes('opx', quietCtx());
      expect(op.pool).toBe(op.pool);
      throw new Error('the work failed');
    }).catch((e: unknown) => e);
    expect((error as Error).message).toBe('the work failed');
    expect(closeAll).toHaveBeenCalledTimes(1);
    expect(made).toEqual([{ closed: 1 }]);
    // The lock is free again.
    expect(await withCluster(loaded, { mode: 'change', lock: true }, quietCtx(), async () => 'ran')).toBe('ran');
    expect(made).toHaveLength(1);
  });

  it('a refused lock leaves nothing open and writes no secrets', async () => {
    await withCluster(loaded, { mode: 'look', lock: true }, quietCtx(), async () => {
      const refused = await withCluster(loaded, { mode: 'change', lock: true }, quietCtx(), async () => 'ran').catch((e: unknown) => e);
      expect(refused).toMatchObject({ code: 'STATE_LOCKED' });
    });
    expect(await readdir(stateDirFor(loaded.baseDir, 'opx'))).toEqual([]);
    expect(made).toHaveLength(0);
  });
});
