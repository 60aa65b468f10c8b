/**
 * How guests run on this host: KVM with host-passthrough when /dev/kvm exists, else TCG with a bounded
 * translation cache; and whether the host's KVM allows nested guests (DevStack's LIBVIRT_TYPE=kvm).
 */
import { access, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Accel } from './domain-xml.js';

export const TCG_TB_CACHE_MIB = 256;

export interface HostVirt {
  accel: Accel;
  nested: boolean;
}

export async function detectHostVirt(root = '/'): Promise<HostVirt> {
  const kvm = await access(join(root, 'dev/kvm')).then(() => true, () => false);
  let nested = false;
  for (const module of ['kvm_intel', 'kvm_amd']) {
    const value = await readFile(join(root, 'sys/module', module, 'parameters/nested'), 'utf8').catch(() => '');
    if (/^(Y|1)/.test(value.trim())) nested = true;
  }
  return { accel: { type: kvm ? 'kvm' : 'qemu', tbCacheMiB: TCG_TB_CACHE_MIB }, nested: kvm && nested };
}
