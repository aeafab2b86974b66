/**
 * Writes docs/configuration.md from the zod schema (src/config/reference.ts), formatted as prettier would
 * (so `npm run format` leaves it alone). Run `npm run docs:config` after changing src/config/schema.ts or a
 * schema it includes; test/unit/config/reference.test.ts fails while the committed file is stale.
 * Refuses while a field has no `.describe()` text.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { format, resolveConfig } from 'prettier';
import { PACKAGE_ROOT } from '../src/config/load.js';
import { configJsonSchema, fieldsOf, renderReference, undescribed } from '../src/config/reference.js';

export const REFERENCE_FILE = path.join(PACKAGE_ROOT, 'docs', 'configuration.md');

/** The reference as committed: rendered, then formatted with the project's prettier settings. */
export async function configReferenceMarkdown(): Promise<string> {
  const options = (await resolveConfig(REFERENCE_FILE)) ?? {};
  return format(renderReference(configJsonSchema()), { ...options, parser: 'markdown' });
}

async function main(): Promise<void> {
  const missing = undescribed(fieldsOf(configJsonSchema()));
  if (missing.length > 0) {
    console.error(`these config fields have no .describe() text:\n  ${missing.join('\n  ')}`);
    process.exitCode = 1;
    return;
  }
  writeFileSync(REFERENCE_FILE, await configReferenceMarkdown());
  console.log(`wrote ${path.relative(process.cwd(), REFERENCE_FILE)}`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main();
