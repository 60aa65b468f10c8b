/** The host reads every provider's checks share, against fake /proc trees. */
import { describe, expect, it } from 'vitest';
import { fakeRoot, MODULES } from '../../test/support/fake-root.js';
import { loadedModules, pid1IsSystemd } from './host.js';

describe('kernel modules', () => {
  it('reads module names from /proc/modules', async () => {
    expect(await loadedModules(await fakeRoot({ 'proc/modules': MODULES('a', 'b_c') }))).toEqual(new Set(['a', 'b_c']));
    expect(await loadedModules(await fakeRoot())).toBeUndefined();
  });
});

describe('PID 1', () => {
  it('is systemd only when /proc/1/comm says so', async () => {
    expect(await pid1IsSystemd(await fakeRoot({ 'proc/1/comm': 'systemd\n' }))).toBe(true);
    expect(await pid1IsSystemd(await fakeRoot({ 'proc/1/comm': 'tini\n' }))).toBe(false);
    expect(await pid1IsSystemd(await fakeRoot())).toBe(false);
  });
});
