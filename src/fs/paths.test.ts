/** How paths from the config and the command line are resolved. */
import { describe, expect, it } from 'vitest';
import { expandHome, resolveLocal } from './paths.js';

describe('paths', () => {
  it('expands ~ and ~/ only at the start', () => {
    expect(expandHome('~', '/home/a')).toBe('/home/a');
    expect(expandHome('~/x/y', '/home/a')).toBe('/home/a/x/y');
    expect(expandHome('a/~/b', '/home/a')).toBe('a/~/b');
    expect(expandHome('~bob/x', '/home/a')).toBe('~bob/x');
  });

  it('resolves relative to the base folder, keeps absolute paths and expands ~ first', () => {
    const ctx = { baseDir: '/work/cfg', home: '/home/a' };
    expect(resolveLocal('../devstack', ctx)).toBe('/work/devstack');
    expect(resolveLocal('/srv/nova', ctx)).toBe('/srv/nova');
    expect(resolveLocal('~/src/nova', ctx)).toBe('/home/a/src/nova');
  });
});
