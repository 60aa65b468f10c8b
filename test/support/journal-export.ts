/**
 * Journal entries for tests, written in journald's export format (systemd JOURNAL_EXPORT_FORMATS.md,
 * "Journal Export Format": `KEY=value\n` per field; a value holding a newline or other control bytes as
 * `KEY\n` + 64-bit little-endian length + bytes + `\n`; an empty line ends an entry) — the format the
 * gate's `journalctl -o export | gzip > devstack.journal.gz` holds — then turned into a journal file by
 * the real `systemd-journal-remote` and read back by the real `journalctl --file`.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { JOURNAL_REMOTE_PATHS } from '../../src/logs/journal-source.js';

/** Where systemd-journal-remote is, as `trace --from` looks for it (test/setup-host.sh installs it). */
export const JOURNAL_REMOTE = JOURNAL_REMOTE_PATHS.find((p) => existsSync(p)) ?? JOURNAL_REMOTE_PATHS[0];

/** Whether systemd-journal-remote is here. */
export function haveJournalRemote(): boolean {
  return existsSync(JOURNAL_REMOTE);
}

/** For describe.skipIf: tests of real journal files are skipped without the tool, except in CI (where it must be). */
export const WITHOUT_JOURNAL_REMOTE = !haveJournalRemote() && !process.env.CI;

/** One entry: field → value (Buffer for binary values). __CURSOR and the timestamps are given by the caller. */
export type ExportEntry = Record<string, string | Buffer>;

function field(key: string, value: string | Buffer): Buffer {
  const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
  const binary = bytes.some((b) => b < 0x20 && b !== 0x09);
  if (!binary) return Buffer.concat([Buffer.from(`${key}=`), bytes, Buffer.from('\n')]);
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(bytes.length));
  return Buffer.concat([Buffer.from(`${key}\n`), length, bytes, Buffer.from('\n')]);
}

/** The export-format bytes of `entries`. */
export function exportFormat(entries: readonly ExportEntry[]): Buffer {
  return Buffer.concat(entries.flatMap((e) => [...Object.entries(e).map(([k, v]) => field(k, v)), Buffer.from('\n')]));
}

/** Write `entries` into a journal file at `journalFile` with systemd-journal-remote (which must not exist yet). */
export function writeJournal(journalFile: string, entries: readonly ExportEntry[]): void {
  execFileSync(JOURNAL_REMOTE, [`--output=${journalFile}`, '-'], { input: exportFormat(entries), stdio: ['pipe', 'ignore', 'pipe'] });
}

/** `journalctl --file F -o json --all ARGS`, as its output lines. */
export function journalJson(journalFile: string, ...args: string[]): string[] {
  return execFileSync('journalctl', [`--file=${journalFile}`, '-o', 'json', '--all', ...args]).toString().split('\n').filter((l) => l !== '');
}
