/**
 * The host tier's globalSetup (vitest.config.ts): names a fresh folder for the run's shared cluster
 * (test/support/shared-cluster.ts makes the cluster there when a test first asks for it) and, when
 * the run ends, takes it down if it was made and checks that libvirt holds nothing of it.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { clusterInDir } from './cli-cluster.js';
import { leftovers } from './leftovers.js';

export default function setup(project: TestProject): () => Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'dc-shared-cluster-'));
  project.provide('sharedClusterDir', work);
  return async () => {
    const config = join(work, 'devcluster.yaml');
    if (existsSync(config)) {
      const text = readFileSync(config, 'utf8');
      const name = /^name: (\S+)$/m.exec(text)?.[1] ?? '';
      const run = await clusterInDir(work, text.trimEnd().split('\n'));
      const down = await run('down');
      const left = leftovers(name, work);
      if (down.exitCode !== 0 || left.length > 0) {
        throw new Error(`the shared cluster ${name} (${work}) was not removed: down exit ${down.exitCode}; left: ${left.join(', ')}\n${down.stderr.slice(-2000)}`);
      }
    }
    rmSync(work, { recursive: true, force: true });
  };
}
