/** ACPI first, power-off only when the budget runs out, and nothing at all for a stopped VM. */
import { describe, expect, it } from 'vitest';
import { stopWithinBudget } from './stop.js';

function machine(onFor: number) {
  const calls: string[] = [];
  let reads = 0;
  let forced = false;
  return {
    calls,
    m: {
      isOn: async () => !forced && reads++ < onFor,
      acpi: async () => void calls.push('acpi'),
      force: async () => {
        forced = true;
        calls.push('force');
      },
    },
  };
}

describe('stopWithinBudget', () => {
  const signal = new AbortController().signal;

  it('a stopped VM is left alone', async () => {
    const { m, calls } = machine(0);
    expect(await stopWithinBudget(m, 1000, signal)).toBe('already-stopped');
    expect(calls).toEqual([]);
  });

  it('a guest that answers ACPI is not powered off', async () => {
    const { m, calls } = machine(2);
    expect(await stopWithinBudget(m, 5000, signal)).toBe('shutdown');
    expect(calls).toEqual(['acpi']);
  });

  it('a guest that ignores ACPI is powered off when the budget runs out', async () => {
    const { m, calls } = machine(Number.POSITIVE_INFINITY);
    const started = Date.now();
    expect(await stopWithinBudget(m, 300, signal)).toBe('forced');
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
    expect(calls).toEqual(['acpi', 'force']);
  });

  it('Ctrl-C ends the wait without powering off', async () => {
    const { m, calls } = machine(Number.POSITIVE_INFINITY);
    const abort = new AbortController();
    setTimeout(() => abort.abort(), 50);
    await expect(stopWithinBudget(m, 60_000, abort.signal)).rejects.toThrow();
    expect(calls).toEqual(['acpi']);
  });
});
