/**
 * doctor's checks of host programs: the generic ones every provider needs (qemu-img, which converts
 * and probes images; an ISO tool for the cloud-init seeds), and checkTool, which the providers' own
 * program checks (qemu, VBoxManage) use too.
 */
import { findIsoTool } from '../cloudinit/seed-iso.js';
import { run } from '../process/run.js';
import type { Finding } from './finding.js';
import { isMissingTool, reason, resolveOptions, rethrowCancel, runOpts, type CheckId, type CheckOptions, type Resolved } from './options.js';

/** Runs `command args` (e.g. --version): ok with the version it prints, else a failure saying how to install it. */
export async function checkTool(
  id: CheckId,
  command: string,
  args: string[],
  debianPackage: string | undefined,
  o: Resolved,
  version: (stdout: string) => string | undefined,
  install?: string,
): Promise<Finding> {
  try {
    const { stdout } = await run(command, args, runOpts(o));
    const v = version(stdout);
    return { id, status: 'ok', message: `${command}${v ? ` ${v}` : ''}` };
  } catch (error) {
    rethrowCancel(error);
    const from = debianPackage ? ` (Debian package ${debianPackage})` : '';
    const message = isMissingTool(error) ? `${command} is not installed${from}` : `${command} ${args.join(' ')} failed: ${reason(error)}`;
    const description = install ?? (debianPackage ? `install ${debianPackage} (see the packages finding)` : `install ${command}`);
    return { id, status: 'fail', message, fix: { description, commands: [] } };
  }
}

/** The version qemu's programs print on their first line (`… version 8.2.2 …`). */
export function qemuVersion(stdout: string): string | undefined {
  return /version\s+(\S+)/.exec(stdout.split('\n')[0] ?? '')?.[1];
}

export async function checkQemuImg(options: CheckOptions): Promise<Finding> {
  return checkTool('qemu-img', 'qemu-img', ['--version'], 'qemu-utils', resolveOptions(options), qemuVersion);
}

export async function checkIsoTool(options: CheckOptions): Promise<Finding> {
  const o = resolveOptions(options);
  try {
    const tool = await findIsoTool(o.env.PATH ?? '');
    return { id: 'iso', status: 'ok', message: `${tool.command} makes the cloud-init seed ISOs` };
  } catch (error) {
    rethrowCancel(error);
    return {
      id: 'iso',
      status: 'fail',
      message: 'no ISO tool (xorriso, genisoimage or mkisofs) to make the cloud-init seeds',
      fix: { description: 'install xorriso (see the packages finding)', commands: [] },
    };
  }
}
