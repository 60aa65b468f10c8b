/**
 * 8. `logs collect` of a running three-node cluster (src/cluster/logs-collect.ts, run in this process):
 * seconds, compressed bytes received and bytes written, against a baseline measured right before on
 * the same nodes: per node at once, one plain OpenSSH `ssh` (the cluster's `ssh-config`) sending what a
 * user would fetch by hand — `tar cz` of local.conf and /opt/stack/logs, then the journal export through
 * `gzip -1` — without the gate's layout, the per-unit screen files, the package lists or the clocks.
 * Run inside benchmark 6's cluster (bench/memory.ts), or, with DC_BENCH_CLUSTER_DIR=DIR, on the running
 * cluster whose devcluster.yaml is in DIR (e.g. the tests' kept shared cluster).
 */
import { spawn } from 'node:child_process';
import { createWriteStream, mkdtempSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { collectLogs } from '../src/cluster/logs-collect.js';
import { sshConfig } from '../src/cluster/ssh.js';
import { loadConfig } from '../src/config/load.js';
import { quietCtx } from '../src/events.js';
import { timed } from './lib.js';

export interface LogsCollectBench {
  nodes: number;
  collectS: number;
  baselineS: number;
  bytesReceived: number;
  bytesOnDisk: number;
  baselineBytes: number;
  problems: string[];
}

const BASELINE = 'sudo tar -czf - /opt/stack/devstack/local.conf /opt/stack/logs 2>/dev/null; sudo journalctl -o export | gzip -1';

/** One `ssh -F CONFIG NODE BASELINE` into FILE; resolves with its exit code. */
function plainSsh(config: string, node: string, file: string): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const child = spawn('ssh', ['-F', config, '-o', 'BatchMode=yes', node, BASELINE], { stdio: ['ignore', 'pipe', 'ignore'] });
    child.stdout.pipe(createWriteStream(file));
    child.on('error', reject);
    child.on('close', resolve);
  });
}

export async function benchLogsCollect(dir: string): Promise<LogsCollectBench> {
  const ctx = quietCtx(AbortSignal.timeout(20 * 60_000));
  const loaded = await loadConfig({ configPath: join(dir, 'devcluster.yaml'), cwd: dir, home: dir, agentSocket: undefined });
  const nodes = loaded.config.nodes.map((n) => n.name);
  const scratch = mkdtempSync(join(dir, 'bench-logs-'));
  try {
    const { files } = await sshConfig(loaded, ctx);
    // Warm both sides once (the guests' page cache holds the journal then, for both alike).
    await Promise.all(nodes.map((n) => plainSsh(files.config, n, join(scratch, `warm-${n}`))));
    let codes: (number | null)[] = [];
    const baselineS = await timed(async () => {
      codes = await Promise.all(nodes.map((n) => plainSsh(files.config, n, join(scratch, `plain-${n}`))));
    });
    if (codes.some((c) => c !== 0)) throw new Error(`the plain ssh baseline failed: exit codes ${codes.join(', ')}`);
    const baselineBytes = nodes.reduce((sum, n) => sum + statSync(join(scratch, `plain-${n}`)).size, 0);
    let result: Awaited<ReturnType<typeof collectLogs>> | undefined;
    const collectS = await timed(async () => {
      result = await collectLogs(loaded, { out: join(scratch, 'collected'), cwd: dir }, ctx);
    });
    if (!result) throw new Error('no collect result');
    return { nodes: nodes.length, collectS, baselineS, bytesReceived: result.bytesReceived, bytesOnDisk: result.bytesOnDisk, baselineBytes, problems: result.problems };
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}
