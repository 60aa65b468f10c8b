/**
 * A node's seed ISO as a provider needs it: written into a folder (the VM's own, for VirtualBox) or
 * into a temporary one that `dispose` removes (libvirt uploads it into a volume and keeps no file).
 * The ISO holds the node's private host key: writeSeedIso makes it 0600.
 */
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SeedFiles } from '../../cloudinit/seed.js';
import { writeSeedIso } from '../../cloudinit/seed-iso.js';

export const SEED_ISO_FILE = 'seed.iso';

export interface SeedIso {
  path: string;
  size: number;
  /** Removes the temporary folder (nothing for a folder the caller gave). */
  dispose: () => Promise<void>;
}

export async function makeSeedIso(seed: SeedFiles, signal: AbortSignal, folder?: string): Promise<SeedIso> {
  const dir = folder ?? (await mkdtemp(join(tmpdir(), 'dc-seed-')));
  const dispose = folder ? async () => undefined : () => rm(dir, { recursive: true, force: true });
  try {
    const path = join(dir, SEED_ISO_FILE);
    await writeSeedIso(seed, path, { signal });
    return { path, size: (await stat(path)).size, dispose };
  } catch (error) {
    await dispose();
    throw error;
  }
}
