/**
 * The image cache: `$XDG_CACHE_HOME/devcluster/images/` (default ~/.cache). Each image is stored
 * under its checksum (`sha256-HASH.qcow2`), with a JSON sidecar saying where it came from, so the
 * same bytes are never fetched twice whatever name or URL asked for them. Partial downloads wait in
 * `partial/`, lock files in `locks/`.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Checksum } from './checksums.js';

export interface CacheLayout {
  root: string;
  images: string;
  partial: string;
  locks: string;
}

export function cacheLayout(env: NodeJS.ProcessEnv = process.env): CacheLayout {
  const base = env.XDG_CACHE_HOME && env.XDG_CACHE_HOME !== '' ? env.XDG_CACHE_HOME : join(env.HOME ?? homedir(), '.cache');
  const root = join(base, 'devcluster');
  const images = join(root, 'images');
  return { root, images, partial: join(images, 'partial'), locks: join(images, 'locks') };
}

export interface CachedImage {
  /** Catalog name, or undefined for an image given by URL. */
  name?: string;
  url: string;
  algorithm: Checksum['algorithm'];
  hash: string;
  size: number;
  format: string;
  fetchedAt: string;
  path: string;
}

export function entryKey(checksum: Checksum): string {
  return `${checksum.algorithm}-${checksum.hash}`;
}

export function imagePath(layout: CacheLayout, checksum: Checksum, format: string): string {
  return join(layout.images, `${entryKey(checksum)}.${format}`);
}

export function sidecarPath(layout: CacheLayout, checksum: Checksum): string {
  return join(layout.images, `${entryKey(checksum)}.json`);
}

/** The cached image with this checksum, if its file is there. */
export async function findCached(layout: CacheLayout, checksum: Checksum): Promise<CachedImage | undefined> {
  let meta: Omit<CachedImage, 'path'>;
  try {
    meta = JSON.parse(await readFile(sidecarPath(layout, checksum), 'utf8')) as Omit<CachedImage, 'path'>;
  } catch {
    return undefined;
  }
  const path = imagePath(layout, checksum, meta.format);
  const info = await stat(path).catch(() => undefined);
  if (info === undefined || info.size !== meta.size) return undefined;
  return { ...meta, path };
}

export async function listCached(layout: CacheLayout): Promise<CachedImage[]> {
  const names = await readdir(layout.images).catch(() => [] as string[]);
  const out: CachedImage[] = [];
  for (const file of names.filter((n) => /^(sha256|sha512)-[0-9a-f]+\.json$/.test(n)).sort()) {
    const [algorithm, hash] = file.replace(/\.json$/, '').split('-') as [Checksum['algorithm'], string];
    const entry = await findCached(layout, { algorithm, hash });
    if (entry) out.push(entry);
  }
  return out.sort((a, b) => a.fetchedAt.localeCompare(b.fetchedAt));
}
