/** A fake file-system root for doctor's host checks: /dev, /sys, /proc and /etc as a test needs them. */
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

/**
 * `files` maps paths (relative to the root) to contents; a trailing / makes a folder. `mode` is the
 * files' mode (default as the umask leaves it): 0o600 makes a stand-in for a root-only /dev/kvm.
 */
export async function fakeRoot(files: Record<string, string> = {}, options: { mode?: number } = {}): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'dc-doctor-root-'));
  for (const [path, content] of Object.entries(files)) {
    if (path.endsWith('/')) {
      await mkdir(join(root, path), { recursive: true });
    } else {
      await mkdir(dirname(join(root, path)), { recursive: true });
      await writeFile(join(root, path), content, options.mode === undefined ? {} : { mode: options.mode });
    }
  }
  return root;
}

/** /proc/modules listing these modules. */
export const MODULES = (...names: string[]) => names.map((n) => `${n} 1234567 0 - Live 0x0000000000000000`).join('\n') + '\n';
