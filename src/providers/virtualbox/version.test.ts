/** The 6.1 gate: what passes, what is refused, and what is not a version at all. */
import { describe, expect, it } from 'vitest';
import { isSupported, parseVBoxVersion } from './version.js';

describe('VirtualBox version', () => {
  it.each([
    ['7.0.20r163906\n', true],
    ['6.1.38r153438', true],
    ['WARNING: The vboxdrv kernel module is not loaded.\n6.1.50r161033\n', true],
    ['6.0.24r139119', false],
    ['5.2.44r139111', false],
  ])('%j supported: %s', (out, ok) => {
    const version = parseVBoxVersion(out);
    expect(version).toBeDefined();
    expect(isSupported(version as NonNullable<typeof version>)).toBe(ok);
  });

  it('output without a version is none', () => {
    expect(parseVBoxVersion('Oracle VM VirtualBox Command Line Management Interface')).toBeUndefined();
  });
});
