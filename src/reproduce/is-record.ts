/** A YAML/JSON mapping (not null, not a list): what inventories, job variables and --with files hold. */
export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
