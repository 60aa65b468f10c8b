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

const PLAIN = /^[A-Za-z0-9_@%+=:,./^-]+$/;

/** One argument as a POSIX shell would need it written, for showing a command to a person. */
export function shellQuote(arg: string): string {
  if (PLAIN.test(arg)) return arg;
  return `'${arg.replaceAll("'", `'\\''`)}'`;
}

export function formatCommand(argv: readonly string[]): string {
  return argv.map(shellQuote).join(' ');
}

/** The command as root: unchanged for root, else behind sudo. */
export function asRoot(argv: string[], uid: number | undefined): string[] {
  return uid === 0 || uid === undefined ? argv : ['sudo', ...argv];
}
