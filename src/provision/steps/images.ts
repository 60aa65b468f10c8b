/**
 * images, on the controller (post-stack): every post_stack.images entry in Glance, pulled on this host
 * (through the image cache) and uploaded only when Glance does not have it yet.
 */
import { basename } from 'node:path';
import { pullImage } from '../../images/pull.js';
import { imageSource } from '../../images/source.js';
import { shellQuote as shq } from '../../process/quote.js';
import { StepCommandError } from '../../errors.js';
import { stepLines } from '../engine.js';
import { check, defineStep, postStackCommand, WORK_DIR } from './step.js';

/** Glance's name for a post_stack image: the catalog name, or the URL's file name without extension. */
export function glanceName(image: string): string {
  if (!/^[a-z]+:\/\//.test(image)) return image;
  const file = basename(new URL(image).pathname);
  return file.replace(/\.(qcow2|img|raw|vmdk|vdi|iso)$/i, '') || 'image';
}

export const images = defineStep({
  name: 'images',
  targets: 'controller',
  parallel: false,
  run: async (r, env) => {
    const { plan, host } = env;
    const postStack = postStackCommand(env);
    for (const image of plan.postStack.images) {
      const name = glanceName(image);
      const present = await r.session.run(`${postStack} image-present ${shq(name)}`, { signal: r.ctx.signal, what: `look for image ${name}`, logFile: r.logFile, lines: stepLines(r) });
      if (present.code === 0) continue;
      if (present.code !== 3) throw new StepCommandError(present.code, present.tail, `looking for image ${name} in Glance failed`);
      const pulled = await pullImage(imageSource(image, host), { ctx: r.ctx, ...(host.cacheLayout ? { layout: host.cacheLayout } : {}) });
      const remote = `${WORK_DIR}/images/${name}.${pulled.image.format}`;
      await check(r, `mkdir -p ${WORK_DIR}/images`, 'make the image folder');
      r.ctx.report({ kind: 'phase', label: r.node.name, message: `uploading ${name} (${Math.round(pulled.image.size / 1048576)} MiB)` });
      await r.session.upload({ file: pulled.image.path }, remote, { mode: 0o644, signal: r.ctx.signal });
      await check(r, `${postStack} image ${shq(name)} ${shq(pulled.image.format)} ${shq(remote)}; rc=$?; rm -f ${shq(remote)}; exit $rc`, `create image ${name}`);
    }
  },
});
