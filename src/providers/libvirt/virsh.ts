/** virsh, for what the libvirt binding has no API for: networks, pools, volumes. */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run, type RunResult } from '../../process/run.js';

export interface VirshOptions {
  signal?: AbortSignal;
  timeoutMs?: number;
}

export function virsh(uri: string, args: readonly string[], options: VirshOptions = {}): Promise<RunResult> {
  return run('virsh', ['-q', '-c', uri, ...args], {
    debianPackage: 'libvirt-clients',
    timeoutMs: options.timeoutMs ?? 120_000,
    ...(options.signal ? { signal: options.signal } : {}),
  });
}

/** Whether a virsh command succeeds (for "does it exist" questions). */
export async function virshOk(uri: string, args: readonly string[], options: VirshOptions = {}): Promise<boolean> {
  return virsh(uri, args, options).then(() => true, () => false);
}

/** Run virsh with an XML document in a private temporary file (net-define, vol-create…). */
export async function virshWithXml(uri: string, args: (file: string) => string[], xml: string, options: VirshOptions = {}): Promise<RunResult> {
  const dir = await mkdtemp(join(tmpdir(), 'dc-virsh-'));
  try {
    const file = join(dir, 'def.xml');
    await writeFile(file, xml, { mode: 0o600 });
    return await virsh(uri, args(file), options);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
