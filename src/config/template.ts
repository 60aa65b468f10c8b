/** The commented config that `devcluster init` writes: config.example.yaml, named for the cluster. */
import { readFile } from 'node:fs/promises';
import { parseDocument, Document } from 'yaml';
import { PACKAGE_ROOT } from '../package-root.js';

/** Kept here for modules that still import it from config/; it lives in package-root.ts. */
export { PACKAGE_ROOT };
export const EXAMPLE_FILE = `${PACKAGE_ROOT}config.example.yaml`;
export const SCHEMA_FILE = `${PACKAGE_ROOT}schema/devcluster.schema.json`;

const SCHEMA_LINE = /^# yaml-language-server: \$schema=.*$/m;

function schemaComment(): string {
  return `# yaml-language-server: $schema=${SCHEMA_FILE}`;
}

/** The example config with `name` set and the schema comment pointing at this installation. */
export async function initialConfigText(name: string | undefined): Promise<string> {
  const text = (await readFile(EXAMPLE_FILE, 'utf8')).replace(SCHEMA_LINE, schemaComment());
  if (name === undefined) return text;
  const doc = parseDocument(text);
  doc.set('name', name);
  return doc.toString({ lineWidth: 0 });
}

/** A converted config as YAML, headed by where it came from and what could not be carried. */
export function convertedConfigText(config: Record<string, unknown>, source: string, notes: readonly string[]): string {
  const doc = new Document(config);
  const header = [
    `yaml-language-server: $schema=${SCHEMA_FILE}`,
    '',
    ` devcluster.yaml converted from devstack-vagrant's ${source}`,
    ' Every key is explained in config.example.yaml; check with `devcluster config validate`.',
  ];
  if (notes.length > 0) header.push('', ' Not carried over, or carried with a change:', ...notes.map((n) => `   - ${n}`));
  doc.commentBefore = header.join('\n');
  return doc.toString({ lineWidth: 0 });
}
