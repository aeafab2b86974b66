/**
 * `lists import-tree`: a whole UT1 or squidGuard blacklist tree in one command, each category directory
 * into the category of the same name (or the one `--map ut1-name=our-name` gives), created in the local
 * layer when it does not exist. What is read, per category directory:
 *   domains, urls (or their chunks domains.0, ...)   entries, as `lists import --format squidguard`
 *   expressions                                      URL regex rules (src/policy/url-regex.ts)
 *   usage                                            UT1: the first line that is not a comment says
 *                                                    `black` (sites to block) or `white` (sites to allow)
 * Not imported, each listed with the reason: `white` categories (a list of sites to allow is not a block
 * category; importing it as one would block e.g. every educational game; a school allows such sites
 * through profile exceptions), alias symlinks (UT1's porn -> adult: the same files twice), directories
 * without list files, and names that are not category names. A squidGuard tree has no usage files: every
 * category is a block list. UT1's optional adult/very_restrictive_expression is not read (it blocks any
 * URL with words such as "sex" or "teen" in it, an opt-in for the strictest filtering).
 */
import { lstat, readdir, readlink, stat } from 'node:fs/promises';
import path from 'node:path';
import { SchoolgateError } from '../errors.js';
import { catalogue, type Dirs } from './catalogue.js';
import { deleteCategory, newCategory } from './edit.js';
import { categoryDirFiles, importGroups, type ImportSummary, type SourceGroup } from './import.js';
import type { InvalidLineLimit } from './limits.js';
import { readTextIfExists } from './local-layer.js';
import { CATEGORY_NAME, checkCategoryName } from './metadata.js';

export interface TreeCategory {
  /** The directory name in the tree. */
  name: string;
  /** The category it goes into. */
  target: string;
  dir: string;
  groups: SourceGroup[];
  bytes: number;
}

export interface NotImported {
  name: string;
  reason: 'usage-white' | 'alias' | 'no-list-files' | 'bad-name';
  detail: string;
}

export interface TreePlan {
  root: string;
  categories: TreeCategory[];
  notImported: NotImported[];
}

export interface TreeOptions {
  /** Only these directories of the tree (by their name in the tree). */
  only?: readonly string[];
  /** tree name → our category name. */
  map?: ReadonlyMap<string, string>;
}

/** Parses `--map a=b,c=d` (or repeated) into a map; SG_ARGUMENT_INVALID on a malformed pair. */
export function parseMap(pairs: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const pair of pairs.flatMap((p) => p.split(','))) {
    const m = /^\s*([^=\s]+)\s*=\s*([^=\s]+)\s*$/.exec(pair);
    if (!m)
      throw new SchoolgateError(
        'SG_ARGUMENT_INVALID',
        `--map ${JSON.stringify(pair)} is not tree-name=our-name`,
        {
          suggestion: 'write --map porn=adult,sect=extremism',
        },
      );
    checkCategoryName(m[2]!);
    out.set(m[1]!, m[2]!);
  }
  return out;
}

/** The first line of a UT1 `usage` file that is not a comment: black, white, or undefined without one. */
export async function readUsage(dir: string): Promise<string | undefined> {
  const text = await readTextIfExists(path.join(dir, 'usage'));
  if (text === undefined) return undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim().toLowerCase();
    if (line !== '' && !line.startsWith('#')) return line;
  }
  return undefined;
}

export async function planTree(root: string, opts: TreeOptions = {}): Promise<TreePlan> {
  const entries = await readdir(root, { withFileTypes: true }).catch((err: NodeJS.ErrnoException) => {
    throw new SchoolgateError('SG_FILE_UNREADABLE', `cannot read ${root}: ${err.code ?? err.message}`, {
      context: { file: root },
      suggestion: 'give the folder that holds the category folders (UT1: blacklists/)',
    });
  });
  const names = entries.map((e) => e.name).sort();
  for (const wanted of [...(opts.only ?? []), ...(opts.map?.keys() ?? [])])
    if (!names.includes(wanted))
      throw new SchoolgateError('SG_ARGUMENT_INVALID', `${root} has no category folder "${wanted}"`, {
        context: { category: wanted },
        suggestion: `use names of folders in ${root}`,
      });
  const plan: TreePlan = { root, categories: [], notImported: [] };
  for (const name of names) {
    if (opts.only && !opts.only.includes(name)) continue;
    const dir = path.join(root, name);
    const info = await lstat(dir);
    if (info.isSymbolicLink()) {
      if ((await stat(dir).catch(() => undefined))?.isDirectory())
        plan.notImported.push({ name, reason: 'alias', detail: `alias of ${await readlink(dir)}` });
      continue;
    }
    if (!info.isDirectory()) continue;
    if (!CATEGORY_NAME.test(name)) {
      plan.notImported.push({ name, reason: 'bad-name', detail: 'not a category name' });
      continue;
    }
    const usage = await readUsage(dir);
    if (usage === 'white') {
      plan.notImported.push({
        name,
        reason: 'usage-white',
        detail: 'usage: white, a list of sites to allow, not a block category',
      });
      continue;
    }
    const groups = await categoryDirFiles(dir);
    const files = groups.flatMap((g) => g.files);
    if (files.length === 0) {
      plan.notImported.push({
        name,
        reason: 'no-list-files',
        detail: 'no domains, urls or expressions file',
      });
      continue;
    }
    let bytes = 0;
    for (const f of files) bytes += (await stat(f)).size;
    plan.categories.push({ name, target: opts.map?.get(name) ?? name, dir, groups, bytes });
  }
  return plan;
}

export type TreeResult =
  /** created: the category did not exist (and was created, unless a dry run). */
  | { category: TreeCategory; created: boolean; summary: ImportSummary }
  | { category: TreeCategory; created: false; error: SchoolgateError };

export interface TreeProgress {
  category: string;
  index: number;
  count: number;
  bytesDone: number;
  bytesTotal: number;
  lines: number;
}

export interface RunTreeOptions {
  dryRun?: boolean;
  force?: boolean;
  limits?: InvalidLineLimit;
  onProgress?: (p: TreeProgress) => void;
}

/**
 * Imports each planned category in turn. A category refused (too many invalid lines, wrong format) is
 * reported with its error and writes nothing, and a category created for it is deleted again; the other
 * categories still import.
 */
export async function runTree(dirs: Dirs, plan: TreePlan, opts: RunTreeOptions = {}): Promise<TreeResult[]> {
  const results: TreeResult[] = [];
  const bytesTotal = plan.categories.reduce((n, c) => n + c.bytes, 0);
  let bytesBefore = 0;
  let linesBefore = 0;
  for (const [index, cat] of plan.categories.entries()) {
    const exists = (await catalogue(dirs)).has(cat.target);
    const create = !exists && !opts.dryRun;
    try {
      checkCategoryName(cat.target);
      if (create)
        await newCategory(dirs, {
          name: cat.target,
          title: cat.target,
          description: `imported from ${path.join(plan.root, cat.name)}`,
          flagged: false,
          alert: false,
        });
      const summary = await importGroups(dirs, cat.target, cat.groups, {
        format: 'squidguard',
        ...(opts.dryRun ? { dryRun: true } : {}),
        ...(opts.force ? { force: true } : {}),
        ...(opts.limits ? { limits: opts.limits } : {}),
        ...(!exists && opts.dryRun ? { newCategory: true } : {}),
        ...(opts.onProgress
          ? {
              onProgress: (p) =>
                opts.onProgress!({
                  category: cat.name,
                  index,
                  count: plan.categories.length,
                  bytesDone: bytesBefore + p.bytesDone,
                  bytesTotal,
                  lines: linesBefore + p.lines,
                }),
            }
          : {}),
      });
      linesBefore += summary.lines;
      results.push({ category: cat, created: !exists, summary });
    } catch (err) {
      if (!(err instanceof SchoolgateError)) throw err;
      if (create) await deleteCategory(dirs, cat.target).catch(() => undefined);
      results.push({ category: cat, created: false, error: err });
    }
    bytesBefore += cat.bytes;
  }
  return results;
}
