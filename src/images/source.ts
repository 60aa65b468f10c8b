/** Where an image comes from and how it is verified: a catalog name, a URL with a checksum, a path. */
import { basename, isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ImageName } from '../config/catalog-names.js';
import type { Config } from '../config/schema.js';
import { expandHome } from '../fs/paths.js';
import { CATALOG } from './catalog.js';
import type { Checksum } from './checksums.js';

export type Verification =
  | { kind: 'checksum'; checksum: Checksum }
  | { kind: 'list'; checksumsUrl: string; fileName: string }
  /** Bare URLs in post_stack.images: cached by URL, verified by nothing but TLS. */
  | { kind: 'none' };

export interface ImageSource {
  /** What to call it in messages and `image list`: the catalog name or the URL. */
  label: string;
  name?: ImageName;
  /** http(s):// URL, or undefined for a local file. */
  url?: string;
  /** Local file for file:// URLs and plain paths. */
  localPath?: string;
  verification: Verification;
}

function locate(url: string, baseDir: string, home: string): Pick<ImageSource, 'url' | 'localPath'> {
  if (/^https?:\/\//.test(url)) return { url };
  if (url.startsWith('file://')) return { localPath: fileURLToPath(url) };
  const expanded = expandHome(url, home);
  return { localPath: isAbsolute(expanded) ? expanded : resolve(baseDir, expanded) };
}

export function imageSource(image: Config['image'] | string, ctx: { baseDir: string; home: string }): ImageSource {
  if (typeof image === 'string' && image in CATALOG) {
    const entry = CATALOG[image as ImageName];
    return {
      label: entry.name,
      name: entry.name,
      url: entry.url,
      verification: { kind: 'list', checksumsUrl: entry.checksumsUrl, fileName: basename(new URL(entry.url).pathname) },
    };
  }
  if (typeof image === 'string') return { label: image, ...locate(image, ctx.baseDir, ctx.home), verification: { kind: 'none' } };
  const where = locate(image.url, ctx.baseDir, ctx.home);
  const fileName = basename(where.url ? new URL(where.url).pathname : (where.localPath as string));
  if (image.sha256 !== undefined) {
    return { label: image.url, ...where, verification: { kind: 'checksum', checksum: { algorithm: 'sha256', hash: image.sha256.toLowerCase() } } };
  }
  return { label: image.url, ...where, verification: { kind: 'list', checksumsUrl: image.checksums_url as string, fileName } };
}
