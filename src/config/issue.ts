/** One problem found in a config file, located by its field path and, once known, its line. */
export type FieldPath = ReadonlyArray<string | number>;

export interface ConfigIssue {
  path: FieldPath;
  message: string;
  /** 1-based position of the offending value (or key) in the file, when the file has it. */
  line?: number;
  col?: number;
  /** The node this issue is about, to name it beside the path. */
  node?: string;
  /** Locate the key rather than its value (unknown keys). */
  atKey?: boolean;
}

/** `nodes[1].ip` for ['nodes', 1, 'ip']. */
export function formatPath(path: FieldPath): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? part : `.${part}`;
  }
  return out === '' ? '(top level)' : out;
}

/** `devcluster.yaml:12:7 nodes[1].ip (compute1): message` */
export function formatIssue(file: string, issue: ConfigIssue): string {
  const where = issue.line === undefined ? file : `${file}:${issue.line}:${issue.col ?? 1}`;
  const node = issue.node === undefined ? '' : ` (node ${issue.node})`;
  return `${where} ${formatPath(issue.path)}${node}: ${issue.message}`;
}
