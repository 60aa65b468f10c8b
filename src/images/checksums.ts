/**
 * Checksum lists as distributions publish them: GNU coreutils form (`HASH  FILE` or `HASH *FILE`, as
 * in Ubuntu's SHA256SUMS and Debian's SHA512SUMS) and BSD form (`SHA256 (FILE) = HASH`, as in
 * Fedora's CHECKSUM, which also carries PGP armour and comments around the lines).
 */
import type { HashAlgorithm } from './catalog.js';

export interface Checksum {
  algorithm: HashAlgorithm;
  hash: string;
}

const ALGORITHM_BY_LENGTH: Record<number, HashAlgorithm> = { 64: 'sha256', 128: 'sha512' };

/** The checksum of `fileName` in `text`, or undefined if the list does not name it. */
export function findChecksum(text: string, fileName: string): Checksum | undefined {
  for (const rawLine of text.split(/\r?\n/)) {
    const line = rawLine.trim();
    const bsd = /^(SHA256|SHA512) \((.+)\) = ([0-9a-fA-F]+)$/.exec(line);
    if (bsd) {
      const [, algo, name, hash] = bsd as unknown as [string, string, string, string];
      if (baseName(name) === fileName) return { algorithm: algo.toLowerCase() as HashAlgorithm, hash: hash.toLowerCase() };
      continue;
    }
    const gnu = /^([0-9a-fA-F]{64}|[0-9a-fA-F]{128}) [ *](.+)$/.exec(line);
    if (gnu) {
      const [, hash, name] = gnu as unknown as [string, string, string];
      if (baseName(name) === fileName) return { algorithm: ALGORITHM_BY_LENGTH[hash.length] as HashAlgorithm, hash: hash.toLowerCase() };
    }
  }
  return undefined;
}

function baseName(name: string): string {
  return name.replace(/^\.\//, '').split('/').pop() as string;
}
