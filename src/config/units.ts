/**
 * Sizes as users write them: "8GiB", "512MiB", "40G". Binary units (K, M, G, T, KiB…TiB) follow
 * libvirt's reading of K/M/G/T; decimal units (KB, MB, GB, TB) are powers of 1000. A bare number is
 * refused, since "8" could mean bytes, MiB or GiB.
 */
const UNITS: Record<string, number> = {
  B: 1,
  K: 1024, KiB: 1024, KB: 1000,
  M: 1024 ** 2, MiB: 1024 ** 2, MB: 1000 ** 2,
  G: 1024 ** 3, GiB: 1024 ** 3, GB: 1000 ** 3,
  T: 1024 ** 4, TiB: 1024 ** 4, TB: 1000 ** 4,
};

export const SIZE_PATTERN = /^(\d+(?:\.\d+)?)\s*(B|K|KiB|KB|M|MiB|MB|G|GiB|GB|T|TiB|TB)$/;

/** Bytes in `text`, or undefined when it is not a size with a unit. */
export function parseSize(text: string): number | undefined {
  const match = SIZE_PATTERN.exec(text.trim());
  if (!match) return undefined;
  const [, amount, unit] = match;
  return Math.round(Number(amount) * (UNITS[unit as string] as number));
}

export const MiB = 1024 ** 2;
export const GiB = 1024 ** 3;

/** "8GiB" for 8 GiB exactly, otherwise MiB. */
export function formatSize(bytes: number): string {
  if (bytes % GiB === 0) return `${bytes / GiB}GiB`;
  return `${Math.round(bytes / MiB)}MiB`;
}

/** A size for people: "1.5 GiB", "340 MiB", "12 B". */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}
