/** Things prepared once per provisioning run and shared by every node: the provision scripts, git bundles. */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { DevclusterError } from '../../errors.js';
import type { Ctx } from '../../events.js';
import { PACKAGE_ROOT } from '../../config/template.js';
import { run as runHost } from '../../process/run.js';
import { shellQuote as shq } from '../../process/quote.js';
import type { NodeSession } from '../../ssh/session.js';
import { SCRIPTS_DIR } from './node-paths.js';

const PROVISION_SOURCE = join(PACKAGE_ROOT, 'provision');

export class RunCache {
  private readonly scripts = new WeakMap<NodeSession, Promise<void>>();
  private readonly bundles = new Map<string, Promise<string>>();
  private tempDir: Promise<string> | undefined;

  /** Upload provision/*.sh to the node, once per session. */
  scriptsOn(session: NodeSession, signal: AbortSignal): Promise<void> {
    let pending = this.scripts.get(session);
    if (!pending) {
      pending = (async () => {
        const mkdir = await session.run(`mkdir -p ${shq(SCRIPTS_DIR)}`, { signal, what: 'make the scripts folder' });
        if (mkdir.code !== 0) throw new DevclusterError('SSH_COMMAND_FAILED', `could not make ${SCRIPTS_DIR} on ${session.node}: ${mkdir.tail.join(' ')}`);
        for (const file of (await readdir(PROVISION_SOURCE)).filter((f) => f.endsWith('.sh'))) {
          await session.upload({ data: await readFile(join(PROVISION_SOURCE, file)) }, `${SCRIPTS_DIR}/${file}`, { mode: 0o755, signal });
        }
      })();
      this.scripts.set(session, pending);
      pending.catch(() => this.scripts.delete(session));
    }
    return pending;
  }

  /** A bundle of the committed HEAD of a local git tree (one per tree per run). */
  bundle(tree: string, ctx: Ctx): Promise<string> {
    let pending = this.bundles.get(tree);
    if (!pending) {
      pending = (async () => {
        this.tempDir ??= mkdtemp(join(tmpdir(), 'devcluster-bundles-'));
        const file = join(await this.tempDir, `${this.bundles.size}-${basename(tree).replace(/[^\w.-]/g, '_')}.bundle`);
        const dirty = await runHost('git', ['-C', tree, 'status', '--porcelain', '--untracked-files=no'], { signal: ctx.signal });
        if (dirty.stdout.trim() !== '') {
          ctx.report({ kind: 'note', message: `${tree} has uncommitted changes: only its last commit is pushed to the nodes (commit to include them)` });
        }
        await runHost('git', ['-C', tree, 'bundle', 'create', file, 'HEAD'], { signal: ctx.signal, timeoutMs: 600_000 });
        return file;
      })();
      this.bundles.set(tree, pending);
    }
    return pending;
  }

  async dispose(): Promise<void> {
    if (this.tempDir) await rm(await this.tempDir, { recursive: true, force: true });
  }
}
