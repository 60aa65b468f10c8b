/**
 * The VirtualBox provider against the VBoxManage stand-in (test/fixtures/vbox/VBoxManage, which
 * answers as VBoxManage 7.0 does): the exact argument lists for a NAT and a bridged cluster as golden
 * files (UPDATE_GOLDEN=1 rewrites them after a deliberate change), each known failure mapped to
 * its error code and fix, the host-only interface's ownership (made and removed by the cluster, never
 * one it did not make) and the session that keeps a powered-off VM locked for a while.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../../config/load.js';
import { renderSeed } from '../../cloudinit/seed.js';
import { quietCtx } from '../../events.js';
import type { CachedImage } from '../../images/cache.js';
import { buildPlan } from '../../plan/plan.js';
import { completeSecrets } from '../../state/secrets.js';
import { VirtualBoxProvider } from './provider.js';

const ROOT = resolve(import.meta.dirname, '..', '..', '..');
const STANDIN = join(ROOT, 'test', 'fixtures', 'vbox', 'VBoxManage');
const golden = (name: string) => join(ROOT, 'test', 'fixtures', 'golden', name);
const HASH = 'ab'.repeat(32);

function setup(extra: Record<string, string> = {}) {
  const work = mkdtempSync(join(tmpdir(), 'dc-vbox-'));
  writeFileSync(join(work, 'networks.conf'), '* 192.168.0.0/16\n');
  const env = {
    VBOX_STANDIN_HOME: work,
    VBOX_STANDIN_STATE: join(work, 'state.json'),
    VBOX_STANDIN_LOG: join(work, 'calls.log'),
    VBOX_STANDIN_NETWORKS_CONF: join(work, 'networks.conf'),
    VBOX_STANDIN_HOST_IFS: 'eth0,enp3s0',
    ...extra,
  };
  const path = join(work, 'tiny.qcow2');
  execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', path, '64M']);
  const image: CachedImage = { url: `file://${path}`, algorithm: 'sha256', hash: HASH, size: statSync(path).size, format: 'qcow2', fetchedAt: '2026-01-01T00:00:00Z', path };
  return { work, env, image, provider: new VirtualBoxProvider({ command: STANDIN, env }) };
}

async function planOf(text: string, work: string) {
  const loaded = await parseConfigText(`name: gold\nprovider: virtualbox\n${text}`, { file: 'x', baseDir: work, home: work, agentSocket: undefined });
  return buildPlan(loaded.config, [], completeSecrets('gold', loaded.config.nodes.map((n) => n.name)));
}

/** The calls as one JSON array per line, with the temp folder and the SSH ports made stable. */
function calls(work: string): string {
  return readFileSync(join(work, 'calls.log'), 'utf8')
    .split(work)
    .join('<WORK>')
    .replace(/127\.0\.0\.1,\d+,,22/g, '127.0.0.1,<PORT>,,22')
    .replace(/"devcluster\/ssh-port", "\d+"/g, '"devcluster/ssh-port", "<PORT>"')
    .replace(/\{[0-9a-f-]{36}\}/g, '{<UUID>}');
}

function expectGolden(name: string, actual: string): void {
  const file = golden(name);
  if (process.env.UPDATE_GOLDEN === '1' || !existsSync(file)) writeFileSync(file, actual);
  expect(actual).toBe(readFileSync(file, 'utf8'));
}

async function upOf(provider: VirtualBoxProvider, plan: Awaited<ReturnType<typeof planOf>>, image: CachedImage) {
  const ctx = quietCtx();
  await provider.ensureNetwork(plan, ctx);
  for (const node of plan.nodes) await provider.createNode(plan, node, image, renderSeed(plan, node), ctx);
  for (const node of plan.nodes) await provider.startNode(plan, node, ctx);
}

describe('VirtualBox provider: argument lists (golden)', () => {
  it('a NAT cluster: base VM from the VDI, linked clones, NAT with SSH forwarded + host-only, extradata', async () => {
    const { work, image, provider } = setup();
    const plan = await planOf('network: { cidr: 192.168.150.0/24 }\nnodes:\n  - { name: controller, role: controller, cpus: 2, memory: 4GiB, disk: 20GiB }\n  - { name: compute1, role: compute }\n', work);
    await upOf(provider, plan, image);
    expectGolden('vbox-nat.calls', calls(work));
    expect((await provider.listNodes('gold', quietCtx())).map((n) => `${n.node} ${n.state} ${n.ip}`)).toEqual(['compute1 running 192.168.150.11', 'controller running 192.168.150.10']);
  }, 120_000);

  it('a bridged cluster: NAT, host-only management, and the host NIC with promiscuous mode allow-all', async () => {
    const { work, image, provider } = setup();
    const plan = await planOf('network: { mode: bridged, cidr: 192.168.152.0/24, bridge_interface: enp3s0 }\nnodes:\n  - { name: controller, role: controller }\n', work);
    await upOf(provider, plan, image);
    const text = calls(work);
    expect(text).toContain('"--nic3", "bridged", "--bridgeadapter3", "enp3s0", "--nicpromisc3", "allow-all"');
    expectGolden('vbox-bridged.calls', text);
  }, 120_000);
});

describe('VirtualBox provider: known failures', () => {
  const plan = (work: string) => planOf('nodes:\n  - { name: controller, role: controller }\n', work);

  it.each([
    ['vmx-root', 'VBOX_KVM_CONFLICT', 'kvm.enable_virt_at_load=0', 'VT-x is being used by another hypervisor'],
    ['svm-in-use', 'VBOX_KVM_CONFLICT', 'modprobe -r kvm_intel kvm_amd kvm', 'AMD-V is being used by another hypervisor'],
    ['driver', 'VBOX_DRIVER_MISSING', '/sbin/vboxconfig', 'kernel driver (vboxdrv) is not loaded'],
    ['error-exit0:startvm', 'VBOX_FAILED', 'VBoxManage list vms', 'VBoxManage startvm'],
  ])('%s at start → %s with its fix', async (mode, code, hint, message) => {
    const clean = setup();
    const p = await plan(clean.work);
    const ctx = quietCtx();
    await clean.provider.ensureNetwork(p, ctx);
    const node = p.nodes[0] as (typeof p.nodes)[0] & object;
    await clean.provider.createNode(p, node, clean.image, renderSeed(p, node), ctx);
    const failing = new VirtualBoxProvider({ command: STANDIN, env: { ...clean.env, VBOX_STANDIN_FAIL: mode } });
    const error = await failing.startNode(p, node, ctx).catch((e: unknown) => e);
    expect(error).toMatchObject({ code, message: expect.stringContaining(message) });
    expect((error as { hint: string }).hint).toContain(hint);
  }, 60_000);

  it('a broken install (exit 126) and a VirtualBox older than 6.1 are refused before anything is made', async () => {
    const broken = setup({ VBOX_STANDIN_FAIL: 'broken' });
    const p = await plan(broken.work);
    await expect(broken.provider.ensureNetwork(p, quietCtx())).rejects.toMatchObject({ code: 'VBOX_BROKEN', hint: expect.stringContaining('reinstall VirtualBox') });
    const old = setup({ VBOX_STANDIN_VERSION: '6.0.24r139119' });
    await expect(old.provider.ensureNetwork(p, quietCtx())).rejects.toMatchObject({ code: 'VBOX_TOO_OLD', message: expect.stringContaining('6.0.24r139119') });
    expect(readFileSync(join(old.work, 'calls.log'), 'utf8').trim().split('\n')).toEqual(['["--version"]']);
  }, 60_000);

  it('a failure half-way through a node leaves no VM of it behind', async () => {
    const s = setup();
    const p = await planOf('network: { mode: bridged, cidr: 192.168.152.0/24, bridge_interface: enp3s0 }\nnodes:\n  - { name: controller, role: controller }\n', s.work);
    const ctx = quietCtx();
    await s.provider.ensureNetwork(p, ctx);
    const failing = new VirtualBoxProvider({ command: STANDIN, env: { ...s.env, VBOX_STANDIN_FAIL: 'error-exit0:modifyvm' } });
    await failing.ensureNetwork(p, ctx);
    const node = p.nodes[0] as (typeof p.nodes)[0] & object;
    await expect(failing.createNode(p, node, s.image, renderSeed(p, node), ctx)).rejects.toMatchObject({ code: 'VBOX_FAILED' });
    expect(await s.provider.listNodes('gold', ctx)).toEqual([]);
    const vms = execFileSync(STANDIN, ['list', 'vms'], { env: { ...process.env, ...s.env } }).toString();
    expect(vms).not.toContain('dc-gold-controller');
    expect(vms).toContain('dc-base-abababababababab');
  }, 60_000);
});

describe('VirtualBox provider: host-only interface ownership and the session lock', () => {
  const vbox = (env: Record<string, string>, ...args: string[]) => execFileSync(STANDIN, args, { env: { ...process.env, ...env } }).toString();
  const hostOnlyIfs = (env: Record<string, string>) => [...vbox(env, 'list', 'hostonlyifs').matchAll(/^Name:\s+(\S+)$/gm)].map((m) => m[1]);
  const globalKeys = (env: Record<string, string>) => [...vbox(env, 'getextradata', 'global', 'enumerate').matchAll(/^Key: (\S+),/gm)].map((m) => m[1]);
  const nodesText = 'nodes:\n  - { name: controller, role: controller, cpus: 1, memory: 512MiB, disk: 2GiB }\n  - { name: compute1, role: compute, cpus: 1, memory: 512MiB, disk: 2GiB }\n';

  it('down right after the nodes started: waits for each session to go, removes every VM and the interface it made', async () => {
    const s = setup({ VBOX_STANDIN_SESSION_RELEASE: '1.5' });
    const plan = await planOf(`network: { cidr: 192.168.153.0/24 }\n${nodesText}`, s.work);
    await upOf(s.provider, plan, s.image);
    expect(hostOnlyIfs(s.env)).toEqual(['vboxnet0']);
    const phases: string[] = [];
    const ctx = { ...quietCtx(), report: (e: { kind: string; message?: string }) => void (e.message && phases.push(e.message)) };
    const started = Date.now();
    const removed = await s.provider.deleteCluster('gold', ['controller', 'compute1'], ctx as ReturnType<typeof quietCtx>);
    expect(removed.sort()).toEqual(['host-only interface vboxnet0', 'vm dc-gold-compute1', 'vm dc-gold-controller']);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1500); // it did wait for the sessions
    expect(phases).toContain('waiting for VirtualBox to release dc-gold-controller (its session ends when the VM process exits)');
    expect(vbox(s.env, 'list', 'vms')).not.toMatch(/dc-gold-(controller|compute1)/);
    expect(hostOnlyIfs(s.env)).toEqual([]);
    expect(globalKeys(s.env)).toEqual([]);
    // The log shows the refused unregistervm never happened: the wait came first.
    expect(readFileSync(join(s.work, 'calls.log'), 'utf8')).toMatch(/\["controlvm", "dc-gold-compute1", "poweroff"\]\n(\["showvminfo", "dc-gold-compute1", "--machinereadable"\]\n){2,}\["unregistervm", "dc-gold-compute1", "--delete"\]/);
  }, 120_000);

  it('a session that never goes fails down within its budget with VBOX_LOCKED naming the VM; an abort cancels the wait', async () => {
    const s = setup({ VBOX_STANDIN_SESSION_RELEASE: '3600' });
    const plan = await planOf(`network: { cidr: 192.168.154.0/24 }\nnodes:\n  - { name: controller, role: controller, cpus: 1, memory: 512MiB, disk: 2GiB }\n`, s.work);
    await upOf(s.provider, plan, s.image);
    const impatient = new VirtualBoxProvider({ command: STANDIN, env: s.env, sessionBudgetMs: 1500 });
    const started = Date.now();
    const error = await impatient.deleteCluster('gold', ['controller'], quietCtx()).catch((e: unknown) => e);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(error).toMatchObject({ code: 'VBOX_LOCKED', message: "VM dc-gold-controller is poweroff but its 'headless' session was still not released after 2 s" });
    expect(vbox(s.env, 'list', 'vms')).toContain('dc-gold-controller');
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 500);
    const patient = new VirtualBoxProvider({ command: STANDIN, env: s.env });
    const cancelled = await patient.deleteCluster('gold', ['controller'], { ...quietCtx(), signal: controller.signal }).catch((e: unknown) => e);
    expect(cancelled).toMatchObject({ code: 'CANCELLED' });
  }, 60_000);

  it('starting a node right after a forced stop waits for VirtualBox to release it, then starts it', async () => {
    const s = setup({ VBOX_STANDIN_SESSION_RELEASE: '1.5', VBOX_STANDIN_ACPI_IGNORE: '1' });
    const plan = await planOf(`network: { cidr: 192.168.157.0/24 }\nnodes:\n  - { name: controller, role: controller, cpus: 1, memory: 512MiB, disk: 2GiB }\n`, s.work);
    await upOf(s.provider, plan, s.image);
    const ctx = quietCtx();
    expect(await s.provider.stopNode(plan, plan.nodes[0] as (typeof plan.nodes)[0] & object, 300, ctx)).toBe('forced');
    expect(vbox(s.env, 'showvminfo', 'dc-gold-controller', '--machinereadable')).toContain('SessionName="headless"');
    await s.provider.startNode(plan, plan.nodes[0] as (typeof plan.nodes)[0] & object, ctx);
    expect((await s.provider.listNodes('gold', ctx)).map((n) => n.state)).toEqual(['running']);
    // One startvm for up, one after the stop: none was sent (and refused) while the VM was locked.
    expect(readFileSync(join(s.work, 'calls.log'), 'utf8').match(/^\["startvm", "dc-gold-controller"/gm)).toHaveLength(2);
    await s.provider.deleteCluster('gold', ['controller'], ctx);
  }, 60_000);

  it('a refused address leaves no new interface behind; the error names the interface, the address and the fix', async () => {
    const s = setup({ VBOX_STANDIN_NETWORKS_CONF: '/nonexistent/networks.conf' });
    const plan = await planOf(`network: { cidr: 10.77.0.0/24 }\n${nodesText}`, s.work);
    const error = await s.provider.ensureNetwork(plan, quietCtx()).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'VBOX_FAILED', message: 'host-only interface vboxnet0 refused 10.77.0.1/24', hint: expect.stringContaining('/etc/vbox/networks.conf') });
    expect(hostOnlyIfs(s.env)).toEqual([]);
    expect(globalKeys(s.env)).toEqual([]);
  }, 60_000);

  it('an interface the cluster did not make is used but never removed; a shared one goes with its last cluster', async () => {
    const s = setup();
    // The user's own interface, already on the gateway address.
    vbox(s.env, 'hostonlyif', 'create');
    vbox(s.env, 'hostonlyif', 'ipconfig', 'vboxnet0', '--ip', '192.168.155.1', '--netmask', '255.255.255.0');
    const mine = await planOf(`network: { cidr: 192.168.155.0/24 }\n${nodesText}`, s.work);
    await upOf(s.provider, mine, s.image);
    expect((await s.provider.deleteCluster('gold', ['controller', 'compute1'], quietCtx())).sort()).toEqual(['vm dc-gold-compute1', 'vm dc-gold-controller']);
    expect(hostOnlyIfs(s.env)).toEqual(['vboxnet0']);

    // Two clusters on one network: the interface made for the first stays while the second uses it.
    const loadedA = await parseConfigText(`name: alpha\nprovider: virtualbox\nnetwork: { cidr: 192.168.156.0/24 }\n${nodesText}`, { file: 'x', baseDir: s.work, home: s.work, agentSocket: undefined });
    const loadedB = await parseConfigText(`name: beta\nprovider: virtualbox\nnetwork: { cidr: 192.168.156.0/24 }\n${nodesText.replace('name: controller', 'name: ctl').replace('name: compute1', 'name: cmp')}`, { file: 'x', baseDir: s.work, home: s.work, agentSocket: undefined });
    const alpha = buildPlan(loadedA.config, [], completeSecrets('alpha', ['controller', 'compute1']));
    const beta = buildPlan(loadedB.config, [], completeSecrets('beta', ['ctl', 'cmp']));
    const fresh = (): VirtualBoxProvider => new VirtualBoxProvider({ command: STANDIN, env: s.env });
    await upOf(fresh(), alpha, s.image);
    await upOf(fresh(), beta, s.image);
    expect(hostOnlyIfs(s.env)).toEqual(['vboxnet0', 'vboxnet1']);
    expect(vbox(s.env, 'getextradata', 'global', 'devcluster/hostonlyif/vboxnet1')).toBe('Value: alpha,beta\n');
    expect((await fresh().deleteCluster('alpha', ['controller', 'compute1'], quietCtx())).sort()).toEqual(['vm dc-alpha-compute1', 'vm dc-alpha-controller']);
    expect(hostOnlyIfs(s.env)).toEqual(['vboxnet0', 'vboxnet1']);
    expect((await fresh().deleteCluster('beta', ['ctl', 'cmp'], quietCtx())).sort()).toEqual(['host-only interface vboxnet1', 'vm dc-beta-cmp', 'vm dc-beta-ctl']);
    expect(hostOnlyIfs(s.env)).toEqual(['vboxnet0']);
  }, 180_000);
});
