/** Per-role defaults for nodes, which the schema cannot express since they depend on the role. */
export const NODE_DEFAULTS = {
  controller: { cpus: 4, memory: '8GiB', disk: '40GiB' },
  compute: { cpus: 2, memory: '4GiB', disk: '20GiB' },
} as const;

/** `.test` is reserved (RFC 2606), so default names never leak into real DNS. */
export function defaultHostname(cluster: string, node: string): string {
  return `${node}.${cluster}.test`;
}
