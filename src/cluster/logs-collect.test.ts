/** The output folder of `logs collect`: its default name, and never writing over anything. */
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DevclusterError } from '../errors.js';
import { defaultOutDir, prepareOutDir } from './logs-collect.js';

const made: string[] = [];
const scratch = () => {
  const d = mkdtempSync(join(tmpdir(), 'dc-collect-out-'));
  made.push(d);
  return d;
};
afterEach(() => {
  for (const d of made.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('logs collect output folder', () => {
  it('defaults to logs-CLUSTER-TIMESTAMP (UTC, no separators)', () => {
    expect(defaultOutDir('dev', new Date('2026-12-01T06:05:07.123Z'))).toBe('logs-dev-20261201T060507Z');
  });

  it('makes a new folder 0700, and accepts an empty one (made 0700)', async () => {
    const root = scratch();
    await prepareOutDir(join(root, 'a', 'b'));
    expect(statSync(join(root, 'a', 'b')).mode & 0o777).toBe(0o700);
    mkdirSync(join(root, 'empty'), { mode: 0o755 });
    await prepareOutDir(join(root, 'empty'));
    expect(statSync(join(root, 'empty')).mode & 0o777).toBe(0o700);
  });

  it('refuses a folder holding anything, or a file, and leaves it as it was', async () => {
    const root = scratch();
    mkdirSync(join(root, 'full'));
    writeFileSync(join(root, 'full', 'keep'), 'mine');
    writeFileSync(join(root, 'file'), 'mine');
    for (const [path, text] of [[join(root, 'full'), 'is not empty'], [join(root, 'file'), 'exists and is not a folder']] as const) {
      const error = await prepareOutDir(path).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(DevclusterError);
      expect((error as DevclusterError).code).toBe('LOGS_OUT_NOT_EMPTY');
      expect((error as DevclusterError).message).toContain(text);
    }
    expect(readFileSync(join(root, 'full', 'keep'), 'utf8')).toBe('mine');
    expect(readFileSync(join(root, 'file'), 'utf8')).toBe('mine');
  });
});
