/**
 * The NoCloud seed as an ISO 9660 image labelled `cidata`, made by the system's own tool: xorriso,
 * else genisoimage, else mkisofs. The ISO holds the node's private host key: it is written 0600.
 */
import { access, chmod, constants, mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { DevclusterError } from '../errors.js';
import { run } from '../process/run.js';
import { SEED_FILE_NAMES, type SeedFiles } from './seed.js';

const TOOLS = [
  { command: 'xorriso', prefix: ['-as', 'mkisofs'] },
  { command: 'genisoimage', prefix: [] },
  { command: 'mkisofs', prefix: [] },
] as const;

async function onPath(command: string, path: string): Promise<boolean> {
  for (const dir of path.split(delimiter).filter(Boolean)) {
    if (await access(join(dir, command), constants.X_OK).then(() => true, () => false)) return true;
  }
  return false;
}

export async function findIsoTool(path = process.env.PATH ?? ''): Promise<(typeof TOOLS)[number]> {
  for (const tool of TOOLS) if (await onPath(tool.command, path)) return tool;
  throw new DevclusterError('HOST_TOOL_MISSING', 'no ISO tool found (xorriso, genisoimage or mkisofs) to make the cloud-init seed', {
    hint: 'install one: apt-get install xorriso (or run `devcluster doctor --fix`)',
  });
}

export async function writeSeedIso(seed: SeedFiles, output: string, options: { signal?: AbortSignal; path?: string } = {}): Promise<void> {
  const tool = await findIsoTool(options.path);
  const dir = await mkdtemp(join(tmpdir(), 'dc-seed-'));
  try {
    for (const name of SEED_FILE_NAMES) await writeFile(join(dir, name), seed[name], { mode: 0o600 });
    await mkdir(dirname(output), { recursive: true, mode: 0o700 });
    const temp = `${output}.${process.pid}.tmp`;
    await run(tool.command, [...tool.prefix, '-output', temp, '-volid', 'cidata', '-joliet', '-rock', '-quiet', ...SEED_FILE_NAMES], {
      cwd: dir,
      timeoutMs: 60_000,
      ...(options.signal ? { signal: options.signal } : {}),
      debianPackage: 'xorriso',
    }).catch(async (error: unknown) => {
      await rm(temp, { force: true });
      throw error;
    });
    await chmod(temp, 0o600);
    await rename(temp, output);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
