/** A command's words come from its fields, whole: a line past the display tail still counts. */
import { describe, expect, it } from 'vitest';
import { DevclusterError, HostCommandError } from '../../errors.js';
import { outputLines } from './command-output.js';

describe('outputLines', () => {
  it('a host command: stderr then stdout, from the fields, not the display tail', () => {
    const stderr = ['error: Failed to start network dc-a', 'error: internal error: Network is already in use by interface dcb-1234abcd', ...Array.from({ length: 30 }, (_, i) => `noise ${i}`)].join('\n');
    const error = new HostCommandError({ command: ['virsh', 'net-start', 'dc-a'], exitCode: 1, stdout: 'out\n', stderr }, 'virsh net-start dc-a exited with 1', { details: ['noise 29'] });
    const lines = outputLines(error);
    expect(lines[1]).toBe('error: internal error: Network is already in use by interface dcb-1234abcd');
    expect(lines.at(-1)).toBe('out');
  });

  it('other errors: their details, else their message', () => {
    expect(outputLines(new DevclusterError('LIBVIRT_FAILED', 'm', { details: ['a', 'b'] }))).toEqual(['a', 'b']);
    expect(outputLines(new Error('plain'))).toEqual(['plain']);
  });
});
