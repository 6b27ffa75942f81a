/** Writes the generated OpenAPI document to a file (default .tmp/openapi.json) for the linters. */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { buildOpenApiDocument } from '../src/docs/openapi.js';

const target = path.resolve(process.argv[2] ?? '.tmp/openapi.json');
mkdirSync(path.dirname(target), { recursive: true });
writeFileSync(target, `${JSON.stringify(buildOpenApiDocument(), null, 2)}\n`);
