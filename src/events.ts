/**
 * What long operations tell the CLI while they run. Library code reports events and never draws;
 * src/cli/ decides how they look (a live line on a terminal, periodic plain lines otherwise).
 */
export type ProgressEvent =
  | { kind: 'download'; label: string; bytes: number; total: number | undefined; resumedFrom: number }
  | { kind: 'phase'; label: string; message: string }
  | { kind: 'note'; message: string };

export interface Ctx {
  signal: AbortSignal;
  report: (event: ProgressEvent) => void;
}

/** A context for callers that want neither progress nor cancellation (tests, one-shot reads). */
export function quietCtx(signal: AbortSignal = new AbortController().signal): Ctx {
  return { signal, report: () => undefined };
}
