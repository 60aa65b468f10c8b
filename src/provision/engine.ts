/**
 * The step engine: stages run in order; a stage runs one step on a set of nodes, one after the other
 * or all at once. A step done on a node is recorded (see state.ts) and skipped next time, so a run
 * that failed resumes at the failed step. The first failure stops the others of its stage and the
 * run, and is reported with node, step, exit code, log file and the last lines of output.
 */
import { DevclusterError, StepCommandError, isDevclusterError } from '../errors.js';
import type { Ctx } from '../events.js';
import { allOrFirstError } from '../flow/all-or-first-error.js';
import type { NodeSession } from '../ssh/session.js';
import { stepLogFile } from '../state/layout.js';
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
  /** Its report also takes the step's output lines (`line` events: see stepLines). */
  ctx: Ctx;
}

/** A step's commands report their output lines as `line` events of this node and step (session.run's `lines`). */
export function stepLines(r: StepRun<EngineNode>): { step: string; report: Ctx['report'] } {
  return { step: r.step, report: r.ctx.report };
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
  return stepLogFile(stateDir, node, step);
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
    // The first failure stops the stage's other nodes (and the run) and is the one reported.
    await allOrFirstError(
      todo,
      ctx,
      async (node, stepCtx) => {
        const logFile = logFileFor(options.stateDir, node.name, stage.step);
        const startedAt = new Date();
        try {
          ctx.report({ kind: 'phase', label: node.name, message: `${stage.step}…` });
          const session = await options.session(node, stepCtx);
          await stage.run({ node, step: stage.step, session, logFile, ctx: stepCtx });
          const durationMs = Date.now() - startedAt.getTime();
          await state.markDone(node.name, stage.step, { startedAt: startedAt.toISOString(), finishedAt: new Date().toISOString(), durationMs, nodeId: node.id });
          result.ran.push({ node: node.name, step: stage.step, durationMs });
          ctx.report({ kind: 'phase', label: node.name, message: `${stage.step} done in ${Math.round(durationMs / 1000)} s` });
        } catch (error) {
          throw ctx.signal.aborted ? error : stepFailed(node.name, stage.step, logFile, error, stage.step);
        }
      },
      { parallel: stage.parallel },
    );
  }
  return result;
}
