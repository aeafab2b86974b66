/**
 * The endpoint table's files: the shipped `categories/endpoints.yaml` (always read from the package, so a
 * categoriesDir pointed at a UT1 download still has it) and the school's
 * `<data>/categories.local/endpoints.yaml` above it (same format; an entry named like a shipped one
 * replaces it whole). Unknown fields, bad patterns and bad regular expressions are SG_ENDPOINTS_INVALID
 * naming the file, line and entry: the table decides SafeSearch and loophole sites, so it is never skipped.
 */
import path from 'node:path';
import { LineCounter, parseDocument } from 'yaml';
import { z } from 'zod';
import { PACKAGE_ROOT } from '../config/load.js';
import { SchoolgateError } from '../errors.js';
import { compileEndpoints, type EndpointSpec, type EndpointTable } from '../policy/endpoints.js';
import { readTextIfExists } from './local-layer.js';
import { keyLine } from './metadata.js';

export const ENDPOINTS_FILE = 'endpoints.yaml';
export const SHIPPED_ENDPOINTS = path.join(PACKAGE_ROOT, 'categories', ENDPOINTS_FILE);

const HOST_PATTERN =
  /^(?:\*|\{tld\}|[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)(?:\.(?:\*|\{tld\}|[a-z0-9](?:[a-z0-9-]*[a-z0-9])?))*$/;
const PATH_PATTERN = /^(?:\/\*|\/[A-Za-z0-9._~!$&'()+,;=:@%/-]*(?:\/\*)?)$/;
const PARAM = /^[A-Za-z0-9._~-]+$/;

const Entry = z
  .strictObject({
    kind: z.enum(['search', 'translate', 'archive']),
    hosts: z.array(z.string().regex(HOST_PATTERN, 'not a host pattern')).min(1),
    paths: z.array(z.string().regex(PATH_PATTERN, 'not a path pattern')).min(1),
    params: z.array(z.string().regex(PARAM, 'not a parameter name')).default([]),
    forms: z.boolean().default(false),
    target: z.enum(['param', 'path', 'host-label']).optional(),
    skipSegment: z.string().refine(isRegExp, 'not a regular expression').optional(),
    safeSearch: z
      .strictObject({
        param: z.string().regex(PARAM, 'not a parameter name'),
        value: z.string().regex(PARAM, 'not a plain value'),
        host: z.string().regex(HOST_PATTERN).optional(),
      })
      .optional(),
  })
  .refine((e) => e.kind === 'search' || e.target !== undefined, 'translate and archive entries need a target')
  .refine(
    (e) => (e.target ?? 'param') !== 'param' || e.params.length > 0,
    'entries read from a parameter need params',
  );

/** The shipped table with the school's entries above it (`localDir`: the local layer, local-layer.ts). */
export async function loadEndpoints(
  localDir: string | undefined,
  shippedFile = SHIPPED_ENDPOINTS,
): Promise<EndpointTable> {
  const shippedText = await readTextIfExists(shippedFile);
  if (shippedText === undefined)
    throw new SchoolgateError(
      'SG_ENDPOINTS_INVALID',
      `the shipped endpoint table ${shippedFile} is missing`,
      {
        context: { file: shippedFile },
        suggestion: 'reinstall schoolgate: categories/endpoints.yaml ships with it',
      },
    );
  const specs = new Map(parseEndpointsYaml(shippedText, shippedFile).map((s) => [s.name, s]));
  const localFile = localDir === undefined ? undefined : path.join(localDir, ENDPOINTS_FILE);
  const localText = localFile === undefined ? undefined : await readTextIfExists(localFile);
  if (localFile !== undefined && localText !== undefined)
    for (const s of parseEndpointsYaml(localText, localFile)) specs.set(s.name, s);
  return compileEndpoints([...specs.values()]);
}

export function parseEndpointsYaml(text: string, file: string): EndpointSpec[] {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  const yamlError = doc.errors[0];
  if (yamlError !== undefined)
    throw invalid(
      `${file}:${lineCounter.linePos(yamlError.pos[0]).line} is not valid YAML: ${yamlError.message.split('\n')[0] ?? ''}`,
      file,
    );
  const root: unknown = doc.toJS() ?? {};
  if (typeof root !== 'object' || root === null || Array.isArray(root))
    throw invalid(`${file} must be a mapping of endpoint name to its entry`, file);
  const out: EndpointSpec[] = [];
  for (const [name, value] of Object.entries(root)) {
    const line = keyLine(doc, lineCounter, [], name) ?? 1;
    const parsed = Entry.safeParse(value);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const where = issue && issue.path.length > 0 ? ` (${issue.path.join('.')})` : '';
      throw invalid(`${file}:${line}: endpoint ${name}${where}: ${issue?.message ?? 'invalid'}`, file, name);
    }
    const e = parsed.data;
    out.push({
      name,
      kind: e.kind,
      hosts: e.hosts,
      paths: e.paths,
      params: e.params,
      forms: e.forms,
      ...(e.target !== undefined ? { target: e.target } : {}),
      ...(e.skipSegment !== undefined ? { skipSegment: e.skipSegment } : {}),
      ...(e.safeSearch !== undefined ? { safeSearch: e.safeSearch } : {}),
    });
  }
  return out;
}

function isRegExp(source: string): boolean {
  try {
    new RegExp(source);
    return true;
  } catch {
    return false;
  }
}

function invalid(message: string, file: string, entry?: string): SchoolgateError {
  return new SchoolgateError('SG_ENDPOINTS_INVALID', message, {
    context: { file, ...(entry ? { entry } : {}) },
    suggestion: 'fix the entry named (see the format at the top of categories/endpoints.yaml)',
  });
}
