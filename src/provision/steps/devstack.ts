/**
 * devstack, on every node at once: DevStack's tree at the stacked branch (cloned, or a local tree
 * pushed as a git bundle), and every local project source pushed to /opt/stack/<project>.
 */
import { basename } from 'node:path';
import { resolveLocal } from '../../config/load.js';
import { shellQuote as shq } from '../../process/quote.js';
import type { StepRun } from '../engine.js';
import { classifySource, DEST, LOCAL_BRANCH } from '../local-conf.js';
import { check, defineStep, SCRIPTS_DIR, WORK_DIR, type ProvisionNode, type StepEnv } from './step.js';

/** The committed HEAD of a local git tree, as `dest` on the node (branch LOCAL_BRANCH). */
async function pushTree(r: StepRun<ProvisionNode>, env: StepEnv, tree: string, dest: string): Promise<void> {
  const bundle = await env.cache.bundle(tree, r.ctx);
  const remote = `${WORK_DIR}/${basename(dest)}.bundle`;
  await r.session.upload({ file: bundle }, remote, { mode: 0o644, signal: r.ctx.signal });
  await check(r, `bash ${SCRIPTS_DIR}/fetch-git.sh --dest ${shq(dest)} --bundle ${shq(remote)} --branch ${LOCAL_BRANCH}`, `push ${tree} to ${dest}`);
}

export const devstack = defineStep({
  name: 'devstack',
  targets: 'all',
  parallel: true,
  run: async (r, env) => {
    const { plan, host, layout } = env;
    const ds = plan.devstack;
    const repo = classifySource(ds.repo);
    if (repo.kind === 'local') await pushTree(r, env, resolveLocal(repo.path, host), layout.devstackDir);
    else {
      const url = repo.kind === 'url' ? repo.url : ds.repo;
      await check(r, `bash ${SCRIPTS_DIR}/fetch-git.sh --dest ${shq(layout.devstackDir)} --url ${shq(url)} --ref ${shq(layout.branch)} --timeout ${Math.round(host.cloneTimeoutMs / 1000)}`, `clone DevStack ${layout.branch} from ${url}`);
    }
    for (const [project, value] of Object.entries(ds.sources)) {
      const source = classifySource(value);
      if (source.kind === 'local') await pushTree(r, env, resolveLocal(source.path, host), `${DEST}/${project}`);
    }
  },
});
