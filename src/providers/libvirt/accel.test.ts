/**
 * The accelerator decision (setting × probe result), the once-per-process probe cache, the probe's
 * boot sector layout and the reading of libvirt's domain log. The probe itself against real libvirt
 * and qemu is in test/integration/kvm-probe.host.test.ts.
 */
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { cachedProbe, chooseAccel, detectHostVirt, forgetProbes, nodesNestKvm, type AcceleratorSetting } from './accel.js';
import type { KvmProbeResult } from './kvm-probe.js';
import { probeBootSector } from './probe-image.js';
import { qemuErrorLines } from './qemu-log.js';
import { PROBE_ABSENT, PROBE_RAN, PROBE_STOPPED } from '../../../test/support/kvm-fixtures.js';

const ok = PROBE_RAN;
const paused = PROBE_STOPPED;
const absent = PROBE_ABSENT;

async function fakeRoot(files: Record<string, string>): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'dc-accel-root-'));
  for (const [path, content] of Object.entries(files)) {
    await mkdir(dirname(join(root, path)), { recursive: true });
    await writeFile(join(root, path), content);
  }
  return root;
}

describe('chooseAccel', () => {
  const table: Array<[AcceleratorSetting, KvmProbeResult | undefined, 'kvm' | 'qemu', boolean, RegExp]> = [
    ['auto', ok, 'kvm', false, /^KVM: a test guest ran/],
    ['auto', paused, 'qemu', false, /KVM cannot run a guest here \(a test guest stopped under KVM .*emulation failure\): guests use TCG/],
    ['auto', absent, 'qemu', false, /KVM cannot run a guest here \(no \/dev\/kvm/],
    ['tcg', undefined, 'qemu', false, /accelerator is tcg/],
    ['tcg', ok, 'qemu', false, /accelerator is tcg/],
    ['kvm', ok, 'kvm', false, /accelerator is kvm/],
    ['kvm', paused, 'kvm', true, /accelerator is kvm/],
    ['kvm', absent, 'kvm', true, /accelerator is kvm/],
  ];
  it.each(table)('%s with probe %o → %s', (setting, probe, type, warns, reason) => {
    const virt = chooseAccel(setting, probe, false);
    expect(virt.accel.type).toBe(type);
    expect(virt.reason).toMatch(reason);
    expect(virt.warning !== undefined).toBe(warns);
    if (warns) expect(virt.warning).toContain(probe?.reason);
    // TCG always carries the bounded translation cache.
    expect(virt.accel.tbCacheMiB).toBe(256);
  });

  it('nested KVM for the nodes only when they run under KVM', () => {
    expect(chooseAccel('auto', ok, true).nested).toBe(true);
    expect(chooseAccel('auto', paused, true).nested).toBe(false);
    expect(chooseAccel('tcg', ok, true).nested).toBe(false);
    expect(chooseAccel('kvm', paused, true).nested).toBe(true);
  });
});

describe('detectHostVirt', () => {
  beforeEach(() => forgetProbes());

  it('probes once per URI and root, not for tcg, and reads the nested parameter under the root', async () => {
    const root = await fakeRoot({ 'dev/kvm': '', 'sys/module/kvm_intel/parameters/nested': 'Y\n' });
    let calls = 0;
    const probe = async () => {
      calls++;
      return ok;
    };
    const first = await detectHostVirt({ uri: 'qemu:///system', root, probe });
    const second = await detectHostVirt({ uri: 'qemu:///system', root, probe, accelerator: 'kvm' });
    expect([first.accel.type, first.nested, second.accel.type]).toEqual(['kvm', true, 'kvm']);
    expect(calls).toBe(1);
    await detectHostVirt({ uri: 'qemu:///system', root, probe, accelerator: 'tcg' });
    expect(calls).toBe(1);
    await detectHostVirt({ uri: 'qemu:///session', root, probe });
    expect(calls).toBe(2);
  });

  it('a failed probe run is not cached', async () => {
    let calls = 0;
    const probe = async () => {
      calls++;
      if (calls === 1) throw new Error('cancelled');
      return paused;
    };
    await expect(cachedProbe({ uri: 'test:///x' }, probe)).rejects.toThrow('cancelled');
    await expect(cachedProbe({ uri: 'test:///x' }, probe)).resolves.toBe(paused);
  });

  it('a host root without /dev/kvm: the real probe says so without starting anything, and auto picks TCG', async () => {
    const root = await fakeRoot({ 'sys/module/kvm_intel/parameters/nested': 'Y\n' });
    // A socket that does not exist: nothing may be contacted when there is no /dev/kvm.
    const virt = await detectHostVirt({ uri: 'qemu:///system?socket=/nonexistent/sock', root });
    expect(virt.accel.type).toBe('qemu');
    expect(virt.probe?.outcome).toBe('absent');
    expect(virt.reason).toContain(`no ${join(root, 'dev/kvm')}`);
  });

  it('nodesNestKvm: no nesting parameter → false without probing', async () => {
    const root = await fakeRoot({ 'dev/kvm': '' });
    let calls = 0;
    const probe = async () => {
      calls++;
      return ok;
    };
    expect(await nodesNestKvm({ uri: 'qemu:///system', root, probe })).toBe(false);
    expect(calls).toBe(0);
    const nesting = await fakeRoot({ 'dev/kvm': '', 'sys/module/kvm_amd/parameters/nested': '1\n' });
    expect(await nodesNestKvm({ uri: 'qemu:///system', root: nesting, probe })).toBe(true);
    expect(await nodesNestKvm({ uri: 'qemu:///system', root: nesting, probe, accelerator: 'tcg' })).toBe(false);
  });
});

describe('the probe boot sector', () => {
  const sector = probeBootSector();
  it('is one MBR sector whose absolute addresses point where its own rows put them', () => {
    expect(sector.length).toBe(512);
    expect(sector.readUInt16LE(510)).toBe(0xaa55);
    // lgdt gdtr (0f 01 16 ADDR16) → gdtr at 0x7d00, which holds limit 0x1f and base 0x7ce0 (the GDT).
    const lgdt = sector.indexOf(Buffer.from('0f0116', 'hex'));
    const gdtr = sector.readUInt16LE(lgdt + 3) - 0x7c00;
    expect(sector.readUInt16LE(gdtr)).toBe(0x1f);
    const gdt = sector.readUInt32LE(gdtr + 2) - 0x7c00;
    expect(sector.subarray(gdt, gdt + 8).equals(Buffer.alloc(8))).toBe(true);
    expect(sector.subarray(gdt + 8, gdt + 16).toString('hex')).toBe('ffff0000009acf00');
    // mov $dap,%si (be ADDR16) → a 16-byte EDD packet reading 1 sector to 0000:8000.
    const dap = sector.readUInt16LE(sector.indexOf(Buffer.from('be', 'hex'), 0x10) + 1) - 0x7c00;
    expect([sector[dap], sector.readUInt16LE(dap + 2), sector.readUInt16LE(dap + 4)]).toEqual([16, 1, 0x8000]);
    // Far jumps land on the protected-mode code (66 b8 10 00: mov $0x10,%ax) and the long-mode code.
    const pm = sector.readUInt16LE(sector.indexOf(Buffer.from('ea', 'hex'), 0x30) + 1) - 0x7c00;
    expect(sector.subarray(pm, pm + 4).toString('hex')).toBe('66b81000');
    // push $ir then iret: the return address is the byte after the iret.
    const iret = sector.indexOf(0xcf, pm);
    expect(sector.readUInt32LE(iret - 4) - 0x7c00).toBe(iret + 1);
  });
});

describe('qemu domain log', () => {
  // As libvirt 9.0 wrote it on this kind of host (command line shortened).
  const log = [
    '2026-11-30 18:50:01.000+0000: starting up libvirt version: 9.0.0, qemu version: 7.2.22',
    'Could not access KVM kernel module: Permission denied',
    '2026-11-30 18:50:02.000+0000: shutting down, reason=failed',
    '2026-11-30 19:06:54.396+0000: starting up libvirt version: 9.0.0, package: 9.0.0-4+deb12u2 (Debian), qemu version: 7.2.22',
    'LC_ALL=C PATH=/usr/bin HOME=/var/lib/libvirt/qemu/domain-5-dc_kvm_probe \\',
    '/usr/bin/qemu-system-x86_64 \\',
    '-name guest=dc_kvm_probe,debug-threads=on \\',
    '-msg timestamp=on',
    'char device redirected to /dev/pts/1 (label charserial0)',
    'KVM internal error. Suberror: 1',
    'extra data[0]: 0x0000000000000001',
    'emulation failure',
    'EAX=00000032 EBX=00000000 ECX=00000000 EDX=000003f8',
    'ES =0010 00000000 ffffffff 00c09300 DPL=0 DS   [-WA]',
    'Code=ee 9c 6a 08 68 66 7c 00 00 <cf> b0 49',
  ].join('\n');
  it('takes the error lines of the latest run only, without the register dump or the command line', () => {
    expect(qemuErrorLines(log)).toEqual(['KVM internal error. Suberror: 1', 'emulation failure']);
  });
  it("strips qemu's timestamps and keeps libvirt's stop reason", () => {
    const text = '2026-11-30 18:54:35.000+0000: starting up libvirt\n2026-11-30T18:54:36.037118Z qemu-system-x86_64: -accel kvm: failed to initialize kvm: Permission denied\n2026-11-30 18:54:37.677+0000: shutting down, reason=crashed\n';
    expect(qemuErrorLines(text)).toEqual(['qemu-system-x86_64: -accel kvm: failed to initialize kvm: Permission denied', '2026-11-30 18:54:37.677+0000: shutting down, reason=crashed']);
  });
  it('a clean stop is no error', () => {
    expect(qemuErrorLines('x: starting up\n2026-11-30 18:54:37.677+0000: shutting down, reason=destroyed\n')).toEqual([]);
  });
});
