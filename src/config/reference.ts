/**
 * The configuration reference (docs/configuration.md), rendered from the zod schema itself (its JSON
 * Schema: types, bounds, defaults, and the `.describe()` texts), so the reference cannot drift from what
 * the loader accepts. scripts/gen-config-docs.ts writes the file; a test fails when the committed file
 * differs from what this renders now, or when a field has no description.
 */
import { stringify } from 'yaml';
import { z } from 'zod';
import { configSchema } from './schema.js';

/** The subset of JSON Schema that z.toJSONSchema produces for our schema. */
export interface SchemaNode {
  type?: string | string[];
  description?: string;
  default?: unknown;
  properties?: Record<string, SchemaNode>;
  required?: string[];
  additionalProperties?: SchemaNode | boolean;
  items?: SchemaNode;
  anyOf?: SchemaNode[];
  oneOf?: SchemaNode[];
  enum?: unknown[];
  const?: unknown;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  minLength?: number;
  minItems?: number;
  pattern?: string;
  format?: string;
}

export interface Field {
  /** `identity.networks[].cidr`, `profiles.<name>.inspect` */
  path: string;
  node: SchemaNode;
  required: boolean;
}

export const REGENERATE_COMMAND = 'npm run docs:config';

export function configJsonSchema(): SchemaNode {
  // io 'input': the shape a school writes, with the defaults filled in for what it leaves out.
  return z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' }) as SchemaNode;
}

/** Every field, depth first in schema order: objects' properties, records' values, arrays' items. */
export function fieldsOf(node: SchemaNode, prefix = '', required = false, out: Field[] = []): Field[] {
  // A list's item or a map's value is described by the field that holds it: only its own fields follow.
  if (prefix && !/(\[\]|>)$/.test(prefix)) out.push({ path: prefix, node, required });
  const inner = nonNull(node);
  if (inner.properties) {
    const req = new Set(inner.required ?? []);
    for (const [key, child] of Object.entries(inner.properties))
      fieldsOf(child, prefix ? `${prefix}.${key}` : key, req.has(key), out);
  }
  if (inner.additionalProperties && typeof inner.additionalProperties === 'object') {
    const value = inner.additionalProperties;
    if (hasFields(value)) fieldsOf(value, `${prefix}.<${recordKeyName(prefix)}>`, false, out);
  }
  if (inner.items && hasFields(inner.items)) fieldsOf(inner.items, `${prefix}[]`, false, out);
  return out;
}

/** Fields without a description (the reference would say nothing about them). */
export function undescribed(fields: readonly Field[]): string[] {
  return fields.filter((f) => !f.node.description?.trim()).map((f) => f.path);
}

export function renderReference(schema: SchemaNode = configJsonSchema()): string {
  const fields = fieldsOf(schema);
  const out: string[] = [
    '# Configuration reference',
    '',
    `<!-- Generated from src/config/schema.ts by \`${REGENERATE_COMMAND}\`; do not edit by hand. -->`,
    '',
    'Every field of the YAML configuration, with its type, its default and what it does. A file names only',
    'what it changes; everything else keeps the default shown here. `schoolgate config show` prints the',
    'effective configuration; `schoolgate config check` validates a file without starting. The file is',
    '`--config FILE`, else `$SCHOOLGATE_CONFIG`, else `/etc/schoolgate/config.yaml` if it exists.',
    'Unknown keys are errors. Relative paths are relative to the file.',
    '',
  ];
  for (const f of fields) {
    const depth = f.path.split('.').length;
    out.push(`${depth === 1 ? '##' : '###'} \`${f.path}\``, '');
    out.push(facts(f), '');
    if (f.node.description) out.push(f.node.description.trim(), '');
    const long = longDefault(f.node.default);
    if (long) out.push('Default:', '', '```yaml', long.trimEnd(), '```', '');
  }
  return `${out.join('\n').trimEnd()}\n`;
}

function facts(f: Field): string {
  const parts = [typeText(f.node)];
  const bounds = boundsText(nonNull(f.node));
  if (bounds) parts.push(bounds);
  if (f.required) parts.push('required');
  if ('default' in f.node) {
    const short = shortDefault(f.node.default);
    parts.push(short === null ? 'default: below' : `default: ${short}`);
  }
  return `_${parts.join(' · ')}_`;
}

function typeText(node: SchemaNode): string {
  const alts = node.anyOf ?? node.oneOf;
  if (alts) return [...new Set(alts.map(typeText))].join(' or ');
  if (node.enum) return `one of ${node.enum.map((v) => `\`${String(v)}\``).join(', ')}`;
  if (node.const !== undefined) return `\`${JSON.stringify(node.const)}\``;
  const types = Array.isArray(node.type) ? node.type : node.type ? [node.type] : [];
  const named = types.map((t) => {
    if (t === 'array') return node.items ? `list of ${typeText(node.items)}` : 'list';
    if (t === 'object')
      return node.properties
        ? 'object'
        : node.additionalProperties && typeof node.additionalProperties === 'object'
          ? `map of name → ${typeText(node.additionalProperties)}`
          : 'object';
    if (t === 'integer') return 'whole number';
    if (t === 'string' && node.format) return `string (${node.format})`;
    return t;
  });
  return named.length > 0 ? named.join(' or ') : 'any';
}

function boundsText(node: SchemaNode): string | null {
  const b: string[] = [];
  // .int() adds the safe-integer range as bounds: not a limit anyone sets, so not shown.
  const real = (n: number | undefined): n is number =>
    n !== undefined && Math.abs(n) < Number.MAX_SAFE_INTEGER;
  if (real(node.minimum)) b.push(`≥ ${node.minimum}`);
  if (real(node.exclusiveMinimum)) b.push(`> ${node.exclusiveMinimum}`);
  if (real(node.maximum)) b.push(`≤ ${node.maximum}`);
  if (node.minLength !== undefined && node.minLength > 0) b.push(`at least ${node.minLength} character(s)`);
  if (node.minItems !== undefined && node.minItems > 0) b.push(`at least ${node.minItems} item(s)`);
  if (node.pattern) b.push(`matching \`${node.pattern}\``);
  return b.length > 0 ? b.join(', ') : null;
}

const SHORT = 60;

function shortDefault(value: unknown): string | null {
  const json = JSON.stringify(value);
  if (json === undefined) return '`null`';
  if (isEmptyObject(value)) return 'its fields’ defaults';
  return json.length <= SHORT ? `\`${json}\`` : null;
}

function longDefault(value: unknown): string | null {
  if (value === undefined || isEmptyObject(value)) return null;
  const json = JSON.stringify(value);
  return json.length > SHORT ? stringify(value, { lineWidth: 0 }) : null;
}

function isEmptyObject(value: unknown): boolean {
  return !!value && typeof value === 'object' && !Array.isArray(value) && Object.keys(value).length === 0;
}

function nonNull(node: SchemaNode): SchemaNode {
  const alts = node.anyOf ?? node.oneOf;
  if (!alts) return node;
  const real = alts.filter((a) => a.type !== 'null');
  return real.length === 1 ? real[0]! : node;
}

function hasFields(node: SchemaNode): boolean {
  const inner = nonNull(node);
  return !!inner.properties || (!!inner.items && hasFields(inner.items));
}

/** `profiles` → `name`; the key of a record named for what it holds. */
function recordKeyName(prefix: string): string {
  return prefix.endsWith('profiles') ? 'profile' : 'name';
}
