/**
 * After a restore the guests run on from the instant of the save: their clocks are as far behind as the
 * snapshot is old (QEMU qga/qapi-schema.json, guest-set-time: "the guest OS has no idea that there was
 * a big gap in the time … NTP might not be able to resynchronize the guest"). Each clock is stepped to
 * the host's: first through the hypervisor when it can (qemu-guest-agent, whole seconds), then measured
 * over SSH and stepped there to the host's time with nanoseconds when still off. Then the cluster must
 * answer: SSH on every node, and where DevStack ran, every nova service up again (`openstack compute
 * service list`, state from each service's last heartbeat: nova/servicegroup/drivers/db.py is_up).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { DevclusterError } from '../../errors.js';
import type { Ctx } from '../../events.js';
import type { NodePlan } from '../../plan/plan.js';
import type { SnapshotDriver } from '../../providers/snapshot.js';
import { measureClock } from '../clock.js';
import type { Operation } from '../operation.js';

/** A clock is left alone when within this of the host's. */
const CLOCK_TOLERANCE_S = 0.25;

export interface ClockResult {
  node: string;
  /** Guest minus host, in seconds, measured over SSH after the step. */
  offsetSeconds: number;
  /** How the clock was stepped: the guest agent, SSH, or not at all (it was right). */
  via: 'agent' | 'ssh' | 'none';
}

/** Step one node's clock to the host's, and say how far off it is then. */
export async function stepClock(op: Operation, node: NodePlan, driver: SnapshotDriver, ctx: Ctx): Promise<ClockResult> {
  const { signal } = ctx;
  let via: ClockResult['via'] = 'none';
  // The SSH session is opened while the agent sets the clock: the key exchange is the slow part.
  const connecting = op.session(node, { signal, budgetMs: 60_000 });
  connecting.catch(() => undefined);
  if (driver.setClock && (await driver.setClock(op.plan, node, ctx))) via = 'agent';
  await connecting;
  let offset = (await measureClock(op, node, signal, 'SNAPSHOT_FAILED')).offsetSeconds;
  for (let attempt = 0; attempt < 3 && Math.abs(offset) > CLOCK_TOLERANCE_S; attempt += 1) {
    const session = await op.session(node, { signal, budgetMs: 60_000 });
    // The host's time as the command starts, plus half the last round trip's cost, is what the guest sets.
    const epoch = (Date.now() / 1000).toFixed(6);
    const r = await session.run(`sudo -n date -u -s @${epoch} >/dev/null`, { signal, timeoutMs: 15_000, what: 'date -s' });
    if (r.code !== 0) throw new DevclusterError('SNAPSHOT_FAILED', `node ${node.name}: could not set its clock: ${r.tail.join(' ').trim()}`, { hint: 'the stack user needs sudo without a password (devcluster gives it one)' });
    via = 'ssh';
    offset = (await measureClock(op, node, signal, 'SNAPSHOT_FAILED')).offsetSeconds;
  }
  return { node: node.name, offsetSeconds: offset, via };
}

interface ServiceRow {
  Binary: string;
  Host: string;
  State: string;
  Status: string;
}

/**
 * Wait until nova says every service is up again, each compute node's nova-compute included, within the
 * budget. nova marks a service down when its last heartbeat is older than service_down_time (60 s);
 * after a restore the heartbeats resume within report_interval (10 s).
 */
export async function waitForServices(op: Operation, budgetMs: number, ctx: Ctx): Promise<string> {
  const controller = op.plan.nodes.find((n) => n.name === op.plan.controller) as NodePlan;
  const computes = op.plan.nodes.filter((n) => n.role === 'compute');
  const signal = AbortSignal.any([ctx.signal, AbortSignal.timeout(budgetMs)]);
  let last = 'nothing yet';
  for (;;) {
    try {
      const session = await op.session(controller, { signal, budgetMs });
      const r = await session.run('openstack --os-cloud devstack-admin compute service list -f json', { signal, timeoutMs: 60_000, what: 'openstack compute service list' });
      if (r.code === 0) {
        const rows = JSON.parse(r.stdout) as ServiceRow[];
        const down = rows.filter((row) => row.State !== 'up' && row.Status !== 'disabled').map((row) => `${row.Binary} on ${row.Host}`);
        const missing = computes.filter((n) => !rows.some((row) => row.Binary === 'nova-compute' && row.Host.split('.')[0] === n.shortHostname)).map((n) => n.name);
        if (down.length === 0 && missing.length === 0) return `${rows.length} nova services up`;
        last = [...down.map((d) => `${d} is down`), ...missing.map((m) => `no nova-compute of ${m}`)].join('; ');
      } else last = r.tail.join(' ').trim();
    } catch (error) {
      if (ctx.signal.aborted) throw error;
      if (!signal.aborted) last = (error as Error).message;
    }
    if (signal.aborted) {
      ctx.signal.throwIfAborted();
      throw new DevclusterError('SNAPSHOT_FAILED', `the cluster is restored, but nova's services are not all up after ${Math.round(budgetMs / 1000)} s: ${last}`, {
        hint: `look at \`devcluster ssh ${controller.name} -- openstack --os-cloud devstack-admin compute service list\` and the units' journals (journalctl -u 'devstack@*')`,
      });
    }
    ctx.report({ kind: 'phase', label: 'ready', message: `waiting for nova's services: ${last}` });
    await sleep(3000, undefined, { signal }).catch(() => undefined);
  }
}
