/**
 * What doctor reads of the host itself, for any provider's checks: the loaded kernel modules, whether
 * /dev/kvm exists, whether PID 1 is systemd. Every path is under `root` so tests can fake the tree.
 */
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';

async function readText(path: string): Promise<string | undefined> {
  return readFile(path, 'utf8').then(
    (text) => text,
    () => undefined,
  );
}

/** Names of the loaded kernel modules (first column of /proc/modules); undefined if it cannot be read. */
export async function loadedModules(root: string): Promise<Set<string> | undefined> {
  const text = await readText(join(root, 'proc/modules'));
  if (text === undefined) return undefined;
  return new Set(text.split('\n').map((line) => line.split(' ')[0] ?? '').filter(Boolean));
}

/** Whether PID 1 is systemd (so services are started with systemctl). */
export async function pid1IsSystemd(root: string): Promise<boolean> {
  return (await readText(join(root, 'proc/1/comm')))?.trim() === 'systemd';
}

export async function hasKvm(root: string): Promise<boolean> {
  return stat(join(root, 'dev/kvm')).then(
    () => true,
    () => false,
  );
}
