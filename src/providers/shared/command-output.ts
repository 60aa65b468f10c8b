/**
 * What a failed host command (virsh, VBoxManage, node…) said, for the code that matches on it:
 * read from the error's own fields (HostCommandError: stderr, then stdout, whole), not re-parsed from
 * `details`, which is only the tail kept for display. Other errors give their details, or their message.
 */
import { isDevclusterError, isHostCommandError } from '../../errors.js';

export function outputLines(error: unknown): string[] {
  if (isHostCommandError(error)) return `${error.stderr}\n${error.stdout}`.split('\n').filter((l) => l.trim() !== '');
  if (isDevclusterError(error)) return [...error.details];
  return [error instanceof Error ? error.message : String(error)];
}
