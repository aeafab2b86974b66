/**
 * Reads the keyword lists (the only I/O of src/alerts/keywords/): the shipped directory, then the
 * school's local layer above it, the same layering as the category lists:
 *
 *   categories/keywords/<list>              shipped: `<severity> <phrase>` per line (see its README.md)
 *   <dataDir>/keywords.local/<list>         the school's own: adds phrases, or changes the severity of a
 *                                           shipped one (same phrase, new severity); a line `-<phrase>`
 *                                           removes a shipped phrase; a file with a new name is a new list
 *
 * Phrases are compared by their compiled key (match.ts), so `-Kill my self` removes `kill myself`.
 * Every line is checked; all the bad ones are reported together, as file:line, in one SchoolgateError.
 * List names are file names of lower-case letters, digits, `-` and `_` (README.md and dotfiles are not lists).
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { type ErrorCode, SchoolgateError } from '../../errors.js';
import {
  isSeverity,
  type KeywordEntry,
  type KeywordList,
  phraseKey,
  SEVERITIES,
  type Severity,
} from './match.js';

/**
 * The code of every keyword-list error. The lists are category-like lists, so they share the code of a
 * malformed category list until a code of their own is added to src/errors.ts and docs/errors.md.
 */
export const KEYWORD_ERROR_CODE: ErrorCode = 'SG_CATEGORY_INVALID';
export const KEYWORDS_LOCAL_DIR = 'keywords.local';
export const KEYWORD_LIST_NAME = /^[a-z0-9][a-z0-9_-]*$/;
const MAX_PHRASE_LENGTH = 200;
/** How many bad lines the error message spells out (all of them are in its context). */
const ERRORS_SHOWN = 5;

export type KeywordLayer = 'shipped' | 'local';

export interface LoadedKeywordEntry extends KeywordEntry {
  file: string;
  line: number;
  layer: KeywordLayer;
}

export interface LoadedKeywordList extends KeywordList {
  entries: LoadedKeywordEntry[];
}

export interface KeywordCounts {
  shipped: number;
  /** Phrases the local layer added or re-graded. */
  local: number;
  /** Shipped phrases the local layer removed. */
  removed: number;
}

export interface LoadedKeywords {
  /** Sorted by name; entries in file order, shipped first. */
  lists: LoadedKeywordList[];
  counts: Map<string, KeywordCounts>;
  /** Not errors, but worth telling the technician: duplicates, removals that remove nothing. */
  warnings: string[];
}

export interface KeywordLineError {
  file: string;
  line: number;
  reason: string;
}

type ParsedLine =
  | { kind: 'entry'; phrase: string; severity: Severity; key: string }
  | { kind: 'remove'; phrase: string; key: string }
  | { kind: 'error'; reason: string }
  | undefined;

export function keywordsLocalDir(dataDir: string): string {
  return path.join(dataDir, KEYWORDS_LOCAL_DIR);
}

/** One line of a keyword file; undefined for blank lines and comments. Pure, exported for the CLI. */
export function parseKeywordLine(raw: string, layer: KeywordLayer): ParsedLine {
  const line = raw.replace(/^\uFEFF/, '').trim();
  if (line === '' || line.startsWith('#')) return undefined;
  // A CR left inside a line (old Mac line endings), a Unicode line separator, or a newline in text from
  // the CLI would join two lines into one phrase; refuse it rather than guess where the line ends.
  if (/[\n\r\u2028\u2029]/.test(line))
    return {
      kind: 'error',
      reason: 'a line break (CR, LF, U+2028 or U+2029) inside the line: one phrase a line, LF line endings',
    };
  if (line.startsWith('-')) {
    if (layer === 'shipped')
      return { kind: 'error', reason: 'a removal (-phrase) belongs in the local layer' };
    const words = line.slice(1).trim().split(/\s+/);
    // `-danger kill myself` (a shipped line copied with a dash) removes `kill myself`.
    if (words.length > 1 && isSeverity(words[0]!.toLowerCase())) words.shift();
    return checkedPhrase(words.join(' '), (phrase, key) => ({ kind: 'remove', phrase, key }));
  }
  const m = /^(\S+)(?:\s+(.*))?$/.exec(line)!;
  const severity = m[1]!.toLowerCase();
  const rest = (m[2] ?? '').trim();
  if (!isSeverity(severity)) {
    return {
      kind: 'error',
      reason: `unknown severity "${m[1]}": a line is "<${SEVERITIES.join('|')}> <phrase>"`,
    };
  }
  if (rest === '') return { kind: 'error', reason: `empty phrase after "${m[1]}"` };
  return checkedPhrase(rest.replace(/\s+/g, ' '), (phrase, key) => ({
    kind: 'entry',
    phrase,
    severity,
    key,
  }));
}

function checkedPhrase(phrase: string, ok: (phrase: string, key: string) => ParsedLine): ParsedLine {
  if (phrase === '') return { kind: 'error', reason: 'empty phrase' };
  if (phrase.includes('#'))
    return { kind: 'error', reason: 'inline comments are not supported (a # in the phrase)' };
  if (phrase.length > MAX_PHRASE_LENGTH)
    return { kind: 'error', reason: `phrase longer than ${MAX_PHRASE_LENGTH} characters` };
  const key = phraseKey(phrase);
  if (key === '') return { kind: 'error', reason: `the phrase "${phrase}" has no letters or digits` };
  return ok(phrase, key);
}

interface ParsedFile {
  file: string;
  entries: (LoadedKeywordEntry & { key: string })[];
  removals: { phrase: string; key: string; line: number }[];
}

function parseFile(
  text: string,
  file: string,
  layer: KeywordLayer,
  errors: KeywordLineError[],
  warnings: string[],
) {
  const parsed: ParsedFile = { file, entries: [], removals: [] };
  const seen = new Map<string, number>();
  text.split('\n').forEach((raw, i) => {
    const lineNo = i + 1;
    const result = parseKeywordLine(raw.endsWith('\r') ? raw.slice(0, -1) : raw, layer);
    if (result === undefined) return;
    if (result.kind === 'error') {
      errors.push({ file, line: lineNo, reason: result.reason });
      return;
    }
    const earlier = seen.get(result.key);
    if (earlier !== undefined) {
      warnings.push(
        `${file}:${lineNo}: "${result.phrase}" repeats line ${earlier}; the later line is ignored`,
      );
      return;
    }
    seen.set(result.key, lineNo);
    if (result.kind === 'remove')
      parsed.removals.push({ phrase: result.phrase, key: result.key, line: lineNo });
    else
      parsed.entries.push({
        phrase: result.phrase,
        severity: result.severity,
        key: result.key,
        file,
        line: lineNo,
        layer,
      });
  });
  return parsed;
}

/**
 * The shipped keyword lists with the local layer applied. `localDir` may be missing (no local layer yet);
 * `shippedDir` must exist.
 */
export async function loadKeywordLists(shippedDir: string, localDir?: string): Promise<LoadedKeywords> {
  const errors: KeywordLineError[] = [];
  const warnings: string[] = [];
  const shipped = await readLayer(shippedDir, 'shipped', true, errors, warnings);
  const local =
    localDir === undefined
      ? new Map<string, ParsedFile>()
      : await readLayer(localDir, 'local', false, errors, warnings);
  if (errors.length > 0) throw lineErrors(errors);

  const lists: LoadedKeywordList[] = [];
  const counts = new Map<string, KeywordCounts>();
  for (const name of [...new Set([...shipped.keys(), ...local.keys()])].sort()) {
    const base = shipped.get(name);
    const over = local.get(name);
    const byKey = new Map<string, LoadedKeywordEntry>();
    for (const e of base?.entries ?? []) byKey.set(e.key, strip(e));
    const count: KeywordCounts = { shipped: byKey.size, local: 0, removed: 0 };
    for (const r of over?.removals ?? []) {
      if (byKey.delete(r.key)) count.removed++;
      else
        warnings.push(
          `${over!.file}:${r.line}: "-${r.phrase}" removes nothing: ${name} ships no such phrase`,
        );
    }
    for (const e of over?.entries ?? []) {
      byKey.set(e.key, strip(e));
      count.local++;
    }
    lists.push({ name, entries: [...byKey.values()] });
    counts.set(name, count);
  }
  return { lists, counts, warnings };
}

function strip(e: LoadedKeywordEntry & { key: string }): LoadedKeywordEntry {
  return { phrase: e.phrase, severity: e.severity, file: e.file, line: e.line, layer: e.layer };
}

async function readLayer(
  dir: string,
  layer: KeywordLayer,
  required: boolean,
  errors: KeywordLineError[],
  warnings: string[],
): Promise<Map<string, ParsedFile>> {
  const files = new Map<string, ParsedFile>();
  let names: string[];
  try {
    const entries = await readdir(dir, { withFileTypes: true });
    names = entries.filter((e) => e.isFile() && KEYWORD_LIST_NAME.test(e.name)).map((e) => e.name);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (!required && code === 'ENOENT') return files;
    throw new SchoolgateError(
      KEYWORD_ERROR_CODE,
      `Cannot read the keyword lists directory ${dir}: ${String(err)}`,
      {
        context: { file: dir },
        suggestion:
          layer === 'shipped'
            ? 'Reinstall schoolgate: categories/keywords/ ships with it.'
            : 'Check the permissions.',
        cause: err,
      },
    );
  }
  for (const name of names.sort()) {
    const file = path.join(dir, name);
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      throw new SchoolgateError(KEYWORD_ERROR_CODE, `Cannot read the keyword list ${file}: ${String(err)}`, {
        context: { file },
        suggestion: 'Check the file permissions.',
        cause: err,
      });
    }
    files.set(name, parseFile(text, file, layer, errors, warnings));
  }
  return files;
}

function lineErrors(errors: KeywordLineError[]): SchoolgateError {
  const first = errors[0]!;
  const shown = errors.slice(0, ERRORS_SHOWN).map((e) => `${e.file}:${e.line}: ${e.reason}`);
  if (errors.length > ERRORS_SHOWN) shown.push(`... and ${errors.length - ERRORS_SHOWN} more`);
  return new SchoolgateError(
    KEYWORD_ERROR_CODE,
    `${errors.length === 1 ? 'A keyword list line is' : `${errors.length} keyword list lines are`} invalid:\n  ${shown.join('\n  ')}`,
    {
      context: { file: first.file, line: first.line, errors },
      suggestion: `Write each line as "<${SEVERITIES.join('|')}> <phrase>" (a local file may also have "-<phrase>"); # starts a comment line.`,
    },
  );
}
