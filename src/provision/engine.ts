/**
 * The step engine: stages run in order; a stage runs one step on a set of nodes, one after the other
 * or all at once. A step done on a node is recorded (see state.ts) and skipped next time, so a run
 * that failed resumes at the failed step. The first failure stops the others of its stage and the
 * run, and is reported with node, step, exit code, log file and the last lines of output.
 */
import { join } from 'node:path';
import { DevclusterError, StepCommandError, isDevclusterError } from '../errors.js';
import type { Ctx } from '../events.js';
import type { NodeSession } from '../ssh/session.js';
import { ProvisionState } from './state.js';

export interface EngineNode {
  name: string;
  /** Changes when the node is rebuilt (its host key fingerprint): records of another identity do not count. */
  id: string;
}

export interface StepRun<N extends EngineNode> {
  node: N;
  step: string;
  session: NodeSession;
  /** `.devcluster/<cluster>/logs/<node>/<step>.log` */
  logFile: string;
  ctx: Ctx;
  /** Each output line (secrets masked) for the terminal, when the user follows the run. */
  onLine: (line: string) => void;
}

export interface Stage<N extends EngineNode> {
  step: string;
  nodes: N[];
  parallel: boolean;
  run: (run: StepRun<N>) => Promise<void>;
}

export interface EngineOptions<N extends EngineNode> {
  ctx: Ctx;
  stateDir: string;
  /** The node's live session (pooled: one connection per node for the whole run). */
  session: (node: N, ctx: Ctx) => Promise<NodeSession>;
  /** Re-run this step and every later one (on the nodes selected by `only`). */
  from?: string;
  /** Only this node's steps. */
  only?: string;
  onLine?: (node: string, step: string, line: string) => void;
}

export interface StepOutcome {
  node: string;
  step: string;
  durationMs: number;
}

export interface EngineResult {
  ran: StepOutcome[];
  skipped: StepOutcome[];
}

export function logFileFor(stateDir: string, node: string, step: string): string {
  return join(stateDir, 'logs', node, `${step}.log`);
}

/** StepCommandError lives with every other error class in src/errors.ts; re-exported for its importers. */
export { StepCommandError };

function stepFailed(node: string, step: string, logFile: string, error: unknown, from: string): DevclusterError {
  if (isDevclusterError(error) && (error.code === 'CANCELLED' || error.code === 'SSH_HOST_KEY_MISMATCH' || error.code === 'SSH_AUTH_FAILED')) return error;
  const exit = error instanceof StepCommandError ? ` with exit code ${error.exitCode}` : '';
  const tail = error instanceof StepCommandError ? error.tail.slice(-15) : [];
  const what = (error as Error).message;
  return new DevclusterError('PROVISION_STEP_FAILED', `step ${step} failed on node ${node}${exit}: ${what}`, {
    cause: error,
    details: [`log: ${logFile}`, ...(tail.length > 0 ? ['last lines:', ...tail.map((l) => `| ${l}`)] : []), ...(isDevclusterError(error) && !(error instanceof StepCommandError) ? error.details : [])],
    hint:
      (isDevclusterError(error) && error.hint ? `${error.hint}; then ` : 'fix the cause, then ') +
      `run \`devcluster up\` again: it resumes at this step (\`devcluster provision --from ${from} --only ${node}\` re-runs just it)`,
  });
}

export async function runStages<N extends EngineNode>(stages: readonly Stage<N>[], options: EngineOptions<N>): Promise<EngineResult> {
  const { ctx } = options;
  const known = [...new Set(stages.map((s) => s.step))];
  if (options.from !== undefined && !known.includes(options.from)) {
    throw new DevclusterError('USAGE_INVALID', `there is no step "${options.from}"`, { hint: `steps, in order: ${known.join(', ')}` });
  }
  const state = await ProvisionState.load(options.stateDir);
  if (options.from !== undefined) {
    const later = new Set(known.slice(known.indexOf(options.from)));
    await state.forget((node, step) => later.has(step) && (options.only === undefined || node === options.only));
  }
  const result: EngineResult = { ran: [], skipped: [] };
  for (const stage of stages) {
    const nodes = stage.nodes.filter((n) => options.only === undefined || n.name === options.only);
    const todo = nodes.filter((n) => {
      if (!state.isDone(n.name, stage.step, n.id)) return true;
      result.skipped.push({ node: n.name, step: stage.step, durationMs: 0 });
      return false;
    });
    if (todo.length === 0) continue;
    const abort = new AbortController();
    const signal = AbortSignal.any([ctx.signal, abort.signal]);
    let first: unknown;
    const runOne = async (node: N): Promise<void> => {
      const logFile = logFileFor(options.stateDir, node.name, stage.step);
      const startedAt = new Date();
      const stepCtx: Ctx = { signal, report: ctx.report };
      try {
        ctx.report({ kind: 'phase', label: node.name, message: `${stage.step}…` });
        const session = await options.session(node, stepCtx);
        await stage.run({
          node,
          step: stage.step,
          session,
          logFile,
          ctx: stepCtx,
          onLine: (line) => options.onLine?.(node.name, stage.step, line),
        });
        const durationMs = Date.now() - startedAt.getTime();
        await state.markDone(node.name, stage.step, { startedAt: startedAt.toISOString(), finishedAt: new Date().toISOString(), durationMs, nodeId: node.id });
        result.ran.push({ node: node.name, step: stage.step, durationMs });
        ctx.report({ kind: 'phase', label: node.name, message: `${stage.step} done in ${Math.round(durationMs / 1000)} s` });
      } catch (error) {
        if (first === undefined) {
          first = ctx.signal.aborted ? error : stepFailed(node.name, stage.step, logFile, error, stage.step);
          abort.abort(first);
        }
      }
    };
    if (stage.parallel) await Promise.all(todo.map(runOne));
    else {
      for (const node of todo) {
        await runOne(node);
        if (first !== undefined) break;
      }
    }
    if (first !== undefined) throw first;
  }
  return result;
}
