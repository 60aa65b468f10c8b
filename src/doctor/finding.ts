/**
 * What `devcluster doctor` reports: one finding per host check, each with the commands that fix it
 * (argv arrays, run without a shell).
 */
export type FindingStatus = 'ok' | 'warn' | 'fail';

export interface Fix {
  /** What the commands do, or, when there are none, what to do by hand. */
  description: string;
  /** Run in order, each without a shell; the first failure stops the rest. */
  commands: string[][];
}

export interface Finding {
  id: string;
  status: FindingStatus;
  message: string;
  fix?: Fix;
}

import { shellQuote } from '../process/quote.js';

export { shellQuote };

export function formatCommand(argv: readonly string[]): string {
  return argv.map(shellQuote).join(' ');
}

/** The command as root: unchanged for root, else behind sudo. */
export function asRoot(argv: string[], uid: number | undefined): string[] {
  return uid === 0 || uid === undefined ? argv : ['sudo', ...argv];
}
