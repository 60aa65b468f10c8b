/** The one place where errors meet the user: code, message, details, hint; the stack only with -v. */
import { InterruptedError, USAGE_CODES, isDevclusterError } from '../errors.js';
import type { CliIO } from './io.js';

export const EXIT = { ok: 0, failed: 1, usage: 2, interrupted: 130 } as const;

function causeChain(error: unknown): string[] {
  const lines: string[] = [];
  let cause = (error as { cause?: unknown }).cause;
  while (cause !== undefined && cause !== null && lines.length < 5) {
    lines.push(`caused by: ${cause instanceof Error ? cause.stack ?? cause.message : String(cause)}`);
    cause = (cause as { cause?: unknown }).cause;
  }
  return lines;
}

export function reportError(io: CliIO, error: unknown, verbose: boolean): number {
  if (isDevclusterError(error)) {
    const lines = [`error ${error.code}: ${error.message}`, ...error.details.map((d) => `  ${d}`)];
    if (error.hint) lines.push(`hint: ${error.hint}`);
    if (verbose) lines.push(error.stack ?? '', ...causeChain(error));
    io.err(lines.join('\n'));
    return USAGE_CODES.has(error.code) ? EXIT.usage : EXIT.failed;
  }
  const message = error instanceof Error ? error.message : String(error);
  const lines = [`error INTERNAL: ${message}`];
  if (verbose) lines.push(error instanceof Error ? error.stack ?? '' : '', ...causeChain(error));
  else lines.push('hint: this is a bug in devcluster; run again with --verbose and report the output');
  io.err(lines.join('\n'));
  return EXIT.failed;
}

/**
 * Ctrl-C: whatever the running operation threw while stopping is not news to the user. Say what
 * was stopped and how to go on; the cause only with -v.
 */
export function reportInterrupted(io: CliIO, command: string, error: unknown, verbose: boolean): number {
  const lines =
    error instanceof InterruptedError
      ? [error.message, ...(error.hint ? [`hint: ${error.hint}`] : [])]
      : [`interrupted: ${command} stopped; what it finished is kept. Run \`devcluster ${command}\` again to go on from here, or \`devcluster down\` to remove the cluster.`];
  if (verbose) lines.push(error instanceof Error ? error.stack ?? error.message : String(error), ...causeChain(error));
  io.err(lines.join('\n'));
  return EXIT.interrupted;
}
