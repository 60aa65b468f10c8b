/**
 * `devcluster doctor --fix`: run the fix commands of the failed findings, in order, then check again.
 * A repair can uncover the next problem (libvirt starts, and now the pool can be seen to be missing),
 * so this repeats for a few rounds while new fixes appear; no fix is run twice.
 */
import type { Ctx } from '../events.js';
import { isDevclusterError } from '../errors.js';
import { run } from '../process/run.js';
import { runChecks, type CheckOptions } from './checks.js';
import { formatCommand, type Finding } from './finding.js';

export interface FixContext extends Ctx {
  /** The options the findings were checked with; the re-check uses them (and their env and PATH). */
  checks: CheckOptions;
  /** How to check again (default runChecks). */
  recheck?: (options: CheckOptions) => Promise<Finding[]>;
  /** Rounds of fix-then-check at most (default 4). */
  maxRounds?: number;
}

export interface AppliedCommand {
  /** The finding the command belongs to. */
  id: string;
  command: string[];
  ok: boolean;
  /** Why it failed: the message and the tail of its output. */
  error?: string;
  /** Already run (successfully) for an earlier finding, so not run again. */
  skipped?: boolean;
}

export interface FixResult {
  /** The findings after the last re-check (the input when there was nothing to fix). */
  findings: Finding[];
  applied: AppliedCommand[];
}

const MINUTE = 60_000;

/** How long a fix command may take: package installs and native builds are slow. */
export function budgetFor(command: readonly string[]): number {
  const program = (command[0] === 'sudo' ? command[1] : command[0]) ?? '';
  const base = program.split('/').at(-1) ?? program;
  if (base === 'apt-get' || base === 'apt' || base === 'npm') return 10 * MINUTE;
  return 2 * MINUTE;
}

function describeError(error: unknown): string {
  if (isDevclusterError(error)) return [error.message, ...error.details.slice(-5)].join('\n');
  return error instanceof Error ? error.message : String(error);
}

function fixable(finding: Finding): boolean {
  return finding.status === 'fail' && finding.fix !== undefined && finding.fix.commands.length > 0;
}

export async function applyFixes(findings: readonly Finding[], ctx: FixContext): Promise<FixResult> {
  const recheck = ctx.recheck ?? runChecks;
  const maxRounds = ctx.maxRounds ?? 4;
  const env: Record<string, string> = { DEBIAN_FRONTEND: 'noninteractive' };
  for (const [key, value] of Object.entries(ctx.checks.env ?? process.env)) if (value !== undefined) env[key] = value;
  env.DEBIAN_FRONTEND = 'noninteractive';

  const appliedFixes = new Set<string>();
  const succeeded = new Set<string>();
  const applied: AppliedCommand[] = [];
  let current = [...findings];

  for (let round = 0; round < maxRounds; round++) {
    const todo = current.filter((f) => fixable(f) && !appliedFixes.has(JSON.stringify(f.fix?.commands)));
    if (todo.length === 0) break;
    for (const finding of todo) {
      const commands = finding.fix?.commands ?? [];
      appliedFixes.add(JSON.stringify(commands));
      ctx.report({ kind: 'phase', label: `fix ${finding.id}`, message: finding.fix?.description ?? '' });
      for (const command of commands) {
        const key = JSON.stringify(command);
        const [program, ...args] = command;
        if (program === undefined) continue;
        if (succeeded.has(key)) {
          applied.push({ id: finding.id, command, ok: true, skipped: true });
          continue;
        }
        ctx.report({ kind: 'phase', label: `fix ${finding.id}`, message: `$ ${formatCommand(command)}` });
        try {
          await run(program, args, { env, signal: ctx.signal, timeoutMs: budgetFor(command) });
          succeeded.add(key);
          applied.push({ id: finding.id, command, ok: true });
        } catch (error) {
          if (isDevclusterError(error) && error.code === 'CANCELLED') throw error;
          // A user's fix goes through sudo; on a host without it only root can run the fix.
          const text =
            program === 'sudo' && isDevclusterError(error) && error.code === 'HOST_TOOL_MISSING'
              ? 'needs root, and sudo is not installed: run `devcluster doctor --fix` as root'
              : describeError(error);
          applied.push({ id: finding.id, command, ok: false, error: text });
          ctx.report({ kind: 'phase', label: `fix ${finding.id}`, message: `failed: ${text.split('\n').join(' | ')}` });
          break; // the rest of this fix builds on the failed step
        }
      }
    }
    ctx.report({ kind: 'phase', label: 'doctor', message: 'checking again' });
    current = await recheck(ctx.checks);
  }
  return { findings: current, applied };
}
