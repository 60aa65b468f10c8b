/**
 * The boot wait of `up` against a real sshd on loopback, with a provider double standing in for the
 * hypervisor (its states and stop details in the shape LibvirtProvider returns them; the real thing in
 * test/integration/node-stops.host.test.ts) and a `cloud-init` stand-in first on the session's PATH:
 * - a node that stops running fails the wait within seconds, while SSH is still refused or while
 *   cloud-init is still running, with the hypervisor's words and the fix;
 * - `cloud-init status --wait` exit 2 (recoverable errors) is a warning with `status --long`; 1 fails.
 */
import { chmod, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfigText } from '../config/load.js';
import type { ProgressEvent } from '../events.js';
import { buildPlan, type ClusterPlan } from '../plan/plan.js';
import type { NodeState, Provider } from '../providers/provider.js';
import { SessionPool } from '../ssh/session.js';
import { completeSecrets } from '../state/secrets.js';
import { freePort, startSshd, type TestSshd } from '../../test/support/sshd.js';
import { waitForNode } from './up.js';

/**
 * cloud-init's `status` as cloud-init ≥ 23.4 answers it. cloudinit/cmd/status.py handle_status_args
 * returns 1 for an error, 2 when the condition is DEGRADED (recoverable errors: "extended_status:
 * degraded done"), else 0; `--wait` prints a dot per poll and then the status line
 * (tests/unittests/cmd/test_status.py, test_status_wait_blocks_until_done: "....\nstatus: done\n");
 * `--long` prints status, extended_status, boot_status_code, last_update, detail, errors and
 * recoverable_errors (test_status_output, "on_errors_long"). `slow` keeps `--wait` waiting.
 */
const CLOUD_INIT = `#!/bin/bash
mode=$(cat "$(dirname "$0")/mode")
if [[ "$1 $2" == "status --wait" ]]; then
  [[ $mode == slow ]] && { sleep 120; }
  printf '..\\n'
  case $mode in
    error) printf 'status: error\\n'; exit 1 ;;
    degraded) printf 'status: done\\n'; exit 2 ;;
    *) printf 'status: done\\n'; exit 0 ;;
  esac
fi
if [[ "$1 $2" == "status --long" ]]; then
  case $mode in
    error) printf 'status: error\\nextended_status: error\\nboot_status_code: enabled-by-generator\\nlast_update: Thu, 01 Jan 1970 00:02:05 +0000\\ndetail:\\nDataSourceNoCloud [seed=/dev/vdb][dsmode=net]\\nerrors:\\n\\t- (\\x27users_groups\\x27, KeyError(\\x27stack\\x27))\\nrecoverable_errors: {}\\n' ;;
    *) printf 'status: done\\nextended_status: degraded done\\nboot_status_code: enabled-by-generator\\nlast_update: Thu, 01 Jan 1970 00:02:08 +0000\\ndetail:\\nDataSourceNoCloud [seed=/dev/vdb][dsmode=net]\\nerrors: []\\nrecoverable_errors:\\nWARNING:\\n\\t- Failed at merging in cloud config part from p-01: empty cloud config\\n' ;;
  esac
  exit 0
fi
exit 3
`;

let sshd: TestSshd;
let bin: string;
let plan: ClusterPlan;

beforeAll(async () => {
  bin = await mkdtemp(join(tmpdir(), 'dc-fake-cloud-init-'));
  await writeFile(join(bin, 'cloud-init'), CLOUD_INIT);
  await chmod(join(bin, 'cloud-init'), 0o755);
  const loaded = await parseConfigText('network: { cidr: 127.0.0.0/24 }\nnodes: [{ name: controller, role: controller, ip: 127.0.0.10 }]\n', {
    file: 'x',
    baseDir: tmpdir(),
    home: tmpdir(),
    agentSocket: undefined,
  });
  const secrets = completeSecrets('dev', ['controller']);
  const built = buildPlan(loaded.config, [], secrets);
  sshd = await startSshd(secrets.host_keys.controller!, [built.clusterKey.public], '127.0.0.1', [`SetEnv PATH=${bin}:/usr/bin:/bin`]);
  // The stack user is whoever runs the tests (sshd logs in as that user).
  plan = { ...built, stackUser: { ...built.stackUser, name: sshd.user } };
});
afterAll(async () => {
  await sshd?.stop();
});

/** The hypervisor double: `state()` is asked at every poll; stop details as LibvirtProvider.stopDetails words them. */
function provider(port: number, state: () => NodeState | undefined): Provider {
  return {
    name: 'libvirt',
    sshEndpoint: () => ({ host: '127.0.0.1', port }),
    nodeState: async () => state(),
    // libvirt has nothing to say about a domain that no longer exists.
    stopDetails: async () => state() === undefined ? [] : [
      'libvirt: dc-dev-controller is paused (unknown)',
      '/var/log/libvirt/qemu/dc-dev-controller.log: KVM internal error. Suberror: 1',
      '/var/log/libvirt/qemu/dc-dev-controller.log: emulation failure',
    ],
    consoleTail: async () => 'SYSLINUX 6.04 EDD 20210613 Copyright (C) 1994-2015 H. Peter Anvin et al\n',
  } as unknown as Provider;
}

async function setMode(mode: 'done' | 'degraded' | 'error' | 'slow'): Promise<void> {
  await writeFile(join(bin, 'mode'), mode);
}

function ctx() {
  const events: ProgressEvent[] = [];
  return { events, ctx: { signal: new AbortController().signal, report: (e: ProgressEvent) => events.push(e) } };
}

const node = () => plan.nodes[0]!;

describe('waitForNode: a node that stops running', () => {
  it('while SSH is refused: fails within seconds (not the 10-minute budget) with libvirt\'s and qemu\'s words and the fix', async () => {
    const closed = await freePort(); // nothing listens: SSH keeps being refused
    let polls = 0;
    const { ctx: c } = ctx();
    const pool = new SessionPool([]);
    const started = Date.now();
    const error = await waitForNode(provider(closed, () => (++polls >= 2 ? 'paused' : 'running')), plan, node(), 600_000, c, pool).catch((e: unknown) => e);
    await pool.closeAll();
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(error).toMatchObject({
      code: 'NODE_BOOT_FAILED',
      message: expect.stringMatching(/^node controller stopped running 0:0\d after it started: it is paused$/),
      details: expect.arrayContaining(['/var/log/libvirt/qemu/dc-dev-controller.log: KVM internal error. Suberror: 1', '| SYSLINUX 6.04 EDD 20210613 Copyright (C) 1994-2015 H. Peter Anvin et al']),
      hint: expect.stringContaining('set `libvirt.accelerator: tcg`'),
    });
    expect((error as { details: string[] }).details[0]).toBe('libvirt: dc-dev-controller is paused (unknown)');
  });

  it('while cloud-init runs: the wait on the node is cancelled and fails the same way; a VM that is gone says so', async () => {
    await setMode('slow');
    let polls = 0;
    const { ctx: c } = ctx();
    const pool = new SessionPool([]);
    const started = Date.now();
    const error = await waitForNode(provider(sshd.port, () => (++polls >= 3 ? undefined : 'running')), plan, node(), 600_000, c, pool).catch((e: unknown) => e);
    await pool.closeAll();
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(error).toMatchObject({ code: 'NODE_BOOT_FAILED', message: expect.stringContaining('it is gone'), hint: expect.stringContaining('removed while `up` waited') });
  });

  it('a node that keeps running is waited for as before', async () => {
    await setMode('done');
    const { ctx: c, events } = ctx();
    const pool = new SessionPool([]);
    await waitForNode(provider(sshd.port, () => 'running'), plan, node(), 60_000, c, pool);
    await pool.closeAll();
    expect(events.some((e) => e.kind === 'phase' && /ready after/.test(e.message))).toBe(true);
    expect(events.some((e) => e.kind === 'note')).toBe(false);
  });
});

describe('waitForNode: cloud-init status exit codes', () => {
  it('2 (recoverable errors, cloud-init ≥ 23.4): a warning with `status --long`, and the node is ready', async () => {
    await setMode('degraded');
    const { ctx: c, events } = ctx();
    const pool = new SessionPool([]);
    await waitForNode(provider(sshd.port, () => 'running'), plan, node(), 60_000, c, pool);
    await pool.closeAll();
    const note = events.find((e) => e.kind === 'note');
    expect(note?.kind === 'note' && note.message).toMatch(/^controller: cloud-init finished with recoverable errors \(exit 2\); going on\. cloud-init status --long:\n {2}status: done\n {2}extended_status: degraded done\n/);
    expect(note?.kind === 'note' && note.message).toContain('Failed at merging in cloud config part from p-01: empty cloud config');
    expect(events.some((e) => e.kind === 'phase' && /ready after/.test(e.message))).toBe(true);
  });

  it('1 (an error): the wait fails with what `status --long` says', async () => {
    await setMode('error');
    const { ctx: c } = ctx();
    const pool = new SessionPool([]);
    const error = await waitForNode(provider(sshd.port, () => 'running'), plan, node(), 60_000, c, pool).catch((e: unknown) => e);
    await pool.closeAll();
    expect(error).toMatchObject({ code: 'NODE_BOOT_FAILED', message: expect.stringContaining('node controller finished cloud-init with errors') });
    expect((error as Error).message).toContain('cloud-init status --wait exited with 1: status: error | extended_status: error');
    expect((error as Error).message).toContain("KeyError('stack')");
  });
});
