/**
 * Waiting for a VM's session to go. A VM that has just powered off (`controlvm poweroff`, or the guest
 * shutting down) is still locked by its VM process until that process has exited and VBoxSVC noticed:
 * meanwhile `unregistervm` answers "Cannot unregister the machine … while it is locked"
 * (MachineImpl.cpp Machine::unregister) and `startvm`/`modifyvm` are refused the same way
 * (Machine::lockMachine). `showvminfo --machinereadable` prints `SessionName=` exactly while the
 * session state is not Unlocked (VBoxManageInfo.cpp showVMInfo), which is what this waits on.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { DevclusterError, isHostCommandError } from '../../errors.js';
import { parseMachineReadable, type VBoxManage } from './vboxmanage.js';

/** How long a powered-off VM's process may take to release its session (VBoxHeadless saving logs etc.). */
export const SESSION_BUDGET_MS = 60_000;

/** VirtualBox refused because the VM is locked (read from the failed call's stderr, whole). */
export function lockedError(error: unknown): boolean {
  return isHostCommandError(error) && /while it is locked|is already locked (for|by) a session/.test(error.stderr);
}

/**
 * Returns once `vm` has no session (or is not registered any more). Only for a VM that is not running:
 * a running VM's session never goes by itself. Fails with VBOX_LOCKED when `budgetMs` runs out.
 */
export async function waitSessionGone(vbox: VBoxManage, vm: string, budgetMs: number, signal: AbortSignal): Promise<void> {
  const deadline = Date.now() + budgetMs;
  for (;;) {
    const info = parseMachineReadable((await vbox.run(['showvminfo', vm, '--machinereadable'], { signal })).stdout);
    const session = info.get('SessionName');
    if (session === undefined) return;
    if (Date.now() >= deadline) {
      throw new DevclusterError('VBOX_LOCKED', `VM ${vm} is ${info.get('VMState') ?? 'in an unknown state'} but its '${session}' session was still not released after ${Math.round(budgetMs / 1000)} s`, {
        hint: `the VM's process has not exited: look for it with \`pgrep -af ${vm}\`, stop it, then run the command again`,
      });
    }
    await sleep(Math.min(250, Math.max(10, deadline - Date.now())), undefined, { signal }).catch(() => {
      throw new DevclusterError('CANCELLED', `waiting for VirtualBox to release ${vm} was cancelled`);
    });
  }
}

/**
 * Runs `args` (a call that needs the VM unlocked), waiting for the session to go first and retrying
 * while VirtualBox still reports the VM locked, within one budget.
 */
export async function whenUnlocked<T>(vbox: VBoxManage, vm: string, budgetMs: number, signal: AbortSignal, call: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + budgetMs;
  for (;;) {
    await waitSessionGone(vbox, vm, Math.max(0, deadline - Date.now()), signal);
    try {
      return await call();
    } catch (error) {
      if (!lockedError(error) || Date.now() >= deadline) throw error;
    }
  }
}
