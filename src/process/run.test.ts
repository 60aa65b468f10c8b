/** run(): a failed host command is a HostCommandError whose command, exit code and outputs are fields. */
import { describe, expect, it } from 'vitest';
import { HostCommandError, isDevclusterError } from '../errors.js';
import { run } from './run.js';

async function failure(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('expected a failure');
    },
    (error: unknown) => error,
  );
}

describe('run', () => {
  it('returns stdout and stderr of a command that succeeds', async () => {
    expect(await run('sh', ['-c', 'echo out; echo err >&2'])).toEqual({ stdout: 'out\n', stderr: 'err\n', exitCode: 0 });
  });

  it('keeps command, exit code, stdout and stderr of a failed command as fields', async () => {
    const error = await failure(run('sh', ['-c', 'echo listed; echo "error: Network is already in use by interface dcb-x" >&2; exit 3']));
    expect(error).toBeInstanceOf(HostCommandError);
    const e = error as HostCommandError;
    expect(e.code).toBe('HOST_COMMAND_FAILED');
    expect(e.command).toEqual(['sh', '-c', 'echo listed; echo "error: Network is already in use by interface dcb-x" >&2; exit 3']);
    expect(e.exitCode).toBe(3);
    expect(e.stdout).toBe('listed\n');
    expect(e.stderr).toBe('error: Network is already in use by interface dcb-x\n');
    expect(e.timedOut).toBe(false);
    expect(e.message).toMatch(/^sh -c .* exited with 3$/);
    // the tail stays in details for display, stderr first
    expect(e.details).toEqual(['error: Network is already in use by interface dcb-x', 'listed']);
  });

  it('shows secret arguments as <redacted> in the message and the command field', async () => {
    const e = (await failure(run('sh', ['-c', 'exit 1', 'hunter2'], { secretArgs: [2] }))) as HostCommandError;
    expect(e.command).toEqual(['sh', '-c', 'exit 1', '<redacted>']);
    expect(e.message).not.toContain('hunter2');
  });

  it('says when a command ran out of its budget, with what it printed so far', async () => {
    const e = (await failure(run('sh', ['-c', 'echo begun; exec sleep 5'], { timeoutMs: 300 }))) as HostCommandError;
    expect(e).toBeInstanceOf(HostCommandError);
    expect(e.timedOut).toBe(true);
    expect(e.exitCode).toBeUndefined();
    expect(e.stdout).toBe('begun\n');
    expect(e.message).toContain('did not finish within 0.3 s');
  });

  it('names the Debian package of a missing program', async () => {
    const e = await failure(run('devcluster-no-such-tool', [], { debianPackage: 'some-package' }));
    expect(isDevclusterError(e) && e.code).toBe('HOST_TOOL_MISSING');
    expect(e).not.toBeInstanceOf(HostCommandError);
    expect((e as { hint: string }).hint).toBe('install it: apt-get install some-package');
  });

  it('reports a cancelled command as CANCELLED', async () => {
    const controller = new AbortController();
    const pending = failure(run('sleep', ['5'], { signal: controller.signal }));
    setTimeout(() => controller.abort(), 50);
    expect(isDevclusterError(await pending) && ((await pending) as { code: string }).code).toBe('CANCELLED');
  });
});
