import { describe, expect, it } from 'vitest';
import { formatSize, parseSize } from './units.js';

describe('sizes', () => {
  it('reads binary and decimal units', () => {
    expect(parseSize('8GiB')).toBe(8 * 1024 ** 3);
    expect(parseSize('8G')).toBe(8 * 1024 ** 3);
    expect(parseSize('512MiB')).toBe(512 * 1024 ** 2);
    expect(parseSize('1.5GiB')).toBe(1.5 * 1024 ** 3);
    expect(parseSize('2GB')).toBe(2e9);
  });
  it('refuses numbers without a unit and unknown units', () => {
    expect(parseSize('8192')).toBeUndefined();
    expect(parseSize('8 gigs')).toBeUndefined();
    expect(parseSize('GiB')).toBeUndefined();
  });
  it('prints whole GiB as GiB and the rest as MiB', () => {
    expect(formatSize(8 * 1024 ** 3)).toBe('8GiB');
    expect(formatSize(1536 * 1024 ** 2)).toBe('1536MiB');
  });
});
