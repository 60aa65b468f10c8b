/** Where the CLI writes: stdout for results, stderr for notes and errors. Swappable for tests. */
export interface CliIO {
  out(text: string): void;
  err(text: string): void;
  /** stderr without a newline added (live progress lines). */
  errRaw(text: string): void;
  /** Aborted on Ctrl-C (SIGINT) or SIGTERM; every long operation takes it. */
  signal: AbortSignal;
  /** Whether stderr is a terminal (colour and progress only there). */
  isTTY: boolean;
  cwd: string;
  env: NodeJS.ProcessEnv;
}

/** The real terminal. The first Ctrl-C asks the running operation to stop cleanly; a second one exits. */
export function processIO(): CliIO {
  const controller = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    if (controller.signal.aborted) process.exit(130);
    process.stderr.write(`\n${signal}: stopping (again to force)…\n`);
    controller.abort(new Error(`interrupted by ${signal}`));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    out: (text) => process.stdout.write(text.endsWith('\n') ? text : `${text}\n`),
    err: (text) => process.stderr.write(text.endsWith('\n') ? text : `${text}\n`),
    errRaw: (text) => process.stderr.write(text),
    signal: controller.signal,
    isTTY: process.stderr.isTTY === true,
    cwd: process.cwd(),
    env: process.env,
  };
}
