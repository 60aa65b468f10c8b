import { describe, expect, it } from 'vitest';
import { knownKeysAt, nearestKey } from './known-keys.js';
import { configSchema } from './schema.js';

describe('known keys', () => {
  it('lists the keys of nested objects, through defaults and arrays', () => {
    expect(knownKeysAt(configSchema, ['nodes', 0])).toEqual(['name', 'role', 'hostname', 'ip', 'mac', 'cpus', 'memory', 'disk']);
    expect(knownKeysAt(configSchema, ['devstack', 'services'])).toEqual(['enable', 'disable']);
    expect(knownKeysAt(configSchema, [])).toContain('post_stack');
  });
  it('suggests a near key for typos and nothing for unrelated words', () => {
    expect(nearestKey('nmae', ['name', 'nodes'])).toBe('name');
    expect(nearestKey('post-stack', ['post_stack', 'proxy'])).toBe('post_stack');
    expect(nearestKey('kubernetes', ['name', 'nodes'])).toBeUndefined();
  });
});
