/**
 * `reproduce --with FILE`: the user's own settings laid over the generated config, for what a gate
 * build cannot say about this host (an image of one's own, a network that does not clash, smaller
 * nodes, a DevStack mirror). Mappings merge key by key; `nodes` entries merge into the build's node of
 * the same name (a name the build does not have is refused: the build decides the nodes); any other
 * value replaces the generated one. Returns the paths it set, for the config's header.
 */
import { readFile } from 'node:fs/promises';
import { parseDocument } from 'yaml';
import { DevclusterError } from '../errors.js';
import { isRecord } from './is-record.js';

type Mapping = Record<string, unknown>;

/** The YAML mapping in `file`, or USAGE_INVALID naming the file and what is wrong with it. */
export async function readOverlay(file: string): Promise<Mapping> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (cause) {
    throw new DevclusterError('USAGE_INVALID', `--with ${file}: cannot read it`, { hint: 'give a YAML file of devcluster.yaml settings to lay over the generated config', cause });
  }
  const doc = parseDocument(text, { prettyErrors: true });
  const [first] = doc.errors;
  if (first !== undefined) {
    throw new DevclusterError('USAGE_INVALID', `--with ${file}: not valid YAML: ${first.message.split('\n')[0]}`, { hint: 'fix the line it names', cause: first });
  }
  const value: unknown = doc.toJS();
  if (!isRecord(value)) {
    throw new DevclusterError('USAGE_INVALID', `--with ${file}: holds ${value === null ? 'nothing' : Array.isArray(value) ? 'a list' : 'a single value'}, not a mapping of settings`, {
      hint: 'write it as a devcluster.yaml with only the keys to change, e.g. `network: { cidr: 192.168.166.0/24 }`',
    });
  }
  return value;
}

function merge(target: Mapping, overlay: Mapping, path: string, set: string[]): void {
  for (const [key, value] of Object.entries(overlay)) {
    const at = path === '' ? key : `${path}.${key}`;
    const current = target[key];
    if (isRecord(value) && isRecord(current)) merge(current, value, at, set);
    else {
      target[key] = value;
      set.push(at);
    }
  }
}

/**
 * Lay `overlay` (from `file`) over `config` in place; the paths set, in order. Nodes are matched by
 * name: `nodes: [{ name: compute1, memory: 2GiB }]` changes compute1's memory and nothing else.
 */
export function layOver(config: Mapping, overlay: Mapping, file: string): string[] {
  const set: string[] = [];
  const { nodes, ...rest } = overlay;
  if (nodes !== undefined) {
    const ours = Array.isArray(config.nodes) ? (config.nodes as unknown[]).filter(isRecord) : [];
    const names = ours.map((n) => String(n.name));
    if (!Array.isArray(nodes)) {
      throw new DevclusterError('USAGE_INVALID', `--with ${file}: nodes must be a list of { name, … } naming the build's nodes (${names.join(', ')})`, {
        hint: 'e.g. nodes: [{ name: controller, memory: 4GiB }]',
      });
    }
    nodes.forEach((entry: unknown, i) => {
      const node = isRecord(entry) ? ours.find((n) => n.name === entry.name) : undefined;
      if (!isRecord(entry) || node === undefined) {
        const named = isRecord(entry) && entry.name !== undefined ? `names ${String(entry.name)}, which the build does not have` : 'has no name';
        throw new DevclusterError('USAGE_INVALID', `--with ${file}: nodes[${i}] ${named} (the build's nodes: ${names.join(', ')})`, {
          hint: "--with changes the build's nodes, it does not add or remove any: name one of them",
        });
      }
      const { name, ...settings } = entry;
      merge(node, settings, `nodes.${String(name)}`, set);
    });
  }
  merge(config, rest, '', set);
  return set;
}
