/**
 * `lists import`: reads public lists in four formats into a category's local layer.
 *   squidguard  a squidGuard/UT1 category directory (domains, urls, split chunks domains.0, ...) or one file
 *   hosts       `0.0.0.0 name [name...]` lines; localhost preamble lines are skipped
 *   plain       one domain (or host/path) per line, `#` comments
 *   adblock     the domain rules `||name^` of adblock lists; every other rule is skipped and counted
 * Every candidate goes through the policy core's parser (src/policy/entries.ts). Counts: added, duplicate
 * (already in the category in either layer, or earlier in the same import), invalid (with the first few
 * lines shown), skipped (comments, blanks, rules of another kind).
 *
 * A source is judged like a list file the proxy loads: one that is not UTF-8 text is refused
 * (read-lines.ts), and so is one with more invalid lines than `limits` allow (limits.ts) unless `force`.
 * A refused import writes nothing.
 */
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { SchoolgateError } from '../errors.js';
import { parseDomainLine, parseEntry, parseUrlLine, type ParsedEntry } from '../policy/entries.js';
import { isFile, layerKeys, requireCategory, shippedFiles, type Dirs } from './catalogue.js';
import { entryOf } from './entry.js';
import { checkInvalidLines, type BadLine, type InvalidLineLimit } from './limits.js';
import { localFile, readLines, withLocalLock, writeLines } from './local-layer.js';
import { forEachLine } from './read-lines.js';

export const IMPORT_FORMATS = ['squidguard', 'hosts', 'plain', 'adblock'] as const;
export type ImportFormat = (typeof IMPORT_FORMATS)[number];

export interface InvalidLine {
  file: string;
  line: number;
  text: string;
  reason: string;
}

export interface ImportSummary {
  category: string;
  format: ImportFormat;
  sources: string[];
  lines: number;
  added: number;
  duplicate: number;
  invalid: number;
  skipped: number;
  /** The first few invalid lines. */
  invalidLines: InvalidLine[];
  replaced: boolean;
}

export interface ImportProgress {
  file: string;
  bytesDone: number;
  bytesTotal: number;
  lines: number;
}

const SHOWN_INVALID = 5;
const HOSTS_SKIP = new Set([
  'localhost',
  'localhost.localdomain',
  'local',
  'broadcasthost',
  'ip6-localhost',
  'ip6-loopback',
  'ip6-localnet',
  'ip6-mcastprefix',
  'ip6-allnodes',
  'ip6-allrouters',
  'ip6-allhosts',
  '0.0.0.0',
]);

type Candidate = ParsedEntry | 'skip';

/** One line of a source → the entries it holds (a hosts line can hold several names). */
function parseLine(format: ImportFormat, kind: 'domains' | 'urls', line: string): Candidate[] {
  switch (format) {
    case 'squidguard':
      return [kind === 'urls' ? parseUrlLine(line) : parseDomainLine(line)];
    case 'plain': {
      const text = line.replace(/\s+#.*$/, '').trim();
      if (text === '' || text.startsWith('#')) return ['skip'];
      return [parseEntry(text)];
    }
    case 'hosts': {
      const text = line.replace(/#.*$/, '').trim();
      if (text === '') return ['skip'];
      const [address, ...names] = text.split(/\s+/);
      if (names.length === 0)
        return [
          { kind: 'invalid', reason: `a hosts line needs an address and a name (got only "${address}")` },
        ];
      return names.map((n) => (HOSTS_SKIP.has(n.toLowerCase()) ? 'skip' : parseDomainLine(n)));
    }
    case 'adblock': {
      const text = line.trim();
      if (text === '' || text.startsWith('!') || text.startsWith('[')) return ['skip'];
      const m = /^\|\|([^/^$*|]+)\^(\$important)?$/.exec(text);
      if (!m) return ['skip']; // cosmetic, exception and option rules are not domain rules
      return [parseDomainLine(m[1]!)];
    }
  }
}

/** The files to read: a squidguard directory gives its domains and urls (or their chunks). */
async function sourceFiles(
  source: string,
  format: ImportFormat,
): Promise<{ kind: 'domains' | 'urls'; files: string[] }[]> {
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
  const dirs = { categoriesDir: path.dirname(source), dataDir: '' };
  const name = path.basename(source);
  const domains = await shippedFiles(dirs, name, 'domains');
  const urls = await shippedFiles(dirs, name, 'urls');
  if (domains.length === 0 && urls.length === 0)
    throw new SchoolgateError('SG_FILE_UNREADABLE', `${source} has neither a domains nor a urls file`, {
      context: { file: source },
      suggestion: 'give a squidGuard/UT1 category directory (one holding domains and/or urls)',
    });
  return [
    { kind: 'domains', files: domains },
    { kind: 'urls', files: urls },
  ];
}

export function importList(
  dirs: Dirs,
  category: string,
  source: string,
  opts: ImportOptions,
): Promise<ImportSummary> {
  return withLocalLock(dirs.dataDir, () => importLocked(dirs, category, source, opts));
}

export interface ImportOptions {
  format: ImportFormat;
  replace?: boolean;
  dryRun?: boolean;
  onProgress?: (p: ImportProgress) => void;
  /** Refuse a source file with more invalid lines than this allows (config `lists`). */
  limits?: InvalidLineLimit;
  /** Import the valid lines even past `limits` (never a file that is not text). */
  force?: boolean;
}

const REFUSED_SUGGESTION =
  'Nothing was imported. Check --format (a hosts file read as plain, or the reverse, is all invalid ' +
  'lines) and that the source is the list you meant (not an error page); to import its valid lines ' +
  'anyway, run the command again with --force.';

async function importLocked(
  dirs: Dirs,
  category: string,
  source: string,
  opts: ImportOptions,
): Promise<ImportSummary> {
  await requireCategory(dirs, category);
  const groups = await sourceFiles(source, opts.format);
  const allFiles = groups.flatMap((g) => g.files);
  let bytesTotal = 0;
  for (const f of allFiles) bytesTotal += (await stat(f)).size;
  for (const f of allFiles)
    if (!(await isFile(f)))
      throw new SchoolgateError('SG_FILE_UNREADABLE', `${f} is not a readable file`, {
        context: { file: f },
      });

  // What the category already holds, in both layers (the local one is dropped first with --replace).
  const known = await layerKeys(dirs, category, 'shipped');
  const domainsFile = localFile(dirs.dataDir, category, 'domains');
  const urlsFile = localFile(dirs.dataDir, category, 'urls');
  const keep = {
    domains: opts.replace ? [] : await readLines(domainsFile),
    urls: opts.replace ? [] : await readLines(urlsFile),
  };
  if (!opts.replace) for (const k of await layerKeys(dirs, category, 'local')) known.add(k);
  const added = { domains: [] as string[], urls: [] as string[] };
  const summary: ImportSummary = {
    category,
    format: opts.format,
    sources: allFiles,
    lines: 0,
    added: 0,
    duplicate: 0,
    invalid: 0,
    skipped: 0,
    invalidLines: [],
    replaced: opts.replace ?? false,
  };
  let bytesDone = 0;
  for (const group of groups) {
    if (group.files.length === 0) continue;
    const shown = group.files[0]!;
    // Per source file (split chunks are one file), like the loader: entry lines, invalid, the first few.
    const file = { entryLines: 0, invalid: 0, first: [] as BadLine[] };
    await forEachLine(group.files, (line, lineNo) => {
      summary.lines++;
      bytesDone += line.length + 1;
      if (opts.onProgress && summary.lines % 20_000 === 0)
        opts.onProgress({ file: shown, bytesDone, bytesTotal, lines: summary.lines });
      for (const c of parseLine(opts.format, group.kind, line)) {
        if (c === 'skip' || c.kind === 'skip') {
          summary.skipped++;
          continue;
        }
        file.entryLines++;
        if (c.kind === 'invalid') {
          summary.invalid++;
          file.invalid++;
          if (file.first.length < SHOWN_INVALID)
            file.first.push({ line: lineNo, text: line.slice(0, 120), reason: c.reason });
          if (summary.invalidLines.length < SHOWN_INVALID)
            summary.invalidLines.push({
              file: shown,
              line: lineNo,
              text: line.slice(0, 120),
              reason: c.reason,
            });
          continue;
        }
        const e = entryOf(c)!;
        if (known.has(e.key)) {
          summary.duplicate++;
          continue;
        }
        known.add(e.key);
        summary.added++;
        (e.kind === 'domain' ? added.domains : added.urls).push(e.text);
      }
    });
    if (opts.limits && !opts.force) {
      const name = group.files.length > 1 ? `${shown} (+${group.files.length - 1} chunks)` : shown;
      checkInvalidLines(name, file, opts.limits, REFUSED_SUGGESTION);
    }
  }
  opts.onProgress?.({ file: '', bytesDone: bytesTotal, bytesTotal, lines: summary.lines });
  if (!opts.dryRun) {
    if (opts.replace || added.domains.length > 0)
      await writeLines(domainsFile, [...keep.domains, ...added.domains]);
    if (opts.replace || added.urls.length > 0) await writeLines(urlsFile, [...keep.urls, ...added.urls]);
  }
  return summary;
}
