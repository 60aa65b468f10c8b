/**
 * The NoCloud seed as an ISO 9660 image labelled `cidata`, made by the system's own tool: xorriso,
 * else genisoimage, else mkisofs. The ISO holds the node's private host key: it is written 0600.
 * A tool that fails, or a file that cannot be written, is SEED_FAILED naming the seed and the tool's output.
 */
import { access, chmod, constants, mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { DevclusterError, isDevclusterError, isHostCommandError } from '../errors.js';
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
  const temp = `${output}.${process.pid}.tmp`;
  try {
    for (const name of SEED_FILE_NAMES) await writeFile(join(dir, name), seed[name], { mode: 0o600 });
    await mkdir(dirname(output), { recursive: true, mode: 0o700 });
    await run(tool.command, [...tool.prefix, '-output', temp, '-volid', 'cidata', '-joliet', '-rock', '-quiet', ...SEED_FILE_NAMES], {
      cwd: dir,
      timeoutMs: 60_000,
      ...(options.signal ? { signal: options.signal } : {}),
      debianPackage: 'xorriso',
    });
    await chmod(temp, 0o600);
    await rename(temp, output);
  } catch (error) {
    await rm(temp, { force: true });
    throw seedFailed(error, output, tool.command);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** What the user meets when the seed cannot be made: SEED_FAILED naming it; cancellation and a missing tool pass through. */
function seedFailed(error: unknown, output: string, tool: string): unknown {
  if (isHostCommandError(error)) {
    const how = error.timedOut ? 'did not finish in time' : `exited with ${error.exitCode ?? 'a signal'}`;
    return new DevclusterError('SEED_FAILED', `the cloud-init seed ${output} could not be made: ${tool} ${how}`, {
      cause: error,
      details: error.details,
      hint: `${tool}'s output is above; check that ${dirname(output)} is writable and has free space`,
    });
  }
  if (isDevclusterError(error)) return error;
  return new DevclusterError('SEED_FAILED', `the cloud-init seed ${output} could not be written: ${(error as Error).message}`, {
    cause: error,
    hint: `check that ${dirname(output)} is writable and has free space`,
  });
}
