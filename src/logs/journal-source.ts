/**
 * Where `trace` reads journal entries from: a node's journal, live over its pooled SSH session
 * (`sudo -n journalctl`), or a journal file on this host (`journalctl --file`), such as the ones made
 * from a collected logs folder or a gate build's `NODE/logs/devstack.journal.gz` (journald's export
 * format, gzip: DevStack's roles/export-devstack-journal) by systemd-journal-remote, as that role's
 * README template says. Both run the same journalctl queries, `-o json --all` (journal.ts reads the
 * lines), with only the fields trace shows (--output-fields; __CURSOR and the timestamps always come).
 *
 * journalctl's exit status: 1 with nothing on stderr is "no entry" for `-g` (systemd 252 and 255 do
 * so); any other failure is the node's, with journalctl's words. A bad --since is the user's (USAGE_INVALID).
 * On a node the query's arguments reach journalctl through xargs, so that sudo's own log line (in the
 * journal being searched) holds no request id.
 */
import { createReadStream, createWriteStream, existsSync } from 'node:fs';
import { mkdtemp, open, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, type Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { DevclusterError, isHostCommandError } from '../errors.js';
import { shellQuote } from '../process/quote.js';
import { run } from '../process/run.js';
import type { NodeSession } from '../ssh/session.js';
import { JOURNAL_JSON_ARGS, parseJournalLine, type JournalEntry } from './journal.js';

/** The fields trace shows or follows; journalctl adds __CURSOR and the timestamps to every entry. */
export const TRACE_FIELDS = ['MESSAGE', 'REQUEST_ID', 'PRIORITY', '_SYSTEMD_UNIT', 'UNIT', 'SYSLOG_IDENTIFIER', '_COMM', '_HOSTNAME', 'CODE_FILE', 'CODE_LINE'] as const;

/** What every query starts with. */
export const JOURNALCTL_BASE = [...JOURNAL_JSON_ARGS, `--output-fields=${TRACE_FIELDS.join(',')}`] as const;

/** One node's journal, read by journalctl queries. */
export interface JournalSource {
  readonly node: string;
  /** Run each query (journalctl arguments after JOURNALCTL_BASE); every entry printed, in order. */
  read(queries: readonly (readonly string[])[], signal: AbortSignal): Promise<JournalEntry[]>;
}

/** journalctl's failure as the error a user sees: a bad --since is theirs, anything else the node's. */
export function journalctlFailure(node: string, exitCode: number | undefined, output: readonly string[]): DevclusterError {
  const text = output.map((l) => l.trim()).filter((l) => l !== '').join(' / ');
  if (/Failed to parse timestamp/i.test(text)) {
    return new DevclusterError('USAGE_INVALID', `--since: journalctl on ${node} does not take it (${text})`, {
      hint: 'journalctl\'s own syntax (systemd.time(7)): "2026-12-01 05:00:00", "10 min ago", "today", "@EPOCH"',
    });
  }
  return new DevclusterError('JOURNAL_QUERY_FAILED', `journalctl on ${node} failed${exitCode === undefined ? '' : ` (exit ${exitCode})`}: ${text || 'no message'}`, {
    hint: `read it by hand: \`devcluster ssh ${node} -- sudo journalctl -n 20\``,
  });
}

function parseLine(line: string, node: string): JournalEntry | undefined {
  try {
    return parseJournalLine(line, node);
  } catch (error) {
    throw new DevclusterError('JOURNAL_QUERY_FAILED', `journalctl on ${node} printed a line that is not a journal entry: ${line.slice(0, 200)}`, { cause: error });
  }
}

const EXIT_MARK = '@@devcluster-journalctl-exit ';
/** Budget for one round of queries on one node. */
const REMOTE_BUDGET_MS = 120_000;

/**
 * A node's journal over SSH: all queries of a round in one command (one round trip), each followed
 * by its exit status; journalctl's stderr joins stdout there, so error lines (not `{`) are kept for
 * the message. A missing exit mark means the output was cut (the session keeps 4 MiB of stdout).
 */
export function sshJournalSource(node: string, session: (signal: AbortSignal) => Promise<NodeSession>): JournalSource {
  return {
    node,
    async read(queries, signal) {
      // The ids go through xargs's stdin, not sudo's command line: sudo logs its command line to the
      // journal, where the next query (or the next trace) would find the ids in it.
      const commands = queries.map(
        (q) => `printf '%s\\0' ${q.map(shellQuote).join(' ')} | sudo -n xargs -0 journalctl ${JOURNALCTL_BASE.map(shellQuote).join(' ')} 2>&1; echo "${EXIT_MARK}$?"`,
      );
      const s = await session(signal);
      const r = await s.run(commands.join('; '), { signal, timeoutMs: REMOTE_BUDGET_MS, what: 'journalctl', tailLines: 10 });
      const entries: JournalEntry[] = [];
      let errors: string[] = [];
      let done = 0;
      for (const line of r.stdout.split('\n')) {
        if (line.startsWith('{')) {
          const entry = parseLine(line, node);
          if (entry) entries.push(entry);
        } else if (line.startsWith(EXIT_MARK)) {
          const code = Number(line.slice(EXIT_MARK.length));
          // xargs exits 123 when journalctl exited 1–125: for `-g`, 1 with no words is "nothing matched".
          if (code !== 0 && !((code === 1 || code === 123) && errors.length === 0)) throw journalctlFailure(node, code === 123 ? 1 : code, errors);
          errors = [];
          done += 1;
        } else if (line.trim() !== '') errors.push(line);
      }
      if (done !== queries.length) {
        throw new DevclusterError('JOURNAL_QUERY_FAILED', `journalctl on ${node}: the output was cut after ${entries.length} entries (${r.code === 0 ? 'more than 4 MiB' : `exit ${r.code}: ${r.tail.join(' ').trim()}`})`, {
          hint: 'narrow it with --since',
        });
      }
      return entries;
    },
  };
}

/** Budget for one journalctl query on this host, and for making one node's journal file. */
const LOCAL_BUDGET_MS = 120_000;
const CONVERT_BUDGET_MS = 600_000;

/** A journal file on this host (`journalctl --file`), named `node`. */
export function fileJournalSource(node: string, journalFile: string): JournalSource {
  return {
    node,
    async read(queries, signal) {
      const entries: JournalEntry[] = [];
      for (const q of queries) {
        let stdout: string;
        try {
          stdout = (await run('journalctl', [`--file=${journalFile}`, ...JOURNALCTL_BASE, ...q], { signal, timeoutMs: LOCAL_BUDGET_MS, debianPackage: 'systemd' })).stdout;
        } catch (error) {
          if (!isHostCommandError(error) || error.timedOut) throw error;
          if (error.exitCode === 1 && error.stderr.trim() === '') continue;
          throw journalctlFailure(node, error.exitCode, error.stderr.split('\n'));
        }
        for (const line of stdout.split('\n')) {
          const entry = parseLine(line, node);
          if (entry) entries.push(entry);
        }
      }
      return entries;
    },
  };
}

/** Where Debian/Ubuntu (/lib) and merged-/usr systems put systemd-journal-remote (not in PATH). */
export const JOURNAL_REMOTE_PATHS = ['/lib/systemd/systemd-journal-remote', '/usr/lib/systemd/systemd-journal-remote'] as const;

/** The clocks a collected folder recorded: DIR/devcluster-clocks.json (written by `logs collect`). */
export interface FolderClocks {
  measuredAt: string;
  /** Guest minus host, seconds, by node. */
  offsets: Map<string, number>;
}

export const CLOCKS_FILE = 'devcluster-clocks.json';
export const NODE_JOURNAL = join('logs', 'devstack.journal.gz');

/** DIR/devcluster-clocks.json as `logs collect` writes it: guest − host per node, for `trace --from` (readFolderClocks). */
export function clocksJson(measuredAt: string, offsets: Record<string, number>): string {
  const nodes: Record<string, { offsetSeconds: number }> = {};
  for (const [node, offsetSeconds] of Object.entries(offsets)) nodes[node] = { offsetSeconds };
  return `${JSON.stringify({ measuredAt, nodes }, null, 2)}\n`;
}

/** DIR/devcluster-clocks.json, or undefined when there is none; a file that does not hold clocks is an error. */
export async function readFolderClocks(dir: string): Promise<FolderClocks | undefined> {
  const file = join(dir, CLOCKS_FILE);
  if (!existsSync(file)) return undefined;
  const bad = (why: string) => new DevclusterError('USAGE_INVALID', `--from: ${file} ${why}`, { hint: `it should be {"measuredAt": ISO time, "nodes": {"NODE": {"offsetSeconds": number}}}; remove it to take the clocks as right` });
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(file, 'utf8'));
  } catch (error) {
    throw bad(`is not JSON (${(error as Error).message})`);
  }
  const doc = raw as { measuredAt?: unknown; nodes?: unknown };
  if (typeof doc !== 'object' || doc === null || typeof doc.nodes !== 'object' || doc.nodes === null) throw bad('has no "nodes" object');
  const offsets = new Map<string, number>();
  for (const [node, value] of Object.entries(doc.nodes as Record<string, unknown>)) {
    const offset = (value as { offsetSeconds?: unknown } | null)?.offsetSeconds;
    if (typeof offset !== 'number' || !Number.isFinite(offset)) throw bad(`gives node ${node} no number "offsetSeconds"`);
    offsets.set(node, offset);
  }
  return { measuredAt: typeof doc.measuredAt === 'string' ? doc.measuredAt : 'an unknown time', offsets };
}

/** A collected logs folder's journals, made into journal files in a temporary folder that close() removes. */
export interface FolderJournals {
  sources: JournalSource[];
  clocks: FolderClocks | undefined;
  close(): Promise<void>;
}

/** The nodes of DIR that have NODE/logs/devstack.journal.gz, sorted. */
export async function folderNodes(dir: string): Promise<string[]> {
  let names: string[];
  try {
    names = (await readdir(dir, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name);
  } catch (error) {
    throw new DevclusterError('USAGE_INVALID', `--from ${dir}: cannot read it (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`, { hint: 'give the folder `devcluster logs collect` wrote, or a gate build\'s downloaded logs' });
  }
  return names.filter((n) => existsSync(join(dir, n, NODE_JOURNAL))).sort();
}

/** Whether a file starts with gzip's magic bytes (a browser may have saved it decompressed under the .gz name). */
async function isGzip(file: string): Promise<boolean> {
  const handle = await open(file, 'r');
  try {
    const head = Buffer.alloc(2);
    const { bytesRead } = await handle.read(head, 0, 2, 0);
    return bytesRead === 2 && head[0] === 0x1f && head[1] === 0x8b;
  } finally {
    await handle.close();
  }
}

/**
 * Every NODE/logs/devstack.journal.gz of `dir` as a journal file (gunzip, then systemd-journal-remote,
 * in a temporary folder), and the folder's recorded clocks. `journalRemote`: the program's paths to try.
 */
export async function openFolderJournals(dir: string, signal: AbortSignal, journalRemote: readonly string[] = JOURNAL_REMOTE_PATHS): Promise<FolderJournals> {
  const nodes = await folderNodes(dir);
  if (nodes.length === 0) {
    throw new DevclusterError('USAGE_INVALID', `--from ${dir}: no NODE/${NODE_JOURNAL} in it`, {
      hint: "give the folder `devcluster logs collect` wrote, or a gate build's logs, where each node's journal export is NODE/logs/devstack.journal.gz",
    });
  }
  const remote = journalRemote.find((p) => existsSync(p));
  if (remote === undefined) {
    throw new DevclusterError('HOST_TOOL_MISSING', `systemd-journal-remote is not installed (looked for ${journalRemote.join(', ')}): it turns a journal export into a journal file journalctl reads`, {
      hint: 'install it: sudo apt-get install systemd-journal-remote',
    });
  }
  const clocks = await readFolderClocks(dir);
  const temp = await mkdtemp(join(tmpdir(), 'devcluster-trace-'));
  try {
    const sources = await Promise.all(
      nodes.map(async (node) => {
        const gz = join(dir, node, NODE_JOURNAL);
        const exported = join(temp, `${node}.export`);
        const journal = join(temp, `${node}.journal`);
        const unpack: Transform = (await isGzip(gz)) ? createGunzip() : new PassThrough();
        try {
          await pipeline(createReadStream(gz), unpack, createWriteStream(exported), { signal: AbortSignal.any([signal, AbortSignal.timeout(CONVERT_BUDGET_MS)]) });
        } catch (error) {
          signal.throwIfAborted();
          throw new DevclusterError('USAGE_INVALID', `--from: ${gz} could not be read: ${(error as Error).message}`, { cause: error, hint: 'download it again; it should be gzip of `journalctl -o export`' });
        }
        await run(remote, [`--output=${journal}`, exported], { signal, timeoutMs: CONVERT_BUDGET_MS, debianPackage: 'systemd-journal-remote' });
        await rm(exported, { force: true });
        return fileJournalSource(node, journal);
      }),
    );
    return { sources, clocks, close: () => rm(temp, { recursive: true, force: true }) };
  } catch (error) {
    await rm(temp, { recursive: true, force: true });
    throw error;
  }
}
