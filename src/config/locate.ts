/** Find where a field path sits in a parsed YAML document, so messages can say FILE:LINE:COL. */
import { isMap, isPair, isScalar, isSeq, type Document, type LineCounter, type Node as YamlNode } from 'yaml';
import type { FieldPath } from './issue.js';

export interface Position {
  line: number;
  col: number;
}

function childOf(node: unknown, key: string | number): { value: unknown; keyNode?: YamlNode } | undefined {
  if (isMap(node)) {
    for (const pair of node.items) {
      if (!isPair(pair)) continue;
      const k = isScalar(pair.key) ? pair.key.value : pair.key;
      if (String(k) === String(key)) return { value: pair.value, keyNode: pair.key as YamlNode };
    }
    return undefined;
  }
  if (isSeq(node) && typeof key === 'number') {
    const item = node.items[key];
    return item === undefined ? undefined : { value: item };
  }
  return undefined;
}

function rangeStart(node: unknown): number | undefined {
  const range = (node as { range?: [number, number, number] } | null)?.range;
  return range?.[0];
}

/**
 * The position of the value at `path` (or of its key when `atKey`), falling back to the deepest
 * ancestor that exists, e.g. the node's map for a missing required field.
 */
export function locate(doc: Document, counter: LineCounter, path: FieldPath, atKey = false): Position | undefined {
  let current: unknown = doc.contents;
  let best = rangeStart(current);
  for (let i = 0; i < path.length; i++) {
    const child = childOf(current, path[i] as string | number);
    if (child === undefined) break;
    const last = i === path.length - 1;
    // A key's own line for keys and for whole maps or lists ("network:"), the value's line otherwise.
    const preferKey = child.keyNode !== undefined && ((last && atKey) || isMap(child.value) || isSeq(child.value));
    const offset = preferKey ? rangeStart(child.keyNode) : (rangeStart(child.value) ?? rangeStart(child.keyNode));
    if (offset !== undefined) best = offset;
    current = child.value;
  }
  if (best === undefined) return undefined;
  const { line, col } = counter.linePos(best);
  return { line, col };
}

/** Whether the document holds a value at `path` (a field that is missing gets a "required" message). */
export function hasPath(doc: Document, path: FieldPath): boolean {
  let current: unknown = doc.contents;
  for (const key of path) {
    const child = childOf(current, key);
    if (child === undefined) return false;
    current = child.value;
  }
  return true;
}
