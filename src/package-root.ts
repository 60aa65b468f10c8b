/** Where devcluster is installed: the folder holding package.json, provision/, schema/ and scripts/. */
import { fileURLToPath } from 'node:url';

/** With a trailing slash; the same from src/ (tests) and from dist/ (the installed command). */
export const PACKAGE_ROOT = fileURLToPath(new URL('../', import.meta.url));
