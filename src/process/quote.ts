/** Quoting for POSIX shells: one argument as a shell must see it, for commands sent to nodes and shown to people. */
const PLAIN = /^[A-Za-z0-9_@%+=:,./^-]+$/;

export function shellQuote(arg: string): string {
  if (PLAIN.test(arg)) return arg;
  return `'${arg.replaceAll("'", `'\\''`)}'`;
}
