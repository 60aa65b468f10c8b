/** `devcluster image list | pull | prune`: the verified image cache. */
import { homedir } from 'node:os';
import type { Command } from 'commander';
import type { CliIO } from '../io.js';
import { loadFor } from '../context.js';
import { progressReporter, formatBytes } from '../progress.js';
import { formatTable } from '../table.js';
import { CATALOG } from '../../images/catalog.js';
import { cacheLayout, listCached } from '../../images/cache.js';
import { pullImage, pruneCache } from '../../images/pull.js';
import { imageSource } from '../../images/source.js';
import { IMAGE_NAMES } from '../../config/catalog-names.js';
import type { Config } from '../../config/schema.js';

export function registerImage(program: Command, io: CliIO): void {
  const image = program.command('image').description('the image cache: list, pull (verified, resumable), prune');

  image
    .command('list')
    .description('catalog images and what the cache holds')
    .option('--json', 'machine-readable output')
    .action(async (opts: { json?: boolean }) => {
      const layout = cacheLayout(io.env);
      const cached = await listCached(layout);
      if (opts.json) {
        io.out(JSON.stringify({ cache: layout.images, catalog: Object.values(CATALOG), cached }, null, 2));
        return;
      }
      const rows = [['NAME', 'CACHED', 'SIZE', 'FETCHED', 'CHECKSUM', 'SOURCE']];
      for (const name of IMAGE_NAMES) {
        const copies = cached.filter((c) => c.name === name);
        if (copies.length === 0) rows.push([name, 'no', '-', '-', '-', CATALOG[name].url]);
        for (const c of copies) rows.push([name, 'yes', formatBytes(c.size), c.fetchedAt.slice(0, 16).replace('T', ' '), `${c.algorithm}:${c.hash.slice(0, 12)}…`, c.url]);
      }
      for (const c of cached.filter((c) => c.name === undefined)) {
        rows.push(['(url)', 'yes', formatBytes(c.size), c.fetchedAt.slice(0, 16).replace('T', ' '), `${c.algorithm}:${c.hash.slice(0, 12)}…`, c.url]);
      }
      io.out(formatTable(rows));
      io.out(`cache: ${layout.images}`);
    });

  image
    .command('pull')
    .description('fetch and verify an image into the cache (default: the config\'s image); resumes a cut download')
    .argument('[image]', `a catalog name (${IMAGE_NAMES.join(', ')}), a URL or a path`)
    .option('--sha256 <hash>', 'expected SHA-256 of a URL or path')
    .option('--checksums-url <url>', 'checksum list (SHA256SUMS, SHA512SUMS or Fedora CHECKSUM) naming the file')
    .action(async (name: string | undefined, opts: { sha256?: string; checksumsUrl?: string }, command: Command) => {
      let spec: Config['image'] | string;
      let baseDir = io.cwd;
      if (name === undefined) {
        const loaded = await loadFor(command, io);
        spec = loaded.config.image;
        baseDir = loaded.baseDir;
      } else if (opts.sha256 !== undefined) {
        spec = { url: name, sha256: opts.sha256 };
      } else if (opts.checksumsUrl !== undefined) {
        spec = { url: name, checksums_url: opts.checksumsUrl };
      } else if ((IMAGE_NAMES as readonly string[]).includes(name)) {
        spec = name as Config['image'];
      } else {
        command.error(`error: "${name}" is not a catalog image (${IMAGE_NAMES.join(', ')}); for a URL or path give --sha256 or --checksums-url`, {
          exitCode: 2,
          code: 'devcluster.usage',
        });
        return;
      }
      const source = imageSource(spec, { baseDir, home: io.env.HOME ?? homedir() });
      const started = Date.now();
      const result = await pullImage(source, { ctx: { signal: io.signal, report: progressReporter(io) }, layout: cacheLayout(io.env) });
      const seconds = ((Date.now() - started) / 1000).toFixed(1);
      const how = result.fromCache
        ? 'already cached, 0 bytes downloaded'
        : `verified, ${formatBytes(result.bytesDownloaded)} downloaded in ${seconds} s`;
      io.out(`${source.label}: ${how}\n${result.image.path}`);
    });

  image
    .command('prune')
    .description('remove partial downloads and superseded images (--all: every cached image)')
    .option('--all', 'empty the cache')
    .action(async (opts: { all?: boolean }) => {
      const result = await pruneCache({ layout: cacheLayout(io.env), all: opts.all === true, signal: io.signal });
      for (const path of result.removed) io.out(`removed ${path}`);
      io.out(`freed ${formatBytes(result.freedBytes)}`);
    });
}
