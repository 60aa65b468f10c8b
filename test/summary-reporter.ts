/**
 * Prints the plain closing lines after vitest's own summary, so CI logs state what ran in a form any
 * reader can parse: one `tier NAME: N files, M:SS` line per tier (vitest project: unit, doubles,
 * host; wall time from its first file's start to its last file's end), then
 * `tests: N passed, N failed, N skipped`.
 */
import type { Reporter, RunnerTask, RunnerTestFile, TestModule } from 'vitest/node';

function count(tasks: readonly RunnerTask[], totals: { passed: number; failed: number; skipped: number }): void {
  for (const task of tasks) {
    if (task.type === 'suite') count(task.tasks, totals);
    else if (task.mode === 'skip' || task.mode === 'todo') totals.skipped++;
    else if (task.result?.state === 'pass') totals.passed++;
    else if (task.result?.state === 'fail') totals.failed++;
    else totals.skipped++;
  }
}

/** `M:SS` for a duration in milliseconds. */
export function minutes(ms: number): string {
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

export default class SummaryReporter implements Reporter {
  /** Per tier: when its first file started, when its last file ended, how many files. */
  private readonly tiers = new Map<string, { start: number; end: number; files: number }>();

  onTestModuleStart(module: TestModule): void {
    const name = module.project.name || 'default';
    const tier = this.tiers.get(name) ?? { start: Date.now(), end: Date.now(), files: 0 };
    tier.files++;
    this.tiers.set(name, tier);
  }

  onTestModuleEnd(module: TestModule): void {
    const tier = this.tiers.get(module.project.name || 'default');
    if (tier) tier.end = Math.max(tier.end, Date.now());
  }

  onFinished(files: RunnerTestFile[] = [], errors: unknown[] = []): void {
    const totals = { passed: 0, failed: 0, skipped: 0 };
    count(files, totals);
    // Files that failed to load count as failures too.
    totals.failed += files.filter((f) => f.result?.state === 'fail' && f.tasks.length === 0).length + errors.length;
    const lines = [...this.tiers].map(([name, t]) => `tier ${name}: ${t.files} file${t.files === 1 ? '' : 's'}, ${minutes(t.end - t.start)}`);
    process.stdout.write(`\n${lines.map((l) => `${l}\n`).join('')}tests: ${totals.passed} passed, ${totals.failed} failed, ${totals.skipped} skipped\n`);
  }
}
