/** reportError: what a user sees for an error and the exit status it gets (2 for bad usage or config, else 1). */
import { describe, expect, it } from 'vitest';
import { DevclusterError, ERROR_CODES, HostCommandError, InterruptedError, USAGE_CODES } from '../errors.js';
import { EXIT, reportError, reportInterrupted } from './errors.js';
import type { CliIO } from './io.js';

function fakeIO() {
  const err: string[] = [];
  const io: CliIO = { out: () => undefined, err: (t) => err.push(t), errRaw: () => undefined, isTTY: false, cwd: '/', env: {}, signal: new AbortController().signal };
  return { io, err };
}

describe('reportError', () => {
  it('exits 2 for bad usage or config, 1 for every other code; a halted node is not bad usage', () => {
    for (const code of ERROR_CODES) {
      const { io } = fakeIO();
      expect(reportError(io, new DevclusterError(code, 'x'), false), code).toBe(USAGE_CODES.has(code) ? EXIT.usage : EXIT.failed);
    }
    expect(USAGE_CODES.has('USAGE_INVALID')).toBe(true);
    expect(USAGE_CODES.has('NODE_NOT_RUNNING')).toBe(false);
  });

  it("prints a host command's failure as code, message, output tail and hint", () => {
    const { io, err } = fakeIO();
    const error = new HostCommandError({ command: ['virsh', 'net-start', 'dc-dev'], exitCode: 1, stdout: '', stderr: 'error: Network is already in use by interface dcb-1\n' }, 'virsh net-start dc-dev exited with 1', {
      details: ['error: Network is already in use by interface dcb-1'],
      hint: 'pick another network.cidr',
    });
    expect(reportError(io, error, false)).toBe(EXIT.failed);
    expect(err.join('\n')).toBe('error HOST_COMMAND_FAILED: virsh net-start dc-dev exited with 1\n  error: Network is already in use by interface dcb-1\nhint: pick another network.cidr');
  });

  it('an error that is not a DevclusterError is INTERNAL, exit 1, asking for a report', () => {
    const { io, err } = fakeIO();
    expect(reportError(io, new TypeError('boom'), false)).toBe(EXIT.failed);
    expect(err.join('\n')).toBe('error INTERNAL: boom\nhint: this is a bug in devcluster; run again with --verbose and report the output');
  });
});

describe('reportInterrupted', () => {
  it('says how to go on after Ctrl-C; an operation that says the state it left is shown in its own words', () => {
    const generic = fakeIO();
    expect(reportInterrupted(generic.io, 'up', new DevclusterError('CANCELLED', 'virsh was cancelled'), false)).toBe(EXIT.interrupted);
    expect(generic.err.join('\n')).toMatch(/^interrupted: up stopped; what it finished is kept/);
    const own = fakeIO();
    const error = new InterruptedError('interrupted: snapshot s was not kept; every node runs on as before', { hint: 'run `devcluster snapshot save s` again' });
    expect(reportInterrupted(own.io, 'snapshot', error, false)).toBe(EXIT.interrupted);
    expect(own.err.join('\n')).toBe('interrupted: snapshot s was not kept; every node runs on as before\nhint: run `devcluster snapshot save s` again');
  });
});
