/**
 * Where a domain's disk points, read from and written into libvirt's own XML (a live or inactive
 * definition, or the one inside a save image). The document is parsed and rebuilt in order, every other
 * element and attribute kept as libvirt wrote it: a restore must change the disk and nothing else, or
 * libvirt refuses it as an ABI change.
 */
import { XMLBuilder, XMLParser } from 'fast-xml-parser';

type Node = Record<string, unknown> & { ':@'?: Record<string, string> };

const options = { ignoreAttributes: false, attributeNamePrefix: '', preserveOrder: true, commentPropName: '#comment', trimValues: false } as const;
const parser = new XMLParser(options);
const builder = new XMLBuilder({ ...options, suppressEmptyNode: true });

/** Where a disk's data is: a file path, or a volume of a pool. */
export type DiskSource = { file: string } | { pool: string; volume: string };

function tagOf(node: Node): string | undefined {
  return Object.keys(node).find((k) => k !== ':@');
}

function children(node: Node): Node[] {
  const tag = tagOf(node);
  const value = tag ? node[tag] : undefined;
  return Array.isArray(value) ? (value as Node[]) : [];
}

function child(node: Node, tag: string): Node | undefined {
  return children(node).find((c) => tagOf(c) === tag);
}

/** The <disk> element whose <target dev> is `dev`. */
function findDisk(doc: Node[], dev: string): Node | undefined {
  const domain = doc.find((n) => tagOf(n) === 'domain');
  const devices = domain && child(domain, 'devices');
  return devices ? children(devices).find((d) => tagOf(d) === 'disk' && child(d, 'target')?.[':@']?.dev === dev) : undefined;
}

/** The source of disk `dev` (e.g. vda) in a domain XML; undefined when there is no such disk. */
export function diskSource(xml: string, dev: string): DiskSource | undefined {
  const disk = findDisk(parser.parse(xml) as Node[], dev);
  const source = disk && child(disk, 'source')?.[':@'];
  if (!source) return undefined;
  if (source.file) return { file: source.file };
  if (source.pool && source.volume) return { pool: source.pool, volume: source.volume };
  return undefined;
}

/**
 * The same domain XML with disk `dev` pointing at a pool volume; its backing chain (which libvirt
 * reads from the image itself) is dropped. Throws when the disk is not there.
 */
export function withDiskVolume(xml: string, dev: string, pool: string, volume: string): string {
  const doc = parser.parse(xml) as Node[];
  const disk = findDisk(doc, dev);
  if (!disk) throw new Error(`the domain definition has no disk ${dev}`);
  disk[':@'] = { ...disk[':@'], type: 'volume' };
  const tag = tagOf(disk) as string;
  disk[tag] = children(disk)
    .filter((c) => tagOf(c) !== 'backingStore')
    .map((c) => (tagOf(c) === 'source' ? { source: [], ':@': { pool, volume } } : c));
  return builder.build(doc) as string;
}
