/**
 * `lists import`: reads public lists into a category's local layer. Formats and what each line may hold:
 * import-formats.ts. Counts: added, duplicate (already in the category in either layer, or earlier in the
 * same import), invalid and skipped, each by reason, with the first few lines of each shown (file:line).
 *
 * A source is judged like a list file the proxy loads: one that is not UTF-8 text is refused
 * (read-lines.ts), and so is one with more invalid lines than `limits` allow (limits.ts) unless `force`.
 * A source whose lines look like another format than --format says (a plain list read as adblock, a
 * hosts file read as plain) is refused with SG_IMPORT_FORMAT_WRONG, naming the format it looks like.
 * A refused import writes nothing.
 */
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { SchoolgateError } from '../errors.js';
import { parseExpressionLine } from '../policy/url-regex.js';
import { isFile, layerKeys, requireCategory, shippedFiles, type Dirs } from './catalogue.js';
import { domainLineKey, entryOf, urlLineKey } from './entry.js';
import {
  FORMAT_SHAPE,
  importReasonInWords,
  parseImportLine,
  QUIET_SKIPS,
  SHAPE_FORMAT,
  lineShape,
  type Candidate,
  type ImportFormat,
  type LineShape,
} from './import-formats.js';
import { checkInvalidLines, type BadLine, type InvalidLineLimit } from './limits.js';
import { localFile, readLines, withLocalLock, writeLines } from './local-layer.js';
import { forEachLine } from './read-lines.js';

export { IMPORT_FORMATS, type ImportFormat } from './import-formats.js';

export interface ShownLine {
  file: string;
  line: number;
  text: string;
  reason: string;
}

export type SourceKind = 'domains' | 'urls' | 'expressions';

export interface ImportSummary {
  category: string;
  format: ImportFormat;
  sources: string[];
  lines: number;
  added: number;
  duplicate: number;
  invalid: number;
  skipped: number;
  /** Invalid lines (entries refused) by reason code. */
  invalidBy: Record<string, number>;
  /** Lines that hold no entry by reason code (blank, comment, adblock rules of other kinds, ...). */
  skippedBy: Record<string, number>;
  /** The first few invalid lines. */
  invalidLines: ShownLine[];
  /** The first few skipped lines that are not blanks or comments. */
  skippedLines: ShownLine[];
  /** Of added: URL regex rules (expressions files). */
  expressions: number;
  /** Of added: private public suffixes (`github.io`), entries for that host only (src/policy/public-suffix.ts). */
  hostOnly: number;
  replaced: boolean;
}

export interface ImportProgress {
  file: string;
  bytesDone: number;
  bytesTotal: number;
  lines: number;
}

export interface ImportOptions {
  format: ImportFormat;
  replace?: boolean;
  dryRun?: boolean;
  /**
   * Called after each block read (64 KiB) and at the end; a promise it returns is awaited before the next
   * block (the console's import page yields to other requests there).
   */
  onProgress?: (p: ImportProgress) => void | Promise<void>;
  /** Refuse a source file with more invalid lines than this allows (config `lists`). */
  limits?: InvalidLineLimit;
  /** Import the valid lines even past `limits` (never a file that is not text, nor a wrong format). */
  force?: boolean;
  /** The category does not exist yet (`--create --dry-run`): count against an empty category. */
  newCategory?: boolean;
  /**
   * Write into this layer folder (`<into>/<category>/<kind>`, a provider generation being built) instead of
   * the local layer, counting duplicates against what the folder already holds only. The caller holds the
   * local layer's lock.
   */
  into?: string;
}

export interface SourceGroup {
  kind: SourceKind;
  files: string[];
}

const SHOWN_LINES = 5;
/** A file is read in the wrong format when most of its entry lines look like another one. */
const SNIFF_MAJORITY = 0.5;

/** Reason words for a summary's `...By` counts, for printing. */
export { importReasonInWords };

/** The files to read: a squidguard directory gives its domains, urls and expressions (or their chunks). */
async function sourceFiles(source: string, format: ImportFormat): Promise<SourceGroup[]> {
  const info = await stat(source).catch((err: NodeJS.ErrnoException) => {
    throw new SchoolgateError('SG_FILE_UNREADABLE', `cannot read ${source}: ${err.code ?? err.message}`, {
      context: { file: source },
      suggestion: 'check the path and the permissions',
    });
  });
  if (info.isFile()) return [{ kind: 'domains', files: [source] }];
  if (format !== 'squidguard')
    throw new SchoolgateError(
      'SG_FILE_UNREADABLE',
      `${source} is a directory; --format ${format} reads one file`,
      {
        context: { file: source },
        suggestion: 'give the file, or use --format squidguard for a squidGuard/UT1 category directory',
      },
    );
  const groups = await categoryDirFiles(source);
  if (groups.every((g) => g.files.length === 0))
    throw new SchoolgateError('SG_FILE_UNREADABLE', `${source} has neither a domains nor a urls file`, {
      context: { file: source },
      suggestion: 'give a squidGuard/UT1 category directory (one holding domains and/or urls)',
    });
  return groups;
}

/** The domains, urls and expressions files (or split chunks) of a squidGuard/UT1 category directory. */
export async function categoryDirFiles(dir: string): Promise<SourceGroup[]> {
  const dirs = { categoriesDir: path.dirname(dir), dataDir: '' };
  const name = path.basename(dir);
  const expressions = path.join(dir, 'expressions');
  return [
    { kind: 'domains', files: await shippedFiles(dirs, name, 'domains') },
    { kind: 'urls', files: await shippedFiles(dirs, name, 'urls') },
    { kind: 'expressions', files: (await isFile(expressions)) ? [expressions] : [] },
  ];
}

export async function importList(
  dirs: Dirs,
  category: string,
  source: string,
  opts: ImportOptions,
): Promise<ImportSummary> {
  const groups = await sourceFiles(source, opts.format);
  return importGroups(dirs, category, groups, opts);
}

/** Imports already-found source files into one category (import-tree.ts calls this per category). */
export function importGroups(
  dirs: Dirs,
  category: string,
  groups: SourceGroup[],
  opts: ImportOptions,
): Promise<ImportSummary> {
  if (opts.into !== undefined) return importLocked(dirs, category, groups, opts);
  return withLocalLock(dirs.dataDir, () => importLocked(dirs, category, groups, opts));
}

const REFUSED_SUGGESTION =
  'Nothing was imported. Check --format (a hosts file read as plain, or the reverse, is all invalid ' +
  'lines) and that the source is the list you meant (not an error page); to import its valid lines ' +
  'anyway, run the command again with --force.';

async function importLocked(
  dirs: Dirs,
  category: string,
  groups: SourceGroup[],
  opts: ImportOptions,
): Promise<ImportSummary> {
  if (!opts.newCategory) await requireCategory(dirs, category);
  const allFiles = groups.flatMap((g) => g.files);
  let bytesTotal = 0;
  for (const f of allFiles) {
    if (!(await isFile(f)))
      throw new SchoolgateError('SG_FILE_UNREADABLE', `${f} is not a readable file`, {
        context: { file: f },
      });
    bytesTotal += (await stat(f)).size;
  }

  // What the category already holds, in both layers (the local one is dropped first with --replace).
  const target = (kind: 'domains' | 'urls' | 'expressions') =>
    opts.into === undefined ? localFile(dirs.dataDir, category, kind) : path.join(opts.into, category, kind);
  const local = { domains: target('domains'), urls: target('urls'), expressions: target('expressions') };
  const keep = {
    domains: opts.replace ? [] : await readLines(local.domains),
    urls: opts.replace ? [] : await readLines(local.urls),
    expressions: opts.replace ? [] : await readLines(local.expressions),
  };
  const known =
    opts.newCategory || opts.into !== undefined
      ? new Set<string>()
      : await layerKeys(dirs, category, 'shipped');
  if (opts.into !== undefined) {
    for (const line of keep.domains) addKey(known, domainLineKey(line));
    for (const line of keep.urls) addKey(known, urlLineKey(line));
    for (const line of keep.expressions) known.add(`r ${line.trim()}`);
  } else if (!opts.replace && !opts.newCategory) {
    for (const k of await layerKeys(dirs, category, 'local')) known.add(k);
    for (const line of keep.expressions) known.add(`r ${line.trim()}`);
  }
  const added = { domains: [] as string[], urls: [] as string[], expressions: [] as string[] };
  const summary: ImportSummary = {
    category,
    format: opts.format,
    sources: allFiles,
    lines: 0,
    added: 0,
    duplicate: 0,
    invalid: 0,
    skipped: 0,
    invalidBy: {},
    skippedBy: {},
    invalidLines: [],
    skippedLines: [],
    expressions: 0,
    hostOnly: 0,
    replaced: opts.replace ?? false,
  };
  let bytesDone = 0;
  let shownFile = '';
  const progress = opts.onProgress
    ? () => opts.onProgress!({ file: shownFile, bytesDone, bytesTotal, lines: summary.lines })
    : undefined;
  for (const group of groups) {
    if (group.files.length === 0) continue;
    const shown = group.files[0]!;
    shownFile = shown;
    // Per source file (split chunks are one file), like the loader: entry lines, invalid, the first few.
    const file = { entryLines: 0, invalid: 0, suffixes: 0, first: [] as BadLine[] };
    const shapes = new Map<LineShape, number>();
    await forEachLine(
      group.files,
      (line, lineNo) => {
        summary.lines++;
        bytesDone += line.length + 1;
        if (group.kind !== 'expressions') {
          const shape = lineShape(line);
          if (shape) shapes.set(shape, (shapes.get(shape) ?? 0) + 1);
        }
        const show = (list: ShownLine[], reason: string) => {
          if (list.length < SHOWN_LINES)
            list.push({ file: shown, line: lineNo, text: line.slice(0, 120), reason });
        };
        for (const c of candidates(opts.format, group.kind, line)) {
          if (c.kind === 'skip') {
            summary.skipped++;
            const reason = c.detail ? `${c.reason} ${c.detail}` : c.reason;
            bump(summary.skippedBy, c.reason);
            if (!QUIET_SKIPS.has(c.reason)) show(summary.skippedLines, reason);
            continue;
          }
          file.entryLines++;
          if (c.kind === 'invalid') {
            summary.invalid++;
            file.invalid++;
            bump(summary.invalidBy, c.reason);
            if (c.reason === 'public-suffix') file.suffixes++;
            if (file.first.length < SHOWN_LINES)
              file.first.push({ line: lineNo, text: line.slice(0, 120), reason: c.reason });
            show(summary.invalidLines, c.reason);
            continue;
          }
          const key = c.kind === 'regex' ? `r ${c.source}` : entryOf(c)!.key;
          if (known.has(key)) {
            summary.duplicate++;
            continue;
          }
          known.add(key);
          summary.added++;
          if (c.kind === 'regex') {
            summary.expressions++;
            added.expressions.push(c.source);
          } else {
            const e = entryOf(c)!;
            if (c.kind === 'domain' && c.exact) summary.hostOnly++;
            (e.kind === 'domain' ? added.domains : added.urls).push(e.text);
          }
        }
      },
      progress,
    );
    const name = group.files.length > 1 ? `${shown} (+${group.files.length - 1} chunks)` : shown;
    if (group.kind !== 'expressions') checkShape(name, opts.format, shapes);
    if (opts.limits && !opts.force) {
      // A public suffix in a curated list is refused, but it is not a sign of the wrong file (load.ts).
      const counted = {
        entryLines: file.entryLines - file.suffixes,
        invalid: file.invalid - file.suffixes,
        first: file.first,
      };
      checkInvalidLines(name, counted, opts.limits, REFUSED_SUGGESTION);
    }
  }
  await opts.onProgress?.({ file: '', bytesDone: bytesTotal, bytesTotal, lines: summary.lines });
  if (!opts.dryRun) {
    for (const kind of ['domains', 'urls', 'expressions'] as const)
      if (opts.replace || added[kind].length > 0)
        await writeLines(local[kind], [...keep[kind], ...added[kind]]);
  }
  return summary;
}

type AnyCandidate = Candidate | { kind: 'regex'; source: string };

function candidates(format: ImportFormat, kind: SourceKind, line: string): AnyCandidate[] {
  if (kind !== 'expressions') return parseImportLine(format, kind, line);
  const text = line.trim();
  if (text === '') return [{ kind: 'skip', reason: 'blank' }];
  const p = parseExpressionLine(text);
  if (p.kind === 'skip') return [{ kind: 'skip', reason: 'comment' }];
  if (p.kind === 'invalid') return [p];
  return [{ kind: 'regex', source: p.source }];
}

function addKey(keys: Set<string>, key: string | undefined): void {
  if (key !== undefined) keys.add(key);
}

function bump(counts: Record<string, number>, reason: string): void {
  counts[reason] = (counts[reason] ?? 0) + 1;
}

/**
 * SG_IMPORT_FORMAT_WRONG when the file's entry lines mostly look like another format, or none looks like
 * the one asked for: reading it on would report "0 added" (or a pile of invalid lines) for a list that is
 * fine in its own format.
 */
function checkShape(file: string, format: ImportFormat, shapes: Map<LineShape, number>): void {
  let total = 0;
  for (const n of shapes.values()) total += n;
  if (total === 0) return;
  const expected = FORMAT_SHAPE[format];
  const mine = shapes.get(expected) ?? 0;
  if (mine > total * SNIFF_MAJORITY) return;
  let best: Exclude<LineShape, 'other'> | undefined;
  for (const shape of ['plain', 'hosts', 'adblock'] as const)
    if (shape !== expected && (shapes.get(shape) ?? 0) > total * SNIFF_MAJORITY) best = shape;
  if (best === undefined && mine > 0) return;
  const looks =
    best === undefined
      ? `none of its ${total} entry lines looks like ${format} lines`
      : `${shapes.get(best)} of its ${total} entry lines look like ${SHAPE_FORMAT[best]} lines, ${mine} like ${format}`;
  const article = format === 'adblock' ? 'an' : 'a';
  throw new SchoolgateError('SG_IMPORT_FORMAT_WRONG', `${file} is not ${article} ${format} list: ${looks}`, {
    context: { file, format, detected: best === undefined ? null : SHAPE_FORMAT[best], lines: total },
    suggestion:
      best === undefined
        ? 'check that the source is the list you meant (not an error page) and its --format'
        : `run the command again with --format ${SHAPE_FORMAT[best]}`,
  });
}
