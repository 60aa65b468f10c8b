/**
 * Stopping a node the same way on every hypervisor: an ACPI power-button press, then, when the guest
 * has not powered off within the budget, a hard power-off. The provider says how to read the state
 * and how to press and pull; the waiting, its budget and its signal live here.
 */
import { setTimeout as sleep } from 'node:timers/promises';

export type StopResult = 'shutdown' | 'forced' | 'already-stopped';

export interface StopMachine {
  /** Whether the VM is still on (running or paused); false also when it does not exist. */
  isOn: () => Promise<boolean>;
  /** Ask the guest to shut down (ACPI power button). */
  acpi: () => Promise<void>;
  /** Power it off at once. */
  force: () => Promise<void>;
}

/** How often the state is read while the guest shuts down. */
const POLL_MS = 1000;

export async function stopWithinBudget(machine: StopMachine, budgetMs: number, signal: AbortSignal): Promise<StopResult> {
  if (!(await machine.isOn())) return 'already-stopped';
  await machine.acpi();
  const deadline = Date.now() + budgetMs;
  while (Date.now() < deadline) {
    signal.throwIfAborted();
    if (!(await machine.isOn())) return 'shutdown';
    await sleep(Math.min(POLL_MS, Math.max(100, deadline - Date.now())), undefined, { signal });
  }
  if (!(await machine.isOn())) return 'shutdown';
  await machine.force();
  return 'forced';
}
