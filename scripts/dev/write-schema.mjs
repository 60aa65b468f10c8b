// Writes schema/devcluster.schema.json from the zod schema (run after `npm run build`).
import { writeFile } from 'node:fs/promises';
import { renderJsonSchema } from '../../dist/config/json-schema.js';

await writeFile(new URL('../../schema/devcluster.schema.json', import.meta.url), renderJsonSchema());
console.log('wrote schema/devcluster.schema.json');
