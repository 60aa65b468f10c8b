/**
 * The VirtualBox provider against the VBoxManage stand-in (test/fixtures/vbox/VBoxManage, which
 * answers as VBoxManage 7.0 does): the exact argument lists for a NAT and a bridged cluster as golden
 * files (UPDATE_GOLDEN=1 rewrites them after a deliberate change), and each known failure mapped to
 * its error code and fix.
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
