/**
 * Running the real stack.sh up to a stop DevStack itself offers: with ERROR_ON_CLONE=True its first
 * clone (requirements) dies at once, right after the password prompts and save_stackenv. Two halves:
 *  - stopOf(tree): where that stop is in one branch's own files (read from the tree, not assumed),
 *    checked for the order the test relies on;
 *  - readRun(...): what a run printed and saved, from DevStack's own log and .stackenv.
 * Every pattern below names the upstream line that produces the text it matches.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface StackStop {
  /** stack.sh `SUPPORTED_DISTROS="…"` (the distro check, right after stackrc is sourced). */
  supportedDistros: string;
  /** stack.sh lines of `read_password VAR …`, in order. */
  prompts: Array<{ variable: string; line: number }>;
  /** stack.sh line of the first `save_stackenv $LINENO` (after the prompts). */
  saveStackenvLine: number;
  /** stack.sh line of `GIT_DEPTH=0 git_clone $REQUIREMENTS_REPO …` (the first clone of the run). */
  requirementsCloneLine: number;
  /** functions-common lines of git_clone's `die $LINENO "ERROR_ON_CLONE is set to True so cloning not allowed …"`. */
  cloneDieLines: number[];
}

export const CLONE_REFUSED = 'ERROR_ON_CLONE is set to True so cloning not allowed in this configuration';

function linesOf(file: string): string[] {
  return readFileSync(file, 'utf8').split('\n');
}

/** Line numbers (1-based) of the lines matching `re`. */
function find(lines: string[], re: RegExp): number[] {
  return lines.flatMap((l, i) => (re.test(l) ? [i + 1] : []));
}

function one(lines: string[], re: RegExp, what: string): number {
  const found = find(lines, re);
  if (found.length === 0) throw new Error(`${what}: no line matches ${re}`);
  return found[0] as number;
}

/** Where the ERROR_ON_CLONE stop is in the DevStack tree `tree`, and that it comes where the test needs it. */
export function stopOf(tree: string): StackStop {
  const stack = linesOf(join(tree, 'stack.sh'));
  const common = linesOf(join(tree, 'functions-common'));
  const stackrc = linesOf(join(tree, 'stackrc'));
  const distros = /^SUPPORTED_DISTROS="([^"]+)"/.exec(stack[one(stack, /^SUPPORTED_DISTROS=/, 'stack.sh') - 1] as string)?.[1] as string;
  const prompts = find(stack, /^\s*read_password [A-Z_]+ /).map((line) => ({ variable: (stack[line - 1] as string).trim().split(' ')[1] as string, line }));
  const saveStackenvLine = one(stack, /^save_stackenv \$LINENO$/, 'stack.sh save_stackenv');
  const requirementsCloneLine = one(stack, /^GIT_DEPTH=0 git_clone \$REQUIREMENTS_REPO \$REQUIREMENTS_DIR \$REQUIREMENTS_BRANCH$/, 'stack.sh requirements clone');
  const cloneDieLines = find(common, new RegExp(`^\\s*die \\$LINENO "${CLONE_REFUSED}"$`));
  const errexit = one(stack, /^set -o errexit$/, 'stack.sh errexit');
  const errorOnClone = one(stackrc, /^ERROR_ON_CLONE=\$\(trueorfalse False ERROR_ON_CLONE\)$/, 'stackrc ERROR_ON_CLONE');
  const localrc = one(stackrc, /^\s*source \$RC_DIR\/\.localrc\.auto$/, 'stackrc localrc');
  const order: Array<[boolean, string]> = [
    [prompts.length >= 5, 'stack.sh has the read_password prompts'],
    [prompts.every((p) => errexit < p.line && p.line < saveStackenvLine), 'every read_password comes after `set -o errexit` and before save_stackenv'],
    [saveStackenvLine < requirementsCloneLine, 'save_stackenv comes before the requirements clone'],
    [!stack.slice(saveStackenvLine, requirementsCloneLine - 1).some((l) => /^\s*[^#]*\b(git_clone|fetch_plugins|install_package|apt_get)\b/.test(l)), 'nothing clones or installs between save_stackenv and the requirements clone'],
    [cloneDieLines.length >= 1, `functions-common's git_clone dies with "${CLONE_REFUSED}"`],
    [localrc < errorOnClone, "stackrc reads ERROR_ON_CLONE after local.conf's localrc"],
  ];
  const broken = order.filter(([ok]) => !ok).map(([, what]) => what);
  if (broken.length > 0) throw new Error(`${tree}: the ERROR_ON_CLONE stop is not where this test expects it: ${broken.join('; ')}`);
  return { supportedDistros: distros, prompts, saveStackenvLine, requirementsCloneLine, cloneDieLines };
}

/** stack.sh's read_password banner (the line between the rows of '#') for each prompt it printed. */
export function promptsIn(log: string): string[] {
  const lines = log.split('\n').map(stripTimestamp);
  const found: string[] = [];
  lines.forEach((line, i) => {
    // read_password: echo '####…'; echo $msg; echo '####…'; … echo "Enter a password now:"
    if (line.trim() !== 'Enter a password now:') return;
    const banner = lines.slice(Math.max(0, i - 8), i).findIndex((l) => /^#{20,}$/.test(l.trim()));
    const message = banner >= 0 ? lines[Math.max(0, i - 8) + banner + 1]?.trim() : undefined;
    found.push(message ?? line.trim());
  });
  return found;
}

/** tools/outfilter.py prefixes each log line with "YYYY-MM-DD HH:MM:SS.mmm | ". */
export function stripTimestamp(line: string): string {
  return line.replace(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3} \| /, '');
}

/** functions-common `err`: "[ERROR] ${BASH_SOURCE[2]}:$1 $2" (die calls it with its caller's $LINENO). */
export function errorsIn(log: string): Array<{ file: string; line: number; message: string }> {
  return log.split('\n').map(stripTimestamp).flatMap((l) => {
    const m = /^\[ERROR\] (\S+):(\d+) (.*)$/.exec(l.trim());
    return m ? [{ file: m[1] as string, line: Number(m[2]), message: m[3] as string }] : [];
  });
}

/**
 * xtrace lines of stack.sh's own body (stackrc: PS4='+ $(short_source):   ', short_source printing
 * "FILE:FUNC:LINE" padded to 40): [line, command] for `stack.sh:main:LINE`.
 */
export function mainTrace(log: string): Array<{ line: number; command: string }> {
  return log.split('\n').map(stripTimestamp).flatMap((l) => {
    const m = /^\++ (?:\.\/)?stack\.sh:main:(\d+)\s+:\s+(.*)$/.exec(l);
    return m ? [{ line: Number(m[1]), command: m[2] as string }] : [];
  });
}

/** functions-common save_stackenv: "# TIMESTAMP TAG" then VAR=value for each of STACK_ENV_VARS. */
export function parseStackenv(text: string): { tag: string; vars: Record<string, string> } {
  const [header = '', ...rest] = text.split('\n');
  const tag = /^# \S+ (.*)$/.exec(header)?.[1] ?? '';
  const vars: Record<string, string> = {};
  for (const line of rest) {
    const eq = line.indexOf('=');
    if (eq > 0) vars[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return { tag, vars };
}
