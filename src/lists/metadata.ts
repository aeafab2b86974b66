import { LineCounter, parseDocument, isMap, isScalar, type Document } from 'yaml';
import { z } from 'zod';
import { SchoolgateError } from '../errors.js';
import type { CategoryMeta } from '../policy/types.js';

/**
 * categories.yaml: one key per category directory.
 *
 *   social:
 *     title: Social networking
 *     description: Social networks and their apps.
 *     flagged: true
 *     alert: false
 *
 * Unknown fields are errors (a typo such as `flaged: true` must not silently leave a category unflagged).
 * Errors name the file, the line and the field.
 */
export const CATEGORY_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/**
 * Names a category may not take: folders and files beside the categories that hold something else (the
 * profile exceptions in categories.local/profiles/, the keyword lists in categories/keywords/, the
 * metadata and endpoint files). Deleting a local category named `profiles` once wiped every exception.
 */
export const RESERVED_CATEGORY_NAMES: ReadonlySet<string> = new Set([
  'profiles',
  'keywords',
  'categories.yaml',
  'endpoints.yaml',
]);

/** SG_ARGUMENT_INVALID unless `name` may name a new category. */
export function checkCategoryName(name: string): void {
  if (!CATEGORY_NAME.test(name))
    throw new SchoolgateError('SG_ARGUMENT_INVALID', `"${name}" is not a category name`, {
      context: { category: name },
      suggestion: 'use letters, digits, dot, underscore and hyphen, starting with a letter or digit',
    });
  if (RESERVED_CATEGORY_NAMES.has(name.toLowerCase()))
    throw new SchoolgateError('SG_ARGUMENT_INVALID', `"${name}" is reserved and cannot name a category`, {
      context: { category: name, reserved: [...RESERVED_CATEGORY_NAMES] },
      suggestion: `choose another name (reserved: ${[...RESERVED_CATEGORY_NAMES].join(', ')})`,
    });
}

const CategoryEntry = z.strictObject({
  title: z.string().min(1),
  description: z.string().default(''),
  flagged: z.boolean().default(false),
  alert: z.boolean().default(false),
});

export interface ParsedMetadata {
  meta: CategoryMeta[];
  /** Line of each category's key, so later errors ("no directory for social") can point at it. */
  lines: Map<string, number>;
}

export function parseCategoriesYaml(text: string, file: string): ParsedMetadata {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  const yamlError = doc.errors[0];
  if (yamlError !== undefined) {
    const line = lineCounter.linePos(yamlError.pos[0]).line;
    throw invalid(
      `${file}:${line} is not valid YAML: ${yamlError.message.split('\n')[0] ?? ''}`,
      file,
      line,
      undefined,
    );
  }
  const root: unknown = doc.toJS() ?? {};
  if (typeof root !== 'object' || root === null || Array.isArray(root)) {
    throw invalid(`${file} must be a mapping of category name to its metadata.`, file, 1, undefined);
  }

  const meta: CategoryMeta[] = [];
  const lines = new Map<string, number>();
  for (const [name, value] of Object.entries(root)) {
    const line = keyLine(doc, lineCounter, [], name);
    if (!CATEGORY_NAME.test(name)) {
      throw invalid(
        `${file}:${line}: ${JSON.stringify(name)} is not a category directory name.`,
        file,
        line,
        name,
      );
    }
    const parsed = CategoryEntry.safeParse(value);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const unknown = issue?.code === 'unrecognized_keys' ? issue.keys[0] : undefined;
      const field = unknown ?? issue?.path.map(String).join('.') ?? '';
      const at = keyLine(doc, lineCounter, [name], field) ?? line;
      const what =
        unknown !== undefined
          ? `unknown field ${JSON.stringify(unknown)}`
          : field === ''
            ? 'must be a mapping with title, description, flagged and alert'
            : `field ${JSON.stringify(field)}: ${issue?.message ?? 'invalid'}`;
      throw invalid(`${file}:${at}: category ${name}: ${what}.`, file, at, `${name}.${field}`);
    }
    meta.push({ name, ...parsed.data });
    lines.set(name, line ?? 1);
  }
  return { meta, lines };
}

/** The line of `key` inside the mapping at `path`, if the document has it. */
/** The line of `key` in the mapping at `path` of a parsed YAML document (for errors that name it). */
export function keyLine(doc: Document, lc: LineCounter, path: string[], key: string): number | undefined {
  const node = path.length === 0 ? doc.contents : doc.getIn(path, true);
  if (!isMap(node)) return undefined;
  for (const pair of node.items) {
    if (isScalar(pair.key) && String(pair.key.value) === key && pair.key.range)
      return lc.linePos(pair.key.range[0]).line;
  }
  return undefined;
}

function invalid(
  message: string,
  file: string,
  line: number | undefined,
  field: string | undefined,
): SchoolgateError {
  return new SchoolgateError('SG_CATEGORY_INVALID', message, {
    context: { file, line, ...(field === undefined ? {} : { field }) },
    suggestion:
      'Each category needs title (text); description (text), flagged and alert (true/false) are optional. Fix the line named and reload.',
  });
}
