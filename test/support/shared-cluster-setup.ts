/**
 * The host tier's globalSetup (vitest.config.ts): names a fresh folder for the run's shared cluster
 * (test/support/shared-cluster.ts makes the cluster there when a test first asks for it) and, when
 * the run ends, takes it down if it was made and checks that libvirt holds nothing of it.
 *
 * For working on shared-cluster tests: DEVCLUSTER_TEST_SHARED_CLUSTER_DIR=DIR makes the run use DIR
 * (the cluster made there by an earlier run, if any) and keep the cluster when it ends; take it down
 * with `devcluster down` in DIR. Tests leave the cluster as they found it, so runs can follow one another.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { clusterInDir } from './cli-cluster.js';
import { leftovers } from './leftovers.js';

export default function setup(project: TestProject): () => Promise<void> {
  const kept = process.env.DEVCLUSTER_TEST_SHARED_CLUSTER_DIR;
  if (kept !== undefined && kept !== '') {
    mkdirSync(kept, { recursive: true });
    project.provide('sharedClusterDir', kept);
    return async () => {};
  }
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
