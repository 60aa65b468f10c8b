/**
 * What long operations tell the CLI while they run. Library code reports events and never draws;
 * src/cli/ decides how they look (a live line on a terminal, periodic plain lines otherwise) and which
 * it shows (the nodes' output lines only when the user follows the run).
 */
export type ProgressEvent =
  | { kind: 'download'; label: string; bytes: number; total: number | undefined; resumedFrom: number }
  | { kind: 'phase'; label: string; message: string }
  | { kind: 'note'; message: string }
  /** One line of a remote command's output (secrets masked), from a provisioning step on a node. */
  | { kind: 'line'; node: string; step: string; line: string };

export interface Ctx {
  signal: AbortSignal;
  report: (event: ProgressEvent) => void;
}

/** A context for callers that want neither progress nor cancellation (tests, one-shot reads). */
export function quietCtx(signal: AbortSignal = new AbortController().signal): Ctx {
  return { signal, report: () => undefined };
}
