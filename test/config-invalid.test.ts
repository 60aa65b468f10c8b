/**
 * Every file in fixtures/invalid/ is a config a user could write by mistake. Each line that should be
 * reported carries `# expect: PATH :: FRAGMENT`; the loader must report exactly those problems, at
 * those lines, with those field paths, and nothing else.
 */
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config/load.js';
import { formatPath } from '../src/config/issue.js';

const dir = fileURLToPath(new URL('./fixtures/invalid/', import.meta.url));
const files = readdirSync(dir).filter((f) => f.endsWith('.yaml')).sort();
const emptyHome = mkdtempSync(join(tmpdir(), 'dc-home-'));

interface Expectation {
  line: number;
  path: string;
  fragment: string;
}

function expectationsOf(text: string): Expectation[] {
  return text.split('\n').flatMap((line, i) => {
    const match = /# expect: (.+?) :: (.+)$/.exec(line);
    return match ? [{ line: i + 1, path: match[1] as string, fragment: (match[2] as string).trim() }] : [];
  });
}

describe('invalid configs', () => {
  it('has at least 30 fixtures', () => {
    expect(files.length).toBeGreaterThanOrEqual(30);
  });

  for (const file of files) {
    it(`${file} is refused with the right field and line`, async () => {
      const path = join(dir, file);
      const expectations = expectationsOf(readFileSync(path, 'utf8'));
      expect(expectations.length, 'fixture has # expect: markers').toBeGreaterThan(0);
      const error = await loadConfig({ configPath: path, cwd: dir, home: emptyHome, agentSocket: undefined }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(ConfigError);
      const issues = (error as ConfigError).issues;
      const got = issues.map((i) => `${i.line}: ${formatPath(i.path)}: ${i.message}`);
      for (const want of expectations) {
        const match = issues.find((i) => i.line === want.line && formatPath(i.path) === want.path && i.message.includes(want.fragment));
        expect(match, `expected line ${want.line} ${want.path} "${want.fragment}" in:\n${got.join('\n')}`).toBeDefined();
      }
      expect(issues, got.join('\n')).toHaveLength(expectations.length);
      for (const line of (error as ConfigError).details) {
        expect(line.startsWith(`${path}:`)).toBe(true);
      }
    });
  }
});
