/**
 * `devcluster trace` on the shared cluster's real journald (test/support/shared-cluster.ts): one
 * request's entries written on three nodes as oslo.log's OSJournalHandler writes them
 * (oslo_log/handlers.py, OSJournalHandler.emit, lines 107-141 at openstack/oslo.log 7808001: MESSAGE
 * formatted, REQUEST_ID from the context's request_id (custom_fields, lines 84-90), CODE_FILE/LINE/FUNC,
 * LOGGER_NAME, LOGGER_LEVEL, SYSLOG_IDENTIFIER, PRIORITY, SYSLOG_FACILITY; MESSAGE in DevStack's
 * logging_context_format_string, devstack functions setup_systemd_logging, master 493835a line 725:
 * "%(color)s%(levelname)s %(name)s [%(global_request_id)s %(request_id)s %(project_name)s %(user_name)s] …"),
 * sent by a python3 script to journald's native socket as python-systemd's journal.send does, run as a
 * transient devstack@ unit so journald gives it the unit; unrelated entries among them; compute1's
 * clock stepped 7 s ahead for the test (and back after). `trace` must return exactly the request's
 * entries in their true order, following the global id into the local ids on the other nodes; and
 * `trace --from` on a folder of the same nodes' journal exports (the gate's layout, with the clocks)
 * the same; a node the config names but the cluster lacks gets a line and the rest is traced.
 * Leaves the cluster as it was: the clock stepped back, the transient units gone, no file left.
 */
import { execFile } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { shellQuote } from '../../src/process/quote.js';
import { sharedCluster, type SharedCluster } from '../support/shared-cluster.js';

const exec = promisify(execFile);

const NODES = ['controller', 'compute1', 'compute2'] as const;
type Node = (typeof NODES)[number];
const SKEWED: Node = 'compute1';
const SKEW_S = 7;

const id = () => `req-${randomUUID()}`;
const G = id();
const L1 = id();
const L3 = id();
const L4 = id();
const GX = id();
const LX = id();
/** This run's units are devstack@trace-RUN-SERVICE. */
const RUN = randomBytes(3).toString('hex');

/** The python3 script: each entry's fields to /run/systemd/journal/socket, as python-systemd's journal.send. */
const WRITER = `
import base64, json, socket, struct, sys, time
entries = json.loads(base64.b64decode(sys.argv[1]))
sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
for fields in entries:
    data = b''
    for key, value in fields.items():
        value = str(value).encode()
        if b'\\n' in value:
            data += key.encode() + b'\\n' + struct.pack('<Q', len(value)) + value + b'\\n'
        else:
            data += key.encode() + b'=' + value + b'\\n'
    sock.sendto(data, '/run/systemd/journal/socket')
    time.sleep(0.05)
# journald reads the sender's unit from /proc: stay until it has.
time.sleep(0.5)
`;

interface Logged {
  level: 'INFO' | 'ERROR';
  logger: string;
  /** oslo.context's global_request_id and request_id. */
  global: string;
  local: string;
  text: string;
  /** Omit the "[…]" part, as a record without a context is formatted (the field is still there). */
  bare?: boolean;
}

/** OSJournalHandler's fields for one record, MESSAGE in DevStack's colour format. */
function osloFields(service: string, r: Logged): Record<string, string | number> {
  const message = r.bare
    ? `${r.level} ${r.logger} [-] ${r.text}`
    : `\u001b[00;36m${r.level} ${r.logger} [\u001b[01;36m${r.global} ${r.local} \u001b[00;36madmin admin\u001b[00;36m] \u001b[01;35m\u001b[00;36m${r.text}\u001b[00m`;
  return {
    MESSAGE: message,
    CODE_FILE: `/opt/stack/${r.logger.split('.')[0] as string}/${r.logger.replaceAll('.', '/')}.py`,
    CODE_LINE: 42,
    CODE_FUNC: 'handle',
    THREAD_NAME: 'MainThread',
    PROCESS_NAME: 'MainProcess',
    LOGGER_NAME: r.logger,
    LOGGER_LEVEL: r.level,
    SYSLOG_IDENTIFIER: service,
    PRIORITY: r.level === 'ERROR' ? 3 : 6,
    SYSLOG_FACILITY: 8,
    REQUEST_ID: r.local,
    PROJECT_NAME: 'admin',
    USER_NAME: 'admin',
  };
}

/** What each step writes: node, service, records; steps run one after the other (their true order). */
const STEPS: Array<{ node: Node; service: string; records: Array<Logged & { related: boolean }> }> = [
  {
    node: 'controller',
    service: 'n-api',
    records: [
      { related: true, level: 'INFO', logger: 'nova.api.openstack.requestlog', global: G, local: L1, text: 'POST /compute/v2.1/servers' },
      { related: false, level: 'INFO', logger: 'nova.api.openstack.requestlog', global: GX, local: LX, text: 'GET /compute/v2.1/servers/detail' },
    ],
  },
  { node: 'controller', service: 'placement-api', records: [{ related: true, level: 'INFO', logger: 'placement.requestlog', global: G, local: L3, text: 'GET /placement/allocation_candidates' }] },
  {
    node: 'compute1',
    service: 'n-cpu',
    records: [
      { related: true, level: 'INFO', logger: 'nova.compute.claims', global: G, local: L1, text: 'Claim successful on node compute1' },
      { related: false, level: 'INFO', logger: 'nova.compute.manager', global: GX, local: LX, text: 'Took 0.1 seconds to build instance' },
    ],
  },
  {
    node: 'compute2',
    service: 'q-agt',
    records: [
      { related: true, level: 'INFO', logger: 'neutron.agent.ovs', global: G, local: L4, text: 'Port bound' },
      // Only through the local id L4: neutron's own id, no global one in the message.
      { related: true, level: 'INFO', logger: 'neutron.agent.ovs', global: 'None', local: L4, text: 'Device up' },
      { related: false, level: 'INFO', logger: 'neutron.agent.ovs', global: 'None', local: id(), text: 'periodic resync' },
    ],
  },
  { node: 'compute1', service: 'n-cpu', records: [{ related: true, level: 'ERROR', logger: 'nova.compute.manager', global: G, local: L1, text: 'Instance failed to spawn' }] },
  // Only through the REQUEST_ID field: no id in the message.
  { node: 'controller', service: 'n-api', records: [{ related: true, level: 'INFO', logger: 'nova.api.openstack.requestlog', global: G, local: L1, text: 'POST /compute/v2.1/servers status: 202', bare: true }] },
];

const EXPECTED = STEPS.flatMap((s) => s.records.filter((r) => r.related).map((r) => ({ node: s.node, unit: `trace-${RUN}-${s.service}`, level: r.level, text: r.text })));

interface JsonEntry {
  node: string;
  unit: string;
  time: string;
  nodeTime: string;
  offsetSeconds: number;
  level: string;
  requestId: string | null;
  ids: string[];
  message: string;
  cursor: string;
}

function parse(stdout: string): JsonEntry[] {
  return stdout.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as JsonEntry);
}

/** The words after the "]" (the record's own text). */
function textOf(e: JsonEntry): string {
  return e.message.slice(e.message.lastIndexOf(']') + 2);
}

describe('trace on real journald across three nodes, one clock off by seconds', () => {
  let cluster: SharedCluster;
  let sshConfig: string;
  const work = mkdtempSync(join(tmpdir(), 'dct-'));
  let skewed = false;
  let live: JsonEntry[] = [];

  /** A command on a node over OpenSSH with devcluster's config, one master connection per node. */
  async function ssh(node: Node, command: string): Promise<Buffer> {
    const { stdout } = await exec('ssh', ['-F', sshConfig, '-o', 'ControlMaster=auto', '-o', `ControlPath=${work}/%n`, '-o', 'ControlPersist=120', node, command], {
      encoding: 'buffer',
      maxBuffer: 256 * 1024 * 1024,
      timeout: 60_000,
    });
    return stdout;
  }

  /** Guest − host, seconds, from one round trip. */
  async function offset(node: Node): Promise<number> {
    const before = Date.now();
    const guest = Number((await ssh(node, 'date +%s.%N')).toString().trim());
    return guest - (before + Date.now()) / 2000;
  }

  /** Each node's clock before the test (TCG guests' clocks run off by seconds on their own). */
  const before = new Map<Node, number>();
  const startedAt = Math.floor(Date.now() / 1000) - 60;

  beforeAll(async () => {
    cluster = await sharedCluster();
    const config = await cluster.run('ssh-config');
    sshConfig = /^# (.+?) \(known hosts/.exec(config.stdout)?.[1] as string;
    expect(sshConfig, config.stderr).toBeTruthy();
    for (const node of NODES) before.set(node, await offset(node));
    await ssh(SKEWED, `sudo -n date -s '+${SKEW_S} seconds' >/dev/null`);
    skewed = true;
    for (const step of STEPS) {
      const payload = Buffer.from(JSON.stringify(step.records.map((r) => osloFields(step.service, r)))).toString('base64');
      await ssh(step.node, `sudo -n systemd-run --quiet --wait --collect --unit=devstack@trace-${RUN}-${step.service} /usr/bin/python3 -c ${shellQuote(WRITER)} ${shellQuote(payload)}`);
    }
  }, 45 * 60_000);

  afterAll(async () => {
    try {
      if (skewed) {
        await ssh(SKEWED, `sudo -n date -s '-${SKEW_S} seconds' >/dev/null`);
        // Back where it was, give or take the measuring and what TCG guests drift meanwhile.
        expect(Math.abs((await offset(SKEWED)) - (before.get(SKEWED) ?? 0))).toBeLessThan(1.5);
      }
    } finally {
      for (const node of NODES) await exec('ssh', ['-F', sshConfig, '-o', `ControlPath=${work}/%n`, '-O', 'exit', node]).catch(() => undefined);
      rmSync(work, { recursive: true, force: true });
    }
  });

  it('from the global id: exactly the related entries on the three nodes, in true order, the skewed clock corrected', async () => {
    const r = await cluster.run('trace', G, '--json');
    expect(r.exitCode, r.stderr).toBe(0);
    live = parse(r.stdout);
    expect(live.map((e) => ({ node: e.node, unit: e.unit, level: e.level, text: textOf(e) }))).toEqual(EXPECTED);
    // The local ids on the other nodes were followed: L4's "Device up" names no global id, "status: 202" no id at all.
    expect(r.stderr).toMatch(new RegExp(`request ids followed in 2 rounds: ${G}, (${L1}|${L3}|${L4}), `));
    for (const local of [L1, L3, L4]) expect(r.stderr).toContain(local);
    expect(r.stdout).not.toContain(LX);
    expect(r.stdout).not.toContain(GX);
    // compute1's entries carry its measured offset; the host-clock times are in order, the node times are not.
    for (const e of live) {
      expect(Math.abs(e.offsetSeconds - (before.get(e.node as Node) ?? 0) - (e.node === SKEWED ? SKEW_S : 0)), e.node).toBeLessThan(1);
      expect(Date.parse(e.nodeTime) - Date.parse(e.time)).toBeCloseTo(e.offsetSeconds * 1000, -1);
    }
    const times = live.map((e) => Date.parse(e.time));
    expect(times).toEqual([...times].sort((a, b) => a - b));
    const nodeTimes = live.map((e) => Date.parse(e.nodeTime));
    expect(nodeTimes).not.toEqual([...nodeTimes].sort((a, b) => a - b));
    expect(live.find((e) => textOf(e) === 'Device up')).toMatchObject({ node: 'compute2', requestId: L4, ids: [L4] });
    expect(r.stderr).toMatch(new RegExp(`clocks against the host, subtracted: controller [+-]\\d+\\.\\d{3} s \\(±\\d+ ms\\), ${SKEWED} `));
  });

  it('from a local id, as text, with a node that is not there: the same entries and a line for it; a --since after them (with spaces, quoted to journalctl) holds none', async () => {
    // The shared cluster's config plus a compute3 that was never made (same folder: same state, same keys).
    const extra = join(cluster.work, `trace-${RUN}.yaml`);
    writeFileSync(extra, readFileSync(join(cluster.work, 'devcluster.yaml'), 'utf8').replace(/^( {2}- \{ name: compute2, .*)$/m, '$1\n  - { name: compute3, role: compute, cpus: 1, memory: 1GiB, disk: 8GiB }'));
    let text: Awaited<ReturnType<SharedCluster['run']>>;
    try {
      text = await cluster.run('-c', extra, 'trace', L4);
    } finally {
      rmSync(extra, { force: true });
    }
    expect(text.exitCode, text.stderr).toBe(0);
    expect(text.stderr).toContain('compute3: not traced: it does not exist');
    const lines = text.stdout.trimEnd().split('\n');
    expect(lines.map((l) => l.slice(l.lastIndexOf(']') + 2))).toEqual(EXPECTED.map((e) => e.text));
    expect(lines[0]).toMatch(new RegExp(`^controller +trace-${RUN}-n-api +\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z +INFO +INFO nova\\.api`));
    expect(lines.find((l) => l.includes('Instance failed to spawn'))).toMatch(/^compute1 .* ERROR +ERROR nova\.compute\.manager/);

    const later = new Date(Date.now() + 60_000).toISOString().replace('T', ' ').slice(0, 19);
    const none = await cluster.run('trace', G, '--since', `${later} UTC`);
    expect(none.exitCode, none.stderr).toBe(0);
    expect(none.stdout).toBe('');
    expect(none.stderr).toContain(`no journal entry on 3 nodes names ${G}`);
  });

  it('--from a folder of the same nodes\' journal exports (gate layout, clocks recorded) gives the same result as live', async () => {
    expect(live.length).toBe(EXPECTED.length);
    const dir = join(work, 'collected');
    for (const node of NODES) {
      mkdirSync(join(dir, node, 'logs'), { recursive: true });
      const exported = await ssh(node, `sudo -n journalctl -o export --since=@${startedAt}`);
      writeFileSync(join(dir, node, 'logs', 'devstack.journal.gz'), gzipSync(exported));
    }
    const offsets = Object.fromEntries(NODES.map((n) => [n, { offsetSeconds: live.find((e) => e.node === n)?.offsetSeconds }]));
    writeFileSync(join(dir, 'devcluster-clocks.json'), JSON.stringify({ measuredAt: new Date().toISOString(), nodes: offsets }));
    const r = await cluster.run('trace', G, '--json', '--from', dir);
    expect(r.exitCode, r.stderr).toBe(0);
    const strip = (e: JsonEntry) => ({ ...e, cursor: undefined });
    expect(parse(r.stdout).map(strip)).toEqual(live.map(strip));
    expect(r.stderr).toContain('clock offsets as recorded at');
  });
});
