import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { SchoolgateError } from '../errors.js';
import { CategoryListsBuilder, type LineOutcome } from '../policy/lists.js';
import type { CategoryLists, CategoryMeta } from '../policy/types.js';
import { loadEndpoints } from './endpoints-file.js';
import { domainLineKey, urlLineKey } from './entry.js';
import { checkInvalidLines, type BadLine, type InvalidLineLimit } from './limits.js';
import type { LocalLayer } from './local-layer.js';
import type { ProviderLayer } from './provider-layer.js';
import { CATEGORY_NAME, parseCategoriesYaml } from './metadata.js';
import { forEachLine } from './read-lines.js';

/**
 * The I/O side of the category lists: reads a squidGuard/UT1 directory
 *
 *   <dir>/categories.yaml          metadata (see metadata.ts)
 *   <dir>/<category>/domains       one domain or IP per line
 *   <dir>/<category>/urls          optional host/path prefixes
 *   <dir>/<category>/expressions   optional URL regex rules (src/policy/url-regex.ts)
 *
 * and compiles it into an immutable CategoryLists. Metadata and directories must agree one to one.
 * Invalid lines are counted per category and reported as warnings with file:line, never dropped silently;
 * with `limits` (every load that serves traffic passes the configured ones) a file with more invalid lines
 * than they allow is refused whole (limits.ts). A file that is not text is always refused (read-lines.ts).
 */
export interface CategoryCounts {
  /** Valid lines of the domains file(s) (duplicates included). */
  domains: number;
  /** Valid lines of the urls file(s). */
  urls: number;
  /** Valid regex rules of the expressions file(s), shipped and local. */
  expressions?: number;
  /** Lines that are neither valid, blank nor comments. */
  invalid: number;
  /** Of domains/urls: how many came from the local layer (see local-layer.ts). */
  local?: { domains: number; urls: number };
  /** Of domains/urls: how many came from the provider layer (`lists update`, provider-layer.ts). */
  provider?: { domains: number; urls: number };
  /** Shipped entries left out because the local layer's `removed` file un-lists them. */
  removed?: number;
  /** Which layer the category itself (its metadata) comes from. */
  layer?: 'shipped' | 'local';
}

/** Valid entries of a category's shipped files, including those the local layer un-lists. */
export function shippedSize(c: CategoryCounts): number {
  const added =
    (c.local?.domains ?? 0) + (c.local?.urls ?? 0) + (c.provider?.domains ?? 0) + (c.provider?.urls ?? 0);
  return c.domains + c.urls - added + (c.removed ?? 0);
}

export interface LoadedCategories {
  lists: CategoryLists;
  counts: Map<string, CategoryCounts>;
  warnings: string[];
  /** With LoadOptions.snapshotDir: whether the index snapshot was read, written after a build, or neither. */
  snapshot?: 'read' | 'written' | 'none';
}

export interface LoadOptions {
  /**
   * Without a categories.yaml, make metadata from the directory names (title = name, not flagged, no
   * alert) instead of failing. For raw UT1 downloads in tests and benchmarks, not for production lists.
   */
  metaDefaults?: boolean;
  /** Load only these categories (must exist). Default: all. */
  only?: readonly string[];
  /** The school's local layer (local-layer.ts), loaded above the shipped and provider lists. */
  local?: LocalLayer;
  /** The provider layer (`lists update`, provider-layer.ts), loaded above the shipped lists. */
  provider?: ProviderLayer;
  /**
   * Refuse (SG_LIST_FILE_INVALID) a file with more invalid lines than this allows: config `lists`. Without
   * it invalid lines are only counted and warned about (`lists categories`, benchmarks over raw UT1).
   */
  limits?: InvalidLineLimit;
  /**
   * Keep a snapshot of the built index here and load from it while the list files are unchanged
   * (load-snapshot.ts; start and reload pass `<dataDir>/lists-index`). Only loadCategoriesOffThread reads it.
   */
  snapshotDir?: string;
}

export const METADATA_FILE = 'categories.yaml';
/** How many invalid lines per file are spelled out in warnings; the rest are summarised. */
const WARNINGS_PER_FILE = 5;
const REFUSED_SUGGESTION =
  'Fix or remove the lines named, or replace the file with a good copy; the old lists keep serving until ' +
  'it loads (a proxy that is not running yet does not start). The limits are lists.maxInvalidLines and ' +
  'lists.maxInvalidShare in the configuration.';

export interface LoadedMetadata {
  /** Shipped categories first, then the local layer's (the same objects as `local.metas`). */
  metas: CategoryMeta[];
  warnings: string[];
}

/**
 * The metadata of every category, without reading a single list entry: the shipped categories.yaml checked
 * against the category directories, then the local layer's categories merged in. loadCategories() starts
 * with this, so the proxy and the reports (src/reports/source.ts) see the same titles and flags and refuse
 * the same mistakes.
 */
export async function loadCategoryMetadata(
  dir: string,
  opts: Pick<LoadOptions, 'metaDefaults' | 'local' | 'provider'> = {},
): Promise<LoadedMetadata> {
  const metaFile = path.join(dir, METADATA_FILE);
  const dirs = await categoryDirectories(dir);
  const warnings: string[] = [];
  let metas: CategoryMeta[];

  const yamlText = await readFile(metaFile, 'utf8').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw categoryError(
      `Cannot read ${metaFile}: ${err.message}`,
      metaFile,
      undefined,
      'Check the file permissions.',
    );
  });
  if (yamlText !== undefined) {
    const parsed = parseCategoriesYaml(yamlText, metaFile);
    metas = parsed.meta;
    checkAgreement(dir, metaFile, parsed.lines, dirs);
  } else if (opts.metaDefaults) {
    metas = [...dirs.real].sort().map(defaultMeta);
    for (const alias of [...dirs.aliases].sort())
      warnings.push(`${path.join(dir, alias)}: symlinked category directory (alias) skipped`);
  } else {
    throw categoryError(
      `${metaFile} is missing.`,
      metaFile,
      undefined,
      `Create ${METADATA_FILE} with one entry per category directory in ${dir}.`,
    );
  }

  if (opts.local) metas = withLocalMetas(dir, metas, opts.local, warnings);
  if (opts.provider) {
    const names = new Set(metas.map((m) => m.name));
    for (const d of opts.provider.dirs)
      if (!names.has(d))
        warnings.push(`${path.join(opts.provider.dir, d)}: provider entries for no category (ignored)`);
  }
  return { metas, warnings };
}

export async function loadCategories(dir: string, opts: LoadOptions = {}): Promise<LoadedCategories> {
  const builder = new CategoryListsBuilder();
  const { counts, warnings } = await fillCategories(builder, dir, opts);
  return { lists: builder.build(await loadEndpoints(opts.local?.dir)), counts, warnings };
}

/**
 * Reads every list file of `dir` (and the layers in `opts`) into `builder`: loadCategories() on the thread
 * that serves, src/lists/lists-worker.ts on a worker thread (a reload that does not stall the proxy).
 */
export async function fillCategories(
  builder: CategoryListsBuilder,
  dir: string,
  opts: LoadOptions = {},
): Promise<Omit<LoadedCategories, 'lists'>> {
  const { metas: allMetas, warnings } = await loadCategoryMetadata(dir, opts);
  let metas = allMetas;
  const local = opts.local;

  if (opts.only !== undefined) {
    const wanted = new Set(opts.only);
    for (const name of wanted) {
      if (!metas.some((m) => m.name === name)) {
        throw categoryError(
          `Category ${name} does not exist in ${dir}.`,
          path.join(dir, name),
          undefined,
          'Check the category name.',
        );
      }
    }
    metas = metas.filter((m) => wanted.has(m.name));
  }

  const counts = new Map<string, CategoryCounts>();
  for (const meta of metas) {
    builder.addCategory(meta);
    const count: CategoryCounts = { domains: 0, urls: 0, invalid: 0 };
    counts.set(meta.name, count);
    const localOnly = local?.metas.includes(meta) ?? false;
    const catDir = path.join(localOnly ? local!.dir : dir, meta.name);
    const domainFiles = localOnly ? [] : await listFiles(catDir, 'domains');
    const urlFiles = localOnly ? [] : await listFiles(catDir, 'urls');
    if (domainFiles.length === 0 && urlFiles.length === 0 && !localOnly)
      warnings.push(`${catDir}: category has neither a domains nor a urls file`);
    // Shipped entries the local layer un-lists are skipped (parsed twice only in categories with removals).
    const removed = local?.removed.get(meta.name);
    const unlisted = (key: string | undefined): boolean => {
      if (removed === undefined || key === undefined || !removed.has(key)) return false;
      count.removed = (count.removed ?? 0) + 1;
      return true;
    };
    count.domains = await feed(
      domainFiles,
      removed
        ? (line) => (unlisted(domainLineKey(line)) ? 'unlisted' : builder.addDomainLine(meta.name, line))
        : (line) => builder.addDomainLine(meta.name, line),
      count,
      warnings,
      opts.limits,
    );
    count.urls = await feed(
      urlFiles,
      removed
        ? (line) => (unlisted(urlLineKey(line)) ? 'unlisted' : builder.addUrlLine(meta.name, line))
        : (line) => builder.addUrlLine(meta.name, line),
      count,
      warnings,
      opts.limits,
    );
    const expressionFiles = localOnly ? [] : await listFiles(catDir, 'expressions');
    const addExpression = (line: string) => builder.addExpressionLine(meta.name, line);
    let expressions = await feed(expressionFiles, addExpression, count, warnings, opts.limits);
    if (opts.provider?.dirs.includes(meta.name)) {
      // Provider entries the local layer un-lists are skipped too (local > provider), not counted as removed
      // shipped entries (the shrink guard's measure).
      const providerDir = path.join(opts.provider.dir, meta.name);
      const skip = (key: string | undefined) =>
        removed !== undefined && key !== undefined && removed.has(key);
      const domains = await feed(
        await listFiles(providerDir, 'domains'),
        (line) => (skip(domainLineKey(line)) ? 'unlisted' : builder.addDomainLine(meta.name, line)),
        count,
        warnings,
        opts.limits,
      );
      const urls = await feed(
        await listFiles(providerDir, 'urls'),
        (line) => (skip(urlLineKey(line)) ? 'unlisted' : builder.addUrlLine(meta.name, line)),
        count,
        warnings,
        opts.limits,
      );
      expressions += await feed(
        await listFiles(providerDir, 'expressions'),
        addExpression,
        count,
        warnings,
        opts.limits,
      );
      count.provider = { domains, urls };
      count.domains += domains;
      count.urls += urls;
    }
    if (local) expressions += await fillLocalCategory(builder, meta, local, count, warnings, opts.limits);
    if (expressions > 0) count.expressions = expressions;
  }
  return { counts, warnings };
}

/**
 * The local layer's entries of one category into `builder`, counted into `count`; returns the number of
 * regex rules it added. The full load calls it after the shipped and provider files, the overlay over a
 * snapshot (local-overlay.ts) with a builder of its own.
 */
export async function fillLocalCategory(
  builder: CategoryListsBuilder,
  meta: CategoryMeta,
  local: LocalLayer,
  count: CategoryCounts,
  warnings: string[],
  limits: InvalidLineLimit | undefined,
): Promise<number> {
  count.layer = local.metas.includes(meta) ? 'local' : 'shipped';
  const localDir = path.join(local.dir, meta.name);
  const add = async (base: string, addLine: (line: string) => LineOutcome) =>
    feed(await listFiles(localDir, base), addLine, count, warnings, limits);
  const domains = await add('domains', (line) => builder.addDomainLine(meta.name, line));
  const urls = await add('urls', (line) => builder.addUrlLine(meta.name, line));
  count.local = { domains, urls };
  count.domains += domains;
  count.urls += urls;
  return add('expressions', (line) => builder.addExpressionLine(meta.name, line));
}

/** Local categories join the shipped ones; a clash, or a local directory no category owns, is reported. */
export function withLocalMetas(
  dir: string,
  metas: CategoryMeta[],
  local: LocalLayer,
  warnings: string[],
): CategoryMeta[] {
  const shipped = new Set(metas.map((m) => m.name));
  for (const meta of local.metas) {
    if (shipped.has(meta.name))
      throw categoryError(
        `Local category ${meta.name} has the name of a shipped category in ${dir}.`,
        path.join(local.dir, METADATA_FILE),
        undefined,
        `Rename or remove "${meta.name}" in ${path.join(local.dir, METADATA_FILE)}; add entries to the shipped category with \`schoolgate lists add\` instead.`,
      );
  }
  const all = [...metas, ...local.metas];
  const names = new Set(all.map((m) => m.name));
  for (const d of local.dirs)
    if (!names.has(d)) warnings.push(`${path.join(local.dir, d)}: local entries for no category (ignored)`);
  return all;
}

function defaultMeta(name: string): CategoryMeta {
  return {
    name,
    title: name,
    description: `${name} (metadata generated from the directory name)`,
    flagged: false,
    alert: false,
  };
}

/**
 * A line's outcome in feed(): 'unlisted' is a valid line the local layer's `removed` file leaves out. It
 * still counts as an entry line of its file for the invalid-line limit, so a school's removals never make
 * a shipped file look corrupt, and the full load refuses exactly what the overlay over a snapshot (built
 * without the removals, local-overlay.ts) refuses.
 */
type FeedOutcome = LineOutcome | 'unlisted';

/**
 * Streams the files into the builder; returns the number of valid lines and counts invalid ones. With
 * `limits`, a file with too many invalid lines throws once it has been read (the builder is then dropped
 * with the rest of the load).
 */
async function feed(
  files: string[],
  add: (line: string) => FeedOutcome,
  count: CategoryCounts,
  warnings: string[],
  limits: InvalidLineLimit | undefined,
): Promise<number> {
  if (files.length === 0) return 0;
  let added = 0;
  let unlisted = 0;
  let invalid = 0;
  // A public suffix in a curated list (UT1's dynamic-dns holds dyndns.org) is refused and warned about, but
  // is not a sign of a corrupted file, so it does not count towards the invalid-line limit.
  let suffixes = 0;
  const first: BadLine[] = [];
  // Chunks of one split file are one logical file: name the first in warnings.
  const file =
    files.length === 1 ? (files[0] as string) : `${files[0] as string} (+${files.length - 1} chunks)`;
  await forEachLine(files, (line, lineNo) => {
    const outcome = add(line);
    if (outcome === 'added') added++;
    else if (outcome === 'unlisted') unlisted++;
    else if (outcome !== 'skipped') {
      invalid++;
      if (outcome.invalid === 'public-suffix') suffixes++;
      if (invalid <= WARNINGS_PER_FILE) {
        const text = line.slice(0, 120);
        first.push({ line: lineNo, text, reason: outcome.invalid });
        warnings.push(`${file}:${lineNo}: invalid entry (${outcome.invalid}): ${JSON.stringify(text)}`);
      }
    }
  });
  if (limits)
    checkInvalidLines(
      file,
      { entryLines: added + unlisted + invalid - suffixes, invalid: invalid - suffixes, first },
      limits,
      REFUSED_SUGGESTION,
    );
  if (invalid > WARNINGS_PER_FILE)
    warnings.push(`${file}: ${invalid - WARNINGS_PER_FILE} more invalid lines not shown (${invalid} in all)`);
  count.invalid += invalid;
  return added;
}

interface Directories {
  /** Real subdirectories: one per category. */
  real: Set<string>;
  /** Symlinks to directories (UT1 ships aliases such as porn -> adult). */
  aliases: Set<string>;
}

async function categoryDirectories(dir: string): Promise<Directories> {
  const entries = await readdir(dir, { withFileTypes: true }).catch((err: NodeJS.ErrnoException) => {
    throw categoryError(
      `Cannot read the categories directory ${dir}: ${err.message}`,
      dir,
      undefined,
      'Check categoriesDir in the configuration.',
    );
  });
  const real = new Set<string>();
  const aliases = new Set<string>();
  for (const entry of entries) {
    // categories/keywords/ holds the safeguarding keyword lists (src/alerts/keywords/), not a category.
    if (entry.name.startsWith('.') || entry.name === 'keywords' || !CATEGORY_NAME.test(entry.name)) continue;
    if (entry.isDirectory()) real.add(entry.name);
    else if (entry.isSymbolicLink() && (await isDirectory(path.join(dir, entry.name))))
      aliases.add(entry.name);
  }
  return { real, aliases };
}

/** Metadata and directories must agree: a list nobody described, or a description with no list, is a mistake. */
function checkAgreement(
  dir: string,
  metaFile: string,
  metaLines: Map<string, number>,
  dirs: Directories,
): void {
  for (const name of [...dirs.real].sort()) {
    if (!metaLines.has(name)) {
      throw categoryError(
        `Category directory ${name} has no entry in ${METADATA_FILE}.`,
        path.join(dir, name),
        undefined,
        `Add "${name}:" with a title to ${metaFile}, or remove the directory.`,
      );
    }
  }
  for (const [name, line] of metaLines) {
    if (!dirs.real.has(name) && !dirs.aliases.has(name)) {
      throw categoryError(
        `${metaFile}:${line}: category ${name} has no directory ${path.join(dir, name)}.`,
        metaFile,
        line,
        `Create ${path.join(dir, name)}/domains, or remove "${name}" from ${METADATA_FILE}.`,
      );
    }
  }
}

/** `<base>` itself, or its split chunks `<base>.0`, `<base>.1`, ... in numeric order. */
async function listFiles(catDir: string, base: string): Promise<string[]> {
  const single = path.join(catDir, base);
  if (await isFile(single)) return [single];
  const names = await readdir(catDir).catch(() => [] as string[]);
  return names
    .map((n) => ({ n, m: new RegExp(`^${base}\\.(\\d+)$`).exec(n) }))
    .filter((x): x is { n: string; m: RegExpExecArray } => x.m !== null)
    .sort((a, b) => Number(a.m[1]) - Number(b.m[1]))
    .map((x) => path.join(catDir, x.n));
}

async function isFile(p: string): Promise<boolean> {
  return stat(p).then(
    (s) => s.isFile(),
    () => false,
  );
}

async function isDirectory(p: string): Promise<boolean> {
  return stat(p).then(
    (s) => s.isDirectory(),
    () => false,
  );
}

function categoryError(
  message: string,
  file: string,
  line: number | undefined,
  suggestion: string,
): SchoolgateError {
  return new SchoolgateError('SG_CATEGORY_INVALID', message, { context: { file, line }, suggestion });
}
