/**
 * The lint rule that keeps commands thin: a file in src/cli/commands/ may not import from providers/,
 * ssh/, state/ or cloudinit/ (it goes through src/cluster/). Checked with ESLint's own API and the
 * repository's eslint.config.js, on snippets placed in this folder and on the commands as they are.
 */
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const HERE = join(ROOT, 'src/cli/commands');
const RULE = 'no-restricted-imports';
const eslint = new ESLint({ cwd: ROOT });

async function restricted(code: string, file = join(HERE, 'probe.ts')): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: file });
  return (result?.messages ?? []).filter((m) => m.ruleId === RULE).map((m) => m.message);
}

describe('src/cli/commands import boundary', () => {
  it.each([
    ["import { createProvider } from '../../providers/index.js';", 'providers'],
    ["import { hostNestsKvm } from '../../providers/libvirt/accel.js';", 'providers'],
    ["import { connectPinned } from '../../ssh/connect.js';", 'ssh'],
    ["import type { SshTarget } from '../../ssh/connect.js';", 'ssh'],
    ["import { readSecrets } from '../../state/secrets.js';", 'state'],
    ["export { stateLayout } from '../../state/layout.js';", 'state'],
    ["import { renderSeed } from '../../cloudinit/seed.js';", 'cloudinit'],
  ])('refuses %s', async (line) => {
    const messages = await restricted(`${line}\nexport const x = 1;\n`);
    expect(messages).toHaveLength(1);
    expect(messages[0]).toContain('goes through src/cluster/');
  });

  it('lets commands import cluster/, config/, images/ and the CLI itself', async () => {
    const code = [
      "import { status } from '../../cluster/status.js';",
      "import { prepareSsh } from '../../cluster/ssh.js';",
      "import { writeSshFiles } from '../../cluster/ssh-files.js';",
      "import { loadConfig } from '../../config/load.js';",
      "import { cacheLayout } from '../../images/cache.js';",
      "import { formatTable } from '../table.js';",
      'export const all = [status, prepareSsh, writeSshFiles, loadConfig, cacheLayout, formatTable];',
    ].join('\n');
    expect(await restricted(code)).toEqual([]);
  });

  it('binds only src/cli/commands/: cluster/ may reach the providers', async () => {
    const code = "import { createProvider } from '../providers/index.js';\nexport const p = createProvider;\n";
    expect(await restricted(code, join(ROOT, 'src/cluster/probe.ts'))).toEqual([]);
    expect(await restricted(code, join(HERE, 'probe.ts'))).toHaveLength(1);
  });

  it('holds for every command as it is', async () => {
    const files = readdirSync(HERE).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'));
    expect(files.length).toBeGreaterThan(3);
    const results = await eslint.lintFiles(files.map((f) => join(HERE, f)));
    expect(results.flatMap((r) => r.messages.filter((m) => m.ruleId === RULE).map((m) => `${r.filePath}: ${m.message}`))).toEqual([]);
  });
});
