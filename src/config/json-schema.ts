/** The JSON Schema of devcluster.yaml, for editors, generated from the zod schema. */
import { z } from 'zod';
import { configSchema } from './schema.js';

export function renderJsonSchema(): string {
  const schema = z.toJSONSchema(configSchema, { io: 'input', target: 'draft-2020-12', unrepresentable: 'any' });
  return `${JSON.stringify({ ...schema, $id: 'https://devcluster.dev/schema/devcluster.schema.json', title: 'devcluster.yaml' }, null, 2)}\n`;
}
