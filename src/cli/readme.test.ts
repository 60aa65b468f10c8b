/**
 * The README against the CLI's own: its command table and option lists against commander's program
 * (walked, so whatever commands exist are checked), its error codes against ERROR_CODES, its exit codes
 * against EXIT, USAGE_CODES and `--help`; and every repository path it names exists inside the repository.
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Command, Option } from 'commander';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES, USAGE_CODES } from '../errors.js';
import { EXIT } from './errors.js';
import type { CliIO } from './io.js';
import { buildProgram } from './main.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const README = readFileSync(`${ROOT}README.md`, 'utf8');

function program(out: string[] = []): Command {
  const io: CliIO = { out: (t) => out.push(t), err: () => undefined, errRaw: () => undefined, isTTY: false, cwd: ROOT, env: {}, signal: new AbortController().signal };
  return buildProgram(io);
}

/** The text under a heading, up to the next heading of the same or a higher level. */
function section(title: string): string {
  const lines = README.split('\n');
  const start = lines.findIndex((l) => /^#+ /.test(l) && l.replace(/^#+ /, '') === title);
  if (start < 0) throw new Error(`README has no section "${title}"`);
  const level = (lines[start] as string).indexOf(' ');
  const end = lines.findIndex((l, i) => i > start && /^#+ /.test(l) && l.indexOf(' ') <= level);
  return lines.slice(start + 1, end < 0 ? undefined : end).join('\n');
}

const FLAG = /(?<![\w-])--?[A-Za-z][\w-]*/g;

function flagsOf(options: readonly Option[]): string[] {
  return options.flatMap((o) => [o.short, o.long].filter((f): f is string => f !== undefined)).sort();
}

/** Every runnable command as its words (`config validate`), with its options besides --help. */
function commandsOf(root: Command): Map<string, string[]> {
  const found = new Map<string, string[]>();
  const walk = (command: Command, path: string[]) => {
    const help = command.createHelp();
    for (const sub of help.visibleCommands(command)) {
      if (sub.name() === 'help' && sub.options.length === 0 && sub.commands.length === 0 && !command.commands.includes(sub)) continue; // commander's implicit `help [command]`
      const words = [...path, sub.name()];
      const flags = flagsOf(sub.createHelp().visibleOptions(sub)).filter((f) => f !== '-h' && f !== '--help');
      if (sub.commands.length > 0) walk(sub, words);
      // A command with subcommands is runnable itself when it takes arguments or options (`logs [NODE…] -f`).
      if (sub.commands.length === 0 || sub.registeredArguments.length > 0 || flags.length > 0) found.set(words.join(' '), flags);
    }
  };
  walk(root, []);
  return found;
}

/** The README's command table: each row's command words and the flags its synopsis shows (rows of one command merged). */
function readmeCommands(): Map<string, string[]> {
  const rows = new Map<string, Set<string>>();
  for (const [, synopsis] of section('Commands').matchAll(/^\| `devcluster (.+?)` \|/gm)) {
    const words: string[] = [];
    for (const token of (synopsis as string).split(/\s+/)) {
      if (!/^[a-z][a-z-]*$/.test(token)) break;
      words.push(token);
    }
    const flags = rows.get(words.join(' ')) ?? new Set<string>();
    for (const [flag] of (synopsis as string).matchAll(FLAG)) flags.add(flag);
    rows.set(words.join(' '), flags);
  }
  return new Map([...rows].map(([name, flags]) => [name, [...flags].sort()]));
}

describe('README', () => {
  it("has a row for every command the CLI has, and none it does not have", () => {
    expect([...readmeCommands().keys()].sort()).toEqual([...commandsOf(program()).keys()].sort());
  });

  it("shows each command's options exactly as the CLI takes them", () => {
    const readme = readmeCommands();
    for (const [name, flags] of commandsOf(program())) expect(readme.get(name), `devcluster ${name}`).toEqual(flags);
  });

  it('lists the global options as the CLI takes them', () => {
    const text = section('Commands');
    const from = text.indexOf('Global options:');
    expect(from).toBeGreaterThanOrEqual(0);
    const paragraph = text.slice(from, text.indexOf('\n\n', from) < 0 ? undefined : text.indexOf('\n\n', from));
    const flags = [...paragraph.matchAll(/`([^`]*)`/g)].flatMap(([, code]) => [...(code as string).matchAll(FLAG)].map(([f]) => f));
    const root = program();
    expect(flags.sort()).toEqual(flagsOf(root.createHelp().visibleOptions(root)));
  });

  it('lists every stable error code, each once, and no other', () => {
    const text = section('Exit codes');
    const list = text.slice(text.indexOf('Codes are stable'));
    const codes = [...list.matchAll(/`([A-Z][A-Z0-9_]+)`/g)].map(([, c]) => c as string);
    expect(codes.length).toBe(new Set(codes).size);
    expect(codes.sort()).toEqual([...ERROR_CODES].sort());
  });

  it("gives every exit code the CLI uses, the usage codes that exit 2, and --help names the same exit codes", () => {
    const rows = [...section('Exit codes').matchAll(/^\| (\d+) \| (.*) \|$/gm)].map(([, code, meaning]) => ({ code: Number(code), meaning: meaning as string }));
    expect(rows.map((r) => r.code).sort((a, b) => a - b)).toEqual(Object.values(EXIT).sort((a, b) => a - b));
    const usage = rows.find((r) => r.code === EXIT.usage)?.meaning ?? '';
    expect([...usage.matchAll(/`([A-Z][A-Z0-9_]+)`/g)].map(([, c]) => c).sort()).toEqual([...USAGE_CODES].sort());
    const out: string[] = [];
    program(out).outputHelp();
    const line = out.join('').split('\n').find((l) => l.startsWith('Exit codes:')) ?? '';
    expect([...line.matchAll(/\b(\d+) /g)].map(([, n]) => Number(n)).sort((a, b) => a - b)).toEqual(Object.values(EXIT).sort((a, b) => a - b));
  });

  it('names no path outside the repository, and every repository path it names exists', () => {
    expect(README).not.toMatch(/(^|[\s`(])\.\.\//m);
    expect(README).not.toMatch(/(^|[\s`(])\/work\//m);
    const paths = [...README.matchAll(/`((?:src|test|scripts|bench|provision|schema|bin|\.ci)\/[^`\s]*)`/g)].map(([, p]) => p as string);
    expect(paths.length).toBeGreaterThan(5);
    const missing = paths.filter((path) => {
      // a glob or placeholder (`*`, `…`, `<time>`, NAME) stands for files in the folder before it
      const concrete = path.split('/').findIndex((part) => /[*…<>]|[A-Z]{3,}/.test(part));
      return !existsSync(`${ROOT}${concrete < 0 ? path : path.split('/').slice(0, concrete).join('/')}`);
    });
    expect(missing).toEqual([]);
  });
});
